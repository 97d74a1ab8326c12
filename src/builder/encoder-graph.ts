/**
 * `onnx/encoder_model.onnx`: `input_ids`, `attention_mask` (int64 `[batch_size, encoder_sequence_length]`)
 * → `last_hidden_state` (float32 `[batch_size, encoder_sequence_length, d_model]`).
 */
import { GraphBuilder, InitializerStore, modelProto } from './onnx-graph.js';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { ModelSpec } from './model-spec.js';
import { T5Layers, type WeightBank } from './t5-layers.js';

export function buildEncoderModel(spec: ModelSpec, weights: WeightBank): OnnxTypes.IModelProto {
  const g = new GraphBuilder('encoder', new InitializerStore());
  const t5 = new T5Layers(g, weights, spec);
  const sequence = ['batch_size', 'encoder_sequence_length'];
  const inputIds = g.input('input_ids', { elementType: 'int64', dims: sequence });
  const attentionMask = g.input('attention_mask', { elementType: 'int64', dims: sequence });

  let hidden = t5.embed(inputIds);
  // Computed once from block 0's table and reused unchanged by every block, as in T5Stack.
  const positionBias = t5.encoderPositionBias(inputIds, attentionMask);
  for (let l = 0; l < spec.numLayers; l++) {
    const block = `encoder.block.${l}`;
    const attention = t5.attention({
      hidden: t5.layerNorm(hidden, `${block}.layer.0.layer_norm.weight`),
      prefix: `${block}.layer.0.SelfAttention`,
      bias: positionBias,
    });
    hidden = g.add(hidden, attention.output);
    hidden = g.add(hidden, t5.feedForward(t5.layerNorm(hidden, `${block}.layer.1.layer_norm.weight`), `${block}.layer.1.DenseReluDense`));
  }
  hidden = t5.layerNorm(hidden, 'encoder.final_layer_norm.weight');
  g.output(hidden, 'last_hidden_state', { elementType: 'float32', dims: [...sequence, spec.dModel] });
  return modelProto(g.toProto({ withInitializers: true }), 'T5 encoder (Optimum layout)');
}
