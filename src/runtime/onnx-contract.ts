/**
 * Checks, once at load time, that each ONNX session has the inputs and outputs of the T5 export
 * contract (onnx-layout.md §2–4): names, element types, ranks and the static dims `d_model`,
 * `num_heads`, `d_kv`, `vocab_size`. A mismatch becomes a `ModelFolderError` naming the file, the
 * tensor, what was expected and what was found — instead of a shape error from deep inside
 * ONNX Runtime at the first request. Nothing here runs per step.
 *
 * Float tensors (hidden states, KV cache, logits) may be float32 or float16 (fp16 files made by older
 * tools declare float16 inputs and outputs; see float-tensors.ts), but one file uses one of the two for
 * all of them: its presents are fed back as its pasts.
 */
import type { InferenceSession } from 'onnxruntime-node';

import { ModelFolderError } from './errors.js';
import type { T5Config } from './types.js';

/** The parts of an `InferenceSession` the check reads (a session satisfies it). */
export interface SessionSignature {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];
}

/** The four ONNX files a model folder can hold, by the role each plays. */
export type SessionRole = 'encoder' | 'merged-decoder' | 'decoder' | 'decoder-with-past';

/**
 * One dimension of the contract: `size` is the static value the file must declare when it declares a
 * number; `batch` dims must stay symbolic, since the runtime batches sequences along them.
 */
interface DimSpec {
  readonly label: string;
  readonly size?: number;
  readonly batch?: boolean;
}

interface TensorSpec {
  readonly name: string;
  /** `float`: float32 or float16 (the same for every float tensor of the file). */
  readonly type: 'int64' | 'float' | 'bool';
  readonly dims: readonly DimSpec[];
  /** An input the file may leave out (the runtime then does not feed it); checked when present. */
  readonly optional?: boolean;
}

/** Input and output names of the decoder KV cache, per layer, in export order. */
export interface CacheNames {
  /** `past_key_values.{i}.decoder.key`, `.value` for every layer (2 per layer). */
  readonly pastDecoder: readonly string[];
  /** `past_key_values.{i}.encoder.key`, `.value` for every layer. */
  readonly pastEncoder: readonly string[];
  /** `present.{i}.decoder.key`, `.value` for every layer. */
  readonly presentDecoder: readonly string[];
  /** `present.{i}.encoder.key`, `.value` for every layer. */
  readonly presentEncoder: readonly string[];
}

export function cacheNames(numDecoderLayers: number): CacheNames {
  const names = (prefix: string, side: string) =>
    Array.from({ length: numDecoderLayers }, (_, layer) => [
      `${prefix}.${layer}.${side}.key`,
      `${prefix}.${layer}.${side}.value`,
    ]).flat();
  return {
    pastDecoder: names('past_key_values', 'decoder'),
    pastEncoder: names('past_key_values', 'encoder'),
    presentDecoder: names('present', 'decoder'),
    presentEncoder: names('present', 'encoder'),
  };
}

const batch: DimSpec = { label: 'batch_size', batch: true };

