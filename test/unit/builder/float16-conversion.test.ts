/**
 * The fp16 files are what `convert_float_to_float16(model, keep_io_types=True)` makes of the fp32 ones:
 * float16 weights and arithmetic everywhere (the merged decoder's branches too), values clamped as the
 * converter clamps them, float32 only at the graph's edges behind Cast nodes; or, for the older kind,
 * float16 edges too.
 */
import { describe, expect, it } from 'vitest';
import { clampedFloat16Bits, FLOAT16_MAX_FINITE } from '../../../src/builder/float16-conversion.js';
import { float16Value } from '../../../src/numeric/float16.js';
import { tinyModels } from '../../fixtures/models.js';
import { allGraphs, DataType, elemType, int, readOnnx } from './onnx-proto-reading.js';

const files = ['encoder_model', 'decoder_model_merged', 'decoder_model', 'decoder_with_past_model'];

describe('float16 values as the converter stores them', () => {
  it('magnitudes above 1e4 become ±1e4 (the float32 mask minimum too), below 1e-7 become ±1e-7, 0 and ±Infinity stay', () => {
    expect(float16Value(clampedFloat16Bits(-3.4028234663852886e38))).toBe(float16Value(clampedFloat16Bits(-FLOAT16_MAX_FINITE)));
    expect(float16Value(clampedFloat16Bits(-3.4028234663852886e38))).toBeCloseTo(-1e4, 0);
    expect(float16Value(clampedFloat16Bits(5e5))).toBeCloseTo(1e4, 0);
    // 1e-7 itself is a float16 subnormal: the nearest one, 2 × 2^-24.
    expect(float16Value(clampedFloat16Bits(1e-12))).toBe(2 * 2 ** -24);
    expect(float16Value(clampedFloat16Bits(-1e-12))).toBeLessThan(0);
    expect(clampedFloat16Bits(0)).toBe(0);
    expect(float16Value(clampedFloat16Bits(Infinity))).toBe(Infinity);
    expect(float16Value(clampedFloat16Bits(0.1))).toBeCloseTo(0.1, 4);
  });
});

describe.each(files)('%s_fp16.onnx (float32 edges)', (file) => {
  const fp32 = readOnnx(tinyModels.dtypesRelu, `${file}.onnx`);
  const fp16 = readOnnx(tinyModels.dtypesRelu, `${file}_fp16.onnx`);

  it('keeps the fp32 file\'s inputs and outputs, float32 ones still float32', () => {
    const io = (model: typeof fp32) => [...model.graph!.input!, ...model.graph!.output!].map((value) => [value.name, elemType(value)]);
    expect(io(fp16)).toEqual(io(fp32));
  });

  it('casts every float32 input to float16 and every output back, named as the converter names them', () => {
    const nodes = fp16.graph!.node!;
    fp16.graph!.input!.forEach((input, i) => {
      if (elemType(input) !== DataType.FLOAT) return;
      const cast = nodes.find((node) => node.name === `graph_input_cast${i}`)!;
      expect(cast.opType).toBe('Cast');
      expect(cast.input).toEqual([input.name]);
      expect(cast.output).toEqual([`graph_input_cast_${i}`]);
      expect(int(cast.attribute![0]!.i)).toBe(DataType.FLOAT16);
    });
    fp16.graph!.output!.forEach((output, i) => {
      const cast = nodes.find((node) => node.name === `graph_output_cast${i}`)!;
      expect(cast.input).toEqual([`graph_output_cast_${i}`]);
      expect(cast.output).toEqual([output.name]);
      expect(int(cast.attribute![0]!.i)).toBe(DataType.FLOAT);
    });
  });

  it('stores every weight as float16 and computes in float16 everywhere else, branches included', () => {
    const floatInitializers = fp32.graph!.initializer!.filter((tensor) => tensor.dataType === DataType.FLOAT);
    expect(floatInitializers.length).toBeGreaterThan(0);
    const byName = new Map(fp16.graph!.initializer!.map((tensor) => [tensor.name, tensor]));
    for (const tensor of floatInitializers) {
      const converted = byName.get(tensor.name)!;
      expect(converted.dataType).toBe(DataType.FLOAT16);
      expect(converted.rawData!.length).toBe(tensor.rawData!.length / 2);
    }
    for (const graph of allGraphs(fp16.graph!)) {
      for (const node of graph.node!) {
        const isEdgeCast = /^graph_output_cast\d+$/.test(node.name ?? '');
        if (node.opType === 'Cast' && !isEdgeCast) expect(int(node.attribute![0]!.i)).not.toBe(DataType.FLOAT);
        for (const attr of node.attribute ?? []) if (attr.t) expect(attr.t.dataType).not.toBe(DataType.FLOAT);
      }
      if (graph !== fp16.graph) for (const output of graph.output!) expect(elemType(output)).toBe(DataType.FLOAT16);
    }
  });

  it('halves the file (the weights are all of it)', () => {
    const bytes = (model: typeof fp32) => model.graph!.initializer!.reduce((sum, tensor) => sum + (tensor.rawData?.length ?? 0), 0);
    expect(bytes(fp16) / bytes(fp32)).toBeGreaterThan(0.45);
    expect(bytes(fp16) / bytes(fp32)).toBeLessThan(0.6);
  });
});

describe.each(files)('%s_fp16.onnx with float16 edges (the older kind)', (file) => {
  const fp32 = readOnnx(tinyModels.fp16Io, `${file}.onnx`);
  const fp16 = readOnnx(tinyModels.fp16Io, `${file}_fp16.onnx`);

  it('declares float16 wherever the fp32 file declares float32, adds no edge casts, and keeps the names', () => {
    const io = (model: typeof fp32) => [...model.graph!.input!, ...model.graph!.output!].map((value) => value.name);
    expect(io(fp16)).toEqual(io(fp32));
    for (const value of [...fp16.graph!.input!, ...fp16.graph!.output!]) expect(elemType(value)).not.toBe(DataType.FLOAT);
    expect(fp16.graph!.output!.some((value) => elemType(value) === DataType.FLOAT16)).toBe(true);
    expect(fp16.graph!.node!.some((node) => /^graph_(in|out)put_cast/.test(node.name ?? ''))).toBe(false);
  });
});
