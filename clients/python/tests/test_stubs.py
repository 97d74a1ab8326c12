"""The protobuf modules generated from proto/ by Debian's protoc 3.5.1 (which predates proto3 `optional`)."""

from __future__ import annotations

import unittest

from support import REPOSITORY_ROOT  # noqa: F401  (puts the client on the import path)
from stepwise_client import pb
from stepwise_client.stubs import GENERATED_DIR, HASH_FILE, rewrite_proto3_optional


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


class GeneratedModulesTest(unittest.TestCase):
    def test_modules_are_generated_once_per_version_of_the_sources(self):
        self.assertTrue((GENERATED_DIR / HASH_FILE).is_file())

    def test_an_optional_field_set_to_zero_is_present_and_sent(self):
        selection = pb.Selection(mode=pb.SELECTION_MODE_SAMPLE, seed=0)
        self.assertTrue(selection.HasField("seed"))
        self.assertFalse(pb.Selection().HasField("seed"))
        decoded = pb.Selection.FromString(selection.SerializeToString())
        self.assertTrue(decoded.HasField("seed"))
        self.assertEqual(decoded.seed, 0)


if __name__ == "__main__":
    unittest.main()
