"""What every example shares: the import path of the client, the command-line options, and one clear line
(no traceback) when the server cannot be reached or refuses the call."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

# Run from a checkout, the examples use the package next to them; copied elsewhere, the installed one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

DEFAULT_TEXT = "translate English to German: The house is wonderful."

_server = "127.0.0.1:50051"
"""The server the options named (for the message when it cannot be reached)."""


def parse_arguments(description: str, **extra: dict) -> argparse.Namespace:
    """``--server`` (default ``$STEPWISE_SERVER`` or 127.0.0.1:50051), ``--ca``/``--cert``/``--key``/``--token``
    for a secured server, ``--max-new-tokens``, the input text, and the example's own options
    (``name=dict(type=..., default=..., help=...)``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("text", nargs="?", default=DEFAULT_TEXT, help=f'encoder input (default: "{DEFAULT_TEXT}")')
    parser.add_argument("--server", default=os.environ.get("STEPWISE_SERVER") or "127.0.0.1:50051", help="HOST:PORT")
    parser.add_argument("--ca", help="PEM CA certificate that signed the server's certificate (turns TLS on)")
    parser.add_argument("--cert", help="PEM client certificate, for a server that requires one (mutual TLS)")
    parser.add_argument("--key", help="PEM private key of --cert")
    parser.add_argument("--token", help="bearer token (default: $STEPWISE_TOKEN)")
    parser.add_argument("--max-new-tokens", type=int, default=20, help="most tokens to generate (default: 20)")
    for name, options in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", **options)
    arguments = parser.parse_args()
    global _server
    _server = arguments.server
    return arguments


def connect(arguments: argparse.Namespace):
    """The client the options name: the server, TLS files and token."""
    from stepwise_client import Client

    return Client(arguments.server, ca_file=arguments.ca, cert_file=arguments.cert, key_file=arguments.key, token=arguments.token)


def run_example(main: Callable[[], None]) -> None:
    """Runs ``main``; a failed call or an unreadable file ends the example with one line on stderr and exit
    code 1 (2 when no server answered at all)."""
    from stepwise_client import StepwiseCallError

    name = Path(sys.argv[0]).name
    try:
        main()
    except StepwiseCallError as error:
        if error.code == grpc.StatusCode.UNAVAILABLE:
            print(
                f"{name}: no Stepwise server answers at {_server} ({error.details}); "
                "start one with `npm start`, or name another with --server HOST:PORT",
                file=sys.stderr,
            )
            sys.exit(2)
        print(f"{name}: {error}", file=sys.stderr)
        sys.exit(1)
    except OSError as error:
        print(f"{name}: {error}", file=sys.stderr)
        sys.exit(1)
