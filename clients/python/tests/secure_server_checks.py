"""The Python client against a secured server: mutual TLS and a bearer token. Not named ``test_*``: it needs
a server started with ``--tls-cert``, ``--tls-key``, ``--tls-client-ca`` and ``--auth-token-file``, and
the files to reach it, which ``test/integration/clients/secure-clients.test.ts`` makes and passes in:

    STEPWISE_SERVER=127.0.0.1:PORT STEPWISE_TOKEN=... STEPWISE_TEST_CA=ca.pem STEPWISE_TEST_CERT=client.pem \\
    STEPWISE_TEST_KEY=client.key STEPWISE_TEST_OTHER_CERT=... STEPWISE_TEST_OTHER_KEY=... \\
    /usr/bin/python3 -m unittest discover -s clients/python/tests -p 'secure_*.py'
"""

from __future__ import annotations

import json
import os
import shlex
import unittest

import grpc

from reflection_client import ReflectionClient
from support import REPOSITORY_ROOT, SERVER, TEXT
from stepwise_client import Client, StepwiseCallError, StepEvent, open_channel

CA = os.environ["STEPWISE_TEST_CA"]
CERT = os.environ["STEPWISE_TEST_CERT"]
KEY = os.environ["STEPWISE_TEST_KEY"]
OTHER_CERT = os.environ["STEPWISE_TEST_OTHER_CERT"]
OTHER_KEY = os.environ["STEPWISE_TEST_OTHER_KEY"]
TOKEN = os.environ["STEPWISE_TOKEN"]


def readme_secure_grpcurl_commands() -> list[list[str]]:
    """The README's grpcurl commands for a secured server ("Securing the server"), split as a shell would."""
    lines = (REPOSITORY_ROOT / "README.md").read_text().splitlines()
    return [shlex.split(line) for line in lines if line.startswith("grpcurl -cacert ")]


def channel_for(words: list[str]) -> grpc.Channel:
    """The channel grpcurl's flags describe, with the README's file names mapped to the test's files."""
    files = {"ca.pem": CA, "client.pem": CERT, "client.key": KEY}
    flags = dict(zip(words[1::2], words[2::2]))
    token = flags["-H"].removeprefix("authorization: Bearer ")
    assert token == "$STEPWISE_TOKEN", flags["-H"]
    return open_channel(SERVER, ca_file=files[flags["-cacert"]], cert_file=files[flags["-cert"]], key_file=files[flags["-key"]], token=TOKEN)


class SecuredServerTest(unittest.TestCase):
    def test_with_its_certificate_and_token_every_kind_of_call_is_served(self):
        with Client(SERVER, ca_file=CA, cert_file=CERT, key_file=KEY, token=TOKEN) as client:
            info = client.get_model_info(timeout=30)
            steps = list(client.decode(TEXT, max_new_tokens=3, selection="greedy", timeout=60))
            events = list(client.generate(TEXT, max_new_tokens=3, timeout=60))
        self.assertEqual([step.logits.shape for step in steps], [(info.vocab_size,)] * 3)
        self.assertEqual(sum(isinstance(event, StepEvent) for event in events), 3)

    def test_the_token_defaults_to_STEPWISE_TOKEN(self):
        with Client(SERVER, ca_file=CA, cert_file=CERT, key_file=KEY) as client:
            self.assertGreater(client.get_model_info(timeout=30).vocab_size, 0)

    def test_without_a_token_every_call_is_unauthenticated(self):
        with Client(SERVER, ca_file=CA, cert_file=CERT, key_file=KEY, token="") as client:
            with self.assertRaises(StepwiseCallError) as unary:
                client.get_model_info(timeout=30)
            with self.assertRaises(StepwiseCallError) as stream:
                list(client.decode(TEXT, max_new_tokens=3, timeout=30))
        for refused in (unary.exception, stream.exception):
            self.assertEqual(refused.code, grpc.StatusCode.UNAUTHENTICATED)
            self.assertIn("authorization: Bearer <token>", refused.details)

    def test_a_token_passed_as_call_metadata_authenticates_like_the_token_option(self):
        header = ("authorization", f"Bearer {TOKEN}")
        with Client(SERVER, ca_file=CA, cert_file=CERT, key_file=KEY, token="", metadata=[header]) as client:
            self.assertGreater(client.get_model_info(timeout=30).vocab_size, 0)
            self.assertEqual(len(list(client.decode(TEXT, max_new_tokens=2, timeout=60))), 2)
        with Client(SERVER, ca_file=CA, cert_file=CERT, key_file=KEY, token="") as client:
            self.assertGreater(len(client.tokenize("house", timeout=30, metadata=[header]).token_ids), 0)

    def test_a_wrong_token_is_unauthenticated(self):
        with Client(SERVER, ca_file=CA, cert_file=CERT, key_file=KEY, token=TOKEN + "x") as client:
            with self.assertRaises(StepwiseCallError) as refused:
                client.get_model_info(timeout=30)
        self.assertEqual(refused.exception.code, grpc.StatusCode.UNAUTHENTICATED)
        self.assertNotIn(TOKEN, str(refused.exception))

    def test_without_a_client_certificate_or_with_one_from_another_ca_the_connection_is_refused(self):
        for options in ({}, {"cert_file": OTHER_CERT, "key_file": OTHER_KEY}):
            with Client(SERVER, ca_file=CA, token=TOKEN, **options) as client:
                with self.assertRaises(StepwiseCallError) as refused:
                    client.get_model_info(timeout=30)
            self.assertEqual(refused.exception.code, grpc.StatusCode.UNAVAILABLE, options)

    def test_a_plaintext_channel_is_refused(self):
        with Client(SERVER, token=TOKEN) as client:
            with self.assertRaises(StepwiseCallError) as refused:
                client.get_model_info(timeout=30)
        self.assertEqual(refused.exception.code, grpc.StatusCode.UNAVAILABLE)

    def test_a_certificate_without_its_key_is_refused_before_connecting(self):
        with self.assertRaisesRegex(ValueError, "needs its key"):
            Client(SERVER, ca_file=CA, cert_file=CERT)

    def test_the_readme_grpcurl_flags_list_the_services_and_call_through_reflection(self):
        commands = readme_secure_grpcurl_commands()
        self.assertEqual([words[-1] for words in commands], ["list", "stepwise.v1.StepwiseService/GetModelInfo"])
        for words in commands:
            self.assertEqual(words[1:7], ["-cacert", "ca.pem", "-cert", "client.pem", "-key", "client.key"])
        list_command, call_command = commands
        with channel_for(list_command) as channel:
            self.assertIn("stepwise.v1.StepwiseService", ReflectionClient(channel).list_services())
        with channel_for(call_command) as channel:
            body = call_command[call_command.index("-d") + 1]
            (answer,) = ReflectionClient(channel).call_json(call_command[-1], body)
        self.assertGreater(json.loads(answer)["vocab_size"], 0)

    def test_reflection_without_the_token_is_unauthenticated(self):
        with open_channel(SERVER, ca_file=CA, cert_file=CERT, key_file=KEY) as channel:
            with self.assertRaises(grpc.RpcError) as refused:
                ReflectionClient(channel).list_services()
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


if __name__ == "__main__":
    unittest.main()
