"""The Python client against a live server (``$STEPWISE_SERVER``): NumPy logits, decisions, limits, and the
same logits as the TypeScript client's ``stepwise decode --npy`` for the same request."""

from __future__ import annotations

import json
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np

from support import REPOSITORY_ROOT, SERVER, TEXT
import grpc

from stepwise_client import (
    BeamStepEvent,
    Client,
    FinishReason,
    ModelInfo,
    ParamType,
    StepEvent,
    StepwiseCallError,
    TokenEvent,
    TokenSource,
    accept,
    add_processor,
    force,
    reconfigure,
    rewind,
)

MAX_NEW_TOKENS = 6


class LiveServerTest(unittest.TestCase):
    client: Client
    greedy: list

    @classmethod
    def setUpClass(cls):
        cls.client = Client(SERVER)
        cls.info = cls.client.get_model_info(timeout=30)
        cls.greedy = list(cls.client.decode(TEXT, max_new_tokens=MAX_NEW_TOKENS, selection="greedy", timeout=60))

    @classmethod
    def tearDownClass(cls):
        cls.client.close()


class DecodeTest(LiveServerTest):
    def test_model_info_describes_the_logits_width(self):
        self.assertIsInstance(self.info, ModelInfo)
        self.assertGreater(self.info.vocab_size, 0)
        self.assertLessEqual(self.info.tokenizer_size, self.info.vocab_size)
        self.assertGreater(self.info.limits.max_new_tokens, 0)
        self.assertIn("ban_tokens.token_ids", self.info.limits.processor_list_limits)

    def test_generate_with_beams_streams_beam_steps_and_the_returned_sequences(self):
        events = list(self.client.generate(TEXT, max_new_tokens=4, generation_config={"num_beams": 3, "num_return_sequences": 2}, timeout=60))
        steps = [event.beam_step for event in events if isinstance(event, BeamStepEvent)]
        self.assertEqual(len(steps[0].beams), 3)
        self.assertEqual(steps[-1].beams, ())
        finished = events[-1].finished
        self.assertEqual(len(finished.sequences), 2)
        self.assertEqual(finished.sequences[0].token_ids, finished.token_ids)
        self.assertGreaterEqual(finished.sequences[0].score, finished.sequences[1].score)
        self.assertLessEqual(3, self.info.limits.max_beams)

    def test_processors_describe_their_parameters_with_typed_kinds(self):
        processors = {processor.name: processor for processor in self.client.list_processors(timeout=30)}
        (token_ids,) = [p for p in processors["ban_tokens"].parameters if p.name == "token_ids"]
        self.assertIs(token_ids.type, ParamType.INT_LIST)
        self.assertTrue(token_ids.required)

    def test_step_logits_are_float32_arrays_over_the_received_bytes(self):
        logits = self.greedy[0].logits
        self.assertEqual(logits.dtype, np.float32)
        self.assertEqual(logits.shape, (self.info.vocab_size,))
        # np.frombuffer: a read-only view of the message's bytes, not a copy built element by element.
        self.assertFalse(logits.flags.owndata)
        self.assertFalse(logits.flags.writeable)

    def test_a_greedy_token_is_the_argmax_of_its_raw_logits(self):
        for step in self.greedy:
            self.assertEqual(step.token.token_id, int(step.logits.argmax()), f"step {step.step}")
            self.assertIs(step.token.source, TokenSource.SELECTED)

    def test_forcing_a_token_changes_the_continuation(self):
        greedy_token = self.greedy[1].token.token_id
        other = int(np.argsort(self.greedy[1].logits)[-2])
        run = self.client.decode(
            TEXT,
            max_new_tokens=MAX_NEW_TOKENS,
            selection="greedy",
            decide=lambda step, context: force(other) if step.step == 1 else accept(),
            timeout=60,
        )
        steps = list(run)
        self.assertNotEqual(other, greedy_token)
        self.assertEqual(steps[1].token.token_id, other)
        self.assertIs(steps[1].token.source, TokenSource.FORCED)
        self.assertIn(other, list(run.finished.token_ids))
        np.testing.assert_array_equal(steps[1].logits, self.greedy[1].logits)  # before the force: unchanged
        self.assertFalse(np.array_equal(steps[2].logits, self.greedy[2].logits))  # after it: a new history

    def test_a_forced_run_is_streamed_step_by_step_and_answered_once(self):
        run_ids = [self.greedy[2].token.token_id, self.greedy[1].token.token_id]
        answered = []

        def decide(step, context):
            answered.append(step.step)
            return force(run_ids) if step.step == 0 else accept()

        steps = list(self.client.decode(TEXT, max_new_tokens=4, selection="greedy", decide=decide, timeout=60))
        self.assertEqual([step.token.token_id for step in steps[:2]], run_ids)
        self.assertEqual(answered, [0, 2, 3])

    def test_rewind_streams_the_rewound_step_again_with_the_same_logits(self):
        seen = []

        def decide(step, context):
            seen.append((step.step, step.logits.copy()))
            return rewind(2) if step.step == 3 and len(seen) == 4 else accept()

        run = self.client.decode(TEXT, max_new_tokens=MAX_NEW_TOKENS, selection="greedy", decide=decide, timeout=60)
        run.result()
        self.assertEqual([step for step, _ in seen[:6]], [0, 1, 2, 3, 1, 2])
        np.testing.assert_array_equal(seen[4][1], seen[1][1])
        self.assertEqual(list(run.finished.token_ids), [step.token.token_id for step in self.greedy])

    def test_reconfigure_bans_the_greedy_token_for_one_step(self):
        greedy_token = self.greedy[0].token.token_id
        runner_up = int(np.argsort(-self.greedy[0].logits, kind="stable")[1])
        ban = add_processor("ban_tokens", {"token_ids": [greedy_token]}, scope="this-step")
        run = self.client.decode(
            TEXT,
            max_new_tokens=2,
            selection="greedy",
            decide=lambda step, context: reconfigure([ban]) if step.step == 0 else accept(),
            timeout=60,
        )
        steps = list(run)
        self.assertEqual(steps[0].token.token_id, runner_up)

    def test_stop_finishes_the_stream_with_client_stop_and_the_tokens_so_far(self):
        with self.client.open_decode(TEXT, max_new_tokens=MAX_NEW_TOKENS, selection="greedy", timeout=60) as session:
            for event in session:
                if isinstance(event, StepEvent) and event.awaits_decision:
                    if event.step == 2:
                        session.stop()
                    else:
                        session.accept(event.step)
        self.assertIs(session.finished.reason, FinishReason.CLIENT_STOP)
        self.assertEqual(list(session.finished.token_ids), [step.token.token_id for step in self.greedy[:2]])

    def test_a_deadline_ends_a_decode_that_waits_for_its_client(self):
        with self.assertRaises(StepwiseCallError) as raised:
            with self.client.open_decode(TEXT, max_new_tokens=MAX_NEW_TOKENS, timeout=0.5) as session:
                for _ in session:
                    pass  # never answers step 0
        self.assertEqual(raised.exception.code.name, "DEADLINE_EXCEEDED")

    def test_a_decode_to_its_limit_finishes_with_max_new_tokens(self):
        finished = self.client.decode(TEXT, max_new_tokens=2, selection="greedy", timeout=60).result()
        self.assertIs(finished.reason, FinishReason.MAX_NEW_TOKENS)
        self.assertEqual(str(finished.reason), "FinishReason.MAX_NEW_TOKENS")
        self.assertEqual(len(finished.token_ids), 2)

    def test_generate_streams_the_tokens_of_the_lockstep_greedy_decode(self):
        events = list(self.client.generate(TEXT, max_new_tokens=MAX_NEW_TOKENS, selection="greedy", timeout=60))
        tokens = [event.token.token_id for event in events if isinstance(event, TokenEvent)]
        self.assertEqual(tokens, [step.token.token_id for step in self.greedy])
        first_logits = next(event.logits for event in events if isinstance(event, StepEvent))
        np.testing.assert_array_equal(first_logits, self.greedy[0].logits)

    def test_float16_logits_are_the_float32_logits_rounded_to_half_precision(self):
        run = self.client.decode(TEXT, max_new_tokens=1, selection="greedy", raw_logits="float16", timeout=60)
        half = next(iter(run)).logits
        np.testing.assert_array_equal(half, self.greedy[0].logits.astype(np.float16).astype(np.float32))

    def test_an_out_of_range_parameter_fails_with_the_servers_message(self):
        with self.assertRaises(StepwiseCallError) as raised:
            self.client.decode(TEXT, generation_config={"top_p": 1.5}, selection="sample", timeout=30).result()
        self.assertEqual(raised.exception.code.name, "INVALID_ARGUMENT")
        self.assertIn("top_p", raised.exception.details)
        self.assertIn("1.5", raised.exception.details)


    def test_list_models_describes_the_served_model_and_calls_may_name_it(self):
        models = self.client.list_models(timeout=30)
        self.assertEqual([(model.name, model.is_default) for model in models], [(self.info.name, True)])
        self.assertEqual(models[0].info, self.info)
        name = self.info.name
        self.assertEqual(self.client.get_model_info(timeout=30, model=name), self.info)
        self.assertEqual(self.client.tokenize(TEXT, timeout=30, model=name), self.client.tokenize(TEXT, timeout=30))
        self.assertEqual(self.client.detokenize([5, 6], timeout=30, model=name), self.client.detokenize([5, 6], timeout=30))
        named = list(self.client.decode(TEXT, max_new_tokens=MAX_NEW_TOKENS, selection="greedy", model=name, timeout=60))
        self.assertEqual([step.token.token_id for step in named], [step.token.token_id for step in self.greedy])

    def test_a_model_the_server_does_not_serve_is_not_found_with_the_names_served(self):
        for call in (
            lambda: self.client.get_model_info(timeout=30, model="t5-large"),
            lambda: self.client.tokenize(TEXT, timeout=30, model="t5-large"),
            lambda: self.client.decode(TEXT, max_new_tokens=2, model="t5-large", timeout=30).result(),
        ):
            with self.assertRaises(StepwiseCallError) as raised:
                call()
            self.assertEqual(raised.exception.code.name, "NOT_FOUND")
            self.assertIn(f'"{self.info.name}"; given "t5-large"', raised.exception.details)


