"""Generates the protobuf and gRPC modules of ``proto/stepwise/v1`` and imports them.

The generated modules are not committed: they are written to ``stepwise_client/_gen/`` (git-ignored) the
first time the client is imported, and again whenever a ``.proto`` file changes (a hash of the sources is
kept next to them). Run ``/usr/bin/python3 -m stepwise_client.stubs`` to regenerate by hand.

Debian's ``python3-grpc-tools`` bundles protoc 3.5.1, which predates proto3 ``optional``. An ``optional``
field is defined as a one-member oneof named after the field with a leading underscore, with the same wire
format and the same presence tracking, so the sources are rewritten that way before protoc sees them.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import sys
import tempfile
import types
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
GENERATED_DIR = PACKAGE_DIR / "_gen"
HASH_FILE = ".sources-sha256"
PROTO_PACKAGE_PATH = Path("stepwise") / "v1"


def proto_root() -> Path:
    """The folder holding ``stepwise/v1/*.proto``: ``$STEPWISE_PROTO_ROOT`` or the repository's ``proto/``."""
    configured = os.environ.get("STEPWISE_PROTO_ROOT")
    root = Path(configured) if configured else PACKAGE_DIR.parents[2] / "proto"
    if not (root / PROTO_PACKAGE_PATH).is_dir():
        raise FileNotFoundError(
            f"no {PROTO_PACKAGE_PATH}/ under the proto root {root}; "
            "set STEPWISE_PROTO_ROOT to the folder that contains stepwise/v1/*.proto"
        )
    return root


def _proto_files(root: Path) -> list[Path]:
    files = sorted((root / PROTO_PACKAGE_PATH).glob("*.proto"))
    if not files:
        raise FileNotFoundError(f"no .proto files in {root / PROTO_PACKAGE_PATH}")
    return files


def _sources_hash(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


_OPTIONAL_FIELD = re.compile(
    r"(?<![\w.])optional\s+(?P<type>[\w.]+)\s+(?P<name>\w+)\s*=\s*(?P<number>\d+)(?P<options>\s*\[[^\]]*\])?\s*;"
)


def rewrite_proto3_optional(source: str) -> str:
    """Rewrites each proto3 ``optional`` field as the synthetic one-member oneof it stands for."""
    return _OPTIONAL_FIELD.sub(
        lambda m: (
            f"oneof _{m['name']} {{ {m['type']} {m['name']} = {m['number']}{m['options'] or ''}; }}"
        ),
        source,
    )


def generate(force: bool = False) -> Path:
    """Writes the modules to ``_gen/`` unless they are already up to date; returns that folder."""
    root = proto_root()
    files = _proto_files(root)
    wanted_hash = _sources_hash(root, files)
    hash_path = GENERATED_DIR / HASH_FILE
    if not force and hash_path.is_file() and hash_path.read_text().strip() == wanted_hash:
        return GENERATED_DIR

    try:
        from grpc_tools import protoc
    except ImportError as error:
        raise ImportError(
            "grpc_tools is missing from this Python; install the Debian packages: "
            "apt-get install -y python3-grpcio python3-grpc-tools python3-numpy python3-protobuf"
        ) from error

    # Generate into a fresh folder and swap it in, so that processes importing the client at the same time
    # never see half-written modules.
    with tempfile.TemporaryDirectory(dir=PACKAGE_DIR, prefix=".gen-") as work:
        sources = Path(work) / "proto"
        output = Path(work) / "out"
        (sources / PROTO_PACKAGE_PATH).mkdir(parents=True)
        output.mkdir()
        for file in files:
            rewritten = rewrite_proto3_optional(file.read_text(encoding="utf-8"))
            (sources / file.relative_to(root)).write_text(rewritten, encoding="utf-8")
        well_known = Path(protoc.__file__).parent / "_proto"
        arguments = [
            "grpc_tools.protoc",
            f"-I{sources}",
            f"-I{well_known}",
            f"--python_out={output}",
            f"--grpc_python_out={output}",
            *(str(sources / file.relative_to(root)) for file in files),
        ]
        status = protoc.main(arguments)
        if status != 0:
            raise RuntimeError(f"protoc failed with status {status} on {root / PROTO_PACKAGE_PATH}")
        (output / HASH_FILE).write_text(wanted_hash + "\n")

        stale = Path(work) / "stale"
        if GENERATED_DIR.exists():
            try:
                GENERATED_DIR.rename(stale)
            except OSError:
                pass  # another process swapped it meanwhile; ours replaces theirs below
        try:
            output.rename(GENERATED_DIR)
        except OSError:
            # Another process finished first with the same sources: keep its result.
            if not (GENERATED_DIR / HASH_FILE).is_file():
                raise
        shutil.rmtree(stale, ignore_errors=True)
    return GENERATED_DIR


def load() -> types.SimpleNamespace:
    """Generates if needed, then returns every message, enum and the service stub of ``stepwise.v1``.

    The names are those of the ``.proto`` files (``pb.DecodeRequest``, ``pb.StepwiseServiceStub``...).
    """
    folder = generate()
    if str(folder) not in sys.path:
        # protoc's modules import each other as ``stepwise.v1.x_pb2``, so their root must be importable.
        sys.path.insert(0, str(folder))
    namespace = types.SimpleNamespace()
    for module_file in sorted((folder / PROTO_PACKAGE_PATH).glob("*_pb2*.py")):
        module = importlib.import_module(f"stepwise.v1.{module_file.stem}")
        for name, value in vars(module).items():
            # Only what the .proto defines: messages, enums and their values, the service's stub and servicer.
            if not name.startswith("_") and name != "DESCRIPTOR" and not isinstance(value, types.ModuleType):
                setattr(namespace, name, value)
    return namespace


if __name__ == "__main__":
    print(generate(force=True))
