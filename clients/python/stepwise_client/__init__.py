"""Stepwise's Python client: decode step by step on a Stepwise server, reading every step's raw logits as a
NumPy array and answering each step (accept, force, reconfigure, rewind, stop).

The protobuf modules are generated from the repository's ``proto/`` on first import (see ``stubs``).
"""

from .channel_security import DEFAULT_ADDRESS, BearerToken, open_channel
from .client import Client
from .decisions import (
    Decision,
    PipelineChange,
    accept,
    add_processor,
    force,
    reconfigure,
    remove_processor,
    replace_processor,
    rewind,
    stop,
)
from .errors import StepwiseCallError
from .events import AppliedEvent, DecodeEvent, FinishedEvent, StartedEvent, StepEvent, TokenEvent, tensor_to_numpy
from .lockstep import DecideContext, DecodedStep, LockstepDecode
from .session import DecodeSession
from .stubs import load as load_protocol

pb = load_protocol()
"""The generated messages and enums of ``stepwise.v1`` (``pb.FINISH_REASON_EOS``, ``pb.Start``...)."""

__all__ = [
    "DEFAULT_ADDRESS",
    "AppliedEvent",
    "BearerToken",
    "Client",
    "DecideContext",
    "Decision",
    "DecodeEvent",
    "DecodeSession",
    "DecodedStep",
    "FinishedEvent",
    "LockstepDecode",
    "PipelineChange",
    "StartedEvent",
    "StepEvent",
    "StepwiseCallError",
    "TokenEvent",
    "accept",
    "add_processor",
    "force",
    "open_channel",
    "pb",
    "reconfigure",
    "remove_processor",
    "replace_processor",
    "rewind",
    "stop",
    "tensor_to_numpy",
]
