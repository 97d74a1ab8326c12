"""Shared by the tests: the import path of the client (and of ``generate_stubs``), the server under test, and
the repository root."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PYTHON_CLIENT_ROOT = Path(__file__).resolve().parents[1]
REPOSITORY_ROOT = PYTHON_CLIENT_ROOT.parents[1]
sys.path.insert(0, str(PYTHON_CLIENT_ROOT))

SERVER = os.environ.get("STEPWISE_SERVER", "127.0.0.1:50051")
"""The server the tests decode on: ``$STEPWISE_SERVER``, else the address ``npm start`` serves on."""

TEXT = "translate English to German: The house is wonderful."
