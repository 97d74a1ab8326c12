"""The messages of a ``Decode`` or ``Generate`` stream as typed events, with each step's raw logits as a
NumPy array."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from google.protobuf.message import Message

from .results import Applied, BeamStep, Finished, Started, TokenChosen, TopLogits, tensor_to_numpy


@dataclass(frozen=True)
class StartedEvent:
    """The stream was accepted: what the server resolved (vocabulary size, pipeline, seed, mode...)."""

    started: Started


@dataclass(frozen=True)
class StepEvent:
    """A step's raw logits; in lockstep mode, usually also the request for its decision."""

    step: int
    awaits_decision: bool
    logits: Optional[np.ndarray]
    """The raw logits (``vocab_size`` float32) for the FLOAT32 and FLOAT16 formats."""
    top: Optional[TopLogits]
    """The highest raw logits for the TOP_K format."""
    branch: int = 0
    """The branch whose step this is (0 unless the stream forked)."""


@dataclass(frozen=True)
class ForkedEvent:
    """A ``fork`` decision made ``branch``, a copy of ``from_branch`` as it awaited ``step``; both await a
    decision for ``step`` (the new branch's logits are its parent's, not sent again)."""

    branch: int
    from_branch: int
    step: int


@dataclass(frozen=True)
class TokenEvent:
    """The token taken at a step."""

    token: TokenChosen


@dataclass(frozen=True)
class AppliedEvent:
    """Auto mode: a client message took effect from ``applied.from_step``."""

    applied: Applied


@dataclass(frozen=True)
class FinishedEvent:
    """The end of the stream, or with branches of one branch (``finished.branch``): reason, generated ids and
    text, timings."""

    finished: Finished


@dataclass(frozen=True)
class BeamStepEvent:
    """Beam search: the live beams after a step (their ids so far and scores), best first."""

    beam_step: BeamStep


DecodeEvent = Union[StartedEvent, StepEvent, ForkedEvent, TokenEvent, AppliedEvent, FinishedEvent, BeamStepEvent]


def to_event(response: Message, awaits_decision: bool) -> DecodeEvent:
    """The event of one server message (a ``DecodeResponse`` or ``GenerateResponse``)."""
    kind = response.WhichOneof("message")
    if kind == "started":
        return StartedEvent(Started.from_proto(response.started))
    if kind == "logits":
        message = response.logits
        logits = tensor_to_numpy(message.raw) if message.HasField("raw") else None
        top = TopLogits.from_proto(message.top) if message.HasField("top") else None
        return StepEvent(message.step, awaits_decision, logits, top, message.branch)
    if kind == "forked":
        forked = response.forked
        return ForkedEvent(forked.branch, forked.from_branch, forked.step)
    if kind == "token":
        return TokenEvent(TokenChosen.from_proto(response.token))
    if kind == "applied":
        return AppliedEvent(Applied.from_proto(response.applied))
    if kind == "finished":
        return FinishedEvent(Finished.from_proto(response.finished))
    if kind == "beam_step":
        return BeamStepEvent(BeamStep.from_proto(response.beam_step))
    raise ValueError("the server sent a stream message with no content")
