/**
 * The services that attach themselves: gRPC health (SERVING once the model answered a warm-up step) and
 * server reflection, which serves the contract with the field names written in the proto.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { credentials, loadPackageDefinition, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModels } from '../../fixtures/models.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ modelDir: tinyModels.reluTied });
});
afterAll(async () => server?.stop());

/** A health client from grpc-health-check's own service definition. */
function healthCheck(service: string): Promise<{ status: string }> {
  const Client = makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(server.address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client['check']!({ service }, (error: ServiceError | null, response: { status: string }) => {
      client.close();
      if (error) reject(error);
      else resolve(response);
    });
  });
}

interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/** One request on the v1 reflection service, through a client built from the reflection package's proto. */
function reflect(request: Record<string, string>): Promise<ReflectionResponse> {
  const require = createRequire(import.meta.url);
  const protoDir = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const definition = loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [protoDir], keepCase: true });
  const loaded = loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => any } } };
  };
  const client = new loaded.grpc.reflection.v1.ServerReflection(server.address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.on('data', (response: ReflectionResponse) => {
      resolve(response);
      call.end();
      client.close();
    });
    call.on('error', reject);
    call.write(request);
  });
}

describe('health', () => {
  it('reports SERVING for the server and for stepwise.v1.StepwiseService', async () => {
    for (const service of ['', 'stepwise.v1.StepwiseService']) {
      expect(await healthCheck(service)).toEqual({ status: 'SERVING' });
    }
  });
});

describe('reflection', () => {
  it('lists stepwise.v1.StepwiseService among the services', async () => {
    const response = await reflect({ list_services: '*' });
    const names = response.list_services_response?.service.map((entry) => entry.name) ?? [];
    expect(names).toContain('stepwise.v1.StepwiseService');
    expect(names).toContain('grpc.health.v1.Health');
  });

  it('serves the contract as protoc describes it: the proto field names (max_new_tokens), map entries, full type names', async () => {
    const response = await reflect({ file_containing_symbol: 'stepwise.v1.StepwiseService' });
    const files = (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
    const start = files.flatMap((file) => file.messageType).find((message) => message.name === 'Start');
    const fields = start?.field.map((field) => field.name) ?? [];
    expect(fields).toContain('max_new_tokens');
    expect(fields).toContain('decoder_prefix_ids');
    expect(fields).not.toContain('maxNewTokens');
    // Map fields as protoc describes them, so that strict descriptor pools (Python's) accept the file.
    const spec = files.flatMap((file) => file.messageType).find((message) => message.name === 'ProcessorSpec');
    expect(spec?.nestedType.map((nested) => [nested.name, nested.options?.mapEntry])).toEqual([['ParamsEntry', true]]);
    expect(spec?.field.find((field) => field.name === 'params')?.typeName).toBe('.stepwise.v1.ProcessorSpec.ParamsEntry');
    // Types are referenced by full name, as protoc writes them; scalar fields name no type.
    expect(start?.field.find((field) => field.name === 'stream')?.typeName).toBe('.stepwise.v1.StreamOptions');
    expect(start?.field.find((field) => field.name === 'max_new_tokens')?.typeName).toBe('');
    const service = files.flatMap((file) => file.service).find((entry) => entry.name === 'StepwiseService');
    expect(service?.method.map((method) => method.name)).toEqual([
      'Decode',
      'Generate',
      'GetModelInfo',
      'ListProcessors',
      'Tokenize',
      'Detokenize',
      'Score',
      'ScoreBatch',
      'ListModels',
    ]);
  });
});
