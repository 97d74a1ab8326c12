/**
 * The three decoder files of the Optimum layout (docs: onnx-layout.md §3–4):
 * - `decoder_model.onnx`: no cache; every position of `input_ids` gets logits (causal); outputs the
 *   self-attention and cross-attention presents.
 * - `decoder_with_past_model.onnx`: one new token on top of `past_key_values.*`; outputs the grown
 *   self-attention presents only (cross-attention keys/values are constant after step 1).
 * - `decoder_model_merged.onnx`: one `If` on `use_cache_branch` choosing between the two, weights stored
 *   once; its cache branch outputs empty `[0, H, 1, d_kv]` cross-attention presents, to be ignored.
 */
import { GraphBuilder, InitializerStore, modelProto, tensorProto, type ValueType } from './onnx-graph.js';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { ModelSpec } from './model-spec.js';
import { T5Layers, type CachedKeyValue, type WeightBank } from './t5-layers.js';

const batch = 'batch_size';
const encoderSequence = 'encoder_sequence_length';

interface LayerCache {
  readonly self: CachedKeyValue;
  readonly cross: CachedKeyValue;
}

interface DecoderInputs {
  readonly inputIds: string;
  readonly encoderHiddenStates: string;
  readonly encoderAttentionMask: string;
  /** Absent: the no-cache decoder. */
  readonly past?: readonly LayerCache[];
}

interface DecoderResult {
  readonly logits: string;
  readonly presents: readonly LayerCache[];
}

function pastName(layer: number, attention: 'decoder' | 'encoder', part: 'key' | 'value'): string {
  return `past_key_values.${layer}.${attention}.${part}`;
}

function presentName(layer: number, attention: 'decoder' | 'encoder', part: 'key' | 'value'): string {
  return `present.${layer}.${attention}.${part}`;
}

/** T5Stack (decoder) + LM head, with or without a cache. */
function decoderBody(g: GraphBuilder, t5: T5Layers, spec: ModelSpec, inputs: DecoderInputs): DecoderResult {
  const { past } = inputs;
  const newLength = g.dim(inputs.inputIds, 1);
  const one = g.int64Scalar(1);
  let queryPositions: string;
  let keyPositions: string;
  if (past === undefined) {
    queryPositions = g.range(g.int64Scalar(0), newLength, one);
    keyPositions = queryPositions;
  } else {
    // New tokens sit at absolute positions past … past+T-1 (HF `cache_position`).
    const pastLength = g.dim(past[0]!.self.key, 2);
    const totalLength = g.add(pastLength, newLength);
    queryPositions = g.range(pastLength, totalLength, one);
    keyPositions = g.range(g.int64Scalar(0), totalLength, one);
  }
  const selfBias = t5.decoderPositionBias(queryPositions, keyPositions);
  // Cross-attention has no position bias, only the encoder padding mask.
  const crossBias = t5.paddingMask(inputs.encoderAttentionMask);

  let hidden = t5.embed(inputs.inputIds);
  const presents: LayerCache[] = [];
  for (let l = 0; l < spec.numDecoderLayers; l++) {
    const block = `decoder.block.${l}`;
    const selfAttention = t5.attention({
      hidden: t5.layerNorm(hidden, `${block}.layer.0.layer_norm.weight`),
      prefix: `${block}.layer.0.SelfAttention`,
      bias: selfBias,
      ...(past === undefined ? {} : { past: past[l]!.self }),
    });
    hidden = g.add(hidden, selfAttention.output);
    const crossPrefix = `${block}.layer.1.EncDecAttention`;
    const crossAttention = t5.attention({
      hidden: t5.layerNorm(hidden, `${block}.layer.1.layer_norm.weight`),
      prefix: crossPrefix,
      bias: crossBias,
      given: past === undefined ? t5.keyValue(inputs.encoderHiddenStates, crossPrefix) : past[l]!.cross,
    });
    hidden = g.add(hidden, crossAttention.output);
    hidden = g.add(hidden, t5.feedForward(t5.layerNorm(hidden, `${block}.layer.2.layer_norm.weight`), `${block}.layer.2.DenseReluDense`));
    presents.push({ self: selfAttention, cross: { key: crossAttention.key, value: crossAttention.value } });
  }
  const logits = t5.lmHead(t5.layerNorm(hidden, 'decoder.final_layer_norm.weight'));
  return { logits, presents };
}

