"""A decoding rule implemented entirely on the client, in lockstep: a lexically constrained decode whose
output must contain a given word. The server only streams logits and takes the tokens it is told to take.

The rule: decode greedily; when the model wants to end (its most likely token is EOS) or only just enough
steps are left, force the word's tokens as a run, then let the model finish.

    /usr/bin/python3 clients/python/examples/custom_strategy.py [TEXT] --word Haus [--server HOST:PORT]

You will see the unconstrained greedy text, the step at which the word was forced, the constrained text,
and whether the constraint holds.
"""

from __future__ import annotations

from _common import connect, parse_arguments, run_example
from stepwise_client import TokenSource, accept, force


def contains_run(ids: list[int], run: list[int]) -> bool:
    return any(ids[start : start + len(run)] == run for start in range(len(ids) - len(run) + 1))


def main() -> None:
    arguments = parse_arguments(__doc__.splitlines()[0], word=dict(default="Haus", help="word the output must contain"))
    with connect(arguments) as client:
        word_ids = list(client.tokenize(arguments.word, add_special_tokens=False).token_ids)
        eos = client.get_model_info().special_ids.eos_token_id

        plain = client.decode(arguments.text, max_new_tokens=arguments.max_new_tokens, selection="greedy").result()

        forced_at: list[int] = []

        def constrained(step, context):
            tokens = list(context.token_ids)
            if forced_at or contains_run(tokens, word_ids):
                return accept()
            steps_left = context.started.max_new_tokens - len(tokens)
            if int(step.logits.argmax()) == eos or steps_left <= len(word_ids):
                forced_at.append(step.step)
                return force(word_ids)
            return accept()

        run = client.decode(arguments.text, max_new_tokens=arguments.max_new_tokens, selection="greedy", decide=constrained)
        steps = list(run)
        ids = [step.token.token_id for step in steps]

    print(f"word {arguments.word!r} is tokens {word_ids}")
    print(f"unconstrained: {plain.text!r}")
    if forced_at:
        print(f"forced the word at step {forced_at[0]}")
    else:
        print("the model produced the word on its own")
    print(f"constrained:   {run.finished.text!r}")
    print(f"forced steps: {[step.step for step in steps if step.token.source is TokenSource.FORCED]}")
    print(f"constraint holds: {contains_run(ids, word_ids)}")
    print(f"finished: {run.finished.reason}")


if __name__ == "__main__":
    run_example(main)
