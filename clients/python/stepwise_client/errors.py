"""Failed calls, with the gRPC status and the server's message."""

from __future__ import annotations

import grpc


class StepwiseCallError(Exception):
    """A failed call, e.g. ``Decode failed with INVALID_ARGUMENT: `top_p` must be in (0, 1]; given 1.5``."""

    def __init__(self, rpc: str, code: grpc.StatusCode, details: str):
        super().__init__(f"{rpc} failed with {code.name}: {details}")
        self.rpc = rpc
        self.code = code
        self.details = details


def call_failure(rpc: str, error: grpc.RpcError) -> StepwiseCallError:
    """The error callers see for a failed gRPC call."""
    return StepwiseCallError(rpc, error.code(), error.details() or "")