class _RecordMetadata(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Keeps the metadata of every call leaving the channel (what gRPC then sends), by method."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[tuple[str, str], ...]]] = []

    def _record(self, continuation, details, request):
        self.seen.append((details.method.rsplit("/", 1)[-1], tuple(details.metadata or ())))
        return continuation(details, request)

    intercept_unary_unary = intercept_unary_stream = intercept_stream_stream = _record


class CallMetadataTest(unittest.TestCase):
    def test_client_and_call_metadata_and_the_token_go_with_every_kind_of_call(self):
        recorder = _RecordMetadata()
        channel = grpc.intercept_channel(grpc.insecure_channel(SERVER), recorder)
        with Client(SERVER, channel=channel, token="t0ken", metadata=[("x-run", "7")]) as client:
            client.get_model_info(timeout=30, metadata=[("x-call", "info")])
            list(client.decode(TEXT, max_new_tokens=1, timeout=60, metadata=[("x-call", "decode")]))
            list(client.generate(TEXT, max_new_tokens=1, timeout=60, metadata=[("x-call", "generate")]))
            client.tokenize("house", timeout=30)
        self.assertEqual([method for method, _ in recorder.seen], ["GetModelInfo", "Decode", "Generate", "Tokenize"])
        for (method, metadata), call in zip(recorder.seen, ["info", "decode", "generate", None]):
            self.assertIn(("x-run", "7"), metadata, method)
            self.assertIn(("authorization", "Bearer t0ken"), metadata, method)
            self.assertEqual([value for key, value in metadata if key == "x-call"], [call] if call else [], method)


class TypeScriptClientAgreementTest(LiveServerTest):
    """Runs the TypeScript CLI (`stepwise decode --npy --jsonl`) on the same request and compares."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.folder = tempfile.TemporaryDirectory()
        cls.npy_path = Path(cls.folder.name) / "logits.npy"
        cls.jsonl_path = Path(cls.folder.name) / "steps.jsonl"
        command = [
            "node", "--import", "tsx", "clients/ts/cli/main.ts", "decode", TEXT,
            "--server", SERVER, "--max-new-tokens", str(MAX_NEW_TOKENS),
            "--npy", str(cls.npy_path), "--jsonl", str(cls.jsonl_path),
        ]  # fmt: skip
        cls.cli = subprocess.run(command, cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()
        super().tearDownClass()

    def setUp(self):
        self.assertEqual(self.cli.returncode, 0, f"stepwise decode failed:\n{self.cli.stdout}\n{self.cli.stderr}")

    def test_the_npy_header_is_numpy_format_1_0_float32_c_order_aligned_to_64_bytes(self):
        with open(self.npy_path, "rb") as file:
            version = np.lib.format.read_magic(file)
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(file)
            data_offset = file.tell()
        self.assertEqual(version, (1, 0))
        self.assertEqual(dtype, np.dtype("<f4"))
        self.assertFalse(fortran_order)
        self.assertEqual(shape, (len(self.greedy), self.info.vocab_size))
        self.assertEqual(data_offset % 64, 0)

    def test_the_npy_rows_are_bit_identical_to_the_python_clients_logits(self):
        matrix = np.load(self.npy_path)
        python = np.stack([step.logits for step in self.greedy])
        self.assertEqual(matrix.tobytes(), python.tobytes())

    def test_the_jsonl_steps_match_the_python_decode(self):
        lines = [json.loads(line) for line in self.npy_path.with_name("steps.jsonl").read_text().splitlines()]
        self.assertEqual([line["token_id"] for line in lines], [step.token.token_id for step in self.greedy])
        for line, step in zip(lines, self.greedy):
            log_probabilities = step.logits.astype(np.float64) - np.logaddexp.reduce(step.logits.astype(np.float64))
            self.assertAlmostEqual(line["probability"], float(np.exp(log_probabilities[step.token.token_id])), places=6)
            entropy = float(-(np.exp(log_probabilities) * log_probabilities).sum())
            self.assertAlmostEqual(line["entropy"], entropy, places=5)


if __name__ == "__main__":
    unittest.main()
