"""The protobuf and gRPC modules ship generated (``stepwise_client/_gen``): they must be exactly what
``generate_stubs.py`` makes of ``proto/`` today, and the package must need neither ``proto/`` nor
``grpc_tools`` at run time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from support import PYTHON_CLIENT_ROOT
from generate_stubs import GENERATED_DIR, check, differences, generate, rewrite_proto3_optional
from stepwise_client import SelectionMode, pb


class RewriteProto3OptionalTest(unittest.TestCase):
    def test_an_optional_field_becomes_the_one_member_oneof_it_stands_for(self):
        self.assertEqual(
            rewrite_proto3_optional("  optional double top_p = 4;\n"),
            "  oneof _top_p { double top_p = 4; }\n",
        )

    def test_field_options_and_qualified_types_are_kept(self):
        self.assertEqual(
            rewrite_proto3_optional("optional stepwise.v1.Tensor t = 7 [deprecated = true];"),
            "oneof _t { stepwise.v1.Tensor t = 7 [deprecated = true]; }",
        )

    def test_other_fields_and_words_containing_optional_are_left_alone(self):
        source = "repeated uint32 ids = 1;\n// optionally set\nuint32 nonoptional_count = 2;\n"
        self.assertEqual(rewrite_proto3_optional(source), source)


class CommittedStubsTest(unittest.TestCase):
    def test_the_committed_modules_are_what_proto_generates_today(self):
        problems = check()
        self.assertEqual(problems, [], f"run `/usr/bin/python3 clients/python/generate_stubs.py` and commit {GENERATED_DIR}")

    def test_a_copy_with_one_edited_module_is_reported_stale(self):
        with tempfile.TemporaryDirectory() as scratch:
            fresh = generate(Path(scratch) / "fresh")
            copy = Path(scratch) / "copy"
            shutil.copytree(fresh, copy)
            with open(copy / "stepwise_pb2_grpc.py", "a") as file:
                file.write("# edited by hand\n")
            (copy / "old_pb2.py").write_text("")
            self.assertEqual(differences(copy, fresh), ["stale:   stepwise_pb2_grpc.py", "extra:   old_pb2.py (no longer generated)"])

    def test_the_package_imports_without_grpc_tools_or_the_proto_folder(self):
        # A copy of the package alone, outside the repository, with grpc_tools made unimportable.
        with tempfile.TemporaryDirectory() as scratch:
            shutil.copytree(PYTHON_CLIENT_ROOT / "stepwise_client", Path(scratch) / "stepwise_client", ignore=shutil.ignore_patterns("__pycache__"))
            code = (
                "import sys; sys.modules['grpc_tools'] = None\n"
                "import stepwise_client\n"
                "print(stepwise_client.__file__, stepwise_client.pb.Start(text='x').text, stepwise_client.FinishReason(4))\n"
            )
            result = subprocess.run([sys.executable, "-c", code], cwd=scratch, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"{scratch}/stepwise_client/__init__.py x FinishReason.CLIENT_STOP", result.stdout)

    def test_the_modules_load_on_protobufs_pure_python_runtime_too(self):
        # Debian's protobuf runs its C++ runtime; pip's runs upb. The builder form loads on each; the pure
        # Python one is the runtime here that checks the descriptor most strictly.
        code = (
            "from stepwise_client import pb\n"
            "spec = pb.ProcessorSpec(name='top_k'); spec.params['top_k'].int_value = 5\n"
            "print(pb.ProcessorSpec.FromString(spec.SerializeToString()).params['top_k'].int_value)\n"
            "from google.protobuf.internal import api_implementation; print(api_implementation.Type())\n"
        )
        env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python", "PYTHONPATH": str(PYTHON_CLIENT_ROOT)}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["5", "python"])

    def test_an_optional_field_set_to_zero_is_present_and_sent(self):
        selection = pb.Selection(mode=SelectionMode.SAMPLE, seed=0)
        self.assertTrue(selection.HasField("seed"))
        self.assertFalse(pb.Selection().HasField("seed"))
        decoded = pb.Selection.FromString(selection.SerializeToString())
        self.assertTrue(decoded.HasField("seed"))
        self.assertEqual(decoded.seed, 0)


if __name__ == "__main__":
    unittest.main()
