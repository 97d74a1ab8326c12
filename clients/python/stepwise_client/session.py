"""One open ``Decode`` stream: iterate its events, answer its steps with the decision methods.

>>> with client.open_decode(text="translate English to German: Hello", max_new_tokens=20) as session:
...     for event in session:
...         if isinstance(event, StepEvent) and event.awaits_decision:
...             session.accept(event.step)          # event.logits is a float32 NumPy array
...         elif isinstance(event, TokenEvent):
...             print(event.token.text)
>>> session.finished.text

Branches (lockstep): ``session.fork(step, 1)`` copies branch 0 into branch 1 (the client picks the id); each
decision method then takes ``branch=``; ``session.drop(step, branch)`` ends one; every step event, token and
finished carries its branch, and the stream ends with its last live branch's finished event.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from typing import Optional

import grpc
from google.protobuf.message import Message

from ._gen.stepwise_pb2_grpc import StepwiseServiceStub
from .decisions import Decision, PipelineChange, accept, drop, force, fork, reconfigure, rewind, steps_decided_ahead, stop, to_decode_request
from .enums import DecodeMode
from .errors import call_failure
from .events import DecodeEvent, FinishedEvent, ForkedEvent, StartedEvent, to_event
from .protocol import pb
from .results import Finished, Started

_END_OF_REQUESTS = None

Metadata = Sequence[tuple[str, str]]
"""gRPC call metadata: ``(key, value)`` pairs, keys in lower case (``[("x-request-id", "42")]``)."""


class DecodeSession:
    """One ``Decode`` stream: ``start`` is a ``pb.Start`` message; ``metadata`` is sent with the call."""

    def __init__(self, stub: StepwiseServiceStub, start: Message, timeout: Optional[float] = None, metadata: Metadata = ()):
        # gRPC's Python API reads client messages from an iterator on its own thread; a queue feeds it.
        self._requests: queue.SimpleQueue[Optional[Message]] = queue.SimpleQueue()
        self._requests.put(pb.DecodeRequest(start=start))
        self._call = stub.Decode(self._request_stream(), timeout=timeout, metadata=tuple(metadata))
        self.started: Optional[Started] = None
        """What the server resolved from the start, once the started event was read."""
        self.finished: Optional[Finished] = None
        """The stream's end (reason, ids, text, timings), once the finished event was read (with branches: the
        last live branch's)."""
        self._steps_already_decided: dict[int, int] = {}
        """By branch: steps of a forced run that the server streams without waiting for a decision."""
        self._live_branches = {0}
        self._stopped: set[int] = set()
        self._iterated = False

    def _request_stream(self) -> Iterator[Message]:
        while True:
            request = self._requests.get()
            if request is _END_OF_REQUESTS:
                return
            yield request

    def __iter__(self) -> Iterator[DecodeEvent]:
        """The stream's events, in order, ending with the finished event; can be iterated once."""
        if self._iterated:
            raise RuntimeError("a decode session can be iterated only once")
        self._iterated = True
        try:
            for response in self._call:
                yield self._observe(response)
            if self.finished is None:
                raise RuntimeError("the Decode stream ended without a Finished message")
        except grpc.RpcError as error:
            raise call_failure("Decode", error) from None
        finally:
            self._close()

    def __enter__(self) -> "DecodeSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close()

    def decide(self, step: int, decision: Decision, branch: int = 0) -> None:
        """Sends ``decision`` as the answer to ``branch``'s ``step`` (``stop()`` ends the branch)."""
        if decision.action == "stop":
            return self.stop(branch)
        self._assert_open(f"answer step {step}", branch)
        self._requests.put(to_decode_request(step, decision, branch))
        self._steps_already_decided[branch] = steps_decided_ahead(decision)
        if decision.action == "fork":
            self._live_branches.add(decision.new_branch)
        elif decision.action == "drop":
            self._live_branches.discard(branch)

    def accept(self, step: int, pipeline_changes: Sequence[PipelineChange] = (), branch: int = 0) -> None:
        """Lets the server select the token of ``step``, after applying ``pipeline_changes``."""
        self.decide(step, accept(pipeline_changes), branch)

    def force(self, step: int, token_ids: int | Sequence[int], pipeline_changes: Sequence[PipelineChange] = (), branch: int = 0) -> None:
        """Takes ``token_ids`` (one id, or a run from ``step`` on) instead of selecting."""
        self.decide(step, force(token_ids, pipeline_changes), branch)

    def reconfigure(self, step: int, pipeline_changes: Sequence[PipelineChange], branch: int = 0) -> None:
        """Changes the pipeline, then lets the server select ``step``'s token with it."""
        self.decide(step, reconfigure(pipeline_changes), branch)

    def rewind(self, step: int, count: int, pipeline_changes: Sequence[PipelineChange] = (), branch: int = 0) -> None:
        """Removes the last ``count`` tokens; the step at the rewound position is streamed again."""
        self.decide(step, rewind(count, pipeline_changes), branch)

    def fork(self, step: int, new_branch: int, branch: int = 0) -> None:
        """Copies ``branch``, as it awaits ``step``, into ``new_branch`` (an id the client chooses, unused in
        this stream); both then await a decision for ``step``, which may be sent at once."""
        self.decide(step, fork(new_branch), branch)

    def drop(self, step: int, branch: int) -> None:
        """Ends ``branch`` (awaiting ``step``) and frees it; nothing more comes for it. Not the last live one."""
        self.decide(step, drop(), branch)

    def stop(self, branch: int = 0) -> None:
        """Ends the decode (with branches: ``branch``); it then finishes with reason CLIENT_STOP."""
        self._assert_open("stop", branch)
        self._requests.put(to_decode_request(0, stop(), branch))  # a stop answers no particular step
        self._stopped.add(branch)

    def cancel(self) -> None:
        """Abandons the stream at once (the server frees it); iteration then fails with CANCELLED."""
        self._call.cancel()

    def _assert_open(self, what: str, branch: int) -> None:
        if self.finished is not None:
            raise RuntimeError(f"cannot {what}: the decode has already finished")
        if branch not in self._live_branches:
            raise RuntimeError(f"cannot {what}: branch {branch} is not live (never forked, dropped or finished)")
        if branch in self._stopped:
            label = "the decode" if branch == 0 and len(self._live_branches) == 1 else f"branch {branch}"
            raise RuntimeError(f"cannot {what}: {label} has already been stopped")

    def _observe(self, response: Message) -> DecodeEvent:
        awaits_decision = False
        if response.WhichOneof("message") == "logits":
            lockstep = self.started is None or self.started.mode != DecodeMode.AUTO
            ahead = self._steps_already_decided.get(response.logits.branch, 0)
            awaits_decision = lockstep and ahead == 0
            self._steps_already_decided[response.logits.branch] = max(0, ahead - 1)
        event = to_event(response, awaits_decision)
        if isinstance(event, StartedEvent):
            self.started = event.started
        elif isinstance(event, ForkedEvent):
            self._live_branches.add(event.branch)
        elif isinstance(event, FinishedEvent):
            self._live_branches.discard(event.finished.branch)
            if not self._live_branches:  # the last live branch ended the stream
                self.finished = event.finished
                self._requests.put(_END_OF_REQUESTS)  # our half of the stream is done too
        return event

    def _close(self) -> None:
        """Cancels an unfinished stream (so the server frees it) and ends the request thread's iterator."""
        if self.finished is None:
            self._call.cancel()
        self._requests.put(_END_OF_REQUESTS)
