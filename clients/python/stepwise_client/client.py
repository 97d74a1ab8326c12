"""The Python client of a Stepwise server.

>>> from stepwise_client import Client, accept, force
>>> with Client("127.0.0.1:50051") as client:
...     print(client.get_model_info().vocab_size)
...     for step in client.decode("translate English to German: The house is wonderful.", max_new_tokens=20):
...         print(step.step, repr(step.token.text), step.logits.max())
>>> # a secured server: TLS (client certificate for mutual TLS) and a bearer token ($STEPWISE_TOKEN by default)
>>> secured = Client("models.example.com:443", ca_file="ca.pem", cert_file="me.pem", key_file="me.key", token="...")
>>> # call metadata: with every call, or with one
>>> traced = Client("127.0.0.1:50051", metadata=[("x-request-id", "run-7")])
>>> traced.get_model_info(metadata=[("x-attempt", "2")])
>>> # scoring given targets in one teacher-forced pass
>>> scored = client.score("translate English to German: The house is wonderful.", ["Das Haus ist wunderbar."])
>>> scored.results[0].logprob_sum, [token.rank for token in scored.results[0].tokens]
>>> # a server of several models (serve --model NAME=DIR ...): each call may name one, else the default
>>> [(model.name, model.is_default) for model in client.list_models()]
>>> client.decode("Hello", model="flan", max_new_tokens=5); client.tokenize("Hello", model="flan")
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Callable, Optional, Union

import grpc
from google.protobuf.message import Message

from .channel_security import default_address, default_token, open_channel, with_token
from .decisions import Decision, accept
from .errors import call_failure
from .events import DecodeEvent, FinishedEvent, StepEvent, to_event
from .lockstep import DecideContext, DecideStep, LockstepDecode
from .params import ProcessorInput
from .protocol import pb
from .results import ModelDescription, ModelInfo, ProcessorDescription, Scored, Tokenized
from .score_options import ScoreTargetInput, to_score_request
from .session import DecodeSession, Metadata
from .start_options import GenerationConfigInput, to_start_message

StartOption = Union[
    int, bool, str, None, Sequence[int], Sequence[str], Sequence[Sequence[int]], Sequence[ProcessorInput], GenerationConfigInput
]
"""A keyword argument of ``to_start_message`` (``max_new_tokens=20``, ``selection="greedy"``...)."""


def _accept_every_step(step: StepEvent, context: DecideContext) -> Decision:
    return accept()


class Client:
    """A channel to one server. ``timeout`` arguments are deadlines in seconds for the whole call.

    ``address`` defaults to ``$STEPWISE_SERVER``, else 127.0.0.1:50051. TLS is used when ``tls`` is true or
    any file is given: ``ca_file`` is the CA that signed the server's certificate (default: the system's
    roots), ``cert_file`` and ``key_file`` this client's certificate for mutual TLS. ``token`` is sent as
    ``authorization: Bearer <token>`` with every call; it defaults to ``$STEPWISE_TOKEN`` (``""``: none).
    ``metadata`` (``(key, value)`` pairs) is sent with every call, and each call's ``metadata`` argument
    adds to it. ``channel`` replaces the channel these options would open (a token is still added to it)."""

    def __init__(
        self,
        address: Optional[str] = None,
        *,
        tls: bool = False,
        ca_file: Optional[str] = None,
        cert_file: Optional[str] = None,
        key_file: Optional[str] = None,
        token: Optional[str] = None,
        metadata: Metadata = (),
        channel: Optional[grpc.Channel] = None,
    ):
        self.address = address or default_address()
        token = default_token() if token is None else token
        if channel is None:
            channel = open_channel(self.address, tls=tls, ca_file=ca_file, cert_file=cert_file, key_file=key_file, token=token)
        elif token:
            channel = with_token(channel, token)
        self.channel = channel
        self.metadata: tuple[tuple[str, str], ...] = tuple(metadata)
        """Sent with every call."""
        self.stub = pb.StepwiseServiceStub(self.channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _metadata(self, extra: Metadata) -> tuple[tuple[str, str], ...]:
        return (*self.metadata, *extra)

    def open_decode(
        self, text: Optional[str] = None, *, timeout: Optional[float] = None, metadata: Metadata = (), **start: StartOption
    ) -> DecodeSession:
        """Opens a ``Decode`` stream and sends its start (keyword arguments of ``to_start_message``)."""
        return DecodeSession(self.stub, to_start_message(text, **start), timeout=timeout, metadata=self._metadata(metadata))

    def decode(
        self,
        text: Optional[str] = None,
        *,
        decide: DecideStep = _accept_every_step,
        timeout: Optional[float] = None,
        metadata: Metadata = (),
        **start: StartOption,
    ) -> LockstepDecode:
        """A lockstep decode in which ``decide(step, context)`` answers every step (default: accept);
        iterate it for the decoded steps, whose ``logits`` are float32 NumPy arrays."""
        if start.get("mode", "lockstep") != "lockstep":
            raise ValueError(f"decode(..., decide) runs in lockstep mode; given mode {start['mode']!r}")
        return LockstepDecode(self.open_decode(text, timeout=timeout, metadata=metadata, **{**start, "mode": "lockstep"}), decide)

    def generate(
        self, text: Optional[str] = None, *, timeout: Optional[float] = None, metadata: Metadata = (), **start: StartOption
    ) -> Iterator[DecodeEvent]:
        """A ``Generate`` stream (auto mode): the same events as a decode, no decisions."""
        if start.get("mode", "auto") != "auto":
            raise ValueError(f"generate runs in auto mode; given mode {start['mode']!r}")
        request = pb.GenerateRequest(start=to_start_message(text, **{**start, "mode": None}))
        return self._generate_events(self.stub.Generate(request, timeout=timeout, metadata=self._metadata(metadata)))

    @staticmethod
    def _generate_events(call: grpc.Call) -> Iterator[DecodeEvent]:
        finished = False
        try:
            for response in call:
                event = to_event(response, False)
                finished = finished or isinstance(event, FinishedEvent)
                yield event
            if not finished:
                raise RuntimeError("the Generate stream ended without a Finished message")
        except grpc.RpcError as error:
            raise call_failure("Generate", error) from None
        finally:
            if not finished:
                call.cancel()  # left early: the server frees the stream at once

    def get_model_info(self, timeout: Optional[float] = None, metadata: Metadata = (), *, model: str = "") -> ModelInfo:
        """A served model (``model``, else the default): name, vocabulary size, special ids, limits, architecture."""
        reply = self._unary("GetModelInfo", self.stub.GetModelInfo, pb.GetModelInfoRequest(model=model), timeout, metadata)
        return ModelInfo.from_proto(reply)

    def list_models(self, timeout: Optional[float] = None, metadata: Metadata = ()) -> list[ModelDescription]:
        """Every served model, the default first: its name, whether it is the default, and its ``get_model_info``."""
        reply = self._unary("ListModels", self.stub.ListModels, pb.ListModelsRequest(), timeout, metadata)
        return [ModelDescription.from_proto(model) for model in reply.models]

    def list_processors(self, timeout: Optional[float] = None, metadata: Metadata = ()) -> list[ProcessorDescription]:
        """Every registered processor with its parameters."""
        reply = self._unary("ListProcessors", self.stub.ListProcessors, pb.ListProcessorsRequest(), timeout, metadata)
        return [ProcessorDescription.from_proto(processor) for processor in reply.processors]

    def tokenize(
        self,
        text: str,
        add_special_tokens: Optional[bool] = None,
        timeout: Optional[float] = None,
        metadata: Metadata = (),
        *,
        model: str = "",
    ) -> Tokenized:
        """Token ids (and vocabulary strings) of ``text`` by a model's tokenizer (``model``, else the default's);
        ``</s>`` is appended unless ``add_special_tokens`` is False."""
        request = pb.TokenizeRequest(text=text, model=model)
        if add_special_tokens is not None:
            request.add_special_tokens = add_special_tokens
        return Tokenized.from_proto(self._unary("Tokenize", self.stub.Tokenize, request, timeout, metadata))

    def detokenize(
        self,
        token_ids: Sequence[int],
        skip_special_tokens: bool = False,
        timeout: Optional[float] = None,
        metadata: Metadata = (),
        *,
        model: str = "",
    ) -> str:
        """The text of ``token_ids`` by a model's tokenizer (``model``, else the default's)."""
        request = pb.DetokenizeRequest(token_ids=token_ids, skip_special_tokens=skip_special_tokens, model=model)
        return self._unary("Detokenize", self.stub.Detokenize, request, timeout, metadata).text

    def score(
        self,
        text: Optional[str] = None,
        targets: Sequence[ScoreTargetInput] = (),
        *,
        timeout: Optional[float] = None,
        metadata: Metadata = (),
        **options: Any,
    ) -> Scored:
        """Scores ``targets`` (texts, or id lists) after ``text`` in one teacher-forced pass: each target
        token's raw log-probability, rank and, when asked, alternatives, entropy and raw row (a float32 NumPy
        array); each target's sum and mean. Keyword arguments are ``to_score_request``'s (``input_ids``,
        ``decoder_prefix_ids``, ``top_n_alternatives``, ``entropy``, ``raw_logits``, ``raw_top_k``, ``model``)."""
        request = to_score_request(text, targets, **options)
        return Scored.from_proto(self._unary("Score", self.stub.Score, request, timeout, metadata))

    def score_batch(
        self, requests: Sequence[Mapping[str, Any]], *, timeout: Optional[float] = None, metadata: Metadata = ()
    ) -> list[Scored]:
        """``score`` for several inputs in one call (their encoder and decoder runs shared): each request is a
        mapping of ``score``'s arguments (``{"text": ..., "targets": [...], "entropy": True}``); one answer per
        request, in order."""
        batch = pb.ScoreBatchRequest(requests=[to_score_request(**request) for request in requests])
        reply = self._unary("ScoreBatch", self.stub.ScoreBatch, batch, timeout, metadata)
        return [Scored.from_proto(response) for response in reply.responses]

    def _unary(
        self, rpc: str, method: Callable[..., Message], request: Message, timeout: Optional[float], metadata: Metadata
    ) -> Message:
        try:
            return method(request, timeout=timeout, metadata=self._metadata(metadata))
        except grpc.RpcError as error:
            raise call_failure(rpc, error) from None
