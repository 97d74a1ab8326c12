"""What to score, as arguments, and its encoding as the ``ScoreRequest`` message.

>>> to_score_request("translate English to German: The house is wonderful.",
...                  ["Das Haus ist wunderbar.", [644, 4598, 1]], top_n_alternatives=3, entropy=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Union

from google.protobuf.message import Message

from .protocol import pb
from .start_options import _RAW_LOGITS_FORMATS, RawLogitsFormat

ScoreTargetInput = Union[str, Sequence[int]]
"""A target: text (tokenized by the server with ``</s>`` appended, as Hugging Face's ``labels``) or ids,
scored as given."""


def _to_target(target: ScoreTargetInput) -> Message:
    if isinstance(target, str):
        return pb.ScoreTarget(text=target)
    return pb.ScoreTarget(token_ids=pb.TokenIds(ids=list(target)))


def to_score_request(
    text: Optional[str] = None,
    targets: Sequence[ScoreTargetInput] = (),
    *,
    input_ids: Optional[Sequence[int]] = None,
    decoder_prefix_ids: Sequence[int] = (),
    top_n_alternatives: int = 0,
    entropy: bool = False,
    raw_logits: RawLogitsFormat = "none",
    raw_top_k: int = 0,
    model: str = "",
) -> Message:
    """Encodes a score of ``targets`` after ``text`` (or ``input_ids``): each target is scored on its own after
    the input and ``decoder_prefix_ids``. ``raw_logits`` also sends each position's row (``"float32"``,
    ``"float16"``, ``"top-k"`` with ``raw_top_k``); by default none is sent. ``model`` names a served model
    (``list_models``); empty, the default."""
    if (text is None) == (input_ids is None):
        raise ValueError("a score needs exactly one of `text` and `input_ids`")
    if isinstance(targets, str):
        raise ValueError("targets must be a sequence of targets (texts or id lists); given one string")
    if len(targets) == 0:
        raise ValueError("a score needs at least one target")
    if raw_logits not in _RAW_LOGITS_FORMATS:
        raise ValueError(f"raw_logits must be one of {', '.join(_RAW_LOGITS_FORMATS)}; given {raw_logits!r}")
    request = pb.ScoreRequest(
        targets=[_to_target(target) for target in targets],
        decoder_prefix_ids=decoder_prefix_ids,
        top_n_alternatives=top_n_alternatives,
        entropy=entropy,
        raw_logits=_RAW_LOGITS_FORMATS[raw_logits],
        raw_top_k=raw_top_k,
        model=model,
    )
    if text is not None:
        request.text = text
    else:
        request.token_ids.ids.extend(input_ids)
    return request
