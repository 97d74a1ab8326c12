"""What the server answers, as typed, immutable Python values: one dataclass per ``stepwise.v1`` message a
client reads, with the proto's field names, enums as Python enums (``enums``), repeated fields as tuples and
tensors as NumPy arrays. ``from_proto`` builds each from the received message; a test checks that every
field of each message has its attribute here.

>>> finished.reason                      # FinishReason.MAX_NEW_TOKENS
>>> finished.token_ids                   # (423, 572, 5)
>>> info.limits.max_new_tokens           # 512
>>> scored.results[0].logprob_sum        # -51.23
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

import numpy as np
from google.protobuf.message import Message

from .enums import DataType, DecodeMode, EarlyStopping, FinishReason, ParamType, SelectionMode, TokenSource
from .params import ParamInput, from_param_value


def tensor_to_numpy(tensor: Message) -> np.ndarray:
    """A ``Tensor`` as a float32 NumPy array: a read-only view over the received bytes for FLOAT32 (no
    copy), a converted array for FLOAT16."""
    shape = tuple(tensor.shape)
    if tensor.dtype == DataType.FLOAT32:
        return np.frombuffer(tensor.data, dtype="<f4").reshape(shape)
    if tensor.dtype == DataType.FLOAT16:
        return np.frombuffer(tensor.data, dtype="<f2").astype(np.float32).reshape(shape)
    raise ValueError(f"tensor dtype must be FLOAT32 or FLOAT16; given {_enum_name(DataType, tensor.dtype)}")


def _enum_name(kind: type, value: int) -> str:
    try:
        return kind(value).name
    except ValueError:
        return str(value)


def _optional(message: Message, field: str) -> Optional[float]:
    return getattr(message, field) if message.HasField(field) else None


@dataclass(frozen=True)
class SpecialTokenIds:
    """The model's special token ids."""

    pad_token_id: int
    eos_token_id: int
    """Generating it ends the stream (reason EOS)."""
    unk_token_id: Optional[int]
    """None when the tokenizer has no unknown token."""
    decoder_start_token_id: int

    @classmethod
    def from_proto(cls, message: Message) -> SpecialTokenIds:
        unk = message.unk_token_id if message.HasField("unk_token_id") else None
        return cls(message.pad_token_id, message.eos_token_id, unk, message.decoder_start_token_id)


@dataclass(frozen=True)
class ProcessorSpec:
    """A processor in a pipeline, with its parameters as plain values (``{"top_p": 0.9}``)."""

    name: str
    params: Mapping[str, ParamInput]

    @classmethod
    def from_proto(cls, message: Message) -> ProcessorSpec:
        return cls(message.name, {key: from_param_value(value) for key, value in sorted(message.params.items())})


@dataclass(frozen=True)
class Started:
    """What the server resolved from the start: input ids, vocabulary, pipeline, selection, seed, mode."""

    input_ids: tuple[int, ...]
    vocab_size: int
    """The width of every logits row."""
    special_ids: SpecialTokenIds
    model_name: str
    pipeline: tuple[ProcessorSpec, ...]
    """The processors that run, in order."""
    selection_mode: SelectionMode
    seed: int
    """The sampling seed in force (0 when greedy)."""
    mode: DecodeMode
    max_new_tokens: int
    decoder_prompt_ids: tuple[int, ...]
    defaults_from_model: tuple[str, ...]
    """The start's fields that came from the model folder's ``generation_config.json``."""
    beam_search: Optional[BeamSearchSettings]
    """The beam search in force; None without one."""

    @classmethod
    def from_proto(cls, message: Message) -> Started:
        return cls(
            input_ids=tuple(message.input_ids),
            vocab_size=message.vocab_size,
            special_ids=SpecialTokenIds.from_proto(message.special_ids),
            model_name=message.model_name,
            pipeline=tuple(ProcessorSpec.from_proto(spec) for spec in message.pipeline),
            selection_mode=SelectionMode(message.selection_mode),
            seed=message.seed,
            mode=DecodeMode(message.mode),
            max_new_tokens=message.max_new_tokens,
            decoder_prompt_ids=tuple(message.decoder_prompt_ids),
            defaults_from_model=tuple(message.defaults_from_model),
            beam_search=BeamSearchSettings.from_proto(message.beam_search) if message.HasField("beam_search") else None,
        )


@dataclass(frozen=True)
class BeamSearchSettings:
    """A beam search's settings, with Hugging Face's names."""

    num_beams: int
    length_penalty: float
    early_stopping: EarlyStopping
    num_return_sequences: int

    @classmethod
    def from_proto(cls, message: Message) -> BeamSearchSettings:
        length_penalty = message.length_penalty if message.HasField("length_penalty") else 1.0
        return cls(message.num_beams, length_penalty, EarlyStopping(message.early_stopping), message.num_return_sequences)


