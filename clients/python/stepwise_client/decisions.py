"""What a client answers at a step, as plain data, and its encoding (the same helpers as the TypeScript client).

>>> accept()                                       # let the server select
>>> force(42); force([42, 7, 1])                   # take a token, or a run of tokens (teacher forcing)
>>> rewind(2)                                      # drop the last two tokens; the step is streamed again
>>> reconfigure([replace_processor("temperature", {"temperature": 0.5})])
>>> stop()                                         # end now (reason CLIENT_STOP)
>>> fork(1); drop()                                # copy the branch into branch 1; end the branch
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Optional

from google.protobuf.message import Message

from .enums import PipelineScope
from .params import ParamInput, to_processor_spec
from .protocol import pb

ChangeScope = Literal["this-step", "from-now-on"]


@dataclass(frozen=True)
class PipelineChange:
    """One change to the processor pipeline: add, replace or remove a processor."""

    change: Literal["add", "replace", "remove"]
    name: str
    params: Mapping[str, ParamInput] = field(default_factory=dict)
    index: Optional[int] = None
    scope: Optional[ChangeScope] = None


@dataclass(frozen=True)
class Decision:
    """A client's answer to one step."""

    action: Literal["accept", "force", "rewind", "stop", "fork", "drop"]
    token_ids: tuple[int, ...] = ()
    count: int = 0
    pipeline_changes: tuple[PipelineChange, ...] = ()
    new_branch: int = 0
    """``fork``: the id of the branch it makes."""


def accept(pipeline_changes: Sequence[PipelineChange] = ()) -> Decision:
    """Let the server select this step's token (after applying ``pipeline_changes``, if any)."""
    return Decision("accept", pipeline_changes=tuple(pipeline_changes))


def force(token_ids: int | Sequence[int], pipeline_changes: Sequence[PipelineChange] = ()) -> Decision:
    """Take ``token_ids`` (one id, or a run: one per step from this one) instead of selecting."""
    ids = (token_ids,) if isinstance(token_ids, int) else tuple(token_ids)
    if not ids:
        raise ValueError("force needs at least one token id; given none")
    for index, token_id in enumerate(ids):
        if not isinstance(token_id, int) or token_id < 0:
            raise ValueError(f"forced token id [{index}] must be a non-negative integer; given {token_id!r}")
    return Decision("force", token_ids=ids, pipeline_changes=tuple(pipeline_changes))


def reconfigure(pipeline_changes: Sequence[PipelineChange]) -> Decision:
    """Change the pipeline and let the server select with it."""
    if not pipeline_changes:
        raise ValueError("reconfigure needs at least one pipeline change; given none")
    return accept(pipeline_changes)


def rewind(count: int, pipeline_changes: Sequence[PipelineChange] = ()) -> Decision:
    """Remove the last ``count`` tokens; the server streams the step at the rewound position again."""
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"rewind count must be an integer >= 1; given {count!r}")
    return Decision("rewind", count=count, pipeline_changes=tuple(pipeline_changes))


def stop() -> Decision:
    """End decoding now; the stream finishes with reason CLIENT_STOP."""
    return Decision("stop")


def fork(new_branch: int) -> Decision:
    """Copy the branch, as it awaits this step, into ``new_branch`` (an unused id in [1, 2^31), chosen by the
    client); both then await a decision for this step."""
    if not isinstance(new_branch, int) or not 1 <= new_branch < 2**31:
        raise ValueError(f"fork branch must be an integer in [1, 2^31); given {new_branch!r}")
    return Decision("fork", new_branch=new_branch)


def drop() -> Decision:
    """End the branch without a finished message and free its memory (not the stream's last live branch)."""
    return Decision("drop")


def add_processor(
    name: str, params: Mapping[str, ParamInput] | None = None, index: int | None = None, scope: ChangeScope | None = None
) -> PipelineChange:
    """Inserts a processor (last, or at ``index``)."""
    return PipelineChange("add", name, params or {}, index, scope)


def replace_processor(name: str, params: Mapping[str, ParamInput] | None = None, scope: ChangeScope | None = None) -> PipelineChange:
    """Replaces the processor of the same name with new parameters."""
    return PipelineChange("replace", name, params or {}, None, scope)


def remove_processor(name: str, scope: ChangeScope | None = None) -> PipelineChange:
    """Removes the processor of this name."""
    return PipelineChange("remove", name, {}, None, scope)


_SCOPES = {
    None: PipelineScope.UNSPECIFIED,
    "this-step": PipelineScope.THIS_STEP,
    "from-now-on": PipelineScope.FROM_NOW_ON,
}


def _to_pipeline_change(change: PipelineChange) -> Message:
    if change.scope not in _SCOPES:
        raise ValueError(f"pipeline change scope must be 'this-step' or 'from-now-on'; given {change.scope!r}")
    message = pb.PipelineChange(scope=_SCOPES[change.scope])
    if change.change == "add":
        add = pb.AddProcessor(processor=to_processor_spec((change.name, change.params)))
        if change.index is not None:
            add.index = change.index
        message.add.CopyFrom(add)
    elif change.change == "replace":
        message.replace.CopyFrom(to_processor_spec((change.name, change.params)))
    else:
        message.remove = change.name
    return message


def to_decode_request(step: int, decision: Decision, branch: int = 0) -> Message:
    """The request that carries ``decision`` as the answer to ``branch``'s ``step``."""
    if decision.action == "stop":
        return pb.DecodeRequest(stop=pb.Stop(branch=branch))
    changes = [_to_pipeline_change(c) for c in decision.pipeline_changes]
    message = pb.StepDecision(step=step, pipeline_changes=changes, branch=branch)
    if decision.action == "fork":
        message.fork.branch = decision.new_branch
    elif decision.action == "drop":
        message.drop.SetInParent()
    elif decision.action == "accept":
        message.accept.SetInParent()
    elif decision.action == "force" and len(decision.token_ids) == 1:
        message.force_token.token_id = decision.token_ids[0]
    elif decision.action == "force":
        message.force_tokens.token_ids.extend(decision.token_ids)
    else:
        message.rewind.count = decision.count
    return pb.DecodeRequest(decision=message)


def steps_decided_ahead(decision: Decision) -> int:
    """How many steps after the answered one the server streams without waiting (a forced run's tail)."""
    return len(decision.token_ids) - 1 if decision.action == "force" else 0
