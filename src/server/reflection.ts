/**
 * gRPC server reflection for the services this server exposes (`stepwise.v1.StepwiseService` and
 * `grpc.health.v1.Health`), so that grpcurl, Postman or a Python client can discover the contract from the
 * running server. The definition is loaded with `keepCase: true`: with proto-loader's default, reflection
 * would serve camelCase field names (`maxNewTokens`) that are not the contract's. Map fields are
 * described, and types named, as protoc does it (`reflection-descriptors.ts`).
 */
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { STEPWISE_PROTO_FILE, locateProtoRoot } from './proto-files.js';
import { withProtocDescriptors } from './reflection-descriptors.js';

export function createReflectionService(): ReflectionService {
  const definition = loadSync([STEPWISE_PROTO_FILE, healthProtoPath], {
    includeDirs: [locateProtoRoot()],
    keepCase: true,
  });
  return new ReflectionService(withProtocDescriptors(definition));
}
