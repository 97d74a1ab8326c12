/**
 * Small helpers for running a built model folder's ONNX files directly with onnxruntime-node.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

export interface FolderConfig {
  readonly num_heads: number;
  readonly d_kv: number;
  readonly d_model: number;
  readonly num_decoder_layers: number;
  readonly vocab_size: number;
}

export function readConfig(dir: string): FolderConfig {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as FolderConfig;
}

export interface ModelSessions {
  readonly encoder: ort.InferenceSession;
  readonly decoder: ort.InferenceSession;
  readonly decoderWithPast: ort.InferenceSession;
  readonly merged: ort.InferenceSession;
}

export async function openSessions(dir: string): Promise<ModelSessions> {
  const open = (name: string) => ort.InferenceSession.create(join(dir, 'onnx', `${name}.onnx`));
  const [encoder, decoder, decoderWithPast, merged] = await Promise.all([
    open('encoder_model'),
    open('decoder_model'),
    open('decoder_with_past_model'),
    open('decoder_model_merged'),
  ]);
  return { encoder, decoder, decoderWithPast, merged };
}

export async function releaseSessions(sessions: ModelSessions): Promise<void> {
  await Promise.all(Object.values(sessions).map((session: ort.InferenceSession) => session.release()));
}

export function int64Tensor(rows: readonly (readonly number[])[]): ort.Tensor {
  const width = rows[0]!.length;
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, width]);
}

/** Right-pads id rows with 0 and returns the ids and their attention mask. */
export function padBatch(rows: readonly (readonly number[])[]): { inputIds: ort.Tensor; attentionMask: ort.Tensor } {
  const width = Math.max(...rows.map((row) => row.length));
  const padded = rows.map((row) => [...row, ...new Array<number>(width - row.length).fill(0)]);
  const mask = rows.map((row) => [...new Array<number>(row.length).fill(1), ...new Array<number>(width - row.length).fill(0)]);
  return { inputIds: int64Tensor(padded), attentionMask: int64Tensor(mask) };
}

/** The past inputs as transformers.js sends them on the first step: `[B, H, 0, d_kv]`. */
export function emptyPast(config: FolderConfig, batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of pastNames(config)) {
    feeds[name] = new ort.Tensor('float32', new Float32Array(0), [batch, config.num_heads, 0, config.d_kv]);
  }
  return feeds;
}

export function pastNames(config: FolderConfig): string[] {
  const names: string[] = [];
  for (let l = 0; l < config.num_decoder_layers; l++) {
    for (const attention of ['decoder', 'encoder']) for (const part of ['key', 'value']) names.push(`past_key_values.${l}.${attention}.${part}`);
  }
  return names;
}

/** Renames `present.*` outputs to the `past_key_values.*` inputs of the next step. */
export function presentsAsPast(outputs: ort.InferenceSession.OnnxValueMapType, keep: (name: string) => boolean = () => true): Record<string, ort.Tensor> {
  const past: Record<string, ort.Tensor> = {};
  for (const [name, value] of Object.entries(outputs)) {
    if (name.startsWith('present.') && keep(name)) past[name.replace('present.', 'past_key_values.')] = value as ort.Tensor;
  }
  return past;
}

export function data(tensor: ort.OnnxValue): Float32Array {
  return (tensor as ort.Tensor).data as Float32Array;
}

export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

export function argmax(values: Float32Array, offset = 0, length = values.length - offset): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}

export const useCache = (value: boolean) => new ort.Tensor('bool', [value], [1]);
