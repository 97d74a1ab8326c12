"""The beam search example on a Decode stream's branches (``examples/beam_search.py``) against a live server
(``$STEPWISE_SERVER``), checked against the server's own beam search (``generate`` with ``num_beams``,
``early_stopping=True``): the same hypotheses, in the same order, with the same scores."""

from __future__ import annotations

import sys
import unittest

import numpy as np

from support import PYTHON_CLIENT_ROOT, SERVER, TEXT
from stepwise_client import Client, EarlyStopping
from stepwise_client.events import FinishedEvent

sys.path.insert(0, str(PYTHON_CLIENT_ROOT / "examples"))
from beam_search import beam_search  # noqa: E402


def server_beam_search(client: Client, text: str, width: int, steps: int, length_penalty: float) -> list[tuple[list[int], float]]:
    """The server's beam search of the same width, all its hypotheses returned, best first."""
    config = {"num_beams": width, "num_return_sequences": width, "early_stopping": EarlyStopping.TRUE, "length_penalty": length_penalty}
    events = list(client.generate(text, max_new_tokens=steps, generation_config=config, timeout=60))
    finished = next(event.finished for event in events if isinstance(event, FinishedEvent))
    return [(list(sequence.token_ids), sequence.score) for sequence in finished.sequences]


class BranchBeamSearchTest(unittest.TestCase):
    def test_the_example_finds_the_servers_beam_search_hypotheses_with_their_scores(self) -> None:
        # On "x y z" one beam takes EOS at its 39th token: a hypothesis that finishes before the end.
        cases = ((TEXT, 3, 5, 1.0), (TEXT, 4, 4, 2.0), (TEXT, 2, 6, 0.0), ("x y z", 3, 40, 1.0))
        with Client(SERVER) as client:
            eos = client.get_model_info().special_ids.eos_token_id
            ended_on_eos = 0
            for text, width, steps, length_penalty in cases:
                with self.subTest(text=text, width=width, steps=steps, length_penalty=length_penalty):
                    found, counts = beam_search(client, text, width, steps, length_penalty)
                    expected = server_beam_search(client, text, width, steps, length_penalty)
                    self.assertEqual([tokens for tokens, _ in found], [tokens for tokens, _ in expected])
                    np.testing.assert_allclose([score for _, score in found], [score for _, score in expected], rtol=1e-5, atol=1e-5)
                    self.assertGreater(counts["forks"], 0)  # it did run on branches
                    self.assertGreater(counts["drops"], 0)
                    ended_on_eos += sum(tokens[-1] == eos and len(tokens) < steps for tokens, _ in found)
            self.assertGreater(ended_on_eos, 0)

if __name__ == "__main__":
    unittest.main()
