import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as ort from 'onnxruntime-node';
import { tinyModels } from '../../fixtures/models.js';
import { openSessions, releaseSessions, type ModelSessions } from './onnx-test-helpers.js';

// The Optimum (legacy exporter) I/O contract of docs/onnx-layout.md §2–4 for the tiny preset:
// d_model 32, 4 heads, d_kv 8, 2 decoder layers; logits width 606 (640 for the padded fixture).
type Meta = [name: string, type: string, shape: (string | number)[]];

const encoderMask: Meta = ['encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']];
const encoderStates: Meta = ['encoder_hidden_states', 'float32', ['batch_size', 'encoder_sequence_length', 32]];
const pastInputs: Meta[] = [0, 1].flatMap((l) => [
  [`past_key_values.${l}.decoder.key`, 'float32', ['batch_size', 4, 'past_decoder_sequence_length', 8]],
  [`past_key_values.${l}.decoder.value`, 'float32', ['batch_size', 4, 'past_decoder_sequence_length', 8]],
  [`past_key_values.${l}.encoder.key`, 'float32', ['batch_size', 4, 'encoder_sequence_length_out', 8]],
  [`past_key_values.${l}.encoder.value`, 'float32', ['batch_size', 4, 'encoder_sequence_length_out', 8]],
] as Meta[]);
const selfPresents = (l: number): Meta[] => [
  [`present.${l}.decoder.key`, 'float32', ['batch_size', 4, 'past_decoder_sequence_length + 1', 8]],
  [`present.${l}.decoder.value`, 'float32', ['batch_size', 4, 'past_decoder_sequence_length + 1', 8]],
];
const crossPresents = (l: number): Meta[] => [
  [`present.${l}.encoder.key`, 'float32', ['batch_size', 4, 'encoder_sequence_length_out', 8]],
  [`present.${l}.encoder.value`, 'float32', ['batch_size', 4, 'encoder_sequence_length_out', 8]],
];
const allPresents: Meta[] = [0, 1].flatMap((l) => [...selfPresents(l), ...crossPresents(l)]);

function describeMetadata(metadata: readonly ort.InferenceSession.ValueMetadata[]): Meta[] {
  return metadata.map((value) => {
    if (!value.isTensor) throw new Error(`${value.name} is not a tensor`);
    return [value.name, value.type, [...value.shape]];
  });
}

describe('ONNX files of a tiny folder, as onnxruntime-node reports them', () => {
  let sessions: ModelSessions;
  let padded: ModelSessions;
  beforeAll(async () => {
    sessions = await openSessions(tinyModels.reluUntied);
    padded = await openSessions(tinyModels.padded);
  });
  afterAll(async () => {
    await releaseSessions(sessions);
    await releaseSessions(padded);
  });

  it('encoder_model.onnx: int64 input_ids and attention_mask in, float32 last_hidden_state out', () => {
    expect(describeMetadata(sessions.encoder.inputMetadata)).toEqual([
      ['input_ids', 'int64', ['batch_size', 'encoder_sequence_length']],
      ['attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']],
    ]);
    expect(describeMetadata(sessions.encoder.outputMetadata)).toEqual([
      ['last_hidden_state', 'float32', ['batch_size', 'encoder_sequence_length', 32]],
    ]);
  });

  it('decoder_model.onnx: no past inputs; logits for every position and all four presents per layer', () => {
    expect(describeMetadata(sessions.decoder.inputMetadata)).toEqual([
      encoderMask,
      ['input_ids', 'int64', ['batch_size', 'decoder_sequence_length']],
      encoderStates,
    ]);
    expect(describeMetadata(sessions.decoder.outputMetadata)).toEqual([
      ['logits', 'float32', ['batch_size', 'decoder_sequence_length', 606]],
      ...allPresents,
    ]);
  });

  it('decoder_with_past_model.onnx: one input token plus the past; logits of length "1" and self-attention presents only', () => {
    expect(describeMetadata(sessions.decoderWithPast.inputMetadata)).toEqual([
      encoderMask,
      ['input_ids', 'int64', ['batch_size', 1]],
      encoderStates,
      ...pastInputs,
    ]);
    expect(describeMetadata(sessions.decoderWithPast.outputMetadata)).toEqual([
      ['logits', 'float32', ['batch_size', '1', 606]],
      ...selfPresents(0),
      ...selfPresents(1),
    ]);
  });

  it('decoder_model_merged.onnx: the union of the inputs plus bool use_cache_branch [1]; the no-past outputs', () => {
    expect(describeMetadata(sessions.merged.inputMetadata)).toEqual([
      encoderMask,
      ['input_ids', 'int64', ['batch_size', 'decoder_sequence_length']],
      encoderStates,
      ...pastInputs,
      ['use_cache_branch', 'bool', [1]],
    ]);
    expect(describeMetadata(sessions.merged.outputMetadata)).toEqual([
      ['logits', 'float32', ['batch_size', 'decoder_sequence_length', 606]],
      ...allPresents,
    ]);
  });

  it('declares the padded vocabulary as the logits width of the padded fixture', () => {
    for (const session of [padded.decoder, padded.decoderWithPast, padded.merged]) {
      expect(describeMetadata(session.outputMetadata)[0]![2][2]).toBe(640);
    }
  });
});
