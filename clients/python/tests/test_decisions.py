"""Decisions and start options encode to the messages the protocol defines (no server needed)."""

from __future__ import annotations

import unittest

from support import REPOSITORY_ROOT  # noqa: F401  (puts the client on the import path)
from stepwise_client import accept, add_processor, drop, force, fork, pb, reconfigure, remove_processor, rewind, stop
from stepwise_client.decisions import steps_decided_ahead, to_decode_request
from stepwise_client.start_options import to_start_message


class DecisionEncodingTest(unittest.TestCase):
    def test_one_forced_token_is_force_token_and_a_run_is_force_tokens(self):
        self.assertEqual(to_decode_request(2, force(42)).decision.force_token.token_id, 42)
        run = to_decode_request(2, force([5, 6, 7])).decision
        self.assertEqual(list(run.force_tokens.token_ids), [5, 6, 7])
        self.assertEqual(steps_decided_ahead(force([5, 6, 7])), 2)

    def test_accept_rewind_and_stop_encode_their_action(self):
        self.assertEqual(to_decode_request(1, accept()).decision.WhichOneof("action"), "accept")
        self.assertEqual(to_decode_request(1, rewind(2)).decision.rewind.count, 2)
        self.assertEqual(to_decode_request(1, stop()).WhichOneof("message"), "stop")

    def test_fork_drop_a_decision_and_a_stop_name_their_branch(self):
        forked = to_decode_request(2, fork(5), branch=3).decision
        self.assertEqual((forked.step, forked.fork.branch, forked.branch), (2, 5, 3))
        dropped = to_decode_request(2, drop(), branch=3).decision
        self.assertEqual((dropped.WhichOneof("action"), dropped.branch), ("drop", 3))
        self.assertEqual(to_decode_request(2, force(7), branch=3).decision.branch, 3)
        self.assertEqual(to_decode_request(0, stop(), branch=3).stop.branch, 3)
        with self.assertRaisesRegex(ValueError, r"fork branch must be an integer in \[1, 2\^31\); given 0"):
            fork(0)

    def test_pipeline_changes_keep_their_order_scope_and_typed_parameters(self):
        decision = to_decode_request(
            3, reconfigure([add_processor("top_k", {"top_k": 5, "x": 0.5}, index=0, scope="this-step"), remove_processor("top_p")])
        ).decision
        first, second = decision.pipeline_changes
        self.assertEqual(first.scope, pb.PIPELINE_SCOPE_THIS_STEP)
        self.assertEqual(first.add.processor.params["top_k"].int_value, 5)
        self.assertEqual(first.add.processor.params["x"].float_value, 0.5)
        self.assertTrue(first.add.HasField("index"))
        self.assertEqual(second.remove, "top_p")

    def test_invalid_decisions_are_rejected_with_the_value_given(self):
        with self.assertRaisesRegex(ValueError, r"forced token id \[1\] must be a non-negative integer; given -3"):
            force([1, -3])
        with self.assertRaisesRegex(ValueError, "rewind count must be an integer >= 1; given 0"):
            rewind(0)


class StartEncodingTest(unittest.TestCase):
    def test_sampling_with_seed_zero_sends_the_seed(self):
        start = to_start_message("hi", generation_config={"top_p": 0.9}, seed=0)
        self.assertEqual(start.selection.mode, pb.SELECTION_MODE_SAMPLE)
        self.assertTrue(start.selection.HasField("seed"))
        self.assertTrue(start.generation_config.HasField("top_p"))
        self.assertFalse(start.generation_config.HasField("temperature"))

    def test_exactly_one_input_is_required(self):
        with self.assertRaisesRegex(ValueError, "exactly one of `text` and `input_ids`"):
            to_start_message()
        with self.assertRaisesRegex(ValueError, "exactly one of `text` and `input_ids`"):
            to_start_message("a", input_ids=[1])


if __name__ == "__main__":
    unittest.main()
