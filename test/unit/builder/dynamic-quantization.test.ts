/**
 * The q8 files are what ONNX Runtime's dynamic IntegerOps quantization makes of the fp32 ones: every
 * MatMul by a weight becomes DynamicQuantizeLinear + MatMulInteger on int8 weights with their scales, every
 * Gather from a float table reads a uint8 table and dequantizes the rows, in the merged decoder's branches
 * too, and the graph's inputs and outputs stay float32.
 */
import { describe, expect, it } from 'vitest';
import { quantizeTable, quantizeWeight } from '../../../src/builder/dynamic-quantization.js';
import { tinyModels } from '../../fixtures/models.js';
import { allGraphs, DataType, elemType, readOnnx } from './onnx-proto-reading.js';

function float32s(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes);
  return new Float32Array(copy.buffer);
}

describe('int8 weights as ONNX Runtime quantizes them (symmetric, per tensor)', () => {
  it('scale is max|W| / 127, zero point 0, values rounded half to even and kept in [-127, 127]', () => {
    const { values, scale } = quantizeWeight(Float32Array.of(-2.54, 0, 0.01, 1.27, 0.03, 0.05));
    expect(scale).toBe(Math.fround(2.54 / 127));
    expect(Array.from(values)).toEqual([-127, 0, 0, 64, 2, 2]); // 0.5 → 0, 1.5 → 2, 2.5 → 2 (ties to even)
  });

  it('an all-zero weight gets scale 1 and zeros', () => {
    const { values, scale } = quantizeWeight(new Float32Array(4));
    expect(scale).toBe(1);
    expect(Array.from(values)).toEqual([0, 0, 0, 0]);
  });
});

describe('uint8 Gather tables as ONNX Runtime quantizes them (asymmetric, per tensor)', () => {
  it('spans [min(W, 0), max(W, 0)] in 255 steps, the zero point where 0 falls, values rounded and kept in [0, 255]', () => {
    const { values, scale, zeroPoint } = quantizeTable(Float32Array.of(-1, 0, 1.55, 0.5, 0.01));
    expect(scale).toBe(Math.fround(2.55 / 255));
    expect(zeroPoint).toBe(100);
    expect(Array.from(values)).toEqual([0, 100, 255, 150, 101]);
  });

  it('keeps 0 in range for an all-positive table, and gives an all-zero one scale 1', () => {
    expect(quantizeTable(Float32Array.of(2, 4)).zeroPoint).toBe(0);
    expect(quantizeTable(new Float32Array(3))).toEqual({ values: new Uint8Array(3), scale: 1, zeroPoint: 0 });
  });
});

describe.each(['encoder_model', 'decoder_model_merged', 'decoder_model', 'decoder_with_past_model'])('%s_quantized.onnx', (file) => {
  const fp32 = readOnnx(tinyModels.dtypesRelu, `${file}.onnx`);
  const q8 = readOnnx(tinyModels.dtypesRelu, `${file}_quantized.onnx`);
  const weightsOf = (model: typeof fp32) => new Map(model.graph!.initializer!.map((tensor) => [tensor.name!, tensor]));
  const fp32Weights = weightsOf(fp32);
  const q8Weights = weightsOf(q8);

  it('has the fp32 file\'s inputs and outputs, with their float32 types', () => {
    const io = (model: typeof fp32) => [...model.graph!.input!, ...model.graph!.output!].map((value) => [value.name, elemType(value)]);
    expect(io(q8)).toEqual(io(fp32));
  });

  it('replaces every MatMul by a weight, in every graph, with DynamicQuantizeLinear + MatMulInteger and the scales', () => {
    const fp32Graphs = allGraphs(fp32.graph!);
    const q8Graphs = allGraphs(q8.graph!);
    expect(q8Graphs.length).toBe(fp32Graphs.length);
    q8Graphs.forEach((graph, index) => {
      const weightMatMuls = fp32Graphs[index]!.node!.filter((node) => node.opType === 'MatMul' && fp32Weights.has(node.input![1]!));
      const integerMatMuls = graph.node!.filter((node) => node.opType === 'MatMulInteger');
      expect(integerMatMuls.length).toBe(weightMatMuls.length);
      expect(graph.node!.some((node) => node.opType === 'MatMul' && fp32Weights.has(node.input![1]!))).toBe(false);
      const quantizers = new Set(graph.node!.filter((node) => node.opType === 'DynamicQuantizeLinear').flatMap((node) => node.output!));
      for (const node of integerMatMuls) {
        const [activation, weight, activationZeroPoint, weightZeroPoint] = node.input!;
        expect(quantizers.has(activation!) && quantizers.has(activationZeroPoint!)).toBe(true);
        expect(q8Weights.get(weight!)!.dataType).toBe(DataType.INT8);
        expect(q8Weights.get(weightZeroPoint!)!.dataType).toBe(DataType.INT8);
      }
      // Activations shared by several projections (q, k, v) are quantized once per graph.
      const quantized = graph.node!.filter((node) => node.opType === 'DynamicQuantizeLinear').map((node) => node.input![0]);
      expect(new Set(quantized).size).toBe(quantized.length);
    });
    expect(q8Graphs.flatMap((graph) => graph.node!).filter((node) => node.opType === 'MatMulInteger').length).toBeGreaterThan(0);
  });

  it('reads every float Gather table as uint8 and dequantizes the rows it gathers', () => {
    for (const graph of allGraphs(q8.graph!)) {
      const byOutput = new Map(graph.node!.flatMap((node) => node.output!.map((output) => [output, node] as const)));
      for (const node of graph.node!.filter((candidate) => candidate.opType === 'Gather')) {
        expect(fp32Weights.get(node.input![0]!)?.dataType === DataType.FLOAT).toBe(false);
        const table = q8Weights.get(node.input![0]!);
        if (table?.dataType !== DataType.UINT8) continue;
        const dequantize = graph.node!.find((candidate) => candidate.input![0] === node.output![0])!;
        expect(dequantize.opType).toBe('DequantizeLinear');
        expect(q8Weights.get(dequantize.input![2]!)!.dataType).toBe(DataType.UINT8);
        expect(byOutput.get(node.output![0]!)).toBe(node);
      }
    }
    expect([...q8Weights.values()].some((tensor) => tensor.dataType === DataType.UINT8)).toBe(true);
  });

  it('is about a quarter of the fp32 file (the weights are all of it)', () => {
    const bytes = (model: typeof fp32) => model.graph!.initializer!.reduce((sum, tensor) => sum + (tensor.rawData?.length ?? 0), 0);
    expect(bytes(q8) / bytes(fp32)).toBeLessThan(0.3);
  });

  it('stores each int8 weight once, within half a scale step of the fp32 weight, and drops the float32 copy', () => {
    const quantizedNames = [...q8Weights.keys()].filter((name) => name.endsWith('_quantized') && q8Weights.get(name)!.dataType === DataType.INT8);
    expect(quantizedNames.length).toBeGreaterThan(0);
    for (const name of quantizedNames) {
      const original = name.slice(0, -'_quantized'.length);
      const weights = float32s(fp32Weights.get(original)!.rawData!);
      const values = new Int8Array(new Uint8Array(q8Weights.get(name)!.rawData!).buffer);
      const scale = float32s(q8Weights.get(`${original}_scale`)!.rawData!)[0]!;
      expect(values.length).toBe(weights.length);
      for (let i = 0; i < weights.length; i++) expect(Math.abs(values[i]! * scale - weights[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-7);
      expect(q8Weights.has(original)).toBe(false);
    }
  });
});
