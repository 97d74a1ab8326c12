"""Processor parameters as plain Python values and their ``ParamValue`` encoding on the wire."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Union

from google.protobuf.message import Message

from .protocol import pb

ParamInput = Union[int, float, bool, str, Sequence["ParamInput"]]
"""A parameter: ``int`` travels as ``int_value``, ``float`` as ``float_value``, lists recursively."""

ProcessorInput = Union[Mapping[str, object], tuple[str, Mapping[str, ParamInput]], tuple[str]]
"""A processor: ``{"name": "top_p", "params": {"top_p": 0.9}}`` or ``("top_p", {"top_p": 0.9})``."""


def to_param_value(value: ParamInput, path: str) -> Message:
    """Encodes one plain value; ``path`` names it in the error for a value that has no encoding."""
    # bool before int: in Python, True is an int.
    if isinstance(value, bool):
        return pb.ParamValue(bool_value=value)
    if isinstance(value, int):
        return pb.ParamValue(int_value=value)
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError(f"parameter {path} must be a number; given nan")
        return pb.ParamValue(float_value=value)
    if isinstance(value, str):
        return pb.ParamValue(string_value=value)
    if isinstance(value, Sequence):
        values = [to_param_value(item, f"{path}[{index}]") for index, item in enumerate(value)]
        return pb.ParamValue(list_value=pb.ParamList(values=values))
    raise TypeError(f"parameter {path} must be an int, float, bool, str or list; given {type(value).__name__}")


def from_param_value(message: Message) -> ParamInput:
    """The plain value of a ``ParamValue`` (a list for ``list_value``), the inverse of ``to_param_value``."""
    kind = message.WhichOneof("kind")
    if kind == "list_value":
        return [from_param_value(item) for item in message.list_value.values]
    if kind is None:
        raise ValueError("the server sent a parameter value with no kind")
    return getattr(message, kind)


def to_processor_spec(processor: ProcessorInput) -> Message:
    """Encodes a processor and its parameters."""
    if isinstance(processor, tuple):
        name, params = processor if len(processor) == 2 else (processor[0], {})
    else:
        name, params = processor["name"], processor.get("params", {})
    if not name:
        raise ValueError("processor name must not be empty")
    spec = pb.ProcessorSpec(name=name)
    for key, value in params.items():
        spec.params[key].CopyFrom(to_param_value(value, f"{name}.{key}"))
    return spec