/** The contract of one role, derived from the config's sizes. */
export function contractFor(role: SessionRole, config: T5Config): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const names = cacheNames(config.numDecoderLayers);
  const encoderLength: DimSpec = { label: 'encoder_sequence_length' };
  const heads: DimSpec = { label: 'num_heads', size: config.numHeads };
  const dKv: DimSpec = { label: 'd_kv', size: config.dKv };
  const dModel: DimSpec = { label: 'd_model', size: config.dModel };
  const kv = (name: string, length: string): TensorSpec => ({
    name,
    type: 'float',
    dims: [batch, heads, { label: length }, dKv],
  });

  if (role === 'encoder') {
    return {
      inputs: [
        { name: 'input_ids', type: 'int64', dims: [batch, encoderLength] },
        { name: 'attention_mask', type: 'int64', dims: [batch, encoderLength] },
      ],
      outputs: [{ name: 'last_hidden_state', type: 'float', dims: [batch, encoderLength, dModel] }],
    };
  }

  const decoderInputs: TensorSpec[] = [
    { name: 'encoder_attention_mask', type: 'int64', dims: [batch, encoderLength] },
    { name: 'input_ids', type: 'int64', dims: [batch, { label: 'decoder_sequence_length' }] },
    { name: 'encoder_hidden_states', type: 'float', dims: [batch, encoderLength, dModel] },
  ];
  const pastInputs = [
    ...names.pastDecoder.map((name) => kv(name, 'past_decoder_sequence_length')),
    ...names.pastEncoder.map((name) => kv(name, 'encoder_sequence_length_out')),
  ];
  const logits: TensorSpec = {
    name: 'logits',
    type: 'float',
    dims: [batch, { label: 'decoder_sequence_length' }, { label: 'vocab_size', size: config.vocabSize }],
  };
  const presentDecoder = names.presentDecoder.map((name) => kv(name, 'past_decoder_sequence_length + 1'));
  const presentEncoder = names.presentEncoder.map((name) => kv(name, 'encoder_sequence_length_out'));

  switch (role) {
    case 'merged-decoder':
      return {
        inputs: [...decoderInputs, ...pastInputs, { name: 'use_cache_branch', type: 'bool', dims: [{ label: '1', size: 1 }] }],
        outputs: [logits, ...presentDecoder, ...presentEncoder],
      };
    case 'decoder':
      return { inputs: decoderInputs, outputs: [logits, ...presentDecoder, ...presentEncoder] };
    case 'decoder-with-past': {
      // Cross-attention keys and values come from the past inputs here, so the encoder's hidden states
      // are unused, and some exports drop the input.
      const inputs = decoderInputs.map((spec) => (spec.name === 'encoder_hidden_states' ? { ...spec, optional: true } : spec));
      return { inputs: [...inputs, ...pastInputs], outputs: [logits, ...presentDecoder] };
    }
  }
}

/**
 * Throws a `ModelFolderError` naming `file` unless `session` matches the contract of `role`.
 * Inputs must match exactly, but for the optional ones, which may be missing (the runtime cannot feed
 * an input it does not know); extra outputs are allowed and ignored.
 */
export function checkSessionContract(session: SessionSignature, role: SessionRole, config: T5Config, file: string): void {
  const { inputs, outputs } = contractFor(role, config);
  const inputMetadata = byName(session.inputMetadata);
  const outputMetadata = byName(session.outputMetadata);

  const missingInputs = inputs.filter((spec) => !spec.optional && !inputMetadata.has(spec.name));
  if (missingInputs.length > 0) {
    throw new ModelFolderError(
      file,
      `does not have the inputs of a T5 ${describeRole(role)}: missing ${listNames(missingInputs.map((spec) => spec.name))}; ` +
        `the file has inputs ${listNames(session.inputNames)}`,
    );
  }
  const known = new Set(inputs.map((spec) => spec.name));
  const unknownInputs = session.inputNames.filter((name) => !known.has(name));
  if (unknownInputs.length > 0) {
    throw new ModelFolderError(
      file,
      `has inputs the T5 ${describeRole(role)} contract does not define: ${listNames(unknownInputs)}; ` +
        `expected exactly ${listNames(inputs.map((spec) => spec.name))}`,
    );
  }
  const missingOutputs = outputs.filter((spec) => !outputMetadata.has(spec.name));
  if (missingOutputs.length > 0) {
    throw new ModelFolderError(
      file,
      `does not have the outputs of a T5 ${describeRole(role)}: missing ${listNames(missingOutputs.map((spec) => spec.name))}; ` +
        `the file has outputs ${listNames(session.outputNames)}`,
    );
  }
  for (const spec of inputs) {
    const metadata = inputMetadata.get(spec.name);
    if (metadata !== undefined) checkTensor(file, 'input', spec, metadata);
  }
  for (const spec of outputs) checkTensor(file, 'output', spec, outputMetadata.get(spec.name)!);
  checkOneFloatType(file, [...inputs, ...outputs], [...inputMetadata.values(), ...outputMetadata.values()]);
}

