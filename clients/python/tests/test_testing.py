"""``stepwise_client.testing.start_server``, on which the pytest fixtures are built: it starts
``stepwise serve --port 0 --ready-file`` (``$STEPWISE_SERVE_COMMAND``, which ``npm test`` sets), returns once
the server serves, and stops it with SIGTERM; a command that fails says why in one error."""

from __future__ import annotations

import os
import sys
import unittest

from support import REPOSITORY_ROOT
from stepwise_client import Client
from stepwise_client.testing import DEFAULT_SERVE_COMMAND, ServerStartError, serve_command, start_server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class StartServerTest(unittest.TestCase):
    def test_it_serves_on_the_announced_port_and_sigterm_stops_it(self):
        server = start_server(cwd=str(REPOSITORY_ROOT))
        try:
            self.assertEqual(server.address, f"127.0.0.1:{server.port}")
            self.assertGreater(server.port, 0)
            with Client(server.address) as client:
                self.assertGreater(client.get_model_info(timeout=30).vocab_size, 0)
        finally:
            code = server.stop()
        self.assertEqual(code, 0, server.process.args)
        self.assertFalse(_alive(server.pid))

    def test_a_command_that_exits_before_serving_fails_with_its_exit_code_and_output(self):
        command = [sys.executable, "-c", "import sys; print('no model here', file=sys.stderr); sys.exit(3)"]
        with self.assertRaises(ServerStartError) as failed:
            start_server(command)
        self.assertIn("exited with code 3 before it served", str(failed.exception))
        self.assertIn("no model here", str(failed.exception))

    def test_a_command_that_does_not_exist_names_the_variable_to_set(self):
        with self.assertRaisesRegex(ServerStartError, "cannot run .*STEPWISE_SERVE_COMMAND"):
            start_server(["/nonexistent/stepwise", "serve"])

    def test_the_command_comes_from_STEPWISE_SERVE_COMMAND_split_as_a_shell_would(self):
        saved = os.environ.get("STEPWISE_SERVE_COMMAND")
        try:
            os.environ["STEPWISE_SERVE_COMMAND"] = "node '/opt/step wise/cli.js' serve"
            self.assertEqual(serve_command(), ["node", "/opt/step wise/cli.js", "serve"])
            os.environ["STEPWISE_SERVE_COMMAND"] = ""
            self.assertEqual(serve_command(), list(DEFAULT_SERVE_COMMAND))
        finally:
            if saved is None:
                os.environ.pop("STEPWISE_SERVE_COMMAND", None)
            else:
                os.environ["STEPWISE_SERVE_COMMAND"] = saved


if __name__ == "__main__":
    unittest.main()
