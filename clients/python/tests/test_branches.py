"""The beam search example on a Decode stream's branches (``examples/beam_search.py``) against a live server
(``$STEPWISE_SERVER``), checked against a beam search written here over raw rows streamed without
branches: each row the row of a fresh stream whose decoder prefix is the beam's tokens."""

from __future__ import annotations

import sys
import unittest

import numpy as np

from support import PYTHON_CLIENT_ROOT, SERVER, TEXT
from stepwise_client import Client

sys.path.insert(0, str(PYTHON_CLIENT_ROOT / "examples"))
from beam_search import beam_search  # noqa: E402


def raw_row_after(client: Client, prefix: list[int]) -> np.ndarray:
    """The raw logits of the first step after ``prefix``, from a stream of its own."""
    run = client.decode(TEXT, decoder_prefix_ids=prefix, max_new_tokens=1)
    return next(iter(run)).logits


def reference_beam_search(client: Client, width: int, steps: int) -> list[tuple[list[int], float]]:
    """Every token of every beam ranked by its summed float64 raw log-probability; EOS ends a hypothesis."""
    eos = client.get_model_info().special_ids.eos_token_id
    beams: list[tuple[list[int], float]] = [([], 0.0)]
    finished: list[tuple[list[int], float]] = []
    for _ in range(steps):
        candidates = []
        for index, (tokens, score) in enumerate(beams):
            row = raw_row_after(client, tokens).astype(np.float64)
            logprobs = row - row.max() - np.log(np.exp(row - row.max()).sum())
            candidates += [(score + logprobs[token], index, token) for token in range(len(row))]
        candidates.sort(key=lambda candidate: (-candidate[0], candidate[1], candidate[2]))
        best = candidates[:width]
        finished += [(beams[index][0] + [token], score) for score, index, token in best if token == eos]
        beams = [(beams[index][0] + [token], score) for score, index, token in best if token != eos]
        if not beams:
            break
    complete = [beam for beam in beams if len(beam[0]) == steps]
    return sorted(finished + complete, key=lambda hypothesis: -hypothesis[1])[:width]


class BranchBeamSearchTest(unittest.TestCase):
    def test_the_example_finds_the_reference_hypotheses_with_their_scores(self) -> None:
        with Client(SERVER) as client:
            for width, steps in ((3, 5), (4, 4)):
                found, counts = beam_search(client, TEXT, width, steps)
                expected = reference_beam_search(client, width, steps)
                self.assertEqual([tokens for tokens, _ in found], [tokens for tokens, _ in expected])
                np.testing.assert_allclose([score for _, score in found], [score for _, score in expected], atol=1e-4)
                self.assertGreater(counts["forks"], 0)  # it did run on branches
                self.assertGreater(counts["drops"], 0)


if __name__ == "__main__":
    unittest.main()
