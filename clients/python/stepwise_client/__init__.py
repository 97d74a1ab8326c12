"""Stepwise's Python client: decode step by step on a Stepwise server, reading every step's raw logits as a
NumPy array and answering each step (accept, force, reconfigure, rewind, stop); score given targets in one
teacher-forced pass (``Client.score``).

Results are typed: dataclasses with the proto's field names (``results``), enums as Python enums
(``FinishReason.EOS``), logits as float32 NumPy arrays. The protobuf modules are generated ahead of time and
ship with the package (``pb`` holds them, for building a message by hand).
"""

from .channel_security import DEFAULT_ADDRESS, BearerToken, open_channel
from .client import Client
from .decisions import (
    Decision,
    PipelineChange,
    accept,
    add_processor,
    drop,
    force,
    fork,
    reconfigure,
    remove_processor,
    replace_processor,
    rewind,
    stop,
)
from .enums import DataType, DecodeMode, EarlyStopping, FinishReason, LogitsFormat, ParamType, PipelineScope, SelectionMode, TokenSource
from .errors import StepwiseCallError
from .events import AppliedEvent, BeamStepEvent, DecodeEvent, FinishedEvent, ForkedEvent, StartedEvent, StepEvent, TokenEvent
from .lockstep import DecideContext, DecodedStep, LockstepDecode
from .protocol import pb
from .results import (
    Alternative,
    Applied,
    Beam,
    BeamSearchSettings,
    BeamSequence,
    BeamStep,
    Finished,
    ModelConfigSummary,
    ModelDescription,
    ModelInfo,
    ParameterDescription,
    ProcessorDescription,
    ProcessorSpec,
    Scored,
    ScoreTimings,
    ServerLimits,
    SpecialTokenIds,
    Started,
    TargetScore,
    Timings,
    TokenChosen,
    Tokenized,
    TokenScore,
    TopLogits,
    tensor_to_numpy,
)
from .score_options import ScoreTargetInput, to_score_request
from .session import DecodeSession, Metadata

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ADDRESS",
    "Alternative",
    "Applied",
    "AppliedEvent",
    "BearerToken",
    "Beam",
    "BeamSearchSettings",
    "BeamSequence",
    "BeamStep",
    "BeamStepEvent",
    "Client",
    "DataType",
    "DecideContext",
    "Decision",
    "DecodeEvent",
    "DecodeMode",
    "DecodeSession",
    "DecodedStep",
    "EarlyStopping",
    "FinishReason",
    "Finished",
    "FinishedEvent",
    "ForkedEvent",
    "LockstepDecode",
    "LogitsFormat",
    "Metadata",
    "ModelConfigSummary",
    "ModelDescription",
    "ModelInfo",
    "ParamType",
    "ParameterDescription",
    "PipelineChange",
    "PipelineScope",
    "ProcessorDescription",
    "ProcessorSpec",
    "ScoreTargetInput",
    "ScoreTimings",
    "Scored",
    "SelectionMode",
    "ServerLimits",
    "SpecialTokenIds",
    "StartedEvent",
    "Started",
    "StepEvent",
    "StepwiseCallError",
    "TargetScore",
    "Timings",
    "TokenChosen",
    "TokenEvent",
    "TokenScore",
    "TokenSource",
    "Tokenized",
    "TopLogits",
    "accept",
    "add_processor",
    "drop",
    "force",
    "fork",
    "open_channel",
    "pb",
    "reconfigure",
    "remove_processor",
    "replace_processor",
    "rewind",
    "stop",
    "tensor_to_numpy",
    "to_score_request",
]