/** Every float tensor of the contract has the type of the first one (float32 or float16). */
function checkOneFloatType(file: string, specs: readonly TensorSpec[], metadata: readonly InferenceSession.ValueMetadata[]): void {
  const types = new Map(metadata.map((entry) => [entry.name, (entry as InferenceSession.TensorValueMetadata).type]));
  const floats = specs.filter((spec) => spec.type === 'float' && types.has(spec.name));
  const first = floats[0];
  const other = floats.find((spec) => types.get(spec.name) !== types.get(first!.name));
  if (first !== undefined && other !== undefined) {
    throw new ModelFolderError(
      file,
      `\`${first.name}\` is ${types.get(first.name)} but \`${other.name}\` is ${types.get(other.name)}; ` +
        'the float inputs and outputs of one file must all be float32 or all float16',
    );
  }
}

function checkTensor(file: string, kind: 'input' | 'output', spec: TensorSpec, metadata: InferenceSession.ValueMetadata): void {
  const isFloat = (type: string) => type === 'float32' || type === 'float16';
  const declaredType = metadata.isTensor ? (metadata as InferenceSession.TensorValueMetadata).type : undefined;
  // A float tensor is expected in the float type the file declares (float32 or float16).
  const expectedType = spec.type !== 'float' ? spec.type : declaredType !== undefined && isFloat(declaredType) ? declaredType : 'float32 or float16';
  const expected = `${expectedType} [${spec.dims.map((dim) => dim.size ?? dim.label).join(', ')}]`;
  const fail = (found: string, why: string) => {
    throw new ModelFolderError(file, `${kind} \`${spec.name}\` must be ${expected}; found ${found} (${why})`);
  };
  if (!metadata.isTensor) fail('a non-tensor value', 'not a tensor');
  const tensor = metadata as InferenceSession.TensorValueMetadata;
  const found = `${tensor.type} [${tensor.shape.join(', ')}]`;
  const typeMatches = spec.type === 'float' ? isFloat(tensor.type) : tensor.type === spec.type;
  if (!typeMatches) fail(found, `element type ${tensor.type} instead of ${expectedType}`);
  // Outputs may legitimately be declared without a shape (ONNX Runtime then reports []); inputs may not,
  // since feeds are checked against them.
  if (tensor.shape.length === 0 && kind === 'output') return;
  if (tensor.shape.length !== spec.dims.length) {
    fail(found, tensor.shape.length === 0 ? 'no shape declared' : `rank ${tensor.shape.length} instead of ${spec.dims.length}`);
  }
  spec.dims.forEach((dim, axis) => {
    const declared = tensor.shape[axis];
    if (typeof declared !== 'number') return;
    if (dim.batch) fail(found, `axis ${axis} (${dim.label}) is fixed to ${declared}; it must be dynamic so sequences can be batched`);
    if (dim.size !== undefined && declared !== dim.size) {
      fail(found, `axis ${axis} (${dim.label}) is ${declared}; config.json says ${dim.size}`);
    }
  });
}

function byName(metadata: readonly InferenceSession.ValueMetadata[]): Map<string, InferenceSession.ValueMetadata> {
  return new Map(metadata.map((entry) => [entry.name, entry]));
}

function describeRole(role: SessionRole): string {
  switch (role) {
    case 'encoder':
      return 'encoder (encoder_model.onnx)';
    case 'merged-decoder':
      return 'merged decoder (decoder_model_merged.onnx)';
    case 'decoder':
      return 'decoder without past (decoder_model.onnx)';
    case 'decoder-with-past':
      return 'decoder with past (decoder_with_past_model.onnx)';
  }
}

/** Lists names for a message, shortening long lists (a 6-layer decoder has 24 cache inputs). */
function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 8).map((name) => `\`${name}\``);
  if (names.length > shown.length) shown.push(`… (${names.length} in all)`);
  return shown.length === 0 ? '(none)' : shown.join(', ');
}
