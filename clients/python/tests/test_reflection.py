"""Any gRPC tool: the server's reflection is enough to list, describe and call it, as grpcurl does; the
grpcurl commands of clients/README.md are run this way (grpcurl itself may be absent)."""

from __future__ import annotations

import json
import shlex
import unittest

import grpc

from support import PYTHON_CLIENT_ROOT, SERVER
from reflection_client import ReflectionClient

README = PYTHON_CLIENT_ROOT.parent / "README.md"


def readme_grpcurl_commands() -> list[list[str]]:
    """The `grpcurl` commands of the README's shell blocks, split as a shell would."""
    return [shlex.split(line) for line in README.read_text().splitlines() if line.startswith("grpcurl -plaintext ")]


def readme_call(method: str) -> str:
    """The JSON body the README sends to ``method``."""
    for words in readme_grpcurl_commands():
        if words[-1] == method:
            return words[words.index("-d") + 1]
    raise LookupError(f"the README has no grpcurl call of {method}")


class ReflectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(SERVER)
        cls.reflection = ReflectionClient(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_the_readme_commands_are_those_run_here(self):
        subcommands = [words[3] if words[3] in ("list", "describe") else words[-1] for words in readme_grpcurl_commands()]
        self.assertEqual(
            subcommands,
            ["list", "describe", "describe", "stepwise.v1.StepwiseService/GetModelInfo", "stepwise.v1.StepwiseService/Generate"],
        )
        for words in readme_grpcurl_commands():
            self.assertIn("127.0.0.1:50051", words)

    def test_list_names_the_stepwise_service(self):
        self.assertIn("stepwise.v1.StepwiseService", self.reflection.list_services())

    def test_describe_shows_every_rpc_and_the_contracts_snake_case_field_names(self):
        file = self.reflection.describe("stepwise.v1.StepwiseService")
        service = next(s for s in file.service if s.name == "StepwiseService")
        self.assertEqual(
            {method.name for method in service.method},
            {"Decode", "Generate", "GetModelInfo", "ListProcessors", "Tokenize", "Detokenize", "Score", "ScoreBatch"},
        )
        start = next(message for message in file.message_type if message.name == "Start")
        self.assertIn("max_new_tokens", [field.name for field in start.field])

    def test_the_readme_get_model_info_call_answers_with_the_vocabulary(self):
        (answer,) = self.reflection.call_json("stepwise.v1.StepwiseService/GetModelInfo", readme_call("stepwise.v1.StepwiseService/GetModelInfo"))
        info = json.loads(answer)
        self.assertGreater(info["vocab_size"], 0)
        self.assertIn("eos_token_id", info["special_ids"])

    def test_the_readme_generate_stream_sends_started_steps_and_finished(self):
        body = readme_call("stepwise.v1.StepwiseService/Generate")
        messages = [json.loads(answer) for answer in self.reflection.call_json("stepwise.v1.StepwiseService/Generate", body)]
        kinds = [next(iter(message)) for message in messages]
        steps = json.loads(body)["start"]["max_new_tokens"]
        self.assertEqual(kinds, ["started"] + ["logits", "token"] * steps + ["finished"])
        self.assertEqual(len(messages[1]["logits"]["top"]["token_ids"]), 3)
        self.assertEqual(len(messages[2]["token"]["alternatives"]), 2)
        self.assertIn("raw_entropy", messages[2]["token"])
        self.assertEqual(messages[-1]["finished"]["reason"], "FINISH_REASON_MAX_NEW_TOKENS")


if __name__ == "__main__":
    unittest.main()
