"""How a decode starts, as keyword arguments, and its encoding as the ``Start`` message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Optional, Union

from google.protobuf.message import Message

from .enums import DecodeMode, LogitsFormat, SelectionMode
from .params import ProcessorInput, to_processor_spec
from .protocol import pb

RawLogitsFormat = Literal["float32", "float16", "top-k", "none"]

GenerationConfigInput = Mapping[str, Union[bool, int, float, Sequence[int], Sequence[Sequence[int]], Mapping[str, object]]]
"""Hugging Face ``GenerationConfig`` settings by the proto's snake_case names (``{"top_p": 0.9}``)."""

_RAW_LOGITS_FORMATS = {
    "float32": LogitsFormat.FLOAT32,
    "float16": LogitsFormat.FLOAT16,
    "top-k": LogitsFormat.TOP_K,
    "none": LogitsFormat.NONE,
}
_MODES = {None: DecodeMode.UNSPECIFIED, "lockstep": DecodeMode.LOCKSTEP, "auto": DecodeMode.AUTO}
_SELECTIONS = {"greedy": SelectionMode.GREEDY, "sample": SelectionMode.SAMPLE}


def to_start_message(
    text: Optional[str] = None,
    *,
    input_ids: Optional[Sequence[int]] = None,
    decoder_prefix_ids: Sequence[int] = (),
    max_new_tokens: int = 0,
    min_new_tokens: int = 0,
    stop_strings: Sequence[str] = (),
    stop_token_sequences: Sequence[Sequence[int]] = (),
    processors: Sequence[ProcessorInput] = (),
    generation_config: Optional[GenerationConfigInput] = None,
    selection: Optional[Literal["greedy", "sample"]] = None,
    seed: Optional[int] = None,
    raw_logits: RawLogitsFormat = "float32",
    raw_top_k: int = 0,
    processed_scores: bool = False,
    top_n_alternatives: int = 0,
    entropy: bool = False,
    mode: Optional[Literal["lockstep", "auto"]] = None,
    model: str = "",
) -> Message:
    """Encodes a start. ``max_new_tokens=0`` means the server's limit; ``selection=None`` follows
    ``generation_config["do_sample"]``; ``generation_config`` takes the proto's snake_case names
    (``{"top_p": 0.9, "temperature": 0.7}``); ``model`` names one of the server's models (``list_models``),
    ``""`` its default."""
    if (text is None) == (input_ids is None):
        raise ValueError("a decode needs exactly one of `text` and `input_ids`")
    if raw_logits not in _RAW_LOGITS_FORMATS:
        raise ValueError(f"raw_logits must be one of {', '.join(_RAW_LOGITS_FORMATS)}; given {raw_logits!r}")
    if mode not in _MODES:
        raise ValueError(f"mode must be 'lockstep' or 'auto'; given {mode!r}")
    start = pb.Start(
        decoder_prefix_ids=decoder_prefix_ids,
        max_new_tokens=max_new_tokens,
        min_new_tokens=min_new_tokens,
        stop_strings=stop_strings,
        stop_token_sequences=[pb.TokenIds(ids=ids) for ids in stop_token_sequences],
        processors=[to_processor_spec(processor) for processor in processors],
        stream=pb.StreamOptions(
            raw_logits=_RAW_LOGITS_FORMATS[raw_logits],
            raw_top_k=raw_top_k,
            processed_scores=processed_scores,
            top_n_alternatives=top_n_alternatives,
            entropy=entropy,
        ),
        mode=_MODES[mode],
        model=model,
    )
    if text is not None:
        start.text = text
    else:
        start.token_ids.ids.extend(input_ids)
    if generation_config is not None:
        start.generation_config.CopyFrom(pb.GenerationConfig(**generation_config))
    if selection is not None or seed is not None:
        chosen = selection or "sample"
        if chosen not in _SELECTIONS:
            raise ValueError(f"selection must be 'greedy' or 'sample'; given {selection!r}")
        start.selection.mode = _SELECTIONS[chosen]
        if seed is not None:
            if not 0 <= seed < 2**64:
                raise ValueError(f"sampling seed must be in [0, 2^64); given {seed}")
            start.selection.seed = seed
    return start
