"""The Python client of a Stepwise server.

>>> from stepwise_client import Client, accept, force
>>> with Client("127.0.0.1:50051") as client:
...     print(client.get_model_info().vocab_size)
>>> # a secured server: TLS (client certificate for mutual TLS) and a bearer token ($STEPWISE_TOKEN by default)
>>> secured = Client("models.example.com:443", ca_file="ca.pem", cert_file="me.pem", key_file="me.key", token="...")
...     for step in client.decode("translate English to German: The house is wonderful.", max_new_tokens=20):
...         print(step.step, repr(step.token.text), step.logits.max())
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Optional

import grpc

from .channel_security import DEFAULT_ADDRESS, default_address, default_token, open_channel, with_token
from .decisions import accept
from .errors import call_failure
from .events import DecodeEvent, FinishedEvent, to_event
from .lockstep import DecideStep, LockstepDecode
from .session import DecodeSession
from .start_options import to_start_message
from .stubs import load

pb = load()


def _accept_every_step(step: Any, context: Any) -> Any:
    return accept()


class Client:
    """A channel to one server. ``timeout`` arguments are deadlines in seconds for the whole call.

    ``address`` defaults to ``$STEPWISE_SERVER``, else 127.0.0.1:50051. TLS is used when ``tls`` is true or
    any file is given: ``ca_file`` is the CA that signed the server's certificate (default: the system's
    roots), ``cert_file`` and ``key_file`` this client's certificate for mutual TLS. ``token`` is sent as
    ``authorization: Bearer <token>`` with every call; it defaults to ``$STEPWISE_TOKEN`` (``""``: none).
    ``channel`` replaces the channel these options would open (a token is still added to it)."""

    def __init__(
        self,
        address: Optional[str] = None,
        *,
        tls: bool = False,
        ca_file: Optional[str] = None,
        cert_file: Optional[str] = None,
        key_file: Optional[str] = None,
        token: Optional[str] = None,
        channel: Optional[grpc.Channel] = None,
    ):
        self.address = address or default_address()
        token = default_token() if token is None else token
        if channel is None:
            channel = open_channel(self.address, tls=tls, ca_file=ca_file, cert_file=cert_file, key_file=key_file, token=token)
        elif token:
            channel = with_token(channel, token)
        self.channel = channel
        self.stub = pb.StepwiseServiceStub(self.channel)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def open_decode(self, text: Optional[str] = None, *, timeout: Optional[float] = None, **start: Any) -> DecodeSession:
        """Opens a ``Decode`` stream and sends its start (keyword arguments of ``to_start_message``)."""
        return DecodeSession(self.stub, to_start_message(text, **start), timeout=timeout)

    def decode(
        self, text: Optional[str] = None, *, decide: DecideStep = _accept_every_step, timeout: Optional[float] = None, **start: Any
    ) -> LockstepDecode:
        """A lockstep decode in which ``decide(step, context)`` answers every step (default: accept);
        iterate it for the decoded steps, whose ``logits`` are float32 NumPy arrays."""
        if start.get("mode", "lockstep") != "lockstep":
            raise ValueError(f"decode(..., decide) runs in lockstep mode; given mode {start['mode']!r}")
        return LockstepDecode(self.open_decode(text, timeout=timeout, **{**start, "mode": "lockstep"}), decide)

    def generate(self, text: Optional[str] = None, *, timeout: Optional[float] = None, **start: Any) -> Iterator[DecodeEvent]:
        """A ``Generate`` stream (auto mode): the same events as a decode, no decisions."""
        if start.get("mode", "auto") != "auto":
            raise ValueError(f"generate runs in auto mode; given mode {start['mode']!r}")
        request = pb.GenerateRequest(start=to_start_message(text, **{**start, "mode": None}))
        return self._generate_events(self.stub.Generate(request, timeout=timeout))

    @staticmethod
    def _generate_events(call: Any) -> Iterator[DecodeEvent]:
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

    def get_model_info(self, timeout: Optional[float] = None) -> Any:
        """The served model: name, vocabulary size, special ids, limits, architecture."""
        return self._unary("GetModelInfo", self.stub.GetModelInfo, pb.GetModelInfoRequest(), timeout)

    def list_processors(self, timeout: Optional[float] = None) -> list[Any]:
        """Every registered processor with its parameters."""
        return list(self._unary("ListProcessors", self.stub.ListProcessors, pb.ListProcessorsRequest(), timeout).processors)

    def tokenize(self, text: str, add_special_tokens: Optional[bool] = None, timeout: Optional[float] = None) -> Any:
        """Token ids (and vocabulary strings) of ``text``; ``</s>`` is appended unless ``add_special_tokens`` is False."""
        request = pb.TokenizeRequest(text=text)
        if add_special_tokens is not None:
            request.add_special_tokens = add_special_tokens
        return self._unary("Tokenize", self.stub.Tokenize, request, timeout)

    def detokenize(self, token_ids: Sequence[int], skip_special_tokens: bool = False, timeout: Optional[float] = None) -> str:
        """The text of ``token_ids``."""
        request = pb.DetokenizeRequest(token_ids=token_ids, skip_special_tokens=skip_special_tokens)
        return self._unary("Detokenize", self.stub.Detokenize, request, timeout).text

    @staticmethod
    def _unary(rpc: str, method: Any, request: Any, timeout: Optional[float]) -> Any:
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as error:
            raise call_failure(rpc, error) from None
