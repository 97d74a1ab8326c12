"""``Client.score`` and ``Client.score_batch`` against a live server (``$STEPWISE_SERVER``): every scored token is
what a decode that forces the same target reports through the same client, rows are float32 NumPy arrays,
and a refusal is a ``StepwiseCallError`` naming the field."""

from __future__ import annotations

import unittest

import grpc
import numpy as np

from support import SERVER, TEXT
from stepwise_client import Client, Scored, StepwiseCallError, TargetScore, TokenSource, accept, force

TEXT_TARGETS = ["Das Haus ist wunderbar.", "Haus"]
ID_TARGETS = [[17, 42, 9, 300, 5, 77], [250]]
"""Id targets without EOS (a forced EOS would end the decode early)."""
GRAPH_TOLERANCE = 1e-5
"""Score runs the decoder without cache over the whole target, Decode the cached decoder: equal up to float32 rounding."""
TOP_N = 3


class ScoreTest(unittest.TestCase):
    client: Client

    @classmethod
    def setUpClass(cls):
        cls.client = Client(SERVER)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def forced_decode(self, ids, prefix):
        decide = lambda step, context: force(ids) if step.step == 0 else accept()  # noqa: E731
        run = self.client.decode(
            TEXT, decide=decide, decoder_prefix_ids=prefix, max_new_tokens=len(ids), top_n_alternatives=TOP_N, entropy=True, timeout=60
        )
        return list(run)

    def assert_scored_as_forced(self, target: TargetScore, ids, prefix):
        steps = self.forced_decode(ids, prefix)
        self.assertEqual(target.token_ids, tuple(step.token.token_id for step in steps))
        for token, step in zip(target.tokens, steps):
            self.assertIs(step.token.source, TokenSource.FORCED)
            self.assertEqual(token.text, step.token.text)
            self.assertLessEqual(abs(token.logprob - step.token.raw_logprob), GRAPH_TOLERANCE)
            self.assertLessEqual(abs(token.entropy - step.token.raw_entropy), GRAPH_TOLERANCE)
            self.assertEqual([a.token_id for a in token.alternatives], [a.token_id for a in step.token.alternatives])
            self.assertEqual(token.raw.dtype, np.float32)
            self.assertLessEqual(float(np.max(np.abs(token.raw - step.logits))), GRAPH_TOLERANCE)

    def test_text_and_id_targets_score_as_a_decode_that_forces_them(self):
        for prefix in ([], [33, 7]):
            with self.subTest(prefix=prefix):
                scored = self.client.score(
                    TEXT, [*TEXT_TARGETS, *ID_TARGETS], decoder_prefix_ids=prefix, top_n_alternatives=TOP_N, entropy=True,
                    raw_logits="float32", timeout=60,
                )  # fmt: skip
                self.assertIsInstance(scored, Scored)
                self.assertEqual(scored.decoder_prompt_ids, (0, *prefix))
                self.assertEqual(scored.input_ids, self.client.tokenize(TEXT).token_ids)
                # A text target is its tokenization with `</s>` appended, as Tokenize gives it.
                expected = [list(self.client.tokenize(text).token_ids) for text in TEXT_TARGETS] + ID_TARGETS
                self.assertEqual([list(target.token_ids) for target in scored.results], expected)
                for target, ids in zip(scored.results, expected):
                    self.assert_scored_as_forced(target, ids, prefix)

    def test_sum_mean_rank_and_rows_as_one_matrix(self):
        scored = self.client.score(input_ids=[148, 149, 6, 1], targets=["Das Haus"], raw_logits="float32", timeout=60)
        target = scored.results[0]
        logprobs = [token.logprob for token in target.tokens]
        self.assertAlmostEqual(target.logprob_sum, sum(logprobs), places=9)
        self.assertAlmostEqual(target.logprob_mean, target.logprob_sum / len(logprobs), places=9)
        self.assertEqual(target.text, self.client.detokenize(target.token_ids, skip_special_tokens=True))
        rows = target.raw_rows()
        self.assertEqual(rows.shape, (len(target.tokens), self.client.get_model_info().vocab_size))
        for index, token in enumerate(target.tokens):
            np.testing.assert_array_equal(rows[index], token.raw)
            self.assertEqual(token.rank, 1 + int(np.sum(token.raw > token.raw[token.token_id])))
            self.assertEqual(token.alternatives, ())
            self.assertIsNone(token.entropy)
        self.assertGreater(scored.timings.total_ms, 0)

    def test_no_rows_unless_asked_and_top_k_rows_are_the_highest_logits(self):
        plain = self.client.score(TEXT, [ID_TARGETS[0]], timeout=60).results[0]
        self.assertTrue(all(token.raw is None and token.top is None for token in plain.tokens))
        with self.assertRaisesRegex(ValueError, "raw_rows\\(\\) needs the rows"):
            plain.raw_rows()
        full = self.client.score(TEXT, [ID_TARGETS[0]], raw_logits="float32", timeout=60).results[0]
        top = self.client.score(TEXT, [ID_TARGETS[0]], raw_logits="top-k", raw_top_k=4, timeout=60).results[0]
        for token, top_token in zip(full.tokens, top.tokens):
            best = sorted(range(len(token.raw)), key=lambda i: (-token.raw[i], i))[:4]
            self.assertEqual(top_token.top.token_ids, tuple(best))

    def test_score_batch_answers_each_request_in_order_as_score_does(self):
        requests = [
            {"text": TEXT, "targets": TEXT_TARGETS, "entropy": True},
            {"input_ids": [148, 149, 6, 1], "targets": ID_TARGETS, "top_n_alternatives": 2},
        ]
        batch = self.client.score_batch(requests, timeout=60)
        self.assertEqual(len(batch), len(requests))
        for answer, request in zip(batch, requests):
            alone = self.client.score(**request, timeout=60)
            self.assertEqual(answer.input_ids, alone.input_ids)
            for target, single in zip(answer.results, alone.results):
                self.assertEqual(target.token_ids, single.token_ids)
                for token, single_token in zip(target.tokens, single.tokens):
                    self.assertLessEqual(abs(token.logprob - single_token.logprob), GRAPH_TOLERANCE)
                    self.assertEqual(token.rank, single_token.rank)

    def test_a_refusal_names_the_field_and_a_contradiction_fails_before_any_call(self):
        with self.assertRaises(StepwiseCallError) as caught:
            self.client.score(TEXT, [[1_000_000]], timeout=60)
        self.assertEqual(caught.exception.rpc, "Score")
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("`targets[0].token_ids.ids[0]` must be in [0, ", caught.exception.details)
        with self.assertRaisesRegex(ValueError, "exactly one of `text` and `input_ids`"):
            self.client.score(TEXT, ["x"], input_ids=[1])
        with self.assertRaisesRegex(ValueError, "at least one target"):
            self.client.score(TEXT, [])
        with self.assertRaisesRegex(ValueError, "given one string"):
            self.client.score(TEXT, "Haus")


if __name__ == "__main__":
    unittest.main()