@dataclass(frozen=True)
class TopLogits:
    """The highest raw logits of a step (the TOP_K format), highest first."""

    token_ids: tuple[int, ...]
    logits: np.ndarray
    """float32, aligned with ``token_ids``."""

    @classmethod
    def from_proto(cls, message: Message) -> TopLogits:
        return cls(tuple(message.token_ids), np.array(message.logits, dtype=np.float32))


@dataclass(frozen=True)
class Alternative:
    """A candidate token at a step."""

    token_id: int
    text: str
    logprob: float
    """Under the processed distribution."""
    raw_logprob: float
    """Under the raw distribution."""

    @classmethod
    def from_proto(cls, message: Message) -> Alternative:
        return cls(message.token_id, message.text, message.logprob, message.raw_logprob)


@dataclass(frozen=True)
class TokenChosen:
    """The token taken at a step."""

    step: int
    token_id: int
    text: str
    """The text this token adds to the output (may be empty)."""
    logprob: float
    """Under the processed distribution (-inf when the pipeline removed the token)."""
    raw_logprob: float
    source: TokenSource
    """``TokenSource.FORCED`` or ``TokenSource.SELECTED``."""
    processed_scores: Optional[np.ndarray]
    """With ``processed_scores=True``: the scores after the pipeline, float32, ``vocab_size`` long."""
    alternatives: tuple[Alternative, ...]
    """With ``top_n_alternatives``: the most likely tokens under the processed distribution."""
    entropy: Optional[float]
    """With ``entropy=True``: entropy of the processed distribution, in nats."""
    raw_entropy: Optional[float]
    """With ``entropy=True``: entropy of the raw distribution, in nats."""
    branch: int = 0
    """The branch that took the token (0 unless the stream forked)."""

    @classmethod
    def from_proto(cls, message: Message) -> TokenChosen:
        return cls(
            step=message.step,
            token_id=message.token_id,
            text=message.text,
            logprob=message.logprob,
            raw_logprob=message.raw_logprob,
            source=TokenSource(message.source),
            processed_scores=tensor_to_numpy(message.processed_scores) if message.HasField("processed_scores") else None,
            alternatives=tuple(Alternative.from_proto(alternative) for alternative in message.alternatives),
            entropy=_optional(message, "entropy"),
            raw_entropy=_optional(message, "raw_entropy"),
            branch=message.branch,
        )


@dataclass(frozen=True)
class Applied:
    """AUTO mode: the client message ``message_index`` took effect from ``from_step``."""

    message_index: int
    from_step: int

    @classmethod
    def from_proto(cls, message: Message) -> Applied:
        return cls(message.message_index, message.from_step)


@dataclass(frozen=True)
class Timings:
    """Server-side timings of a stream, in milliseconds."""

    encode_ms: float
    step_ms: tuple[float, ...]
    total_ms: float

    @classmethod
    def from_proto(cls, message: Message) -> Timings:
        return cls(message.encode_ms, tuple(message.step_ms), message.total_ms)


@dataclass(frozen=True)
class Beam:
    """Beam search: a live beam, its generated ids so far and its sum of log-probabilities."""

    token_ids: tuple[int, ...]
    score: float

    @classmethod
    def from_proto(cls, message: Message) -> Beam:
        return cls(tuple(message.token_ids), message.score)


@dataclass(frozen=True)
class BeamStep:
    """Beam search: the live beams after a step, best first (none after the step that ends the search)."""

    step: int
    beams: tuple[Beam, ...]
    finished_count: int

    @classmethod
    def from_proto(cls, message: Message) -> BeamStep:
        return cls(message.step, tuple(Beam.from_proto(beam) for beam in message.beams), message.finished_count)


@dataclass(frozen=True)
class BeamSequence:
    """Beam search: a returned sequence, with Hugging Face's ``sequences_scores`` as ``score``."""

    token_ids: tuple[int, ...]
    text: str
    score: float
    logprob_sum: float
    reason: FinishReason

    @classmethod
    def from_proto(cls, message: Message) -> BeamSequence:
        return cls(tuple(message.token_ids), message.text, message.score, message.logprob_sum, FinishReason(message.reason))


@dataclass(frozen=True)
class Finished:
    """The end of a stream: why, every generated id, the text, the timings (and a beam search's sequences)."""

    reason: FinishReason
    token_ids: tuple[int, ...]
    text: str
    timings: Timings
    sequences: tuple[BeamSequence, ...] = ()
    """Beam search: the returned sequences, best first."""
    branch: int = 0
    """The branch that ended (0 unless the stream forked)."""

    @classmethod
    def from_proto(cls, message: Message) -> Finished:
        sequences = tuple(BeamSequence.from_proto(sequence) for sequence in message.sequences)
        timings = Timings.from_proto(message.timings)
        return cls(FinishReason(message.reason), tuple(message.token_ids), message.text, timings, sequences, message.branch)


