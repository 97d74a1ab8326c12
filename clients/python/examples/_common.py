"""What every example shares: the import path of the client and the command-line options."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# The examples run from a checkout, without installing the package: make `stepwise_client` importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_TEXT = "translate English to German: The house is wonderful."


def parse_arguments(description: str, **extra: dict) -> argparse.Namespace:
    """``--server`` (default ``$STEPWISE_SERVER`` or 127.0.0.1:50051), ``--ca``/``--cert``/``--key``/``--token``
    for a secured server, ``--max-new-tokens``, the input text, and the example's own options
    (``name=dict(type=..., default=..., help=...)``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("text", nargs="?", default=DEFAULT_TEXT, help=f'encoder input (default: "{DEFAULT_TEXT}")')
    parser.add_argument("--server", default=os.environ.get("STEPWISE_SERVER", "127.0.0.1:50051"), help="HOST:PORT")
    parser.add_argument("--ca", help="PEM CA certificate that signed the server's certificate (turns TLS on)")
    parser.add_argument("--cert", help="PEM client certificate, for a server that requires one (mutual TLS)")
    parser.add_argument("--key", help="PEM private key of --cert")
    parser.add_argument("--token", help="bearer token (default: $STEPWISE_TOKEN)")
    parser.add_argument("--max-new-tokens", type=int, default=20, help="most tokens to generate (default: 20)")
    for name, options in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", **options)
    return parser.parse_args()


def connect(arguments: argparse.Namespace):
    """The client the options name: the server, TLS files and token."""
    from stepwise_client import Client

    return Client(arguments.server, ca_file=arguments.ca, cert_file=arguments.cert, key_file=arguments.key, token=arguments.token)
