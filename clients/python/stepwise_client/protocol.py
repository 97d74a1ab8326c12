"""The generated messages, enums and service stub of ``stepwise.v1`` as one namespace, ``pb``
(``pb.Start``, ``pb.DecodeRequest``, ``pb.FINISH_REASON_EOS``, ``pb.StepwiseServiceStub``...).

The modules are generated ahead of time into ``_gen/`` (``clients/python/generate_stubs.py``) and ship with
the package. Most code needs only the typed results (``results``) and enums (``enums``); ``pb`` is for
building a message by hand.
"""

from __future__ import annotations

import types

from ._gen import stepwise_pb2, stepwise_pb2_grpc


def _namespace() -> types.SimpleNamespace:
    namespace = types.SimpleNamespace()
    for module in (stepwise_pb2, stepwise_pb2_grpc):
        for name, value in vars(module).items():
            # Only what the .proto defines: messages, enums and their values, the service's stub and servicer.
            if not name.startswith("_") and name not in ("DESCRIPTOR", "grpc") and not isinstance(value, types.ModuleType):
                setattr(namespace, name, value)
    return namespace


pb = _namespace()
"""The messages and enums of ``stepwise.v1``, and its ``StepwiseServiceStub``."""
