"""pytest fixtures: a real Stepwise server for the test session (``stepwise serve --port 0 --ready-file``,
stopped with SIGTERM at the end). Installed with the package, pytest loads them by itself (the ``pytest11``
entry point); from a checkout, add ``pytest_plugins = ["stepwise_client.pytest_plugin"]`` to ``conftest.py``.

    def test_decodes(stepwise_server):                   # "127.0.0.1:PORT"
        with Client(stepwise_server) as client:
            assert client.get_model_info().vocab_size > 0

The server runs ``$STEPWISE_SERVE_COMMAND`` (default ``npx --no-install stepwise serve``) with the arguments
of ``stepwise_serve_args`` (default none: the embedded tiny model). Override either fixture in a
``conftest.py`` to change them:

    @pytest.fixture(scope="session")
    def stepwise_serve_args():
        return ["--model", "/models/t5-small-onnx", "--max-streams", "8"]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import ServerProcess, serve_command, start_server


@pytest.fixture(scope="session")
def stepwise_serve_command() -> list[str]:
    """The command that starts ``stepwise serve``: ``$STEPWISE_SERVE_COMMAND``, else ``npx --no-install stepwise serve``."""
    return serve_command()


@pytest.fixture(scope="session")
def stepwise_serve_args() -> list[str]:
    """More arguments for ``stepwise serve`` (``--model DIR``, limits...); ``--port 0`` and ``--ready-file`` are added."""
    return []


@pytest.fixture(scope="session")
def stepwise_server_process(stepwise_serve_command: list[str], stepwise_serve_args: list[str]) -> Iterator[ServerProcess]:
    """The running server (address, port, pid, its log), shared by the session's tests."""
    with start_server(stepwise_serve_command, args=stepwise_serve_args) as server:
        yield server


@pytest.fixture(scope="session")
def stepwise_server(stepwise_server_process: ServerProcess) -> str:
    """The address (``host:port``) of the session's server."""
    return stepwise_server_process.address
