"""How the client reaches a secured server: TLS from PEM files (the CA that signed the server's certificate,
and for mutual TLS this client's certificate and key), and a bearer token sent as
``authorization: Bearer <token>`` with every call. Defaults come from the environment: ``STEPWISE_SERVER``
for the address, ``STEPWISE_TOKEN`` for the token.

The token is added by a client interceptor rather than by gRPC call credentials, which only ride on TLS
channels: a token must also reach a plaintext server on localhost or behind a proxy that ends TLS. Over
plaintext anyone on the path can read it; use TLS across a network.
"""

from __future__ import annotations

import collections
import os
import re
from typing import Optional

import grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"
"""The address ``npm start`` serves on."""


def default_address() -> str:
    """``$STEPWISE_SERVER``, else ``DEFAULT_ADDRESS``."""
    return os.environ.get("STEPWISE_SERVER") or DEFAULT_ADDRESS


def default_token() -> Optional[str]:
    """``$STEPWISE_TOKEN``, else None."""
    return os.environ.get("STEPWISE_TOKEN") or None


def _read(path: Optional[str], what: str) -> Optional[bytes]:
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise OSError(f"cannot read the {what} file {path}: {error.strerror}") from None


def open_channel(
    address: str,
    *,
    tls: bool = False,
    ca_file: Optional[str] = None,
    cert_file: Optional[str] = None,
    key_file: Optional[str] = None,
    token: Optional[str] = None,
) -> grpc.Channel:
    """A channel to ``address``: TLS when ``tls`` or any file is given (the system's roots without
    ``ca_file``), plaintext otherwise; every call carries ``token`` when one is given."""
    if (cert_file is None) != (key_file is None):
        raise ValueError("a client certificate needs its key: give both cert_file and key_file, or neither")
    if tls or ca_file is not None or cert_file is not None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(ca_file, "CA"),
            private_key=_read(key_file, "client key"),
            certificate_chain=_read(cert_file, "client certificate"),
        )
        channel = grpc.secure_channel(address, credentials)
    else:
        channel = grpc.insecure_channel(address)
    return with_token(channel, token) if token else channel


def with_token(channel: grpc.Channel, token: str) -> grpc.Channel:
    """``channel`` with ``authorization: Bearer <token>`` added to every call."""
    return grpc.intercept_channel(channel, BearerToken(token))


class _CallDetails(
    collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to the metadata of every call."""

    def __init__(self, token: str):
        if not re.fullmatch(r"[\x21-\x7e]+", token):
            raise ValueError("a token must be visible ASCII characters without spaces")
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> _CallDetails:
        metadata = [*(details.metadata or ()), self._header]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)