@dataclass(frozen=True)
class ModelConfigSummary:
    """The served model's architecture, from its config.json."""

    model_type: str
    num_layers: int
    num_decoder_layers: int
    num_heads: int
    d_model: int
    d_kv: int
    d_ff: int
    feed_forward_proj: str
    tie_word_embeddings: bool

    @classmethod
    def from_proto(cls, message: Message) -> ModelConfigSummary:
        return cls(**{name: getattr(message, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ServerLimits:
    """The limits the server enforces on every request."""

    max_concurrent_streams: int
    max_input_tokens: int
    max_new_tokens: int
    max_receive_message_bytes: int
    max_input_bytes: int
    max_stop_sequences: int
    max_stop_string_length: int
    max_processors: int
    max_pipeline_changes: int
    max_top_n_alternatives: int
    max_detokenize_ids: int
    max_score_targets: int
    """Most targets of one ``score`` or ``score_batch`` call, its requests together."""
    max_score_tokens: int
    """Most target tokens of one ``score`` or ``score_batch`` call, its targets together."""
    max_beams: int
    """Most ``num_beams`` of a beam search."""
    max_branches_per_stream: int
    """Live branches of one ``Decode`` stream, its first sequence included."""
    max_total_branches: int
    """Forked branches alive at once across all streams."""
    processor_list_limits: Mapping[str, int]
    """Bounds on the processors' list and text parameters, by ``"processor.parameter"``."""

    @classmethod
    def from_proto(cls, message: Message) -> ServerLimits:
        values = {name: getattr(message, name) for name in cls.__dataclass_fields__ if name != "processor_list_limits"}
        return cls(**values, processor_list_limits=dict(sorted(message.processor_list_limits.items())))


@dataclass(frozen=True)
class ModelInfo:
    """A served model (``GetModelInfo``): name, vocabulary, special ids, architecture, limits, loaded files."""

    name: str
    vocab_size: int
    """The width of every logits row."""
    tokenizer_size: int
    """How many ids the tokenizer knows (can be smaller than ``vocab_size``)."""
    special_ids: SpecialTokenIds
    max_input_length: int
    config: ModelConfigSummary
    limits: ServerLimits
    dtype: str
    """Which ONNX files were loaded: ``"fp32"``, ``"fp16"``, ``"q8"``..."""
    decoder_layout: str
    """Which decoder files were loaded: ``"merged"`` or ``"split"``."""

    @classmethod
    def from_proto(cls, message: Message) -> ModelInfo:
        return cls(
            name=message.name,
            vocab_size=message.vocab_size,
            tokenizer_size=message.tokenizer_size,
            special_ids=SpecialTokenIds.from_proto(message.special_ids),
            max_input_length=message.max_input_length,
            config=ModelConfigSummary.from_proto(message.config),
            limits=ServerLimits.from_proto(message.limits),
            dtype=message.dtype,
            decoder_layout=message.decoder_layout,
        )


@dataclass(frozen=True)
class ModelDescription:
    """One served model (``ListModels``): the name requests choose it by, whether it is the default, its info."""

    name: str
    is_default: bool
    """Whether requests naming no model go to it."""
    info: ModelInfo

    @classmethod
    def from_proto(cls, message: Message) -> ModelDescription:
        return cls(name=message.name, is_default=message.is_default, info=ModelInfo.from_proto(message.info))


@dataclass(frozen=True)
class ParameterDescription:
    """One parameter of a processor."""

    name: str
    type: ParamType
    description: str
    required: bool
    range: str
    """Allowed values in interval notation, e.g. ``(0, 1]``; empty when any value of the type is allowed."""
    default_value: str
    """The default as text; empty when there is none."""

    @classmethod
    def from_proto(cls, message: Message) -> ParameterDescription:
        return cls(message.name, ParamType(message.type), message.description, message.required, message.range, message.default_value)


@dataclass(frozen=True)
class ProcessorDescription:
    """A registered logits processor (``ListProcessors``)."""

    name: str
    description: str
    parameters: tuple[ParameterDescription, ...]

    @classmethod
    def from_proto(cls, message: Message) -> ProcessorDescription:
        return cls(message.name, message.description, tuple(ParameterDescription.from_proto(p) for p in message.parameters))


@dataclass(frozen=True)
class Tokenized:
    """Token ids of a text (``Tokenize``), with each id's vocabulary string (e.g. ``"▁house"``)."""

    token_ids: tuple[int, ...]
    tokens: tuple[str, ...]

    @classmethod
    def from_proto(cls, message: Message) -> Tokenized:
        return cls(tuple(message.token_ids), tuple(message.tokens))


@dataclass(frozen=True)
class TokenScore:
    """One target token and its scores under the raw distribution at its position (``Score``)."""

    token_id: int
    logprob: float
    """Raw log-probability of the token, as a forced decode's ``raw_logprob``."""
    text: str
    """The text this token adds to the target's text."""
    rank: int
    """1 + the number of ids whose raw logit is strictly higher (1: no token is more likely)."""
    alternatives: tuple[Alternative, ...]
    """With ``top_n_alternatives``: the most likely tokens at this position, most likely first."""
    entropy: Optional[float]
    """With ``entropy=True``: entropy of the raw distribution at this position, in nats."""
    raw: Optional[np.ndarray]
    """With ``raw_logits="float32"`` or ``"float16"``: the position's raw logits, float32, ``vocab_size`` long
    (a read-only view over the received bytes for float32)."""
    top: Optional[TopLogits]
    """With ``raw_logits="top-k"``: the position's highest raw logits."""

    @classmethod
    def from_proto(cls, message: Message) -> TokenScore:
        return cls(
            token_id=message.token_id,
            logprob=message.logprob,
            text=message.text,
            rank=message.rank,
            alternatives=tuple(Alternative.from_proto(alternative) for alternative in message.alternatives),
            entropy=_optional(message, "entropy"),
            raw=tensor_to_numpy(message.raw) if message.HasField("raw") else None,
            top=TopLogits.from_proto(message.top) if message.HasField("top") else None,
        )


@dataclass(frozen=True)
class TargetScore:
    """The scores of one target: its tokens, their sum and mean (``Score``)."""

    tokens: tuple[TokenScore, ...]
    logprob_sum: float
    """The target's log-likelihood given the input and the decoder prompt."""
    logprob_mean: float
    """Hugging Face's loss with ``labels`` is its negative."""
    text: str
    """The target's ids decoded, special tokens skipped."""

    @property
    def token_ids(self) -> tuple[int, ...]:
        """The target's ids (a text target's tokenization, ``</s>`` included)."""
        return tuple(token.token_id for token in self.tokens)

    def raw_rows(self) -> np.ndarray:
        """The raw logits of every position as one float32 ``[tokens, vocab_size]`` array (a copy); needs
        ``raw_logits="float32"`` or ``"float16"``."""
        if any(token.raw is None for token in self.tokens):
            raise ValueError('raw_rows() needs the rows: score with raw_logits="float32" or "float16"')
        return np.stack([token.raw for token in self.tokens])

    @classmethod
    def from_proto(cls, message: Message) -> TargetScore:
        return cls(tuple(TokenScore.from_proto(token) for token in message.tokens), message.logprob_sum, message.logprob_mean, message.text)


@dataclass(frozen=True)
class ScoreTimings:
    """Server-side timings of a ``Score`` request, in milliseconds."""

    encode_ms: float
    decode_ms: float
    total_ms: float

    @classmethod
    def from_proto(cls, message: Message) -> ScoreTimings:
        return cls(message.encode_ms, message.decode_ms, message.total_ms)


@dataclass(frozen=True)
class Scored:
    """The answer of ``score`` for one input (``ScoreResponse``): one ``TargetScore`` per target, in order."""

    results: tuple[TargetScore, ...]
    input_ids: tuple[int, ...]
    """The encoder input ids (the tokenized text, or the ids given)."""
    decoder_prompt_ids: tuple[int, ...]
    """What the decoder saw before every target: its start token and ``decoder_prefix_ids``."""
    timings: ScoreTimings

    @classmethod
    def from_proto(cls, message: Message) -> Scored:
        return cls(
            results=tuple(TargetScore.from_proto(result) for result in message.results),
            input_ids=tuple(message.input_ids),
            decoder_prompt_ids=tuple(message.decoder_prompt_ids),
            timings=ScoreTimings.from_proto(message.timings),
        )


PROTO_RESULTS: dict[str, type] = {
    "SpecialTokenIds": SpecialTokenIds,
    "ProcessorSpec": ProcessorSpec,
    "Started": Started,
    "TopLogits": TopLogits,
    "Alternative": Alternative,
    "TokenChosen": TokenChosen,
    "Applied": Applied,
    "Timings": Timings,
    "Finished": Finished,
    "ModelConfigSummary": ModelConfigSummary,
    "ServerLimits": ServerLimits,
    "GetModelInfoResponse": ModelInfo,
    "ModelDescription": ModelDescription,
    "ParameterDescription": ParameterDescription,
    "ProcessorDescription": ProcessorDescription,
    "TokenizeResponse": Tokenized,
    "TokenScore": TokenScore,
    "TargetScore": TargetScore,
    "ScoreTimings": ScoreTimings,
    "ScoreResponse": Scored,
    "BeamSearch": BeamSearchSettings,
    "BeamStep": BeamStep,
    "Beam": Beam,
    "BeamSequence": BeamSequence,
}
"""Each result type by the name of the proto message it mirrors."""
