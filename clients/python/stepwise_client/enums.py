"""The enums of ``stepwise.v1`` as Python enums: ``FinishReason.EOS`` rather than ``1``.

Each is an ``IntEnum`` whose members are the proto's values without their type prefix
(``FINISH_REASON_CLIENT_STOP`` → ``FinishReason.CLIENT_STOP``), so a member still equals the number on the
wire and the generated constant (``FinishReason.EOS == pb.FINISH_REASON_EOS``). A test checks that every
member matches the proto, and that the proto has no value missing here.
"""

from __future__ import annotations

import enum


class ProtoEnum(enum.IntEnum):
    """An enum of the proto: an ``int`` that prints as its name (``FinishReason.EOS``, not ``1``); a numeric
    format (``f"{reason:d}"``) still gives the number."""

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __format__(self, spec: str) -> str:
        if spec and spec[-1] in "bcdeEfFgGnoxX%":
            return int.__format__(int(self), spec)
        return format(str(self), spec)


class DecodeMode(ProtoEnum):
    """Whether the server waits for the client at every step."""

    UNSPECIFIED = 0
    LOCKSTEP = 1
    """The server waits for exactly one decision per step."""
    AUTO = 2
    """The server decodes without waiting; client messages apply from the next step not yet computed."""


class SelectionMode(ProtoEnum):
    """How a step's token is selected when the client does not force one."""

    UNSPECIFIED = 0
    GREEDY = 1
    SAMPLE = 2


class LogitsFormat(ProtoEnum):
    """Encoding of a step's raw logits."""

    UNSPECIFIED = 0
    FLOAT32 = 1
    FLOAT16 = 2
    TOP_K = 3
    NONE = 4


class PipelineScope(ProtoEnum):
    """How long a pipeline change lasts."""

    UNSPECIFIED = 0
    THIS_STEP = 1
    FROM_NOW_ON = 2


class DataType(ProtoEnum):
    """Element type of a tensor."""

    UNSPECIFIED = 0
    FLOAT32 = 1
    FLOAT16 = 2


class TokenSource(ProtoEnum):
    """Where a token came from."""

    UNSPECIFIED = 0
    FORCED = 1
    """The client forced it."""
    SELECTED = 2
    """The server selected it."""


class EarlyStopping(ProtoEnum):
    """Hugging Face's ``early_stopping`` of beam search (UNSPECIFIED means FALSE)."""

    UNSPECIFIED = 0
    TRUE = 1
    """Stop once ``num_beams`` beams finished."""
    FALSE = 2
    """Stop when the best live beam, at its current length, cannot beat the worst finished one."""
    NEVER = 3
    """As FALSE, but with ``length_penalty`` > 0 the live beam is scored at the longest length allowed."""


class FinishReason(ProtoEnum):
    """Why a stream ended."""

    UNSPECIFIED = 0
    EOS = 1
    """The end-of-sequence token was taken."""
    MAX_NEW_TOKENS = 2
    """``max_new_tokens`` tokens were generated."""
    STOP_SEQUENCE = 3
    """A stop string or stop token sequence was produced."""
    CLIENT_STOP = 4
    """The client stopped the decode."""


class ParamType(ProtoEnum):
    """A processor parameter's type."""

    UNSPECIFIED = 0
    FLOAT = 1
    INT = 2
    BOOL = 3
    STRING = 4
    INT_LIST = 5
    STRING_LIST = 6
    INT_LIST_LIST = 7
    SEQUENCE_BIAS_LIST = 8
    INT_MAP = 9


PROTO_ENUMS: dict[str, type[ProtoEnum]] = {
    "DecodeMode": DecodeMode,
    "SelectionMode": SelectionMode,
    "LogitsFormat": LogitsFormat,
    "PipelineScope": PipelineScope,
    "DataType": DataType,
    "TokenSource": TokenSource,
    "FinishReason": FinishReason,
    "ParamType": ParamType,
    "EarlyStopping": EarlyStopping,
}
"""Each Python enum by the name of the proto enum it mirrors."""
