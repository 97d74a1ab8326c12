"""What grpcurl does, in Python: discover a server's contract through gRPC reflection (no ``.proto`` file,
no generated stubs), then build request messages from JSON and call methods by name."""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, json_format, message_factory

from support import REPOSITORY_ROOT

REFLECTION_PROTO = REPOSITORY_ROOT / "node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto"
# The module path must not start with `grpc`, which is the gRPC package itself.
REFLECTION_MODULE = "reflection_v1"


def _load_reflection_modules() -> tuple[Any, Any]:
    """Compiles the reflection protocol (grpc.reflection.v1, as shipped with @grpc/reflection) once."""
    from grpc_tools import protoc

    folder = Path(tempfile.mkdtemp(prefix="stepwise-reflection-"))
    shutil.copy(REFLECTION_PROTO, folder / f"{REFLECTION_MODULE}.proto")
    status = protoc.main(["grpc_tools.protoc", f"-I{folder}", f"--python_out={folder}", f"--grpc_python_out={folder}", str(folder / f"{REFLECTION_MODULE}.proto")])
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status} on {REFLECTION_PROTO}")
    sys.path.insert(0, str(folder))
    return importlib.import_module(f"{REFLECTION_MODULE}_pb2"), importlib.import_module(f"{REFLECTION_MODULE}_pb2_grpc")


class ReflectionClient:
    def __init__(self, channel: grpc.Channel):
        self._channel = channel
        self._pb, pb_grpc = _load_reflection_modules()
        self._stub = pb_grpc.ServerReflectionStub(channel)
        self._files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def _ask(self, **request: str) -> Any:
        responses = self._stub.ServerReflectionInfo(iter([self._pb.ServerReflectionRequest(**request)]), timeout=30)
        response = next(iter(responses))
        if response.HasField("error_response"):
            raise LookupError(f"reflection: {response.error_response.error_message} ({request})")
        return response

    def list_services(self) -> list[str]:
        """`grpcurl list`."""
        return sorted(service.name for service in self._ask(list_services="").list_services_response.service)

    def describe(self, symbol: str) -> descriptor_pb2.FileDescriptorProto:
        """The file that defines ``symbol`` (`grpcurl describe` prints from it); its dependencies are kept too."""
        response = self._ask(file_containing_symbol=symbol)
        files = []
        for serialized in response.file_descriptor_response.file_descriptor_proto:
            file = descriptor_pb2.FileDescriptorProto.FromString(serialized)
            self._files[file.name] = file
            files.append(file)
        return files[0]

    def message_class(self, full_name: str) -> Any:
        """A message class built from the reflected descriptors."""
        return message_factory.GetMessages(list(self._files.values()))[full_name]

    def _method(self, service: str, method: str) -> tuple[Any, Any, bool]:
        file = self.describe(service)
        package, _, service_name = service.rpartition(".")
        for candidate in next(s for s in file.service if s.name == service_name).method:
            if candidate.name == method:
                request = self.message_class(candidate.input_type.lstrip("."))
                response = self.message_class(candidate.output_type.lstrip("."))
                return request, response, candidate.server_streaming
        raise LookupError(f"{service} has no method {method}")

    def call_json(self, full_method: str, request_json: str) -> Iterator[str]:
        """`grpcurl -d JSON SERVER full/Method`: the responses as JSON with the proto's field names."""
        service, method = full_method.split("/")
        request_class, response_class, server_streaming = self._method(service, method)
        request = json_format.Parse(request_json, request_class())
        path = f"/{service}/{method}"
        options = dict(request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString)
        if server_streaming:
            responses = self._channel.unary_stream(path, **options)(request, timeout=60)
        else:
            responses = [self._channel.unary_unary(path, **options)(request, timeout=60)]
        for response in responses:
            yield json_format.MessageToJson(response, preserving_proto_field_name=True)
