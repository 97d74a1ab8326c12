"""The messages of a ``Decode`` or ``Generate`` stream as events, with each step's raw logits as a NumPy array."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from .stubs import load

pb = load()


def tensor_to_numpy(tensor: Any) -> np.ndarray:
    """The tensor as a float32 NumPy array: a read-only view over the received bytes for FLOAT32 (no copy),
    a converted array for FLOAT16."""
    shape = tuple(tensor.shape)
    if tensor.dtype == pb.DATA_TYPE_FLOAT32:
        return np.frombuffer(tensor.data, dtype="<f4").reshape(shape)
    if tensor.dtype == pb.DATA_TYPE_FLOAT16:
        return np.frombuffer(tensor.data, dtype="<f2").astype(np.float32).reshape(shape)
    raise ValueError(f"tensor dtype must be FLOAT32 or FLOAT16; given {pb.DataType.Name(tensor.dtype)}")


@dataclass(frozen=True)
class StartedEvent:
    """The stream was accepted: what the server resolved (vocabulary size, pipeline, seed, mode...)."""

    started: Any


@dataclass(frozen=True)
class StepEvent:
    """A step's raw logits; in lockstep mode, usually also the request for its decision."""

    step: int
    awaits_decision: bool
    logits: Optional[np.ndarray]
    """The raw logits (``vocab_size`` float32) for the FLOAT32 and FLOAT16 formats."""
    top: Optional[Any]
    """The highest raw logits (``TopLogits``) for the TOP_K format."""
    message: Any


@dataclass(frozen=True)
class TokenEvent:
    """The token taken at a step (``TokenChosen``)."""

    token: Any


@dataclass(frozen=True)
class AppliedEvent:
    """Auto mode: a client message took effect from ``applied.from_step``."""

    applied: Any


@dataclass(frozen=True)
class FinishedEvent:
    """The end of the stream: reason, generated ids and text, timings."""

    finished: Any


DecodeEvent = Union[StartedEvent, StepEvent, TokenEvent, AppliedEvent, FinishedEvent]


def to_event(response: Any, awaits_decision: bool) -> DecodeEvent:
    """The event of one server message."""
    kind = response.WhichOneof("message")
    if kind == "started":
        return StartedEvent(response.started)
    if kind == "logits":
        message = response.logits
        logits = tensor_to_numpy(message.raw) if message.HasField("raw") else None
        top = message.top if message.HasField("top") else None
        return StepEvent(message.step, awaits_decision, logits, top, message)
    if kind == "token":
        return TokenEvent(response.token)
    if kind == "applied":
        return AppliedEvent(response.applied)
    if kind == "finished":
        return FinishedEvent(response.finished)
    raise ValueError("the server sent a stream message with no content")