/** Declared types of the decoder I/O, in the legacy Optimum dim names. */
function decoderTypes(spec: ModelSpec) {
  const kv = (sequence: string | number): ValueType => ({ elementType: 'float32', dims: [batch, spec.numHeads, sequence, spec.dKv] });
  return {
    encoderAttentionMask: { elementType: 'int64', dims: [batch, encoderSequence] } as ValueType,
    inputIds: (sequence: string | number): ValueType => ({ elementType: 'int64', dims: [batch, sequence] }),
    encoderHiddenStates: { elementType: 'float32', dims: [batch, encoderSequence, spec.dModel] } as ValueType,
    logits: (sequence: string): ValueType => ({ elementType: 'float32', dims: [batch, sequence, spec.vocabSize] }),
    pastSelf: kv('past_decoder_sequence_length'),
    pastCross: kv('encoder_sequence_length_out'),
    presentSelf: kv('past_decoder_sequence_length + 1'),
    presentCross: kv('encoder_sequence_length_out'),
  };
}

/** Declares `encoder_attention_mask`, `input_ids`, `encoder_hidden_states` (in Optimum's order). */
function declareDecoderInputs(g: GraphBuilder, spec: ModelSpec, inputIdsLength: string | number): Omit<DecoderInputs, 'past'> {
  const types = decoderTypes(spec);
  const encoderAttentionMask = g.input('encoder_attention_mask', types.encoderAttentionMask);
  const inputIds = g.input('input_ids', types.inputIds(inputIdsLength));
  const encoderHiddenStates = g.input('encoder_hidden_states', types.encoderHiddenStates);
  return { inputIds, encoderHiddenStates, encoderAttentionMask };
}

function declarePastInputs(g: GraphBuilder, spec: ModelSpec): LayerCache[] {
  const types = decoderTypes(spec);
  return Array.from({ length: spec.numDecoderLayers }, (_, l) => ({
    self: { key: g.input(pastName(l, 'decoder', 'key'), types.pastSelf), value: g.input(pastName(l, 'decoder', 'value'), types.pastSelf) },
    cross: { key: g.input(pastName(l, 'encoder', 'key'), types.pastCross), value: g.input(pastName(l, 'encoder', 'value'), types.pastCross) },
  }));
}

/** `decoder_model.onnx`: no cache, logits for every decoder position, all four presents per layer. */
export function buildDecoderModel(spec: ModelSpec, weights: WeightBank): OnnxTypes.IModelProto {
  const g = new GraphBuilder('decoder', new InitializerStore());
  const types = decoderTypes(spec);
  const result = decoderBody(g, new T5Layers(g, weights, spec), spec, declareDecoderInputs(g, spec, 'decoder_sequence_length'));
  g.output(result.logits, 'logits', types.logits('decoder_sequence_length'));
  result.presents.forEach((present, l) => {
    g.output(present.self.key, presentName(l, 'decoder', 'key'), types.presentSelf);
    g.output(present.self.value, presentName(l, 'decoder', 'value'), types.presentSelf);
    g.output(present.cross.key, presentName(l, 'encoder', 'key'), types.presentCross);
    g.output(present.cross.value, presentName(l, 'encoder', 'value'), types.presentCross);
  });
  return modelProto(g.toProto({ withInitializers: true }), 'T5 decoder without cache (Optimum layout)');
}

