"""The beam search example on a Decode stream's branches (``examples/beam_search.py``) against a live server
(``$STEPWISE_SERVER``), checked against the server's own beam search (``generate`` with ``num_beams``,
``early_stopping=True``): the same hypotheses, in the same order, with the same scores."""

from __future__ import annotations

import sys
import unittest

import numpy as np

from support import PYTHON_CLIENT_ROOT, SERVER, TEXT
from stepwise_client import Client, DecideContext, Decision, EarlyStopping, accept, drop, force, fork
from stepwise_client.events import FinishedEvent, ForkedEvent, StepEvent, TokenEvent

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


class SessionBranchesTest(unittest.TestCase):
    def test_a_forked_branch_steps_as_an_unbranched_decode_of_its_history_and_a_drop_leaves_the_other(self) -> None:
        with Client(SERVER) as client:
            unbranched = {token: [s.logits for s in client.decode(TEXT, max_new_tokens=3, decide=lambda e, c, t=token: force(t) if e.step == 0 else accept())] for token in (5, 9)}
            events, rows = [], {0: [], 1: []}
            with client.open_decode(TEXT, max_new_tokens=3) as session:
                for event in session:
                    events.append(event)
                    if isinstance(event, StepEvent):
                        rows[event.branch].append(event.logits)
                        if event.step == 0:
                            rows[1].append(event.logits)  # the fork's row at step 0 is its parent's
                            session.fork(0, 1)
                            session.force(0, 9, branch=1)
                            session.force(0, 5)
                        elif event.step == 1 and event.branch == 1:
                            session.drop(1, 1)
                        else:
                            session.accept(event.step, branch=event.branch)
            self.assertEqual([(e.branch, e.from_branch, e.step) for e in events if isinstance(e, ForkedEvent)], [(1, 0, 0)])
            np.testing.assert_array_equal(np.stack(rows[0]), np.stack(unbranched[5]))
            np.testing.assert_array_equal(np.stack(rows[1]), np.stack(unbranched[9][:2]))  # dropped at step 1
            tokens = [(e.token.branch, e.token.token_id) for e in events if isinstance(e, TokenEvent) and e.token.step == 0]
            self.assertEqual(sorted(tokens), [(0, 5), (1, 9)])
            self.assertIsInstance(events[-1], FinishedEvent)
            self.assertEqual(session.finished.branch, 0)
            self.assertEqual(len(session.finished.token_ids), 3)

    def test_decide_forks_and_drops_and_each_branch_keeps_its_own_tokens(self) -> None:
        calls: list[tuple[int, int, tuple[int, ...]]] = []

        def decide(step: StepEvent, context: DecideContext) -> Decision:
            calls.append((step.branch, step.step, context.token_ids))
            if step.step == 0 and step.branch == 0:
                return fork(7) if len(calls) == 1 else force(5)  # asked again for both branches after the fork
            if step.step == 0:
                return force(9)
            return drop() if step.branch == 0 else accept()

        with Client(SERVER) as client:
            run = client.decode(TEXT, max_new_tokens=3, decide=decide)
            steps = [(step.branch, step.step, step.token.token_id) for step in run]
        self.assertEqual(calls[:3], [(0, 0, ()), (0, 0, ()), (7, 0, ())])
        self.assertIn((0, 1, (5,)), calls)
        self.assertIn((7, 1, (9,)), calls)
        self.assertEqual([step for step in steps if step[0] == 0], [(0, 0, 5)])  # dropped at step 1
        self.assertEqual([step[:2] for step in steps if step[0] == 7], [(7, 0), (7, 1), (7, 2)])
        self.assertEqual(run.finished.branch, 7)
        self.assertEqual(run.finished.token_ids[0], 9)

if __name__ == "__main__":
    unittest.main()
