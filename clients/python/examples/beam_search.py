"""A beam search run by the client on the branches of one Decode stream: every live beam is a branch. At
each step the client ranks the beams' continuations from their raw logits, forks the branches that keep
more than one, forces each survivor's token and drops the rest; the server steps all beams in one batched
decoder run and streams each beam's raw row, labelled with its branch.

    /usr/bin/python3 clients/python/examples/beam_search.py [TEXT] --beams 3 --max-new-tokens 6

It keeps Hugging Face's rules (what the server's own beam search does with ``early_stopping=True``): of the
``2 × beams`` best continuations, those among the first ``beams`` that end with EOS finish, scored
``sum of log-probabilities / length ** length_penalty``, and the first ``beams`` others live on; the search
stops once ``beams`` hypotheses finished, or at ``--max-new-tokens``, where the best continuations finish
as they are. You will see the hypotheses, best first, with their scores and texts, and the forks and drops.
"""

from __future__ import annotations

import numpy as np

from _common import connect, parse_arguments, run_example
from stepwise_client import StepEvent


def log_softmax(row: np.ndarray) -> np.ndarray:
    shifted = row.astype(np.float64) - row.max()
    return shifted - np.log(np.exp(shifted).sum())


def best_continuations(beams: list, rows: dict, width: int, bias: dict) -> list:
    """The ``width`` best (score, beam index, token) over every live beam, best first (ties: beam, then id);
    ``bias`` is added to its tokens' log-probabilities (as Hugging Face's ``sequence_bias`` of single tokens)."""
    candidates = []
    for index, (branch, tokens, score) in enumerate(beams):
        logprobs = log_softmax(rows[branch])
        for token, value in bias.items():
            logprobs[token] += value
        for token in np.argsort(-logprobs, kind="stable")[:width]:
            candidates.append((score + float(logprobs[token]), index, int(token)))
    return sorted(candidates, key=lambda candidate: (-candidate[0], candidate[1], candidate[2]))[:width]


def beam_search(client, text: str, width: int, max_new_tokens: int, length_penalty: float = 1.0, bias: dict = {}) -> tuple[list, dict]:
    """Returns the hypotheses ``[(token ids, score)]``, best first, and the forks and drops sent."""
    eos = client.get_model_info().special_ids.eos_token_id
    beams, rows, finished, counts, next_id = [(0, [], 0.0)], {}, [], {"forks": 0, "drops": 0}, 1
    with client.open_decode(text, max_new_tokens=max_new_tokens) as session:  # closing it ends its branches
        for event in session:
            if not isinstance(event, StepEvent):
                continue
            rows[event.branch] = event.logits
            if len(rows) < len(beams):
                continue  # the other beams' rows of this step are on their way
            step, chosen = event.step, best_continuations(beams, rows, 2 * width, bias)
            last_step = step + 1 == max_new_tokens
            for score, index, token in chosen[:width]:
                if token == eos or last_step:
                    tokens = beams[index][1] + [token]
                    finished.append((tokens, score / len(tokens) ** length_penalty))
            finished = sorted(finished, key=lambda hypothesis: -hypothesis[1])[:width]
            if last_step or len(finished) == width:
                break
            survivors, rows, kept = [], {}, set()
            for score, index, token in [candidate for candidate in chosen if candidate[2] != eos][:width]:
                parent = beams[index][0]
                branch = parent if parent not in kept else next_id
                if branch != parent:  # the parent's first survivor keeps its branch; the others fork it
                    session.fork(step, branch, branch=parent)
                    next_id, counts["forks"] = next_id + 1, counts["forks"] + 1
                kept.add(parent)
                survivors.append((branch, beams[index][1] + [token], score))
            for parent in {beam[0] for beam in beams} - kept:  # before the forces, which may end the others
                session.drop(step, parent)
                counts["drops"] += 1
            for branch, tokens, _ in survivors:
                session.force(step, tokens[-1], branch=branch)
            beams = survivors
    return finished, counts


def main() -> None:
    arguments = parse_arguments(__doc__.splitlines()[0], beams=dict(type=int, default=3, help="beam width (default: 3)"))
    with connect(arguments) as client:
        hypotheses, counts = beam_search(client, arguments.text, arguments.beams, arguments.max_new_tokens)
        for rank, (tokens, score) in enumerate(hypotheses, 1):
            print(f"{rank}. {score:9.4f}  {tokens}  {client.detokenize(tokens, skip_special_tokens=True)!r}")
    print(f"forks: {counts['forks']}, drops: {counts['drops']}")


if __name__ == "__main__":
    run_example(main)