/** `decoder_with_past_model.onnx`: one token on top of the cache; self-attention presents only. */
export function buildDecoderWithPastModel(spec: ModelSpec, weights: WeightBank): OnnxTypes.IModelProto {
  const g = new GraphBuilder('decoder_with_past', new InitializerStore());
  const types = decoderTypes(spec);
  const inputs = declareDecoderInputs(g, spec, 1);
  const past = declarePastInputs(g, spec);
  const result = decoderBody(g, new T5Layers(g, weights, spec), spec, { ...inputs, past });
  // Optimum names the length of these logits "1" (a symbolic dim forced to the single new token).
  g.output(result.logits, 'logits', types.logits('1'));
  result.presents.forEach((present, l) => {
    g.output(present.self.key, presentName(l, 'decoder', 'key'), types.presentSelf);
    g.output(present.self.value, presentName(l, 'decoder', 'value'), types.presentSelf);
  });
  return modelProto(g.toProto({ withInitializers: true }), 'T5 decoder with cache (Optimum layout)');
}

/** Names of the merged model's outputs, in order: logits, then per layer decoder key/value, encoder key/value. */
function mergedOutputNames(spec: ModelSpec): string[] {
  const names = ['logits'];
  for (let l = 0; l < spec.numDecoderLayers; l++) {
    names.push(presentName(l, 'decoder', 'key'), presentName(l, 'decoder', 'value'), presentName(l, 'encoder', 'key'), presentName(l, 'encoder', 'value'));
  }
  return names;
}

/**
 * `decoder_model_merged.onnx`: `If(use_cache_branch)` with then = the cached decoder, else = the
 * uncached one. Both branches have no formal inputs and read the outer inputs and initializers.
 */
export function buildMergedDecoderModel(spec: ModelSpec, weights: WeightBank): OnnxTypes.IModelProto {
  const store = new InitializerStore();
  const outer = new GraphBuilder('merged', store);
  const types = decoderTypes(spec);
  const inputs = declareDecoderInputs(outer, spec, 'decoder_sequence_length');
  const past = declarePastInputs(outer, spec);
  const useCacheBranch = outer.input('use_cache_branch', { elementType: 'bool', dims: [1] });

  const withPast = new GraphBuilder('with_past', store, 'with_past/');
  const cached = decoderBody(withPast, new T5Layers(withPast, weights, spec), spec, { ...inputs, past });
  // The cache branch has no cross-attention presents; like Optimum it returns empty placeholders
  // ([0, H, 1, d_kv]: static dims kept, first dynamic dim 0, later ones 1) that callers ignore.
  const placeholder = withPast.constantNode(tensorProto('empty_cross_attention_present', 'float32', [0, spec.numHeads, 1, spec.dKv], new Float32Array(0)));
  const noPast = new GraphBuilder('no_past', store, 'no_past/');
  const uncached = decoderBody(noPast, new T5Layers(noPast, weights, spec), spec, inputs);

  const names = mergedOutputNames(spec);
  const branchOutputs = (result: DecoderResult, crossPresent: (layer: number, part: 'key' | 'value') => string): string[] => {
    const values = [result.logits];
    result.presents.forEach((present, l) => values.push(present.self.key, present.self.value, crossPresent(l, 'key'), crossPresent(l, 'value')));
    return values;
  };
  const untyped = (elementType: 'float32'): ValueType => ({ elementType });
  branchOutputs(cached, () => placeholder).forEach((value, i) => withPast.output(value, names[i]!, untyped('float32')));
  branchOutputs(uncached, (l, part) => uncached.presents[l]!.cross[part]).forEach((value, i) => noPast.output(value, names[i]!, untyped('float32')));

  const ifOutputs = outer.node(
    'If',
    [useCacheBranch],
    { then_branch: { graph: withPast.toProto({ withInitializers: false }) }, else_branch: { graph: noPast.toProto({ withInitializers: false }) } },
    names.length,
  );
  const outputTypes: ValueType[] = [types.logits('decoder_sequence_length')];
  for (let l = 0; l < spec.numDecoderLayers; l++) outputTypes.push(types.presentSelf, types.presentSelf, types.presentCross, types.presentCross);
  ifOutputs.forEach((value, i) => outer.output(value, names[i]!, outputTypes[i]!));
  return modelProto(outer.toProto({ withInitializers: true }), 'T5 decoder, cached and uncached branches merged (Optimum layout)');
}
