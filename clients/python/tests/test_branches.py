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


def server_beam_search(client: Client, width: int, steps: int, length_penalty: float, eos_bias: float) -> list[tuple[list[int], float]]:
    """The server's beam search of the same width, all its hypotheses returned, best first."""
    config = {"num_beams": width, "num_return_sequences": width, "early_stopping": EarlyStopping.TRUE, "length_penalty": length_penalty}
    if eos_bias:
        eos = client.get_model_info().special_ids.eos_token_id
        config["sequence_bias"] = [{"token_ids": {"ids": [eos]}, "bias": eos_bias}]
    events = list(client.generate(TEXT, max_new_tokens=steps, generation_config=config, timeout=60))
    finished = next(event.finished for event in events if isinstance(event, FinishedEvent))
    return [(list(sequence.token_ids), sequence.score) for sequence in finished.sequences]


class BranchBeamSearchTest(unittest.TestCase):
    def test_the_example_finds_the_servers_beam_search_hypotheses_with_their_scores(self) -> None:
        # With EOS raised by 3 nats, hypotheses finish before the last step and the search stops early.
        cases = ((3, 5, 1.0, 0.0), (4, 4, 2.0, 0.0), (2, 6, 0.0, 0.0), (3, 8, 1.0, 3.0), (2, 8, 0.5, 3.0))
        with Client(SERVER) as client:
            eos = client.get_model_info().special_ids.eos_token_id
            forks = drops = ended_on_eos = 0
            for width, steps, length_penalty, eos_bias in cases:
                with self.subTest(width=width, steps=steps, length_penalty=length_penalty, eos_bias=eos_bias):
                    bias = {eos: eos_bias} if eos_bias else {}
                    found, counts = beam_search(client, TEXT, width, steps, length_penalty, bias)
                    expected = server_beam_search(client, width, steps, length_penalty, eos_bias)
                    self.assertEqual([tokens for tokens, _ in found], [tokens for tokens, _ in expected])
                    np.testing.assert_allclose([score for _, score in found], [score for _, score in expected], rtol=1e-5, atol=1e-5)
                    forks, drops = forks + counts["forks"], drops + counts["drops"]
                    ended_on_eos += sum(tokens[-1] == eos and len(tokens) < steps for tokens, _ in found)
            self.assertGreater(forks, 0)  # it did run on branches
            self.assertGreater(drops, 0)
            self.assertGreater(ended_on_eos, 0)

if __name__ == "__main__":
    unittest.main()
