"""Typed results: every enum of the proto is a Python enum with the same values, every field of each message
a client reads has its attribute, and the conversions keep what the message says (no server needed)."""

from __future__ import annotations

import dataclasses
import math
import unittest

import numpy as np

from support import REPOSITORY_ROOT  # noqa: F401  (puts the client on the import path)
from stepwise_client import (
    DecodeMode,
    FinishReason,
    Finished,
    ParamType,
    Scored,
    SelectionMode,
    Started,
    TokenChosen,
    TokenSource,
    pb,
    to_score_request,
)
from stepwise_client._gen import stepwise_pb2
from stepwise_client.enums import PROTO_ENUMS
from stepwise_client.events import StepEvent, TokenEvent, to_event
from stepwise_client.results import PROTO_RESULTS


def _prefix(enum_name: str) -> str:
    """``FinishReason`` → ``FINISH_REASON_``."""
    return "".join(f"_{c}" if c.isupper() else c.upper() for c in enum_name).lstrip("_") + "_"


class EnumsTest(unittest.TestCase):
    def test_every_proto_enum_has_a_python_enum_with_the_same_names_and_numbers(self):
        self.assertEqual(sorted(PROTO_ENUMS), sorted(stepwise_pb2.DESCRIPTOR.enum_types_by_name))
        for name, python_enum in PROTO_ENUMS.items():
            proto = {value.name.removeprefix(_prefix(name)): value.number for value in stepwise_pb2.DESCRIPTOR.enum_types_by_name[name].values}
            self.assertEqual({member.name: member.value for member in python_enum}, proto, name)

    def test_an_enum_prints_its_name_and_still_equals_the_number_on_the_wire(self):
        self.assertEqual(str(FinishReason.EOS), "FinishReason.EOS")
        self.assertEqual(f"{TokenSource.FORCED}", "TokenSource.FORCED")
        self.assertEqual(f"{FinishReason.CLIENT_STOP:d}", "4")
        self.assertEqual(FinishReason.CLIENT_STOP, pb.FINISH_REASON_CLIENT_STOP)


