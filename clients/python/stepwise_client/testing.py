"""A real Stepwise server for integration tests: ``stepwise serve --port 0 --ready-file FILE`` as a child
process, its address read from the ready file, stopped with SIGTERM. The pytest fixtures
(``stepwise_client.pytest_plugin``) are built on it; it needs no pytest.

>>> from stepwise_client import Client
>>> from stepwise_client.testing import start_server
>>> with start_server(args=["--model", "/models/t5-small"]) as server:     # default: the embedded tiny model
...     with Client(server.address) as client:
...         print(client.get_model_info().name)

The command that starts the server is ``$STEPWISE_SERVE_COMMAND`` (split as a shell would), else
``npx --no-install stepwise serve`` (the ``stepwise`` npm package installed in the current project); pass
``command`` to choose another, e.g. ``["node", "/opt/stepwise/dist/src/cli.js", "serve"]``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TypedDict

DEFAULT_SERVE_COMMAND = ("npx", "--no-install", "stepwise", "serve")
"""``stepwise serve`` from the ``stepwise`` npm package of the current project (never downloaded)."""


class ReadyAnnouncement(TypedDict):
    """What ``stepwise serve --ready-file`` writes once it serves."""

    address: str
    host: str
    port: int
    pid: int


class ServerStartError(RuntimeError):
    """The server exited, or did not report ready in time; the message ends with the tail of its output."""


def serve_command() -> list[str]:
    """``$STEPWISE_SERVE_COMMAND`` split as a shell would, else ``DEFAULT_SERVE_COMMAND``."""
    configured = os.environ.get("STEPWISE_SERVE_COMMAND", "").strip()
    return shlex.split(configured) if configured else list(DEFAULT_SERVE_COMMAND)


@dataclass
class ServerProcess:
    """A running ``stepwise serve``: where it serves and how to stop it (also a context manager)."""

    address: str
    """``host:port``, ready for ``Client(address)``."""
    host: str
    port: int
    pid: int
    """The server's process (which may be a child of ``process``, e.g. under npx)."""
    process: subprocess.Popen[bytes]
    log_path: Path
    """Everything the server wrote to stdout and stderr."""
    _scratch: tempfile.TemporaryDirectory[str] = field(repr=False)

    def log(self) -> str:
        """What the server has written so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60.0) -> Optional[int]:
        """Sends SIGTERM (the server drains and exits), waits up to ``timeout`` seconds, then kills what is
        left; returns the exit code of the started command. Idempotent."""
        if self.process.poll() is None:
            # Only the server: a wrapper such as npx forwards a signal of its own, and a second SIGTERM
            # would make the server exit at once instead of draining.
            _signal(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(self.process)
                self.process.wait()
        self._scratch.cleanup()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_server(
    command: Optional[Sequence[str]] = None,
    *,
    args: Sequence[str] = (),
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: float = 120.0,
) -> ServerProcess:
    """Starts ``command`` (default: ``serve_command()``) with ``args``, ``--port 0`` and ``--ready-file``, and
    returns once the server serves (the ready file appeared), or raises ``ServerStartError`` when it exits
    first or takes longer than ``timeout`` seconds (loading a large model takes a while). ``env`` is added
    to this process's environment."""
    command = list(command) if command is not None else serve_command()
    scratch = tempfile.TemporaryDirectory(prefix="stepwise-serve-")
    ready_file = Path(scratch.name) / "ready.json"
    log_path = Path(scratch.name) / "serve.log"
    argv = [*command, *args, "--port", "0", "--ready-file", str(ready_file)]
    with open(log_path, "wb") as log:
        try:
            # Its own session: a Ctrl-C meant for the tests does not reach it twice, and a stuck one can be
            # killed with everything it started.
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, **(env or {})}, start_new_session=True
            )
        except OSError as error:
            scratch.cleanup()
            raise ServerStartError(f"cannot run {shlex.join(argv)}: {error.strerror} (set STEPWISE_SERVE_COMMAND to the command that starts `stepwise serve`)") from None
    ready = _wait_until_ready(process, ready_file, log_path, timeout, argv, scratch)
    return ServerProcess(ready["address"], ready["host"], ready["port"], ready["pid"], process, log_path, scratch)


def _wait_until_ready(
    process: subprocess.Popen[bytes], ready_file: Path, log_path: Path, timeout: float, argv: list[str], scratch: tempfile.TemporaryDirectory[str]
) -> ReadyAnnouncement:
    deadline = time.monotonic() + timeout
    while True:
        if ready_file.exists():
            # The server writes the file aside and renames it into place: it is whole once it exists.
            announcement: ReadyAnnouncement = json.loads(ready_file.read_text())
            return announcement
        problem = None
        if process.poll() is not None:
            problem = f"exited with code {process.returncode} before it served"
        elif time.monotonic() > deadline:
            problem = f"did not serve within {timeout:g} s"
            _kill_group(process)
            process.wait()
        if problem is not None:
            tail = _tail(log_path)
            scratch.cleanup()
            raise ServerStartError(f"{shlex.join(argv)} {problem}; its output ends with:\n{tail}")
        time.sleep(0.05)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


__all__ = ["DEFAULT_SERVE_COMMAND", "ReadyAnnouncement", "ServerProcess", "ServerStartError", "serve_command", "start_server"]
