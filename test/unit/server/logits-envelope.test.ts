/** The hand-written logits envelope encodes exactly what the generated encoder encodes. */
import { describe, expect, it } from 'vitest';
import { DataType, DecodeResponse, GenerateResponse, type StepLogits } from '../../../src/gen/stepwise/v1/stepwise.js';
import { EnvelopeBuffers } from '../../../src/server/envelope-buffers.js';
import { encodeLogitsEnvelope as encodeWith } from '../../../src/server/logits-envelope.js';
import { EnvelopeResponseEncoder } from '../../../src/server/response-encoder.js';
import { stepwiseServerDefinition } from '../../../src/server/service-definition.js';
import { float16Tensor, float32Tensor } from '../../../src/server/logits-encoding.js';

const shared = new EnvelopeBuffers();
const encodeLogitsEnvelope = (logits: StepLogits) => encodeWith(logits, shared);

function row(length: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.sin(i * 0.37) * 20 - (i % 7));
}

const cases: Array<[string, StepLogits]> = [
  ['step 0, float32, 32,128 wide', { step: 0, raw: float32Tensor(row(32_128)), top: undefined, branch: 0 }],
  ['step 1, float32, 606 wide', { step: 1, raw: float32Tensor(row(606)), top: undefined, branch: 0 }],
  ['step 200 (two-byte varint), float32', { step: 200, raw: float32Tensor(row(1000)), top: undefined, branch: 0 }],
  ['step 70,000 (three-byte varint), float16', { step: 70_000, raw: float16Tensor(row(300), new Uint16Array(300)), top: undefined, branch: 0 }],
  ['a one-entry row', { step: 5, raw: float32Tensor(row(1)), top: undefined, branch: 0 }],
  ['an empty row', { step: 3, raw: { dtype: DataType.DATA_TYPE_FLOAT32, shape: [0], data: Buffer.alloc(0) }, top: undefined, branch: 0 }],
  ['branch 3, float32', { step: 4, raw: float32Tensor(row(606)), top: undefined, branch: 3 }],
  ['branch 300 (two-byte varint), step 0, float16', { step: 0, raw: float16Tensor(row(300), new Uint16Array(300)), top: undefined, branch: 300 }],
  ['an unspecified dtype and no shape', { step: 9, raw: { dtype: DataType.DATA_TYPE_UNSPECIFIED, shape: [], data: Buffer.from([1, 2, 3]) }, top: undefined, branch: 0 }],
];

describe('logits envelope', () => {
  it.each(cases)('%s: the bytes of the generated DecodeResponse and GenerateResponse encoders', (_, logits) => {
    const encoded = encodeLogitsEnvelope(logits)!;
    expect(encoded).toBeInstanceOf(Buffer);
    const decodeBytes = DecodeResponse.encode({ message: { $case: 'logits', value: logits } }).finish();
    const generateBytes = GenerateResponse.encode({ message: { $case: 'logits', value: logits } }).finish();
    expect(Buffer.compare(encoded, Buffer.from(decodeBytes))).toBe(0);
    expect(Buffer.compare(encoded, Buffer.from(generateBytes))).toBe(0);
    const decoded = DecodeResponse.decode(encoded).message;
    expect(decoded?.$case).toBe('logits');
    if (decoded?.$case === 'logits') expect(Buffer.from(decoded.value.raw!.data).equals(Buffer.from(logits.raw!.data))).toBe(true);
  });

  it('leaves top-k and no-logits messages to the generated encoder', () => {
    expect(encodeLogitsEnvelope({ step: 1, raw: undefined, top: { tokenIds: [1], logits: [0.5] }, branch: 0 })).toBeUndefined();
    expect(encodeLogitsEnvelope({ step: 1, raw: undefined, top: undefined, branch: 0 })).toBeUndefined();
  });

  it.each([0, 4, 128_512])(
    'a row in shared memory at byte %i lands on its own 8-byte phase in the envelope, bytes unchanged',
    (byteOffset) => {
      const width = 32_128;
      const shared = new Float32Array(new SharedArrayBuffer(byteOffset + width * 4), byteOffset, width);
      shared.set(row(width));
      const logits: StepLogits = { step: 3, raw: float32Tensor(shared), top: undefined, branch: 0 };
      const encoded = encodeLogitsEnvelope(logits)!;
      const dataStart = encoded.byteOffset + encoded.length - width * 4;
      expect(dataStart % 8).toBe(byteOffset % 8);
      const generated = DecodeResponse.encode({ message: { $case: 'logits', value: { ...logits, raw: float32Tensor(Float32Array.from(shared)) } } }).finish();
      expect(Buffer.compare(encoded, Buffer.from(generated))).toBe(0);
    },
  );

  it('copies the row: the envelope does not change when the row does', () => {
    const values = row(64);
    const encoded = encodeLogitsEnvelope({ step: 2, raw: float32Tensor(values), top: undefined, branch: 0 })!;
    const before = Buffer.from(encoded);
    values.fill(0);
    expect(encoded.equals(before)).toBe(true);
  });
});

describe('envelope buffers', () => {
  it('reuse an envelope’s memory only after grpc-js has serialized (copied) it', async () => {
    const encoder = new EnvelopeResponseEncoder();
    const serialize = stepwiseServerDefinition(encoder).decode.responseSerialize;
    const logits: StepLogits = { step: 7, raw: float32Tensor(row(4096)), top: undefined, branch: 0 };
    const message = (step: number) => ({ $case: 'logits' as const, value: { ...logits, step } });
    const first = encoder.encode(message(7));
    const second = encoder.encode(message(7));
    // Neither was serialized yet: they must not share memory.
    expect(second.buffer).not.toBe(first.buffer);
    expect(serialize(first)).toBe(first);
    await Promise.resolve();
    const third = encoder.encode(message(8));
    expect(third.buffer).toBe(first.buffer);
    // The reused memory holds the new envelope exactly.
    expect(Buffer.compare(third, Buffer.from(DecodeResponse.encode({ message: message(8) }).finish()))).toBe(0);
  });

  it('leave other responses alone and keep at most a bounded number of idle buffers', async () => {
    const encoder = new EnvelopeResponseEncoder();
    const serialize = stepwiseServerDefinition(encoder).decode.responseSerialize;
    const plain = Buffer.from([1, 2, 3]);
    expect(serialize(plain)).toBe(plain);
    const envelopes = Array.from({ length: 100 }, (_, step) => encoder.encode({ $case: 'logits', value: { step, raw: float32Tensor(row(256)), top: undefined, branch: 0 } }));
    for (const envelope of envelopes) serialize(envelope);
    await Promise.resolve();
    expect(encoder.buffers.idle).toBeLessThanOrEqual(64);
  });

  it('are one server’s own: two encoders never hand out each other’s memory', async () => {
    const [one, two] = [new EnvelopeResponseEncoder(), new EnvelopeResponseEncoder()];
    const message = { $case: 'logits' as const, value: { step: 1, raw: float32Tensor(row(512)), top: undefined, branch: 0 } };
    const first = one.encode(message);
    stepwiseServerDefinition(one).decode.responseSerialize(first);
    stepwiseServerDefinition(two).decode.responseSerialize(first);
    await Promise.resolve();
    expect(two.buffers.idle).toBe(0);
    expect(two.encode(message).buffer).not.toBe(first.buffer);
    expect(one.encode(message).buffer).toBe(first.buffer);
  });
});
