"""The lockstep loop as one call: ``decide`` answers every step awaiting a decision; iterating yields each
decoded step with its raw logits (a NumPy array) and its token.

>>> run = client.decode("translate English to German: Hello", decide=lambda step, context: accept())
>>> for step in run:
...     print(step.step, step.token.text, step.logits[step.token.token_id])
>>> run.finished.reason                    # FinishReason.MAX_NEW_TOKENS

A ``fork(new_branch)`` decision copies the step's branch; ``decide`` is then asked again for the same step
of both (``step.branch`` tells which), and ``drop()`` ends a branch. Each branch keeps its own
``context.token_ids``; decoded steps carry their branch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from .decisions import Decision
from .events import StepEvent, TokenEvent
from .results import Finished, Started, TokenChosen, TopLogits
from .session import DecodeSession


@dataclass(frozen=True)
class DecodedStep:
    """One step once its token is known."""

    step: int
    logits: Optional[np.ndarray]
    """The raw logits (float32, ``vocab_size`` long) for the FLOAT32 and FLOAT16 formats."""
    top: Optional[TopLogits]
    """The highest raw logits for the TOP_K format."""
    token: TokenChosen
    """The token taken: id, text, log-probabilities, source (forced or selected)."""
    branch: int = 0
    """The branch that took it (0 unless a decision forked)."""


@dataclass(frozen=True)
class DecideContext:
    """What ``decide`` knows besides the step itself."""

    started: Started
    token_ids: tuple[int, ...]
    """The tokens the step's branch generated so far (after any rewinds)."""


DecideStep = Callable[[StepEvent, DecideContext], Decision]


class LockstepDecode:
    """A lockstep decode whose steps ``decide`` answers; iterate it once for the decoded steps."""

    def __init__(self, session: DecodeSession, decide: DecideStep):
        self.session = session
        self._decide = decide
        self._steps = self._run()
        self._iterated = False

    @property
    def started(self) -> Optional[Started]:
        """What the server resolved from the start, once the decode began."""
        return self.session.started

    @property
    def finished(self) -> Optional[Finished]:
        """How the decode ended, once its steps were all read."""
        return self.session.finished

    def __iter__(self) -> Iterator[DecodedStep]:
        """The decoded steps, in order (a step rewound away was yielded before the rewind); once."""
        if self._iterated:
            raise RuntimeError("a lockstep decode can be iterated only once")
        self._iterated = True
        return self._steps

    def result(self) -> Finished:
        """Runs the decode to its end (or what is left of it) and returns how it finished."""
        self._iterated = True
        for _ in self._steps:
            pass
        if self.session.finished is None:
            raise RuntimeError("the decode was abandoned before it finished (its steps were left early)")
        return self.session.finished

    def _run(self) -> Iterator[DecodedStep]:
        token_ids: dict[int, list[int]] = {0: []}
        pending: dict[tuple[int, int], StepEvent] = {}
        with self.session:
            for event in self.session:
                if isinstance(event, StepEvent):
                    pending[event.branch, event.step] = event
                    if event.awaits_decision:
                        self._answer(event, token_ids, pending)
                elif isinstance(event, TokenEvent):
                    token = event.token
                    token_ids[token.branch].append(token.token_id)
                    step = pending.pop((token.branch, token.step), None)
                    logits, top = (step.logits, step.top) if step is not None else (None, None)
                    yield DecodedStep(token.step, logits, top, token, token.branch)

    def _answer(self, event: StepEvent, token_ids: dict[int, list[int]], pending: dict[tuple[int, int], StepEvent]) -> None:
        """Sends ``decide``'s answer to ``event``; after a fork, the answers of both branches."""
        assert self.session.started is not None  # the server sends Started before any step
        branch_ids = token_ids[event.branch]
        decision = self._decide(event, DecideContext(self.session.started, tuple(branch_ids)))
        self.session.decide(event.step, decision, event.branch)
        if decision.action == "rewind":
            del branch_ids[len(branch_ids) - decision.count :]
        elif decision.action == "drop":
            del token_ids[event.branch]
            pending.pop((event.branch, event.step), None)
        elif decision.action == "fork":
            token_ids[decision.new_branch] = list(branch_ids)
            copy = pending[decision.new_branch, event.step] = replace(event, branch=decision.new_branch)
            self._answer(event, token_ids, pending)
            self._answer(copy, token_ids, pending)