class ResultsTest(unittest.TestCase):
    def test_each_result_type_has_an_attribute_for_every_field_of_its_message(self):
        for message_name, result_type in PROTO_RESULTS.items():
            fields = set(stepwise_pb2.DESCRIPTOR.message_types_by_name[message_name].fields_by_name)
            self.assertEqual({field.name for field in dataclasses.fields(result_type)}, fields, message_name)

    def test_every_message_a_client_reads_has_a_result_type(self):
        read_by_clients = {
            "Started", "SpecialTokenIds", "ProcessorSpec", "TopLogits", "TokenChosen", "Alternative", "Applied", "Finished",
            "Timings", "GetModelInfoResponse", "ModelConfigSummary", "ServerLimits", "ProcessorDescription",
            "ParameterDescription", "TokenizeResponse", "ModelDescription", "ScoreResponse", "TargetScore", "TokenScore",
            "ScoreTimings", "BeamSearch", "BeamStep", "Beam", "BeamSequence",
        }  # fmt: skip
        self.assertEqual(set(PROTO_RESULTS), read_by_clients)

    def test_finished_carries_its_reason_as_an_enum_and_its_ids_as_a_tuple(self):
        message = pb.Finished(reason=pb.FINISH_REASON_CLIENT_STOP, token_ids=[5, 7], text="ab", timings=pb.Timings(encode_ms=1.5, step_ms=[0.5, 0.25], total_ms=3))
        finished = Finished.from_proto(message)
        self.assertIs(finished.reason, FinishReason.CLIENT_STOP)
        self.assertEqual(finished.token_ids, (5, 7))
        self.assertEqual(finished.timings.step_ms, (0.5, 0.25))
        self.assertEqual(repr(finished.reason), "<FinishReason.CLIENT_STOP: 4>")

    def test_a_token_without_entropies_or_scores_reads_none_and_with_them_the_values(self):
        bare = TokenChosen.from_proto(pb.TokenChosen(step=2, token_id=9, source=pb.TOKEN_SOURCE_FORCED))
        self.assertIs(bare.source, TokenSource.FORCED)
        self.assertIsNone(bare.entropy)
        self.assertIsNone(bare.raw_entropy)
        self.assertIsNone(bare.processed_scores)
        scores = np.array([0.5, -1.0], dtype="<f4")
        full = TokenChosen.from_proto(
            pb.TokenChosen(
                step=2, token_id=9, source=pb.TOKEN_SOURCE_SELECTED, entropy=0.0, raw_entropy=1.25,
                processed_scores=pb.Tensor(dtype=pb.DATA_TYPE_FLOAT32, shape=[2], data=scores.tobytes()),
                alternatives=[pb.Alternative(token_id=9, text="x", logprob=-0.5, raw_logprob=-0.75)],
            )
        )  # fmt: skip
        self.assertEqual(full.entropy, 0.0)
        self.assertEqual(full.raw_entropy, 1.25)
        np.testing.assert_array_equal(full.processed_scores, scores)
        self.assertEqual((full.alternatives[0].token_id, full.alternatives[0].raw_logprob), (9, -0.75))

    def test_started_reads_its_pipeline_parameters_as_plain_values_and_its_modes_as_enums(self):
        spec = pb.ProcessorSpec(name="ban_tokens")
        spec.params["token_ids"].list_value.values.add().int_value = 3
        spec.params["strength"].float_value = 0.5
        spec.params["strict"].bool_value = True
        message = pb.Started(vocab_size=606, pipeline=[spec], selection_mode=pb.SELECTION_MODE_SAMPLE, mode=pb.DECODE_MODE_AUTO, seed=2**63 + 1)
        started = Started.from_proto(message)
        self.assertEqual(started.pipeline[0].name, "ban_tokens")
        self.assertEqual(dict(started.pipeline[0].params), {"strength": 0.5, "strict": True, "token_ids": [3]})
        self.assertIs(started.selection_mode, SelectionMode.SAMPLE)
        self.assertIs(started.mode, DecodeMode.AUTO)
        self.assertEqual(started.seed, 2**63 + 1)
        self.assertIsNone(started.special_ids.unk_token_id)

    def test_stream_messages_become_events_with_typed_payloads(self):
        row = np.array([1.0, -math.inf], dtype="<f4")
        step = to_event(pb.DecodeResponse(logits=pb.StepLogits(step=0, raw=pb.Tensor(dtype=pb.DATA_TYPE_FLOAT32, shape=[2], data=row.tobytes()))), True)
        self.assertIsInstance(step, StepEvent)
        np.testing.assert_array_equal(step.logits, row)
        top = to_event(pb.GenerateResponse(logits=pb.StepLogits(step=1, top=pb.TopLogits(token_ids=[4, 2], logits=[2.5, 1.0]))), False)
        self.assertEqual(top.top.token_ids, (4, 2))
        self.assertEqual(top.top.logits.dtype, np.float32)
        token = to_event(pb.DecodeResponse(token=pb.TokenChosen(step=0, token_id=4, source=pb.TOKEN_SOURCE_SELECTED)), False)
        self.assertIsInstance(token, TokenEvent)
        self.assertIs(token.token.source, TokenSource.SELECTED)

    def test_a_score_reads_its_tokens_rows_and_optional_fields(self):
        row = np.array([0.5, -1.0, 2.0], dtype="<f4")
        message = pb.ScoreResponse(
            input_ids=[4, 1], decoder_prompt_ids=[0],
            results=[pb.TargetScore(
                logprob_sum=-3.5, logprob_mean=-1.75, text="ab",
                tokens=[
                    pb.TokenScore(token_id=2, logprob=-0.5, text="a", rank=1, entropy=0.25,
                                  raw=pb.Tensor(dtype=pb.DATA_TYPE_FLOAT32, shape=[3], data=row.tobytes()),
                                  alternatives=[pb.Alternative(token_id=2, text="a", logprob=-0.5, raw_logprob=-0.5)]),
                    pb.TokenScore(token_id=1, logprob=-3.0, text="", rank=3, top=pb.TopLogits(token_ids=[2], logits=[2.0])),
                ],
            )],
            timings=pb.ScoreTimings(encode_ms=1, decode_ms=2, total_ms=4),
        )  # fmt: skip
        scored = Scored.from_proto(message)
        target = scored.results[0]
        self.assertEqual((scored.input_ids, scored.decoder_prompt_ids, scored.timings.total_ms), ((4, 1), (0,), 4))
        self.assertEqual((target.token_ids, target.logprob_sum, target.text), ((2, 1), -3.5, "ab"))
        first, second = target.tokens
        np.testing.assert_array_equal(first.raw, row)
        self.assertEqual((first.entropy, first.alternatives[0].token_id, first.top), (0.25, 2, None))
        self.assertEqual((second.raw, second.entropy, second.top.token_ids), (None, None, (2,)))

    def test_a_score_request_takes_texts_and_id_lists_as_targets(self):
        request = to_score_request(input_ids=[4, 1], targets=["Haus", [5, 1]], top_n_alternatives=2, raw_logits="float16")
        self.assertEqual(list(request.token_ids.ids), [4, 1])
        self.assertEqual([target.WhichOneof("target") for target in request.targets], ["text", "token_ids"])
        self.assertEqual(list(request.targets[1].token_ids.ids), [5, 1])
        self.assertEqual((request.top_n_alternatives, request.raw_logits), (2, pb.LOGITS_FORMAT_FLOAT16))
        self.assertEqual(to_score_request("x", ["y"]).raw_logits, pb.LOGITS_FORMAT_NONE)
        with self.assertRaisesRegex(ValueError, "raw_logits must be one of"):
            to_score_request("x", ["y"], raw_logits="float64")

    def test_a_parameter_type_reads_as_its_enum(self):
        self.assertIs(ParamType(pb.PARAM_TYPE_INT_LIST), ParamType.INT_LIST)


if __name__ == "__main__":
    unittest.main()
