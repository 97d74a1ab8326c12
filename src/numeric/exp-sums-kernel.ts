/**
 * Σ exp(z − max) and Σ exp(z − max)·(z − max) over a row in WebAssembly SIMD: the same two numbers as
 * `exponentialSums` (softmax-basis.ts), several times faster on a vocabulary-wide row, because a `Math.exp`
 * call per score is what a JavaScript loop spends its time on (figures: bench/README.md; measured by
 * bench/exp-sums-bench.ts).
 *
 * Four lanes at a time in float32: x = z − max; exp(x) by range reduction x = n·ln2 + r (|r| ≤ ln2/2), a
 * degree-5 polynomial for exp(r) (relative error ≤ 1.7e-7, exact at 0), and 2^n built in the exponent bits. Lanes with
 * x outside [−87.3, 88] get weight 0: −inf, +inf and NaN scores (x is ±inf or NaN) and weights that would be
 * subnormal in float32 (< 1.2e-38, nothing against the maximum's weight of 1). Each lane's terms are summed
 * eight at a time in float32 and then accumulated in float64, so a long row loses no more than a few float32
 * roundings per term.
 *
 * A second function finds the row's finite maximum over the same copy (`summarize`), so that a caller that
 * needs both copies the row once and skips the JS scan for the maximum, which costs more than the sums.
 * A third finds the first entry equal to a value, so that greedy selection's token (the first id of the
 * finite maximum) also comes from SIMD passes: the copy and both passes take a fraction of a JavaScript scan
 * of the row, which runs between two decoder runs for every stream.
 */
import { assembleModule, FunctionBody, ValueType } from './wasm-assembler.js';

export interface ExpSumsKernel {
  /** Σ exp(z − max) and Σ exp(z − max)·(z − max) over the finite entries of `row`; `max` finite. Writes [sum, weighted] into `out`. */
  sums(row: Float32Array, max: number, out: Float64Array): void;
  /**
   * The largest finite entry of `row` (neither NaN nor ±Infinity), −Infinity when none, and — when there is
   * one — Σ exp(z − max) and Σ exp(z − max)·(z − max) in `out`, exactly as `sums(row, max, out)` would give
   * with that max; `out` untouched otherwise. One copy of the row into wasm memory serves both passes.
   */
  summarize(row: Float32Array, out: Float64Array): number;
  /**
   * The first index of the largest finite entry of `row`, −1 when there is none: exactly `argmaxOfFinite`'s
   * rule (selection/argmax.ts), +0 and −0 counting as equal.
   */
  argmax(row: Float32Array): number;
  /**
   * `summarize` and `argmax` over one copy of the row: returns the first index of the finite maximum (−1
   * when there is none, `out` then untouched); `out` gets [sum, weighted, max] (it must hold three).
   */
  summarizeWithArgmax(row: Float32Array, out: Float64Array): number;
}

/** Memory layout: the two float64 results at 0, the row from ROW_OFFSET (a cache line in). */
const RESULT_OFFSET = 0;
const ROW_OFFSET = 64;
/** Entries per loop iteration: four vectors. The kernel pads the row with up to this many −inf in place. */
const BLOCK = 16;
const PADDING_BYTES = 4 * BLOCK;
const PAGE_BYTES = 65_536;

const LOG2_E = 1.4426950408889634;
/** ln 2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits, so n·LN2_HI and x − n·LN2_HI are exact. */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
/** Adding 1.5·2^23 rounds a float32 of magnitude < 2^22 to an integer, held in the low mantissa bits. */
const ROUNDING_MAGIC = 12_582_912;
/** exp(x) for x below this would need 2^n with n < −126 (subnormal); such lanes weigh 0. */
const UNDERFLOW_BOUND = -87.3;
/** Above this, exp(x) would overflow float32; only reachable when `max` is not the row's maximum. */
const OVERFLOW_BOUND = 88;
/**
 * exp(r) ≈ 1 + c1·r + … + c5·r⁵ on |r| ≤ ln2/2: c1..c5 the minimax fit for relative error with the
 * constant term held at exactly 1 (9.1e-8; 1.7e-7 with float32 Horner evaluation), so that the maximum's
 * weight is exactly 1 and a one-hot row has entropy 0 and log-probability 0. As float32 values, from the
 * highest power down.
 */
const EXP_POLYNOMIAL = [
  0.008290315046906471, 0.04189793020486832, 0.1666763573884964, 0.4999915063381195, 0.9999997019767761, 1,
] as const;

/** Bytes 8..15 of a vector moved to bytes 0..7 (its f32 lanes 2 and 3 to lanes 0 and 1). */
const HIGH_HALF_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15] as const;
/** Bytes 4..7 of a vector moved to bytes 0..3 (its f32 lane 1 to lane 0; the other lanes are not read). */
const SECOND_LANE_TO_FIRST = [4, 5, 6, 7, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] as const;
const VECTORS_PER_BLOCK = BLOCK / 4;

/** The row's locals, shared by both functions: parameters `ptr` and `len`, then `end`. */
interface RowLocals {
  ptr: number;
  len: number;
  end: number;
}

/** Locals of the sums function; parameters first. */
interface Locals extends RowLocals {
  max: number;
  maxSplat: number;
  sumAcc: number;
  weightedAcc: number;
  x: number;
  rounded: number;
  n: number;
  r: number;
  valid: number;
  weight: number;
  /** Weights and weighted terms of the four vectors of one block. */
  weights: number[];
  weighted: number[];
}

function declareLocals(body: FunctionBody): Locals {
  const v128 = () => body.local(ValueType.v128);
  return {
    ptr: 0,
    len: 1,
    max: 2,
    end: body.local(ValueType.i32),
    maxSplat: v128(),
    sumAcc: v128(),
    weightedAcc: v128(),
    x: v128(),
    rounded: v128(),
    n: v128(),
    r: v128(),
    valid: v128(),
    weight: v128(),
    weights: Array.from({ length: VECTORS_PER_BLOCK }, v128),
    weighted: Array.from({ length: VECTORS_PER_BLOCK }, v128),
  };
}

/**
 * Writes −inf over the BLOCK floats after the row, then sets `end` to the row's end rounded up to a whole
 * block: the loop then runs over whole blocks, and the padding weighs 0 like any −inf score.
 */
function emitPadding(body: FunctionBody, l: RowLocals): void {
  // end = ptr + 4·len (the first byte past the row), then v128 stores of −inf from there
  body.localGet(l.ptr).localGet(l.len).i32Const(2).i32Shl().i32Add().localSet(l.end);
  for (let offset = 0; offset < PADDING_BYTES; offset += 16) {
    body.localGet(l.end).f32x4Const(-Infinity).v128Store(offset);
  }
  // end = ptr + 4·((len + BLOCK − 1) & −BLOCK)
  body.localGet(l.ptr).localGet(l.len).i32Const(BLOCK - 1).i32Add().i32Const(-BLOCK).i32And();
  body.i32Const(2).i32Shl().i32Add().localSet(l.end);
}

/**
 * For the 4 scores at ptr + offset: weight = exp(x) and weighted = exp(x)·x with x = z − max, both 0 in
 * lanes outside [UNDERFLOW_BOUND, OVERFLOW_BOUND] (so for −inf, +inf and NaN scores).
 */
function emitWeights(body: FunctionBody, l: Locals, offset: number, weight: number, weighted: number): void {
  // x = z − max
  body.localGet(l.ptr).v128Load(offset).localGet(l.maxSplat).f32x4Sub().localSet(l.x);
  // valid = UNDERFLOW_BOUND ≤ x ≤ OVERFLOW_BOUND, all ones or all zeros per lane (false for NaN)
  body.localGet(l.x).f32x4Const(UNDERFLOW_BOUND).f32x4Ge();
  body.localGet(l.x).f32x4Const(OVERFLOW_BOUND).f32x4Le();
  body.v128And().localSet(l.valid);
  // rounded = x·log2(e) + 1.5·2^23: n = round(x·log2 e) sits in the low mantissa bits of `rounded`
  body.localGet(l.x).f32x4Const(LOG2_E).f32x4Mul().f32x4Const(ROUNDING_MAGIC).f32x4Add().localTee(l.rounded);
  // n = rounded − 1.5·2^23, as a float
  body.f32x4Const(ROUNDING_MAGIC).f32x4Sub().localSet(l.n);
  // r = (x − n·LN2_HI) − n·LN2_LO = x − n·ln2, with |r| ≤ ln2/2
  body.localGet(l.x).localGet(l.n).f32x4Const(LN2_HI).f32x4Mul().f32x4Sub();
  body.localGet(l.n).f32x4Const(LN2_LO).f32x4Mul().f32x4Sub().localSet(l.r);
  // exp(r) by Horner: ((((c5·r + c4)·r + c3)·r + c2)·r + c1)·r + c0
  body.f32x4Const(EXP_POLYNOMIAL[0]);
  for (const coefficient of EXP_POLYNOMIAL.slice(1)) {
    body.localGet(l.r).f32x4Mul().f32x4Const(coefficient).f32x4Add();
  }
  // 2^n as float bits: (n + 127) << 23. The bits of `rounded` are 0x4b400000 + n; the constant part is
  // shifted out past bit 31, so (bits(rounded) + 127) << 23 is the same.
  body.localGet(l.rounded).i32x4Const(127).i32x4Add().i32Const(23).i32x4Shl();
  // exp(x) = exp(r)·2^n
  body.f32x4Mul().localSet(l.weight);
  // weight = exp(x) in valid lanes, else 0 (a bit mask, not a product: invalid lanes may hold NaN or inf)
  body.localGet(l.weight).localGet(l.valid).v128And().localSet(weight);
  // weighted = exp(x)·x in valid lanes, else 0 (masked after the product: 0·−inf would be NaN)
  body.localGet(l.weight).localGet(l.x).f32x4Mul().localGet(l.valid).v128And().localSet(weighted);
}

/**
 * acc += the 16 lanes of `terms` (four vectors) folded to 2, in float64. The fold adds 8 same-signed float32
 * terms per lane in a tree (relative error ≤ 3·2^-24), then the float64 accumulator takes it.
 */
function emitAccumulate(body: FunctionBody, accumulator: number, terms: readonly number[], scratch: number): void {
  // s = (t0 + t1) + (t2 + t3)
  body.localGet(terms[0]!).localGet(terms[1]!).f32x4Add();
  body.localGet(terms[2]!).localGet(terms[3]!).f32x4Add();
  body.f32x4Add().localTee(scratch);
  // s + s's lanes 2,3 moved to 0,1: lanes 0 and 1 hold the sums of 8 terms each
  body.localGet(scratch).localGet(scratch).i8x16Shuffle(HIGH_HALF_TO_LOW).f32x4Add();
  // acc += f64x2(lanes 0, 1)
  body.f64x2PromoteLowF32x4().localGet(accumulator).f64x2Add().localSet(accumulator);
}

/** Stores acc's lane 0 + lane 1 as a float64 at `offset`. */
function emitStoreTotal(body: FunctionBody, accumulator: number, offset: number): void {
  body.i32Const(0);
  body.localGet(accumulator).f64x2ExtractLane(0).localGet(accumulator).f64x2ExtractLane(1).f64Add();
  body.f64Store(offset);
}

/**
 * The kernel `(ptr: i32, len: i32, max: f64) -> ()`: stores [sum, weighted] as float64 at RESULT_OFFSET,
 * with x = z − f32(max) (the caller corrects for a `max` that is not a float32 value).
 */
function kernelBody(): FunctionBody {
  const body = new FunctionBody(3);
  const l = declareLocals(body);
  // maxSplat = splat(f32(max))
  body.localGet(l.max).f32DemoteF64().f32x4Splat().localSet(l.maxSplat);
  emitPadding(body, l);
  // Accumulators start at 0 (locals are zero-initialised).
  body.block().loop();
  // while (ptr < end)
  body.localGet(l.ptr).localGet(l.end).i32GeU().brIf(1);
  for (let v = 0; v < VECTORS_PER_BLOCK; v++) emitWeights(body, l, 16 * v, l.weights[v]!, l.weighted[v]!);
  emitAccumulate(body, l.sumAcc, l.weights, l.weight);
  emitAccumulate(body, l.weightedAcc, l.weighted, l.weight);
  // ptr += one block
  body.localGet(l.ptr).i32Const(4 * BLOCK).i32Add().localSet(l.ptr);
  body.br(0).end().end();
  emitStoreTotal(body, l.sumAcc, RESULT_OFFSET);
  emitStoreTotal(body, l.weightedAcc, RESULT_OFFSET + 8);
  return body;
}

/** Locals of the finite-maximum function; parameters first. */
interface MaximumLocals extends RowLocals {
  /** One running maximum per vector of a block, so that the four `pmax` chains run side by side. */
  maxima: number[];
  scratch: number;
}

function declareMaximumLocals(body: FunctionBody): MaximumLocals {
  const v128 = () => body.local(ValueType.v128);
  return {
    ptr: 0,
    len: 1,
    end: body.local(ValueType.i32),
    maxima: Array.from({ length: VECTORS_PER_BLOCK }, v128),
    scratch: v128(),
  };
}

/**
 * Pushes the 4 scores at ptr + offset with NaN and +inf lanes replaced by −inf: `z < +inf` is false exactly
 * for those, and −inf is the identity of the maximum, so the accumulation needs no NaN handling after it.
 */
function emitFiniteOrMinusInfinity(body: FunctionBody, l: MaximumLocals, offset: number): void {
  body.localGet(l.ptr).v128Load(offset).localTee(l.scratch);
  body.f32x4Const(-Infinity);
  body.localGet(l.scratch).f32x4Const(Infinity).f32x4Lt();
  body.v128Bitselect();
}

/** Pushes the maximum of the four lanes of `vector` (clobbered), as an f32. */
function emitHorizontalMaximum(body: FunctionBody, vector: number): void {
  // vector = max(vector, its lanes 2,3 moved to 0,1): lanes 0 and 1 hold the maxima of two lanes each
  body.localGet(vector);
  body.localGet(vector).localGet(vector).i8x16Shuffle(HIGH_HALF_TO_LOW).f32x4Pmax().localTee(vector);
  // max(vector, its lane 1 moved to 0): lane 0 holds the maximum of all four
  body.localGet(vector).localGet(vector).i8x16Shuffle(SECOND_LANE_TO_FIRST).f32x4Pmax();
  body.f32x4ExtractLane(0);
}

/**
 * The function `(ptr: i32, len: i32) -> f32`: the largest finite score, −inf when none (and for len 0).
 * `pmax` is a plain compare-and-select, right here because no NaN reaches it; between +0 and −0 it keeps
 * whichever its lane order gives, so the caller settles that tie (see `WasmExpSums.summarize`).
 */
function finiteMaximumBody(): FunctionBody {
  const body = new FunctionBody(2);
  const l = declareMaximumLocals(body);
  for (const maximum of l.maxima) body.f32x4Const(-Infinity).localSet(maximum);
  // The −inf padding completes the last block without changing the maximum.
  emitPadding(body, l);
  body.block().loop();
  // while (ptr < end)
  body.localGet(l.ptr).localGet(l.end).i32GeU().brIf(1);
  l.maxima.forEach((maximum, v) => {
    body.localGet(maximum);
    emitFiniteOrMinusInfinity(body, l, 16 * v);
    body.f32x4Pmax().localSet(maximum);
  });
  // ptr += one block
  body.localGet(l.ptr).i32Const(4 * BLOCK).i32Add().localSet(l.ptr);
  body.br(0).end().end();
  // scratch = max(max(m0, m1), max(m2, m3)), then its lanes folded to one
  const [m0, m1, m2, m3] = l.maxima as [number, number, number, number];
  body.localGet(m0).localGet(m1).f32x4Pmax();
  body.localGet(m2).localGet(m3).f32x4Pmax();
  body.f32x4Pmax().localSet(l.scratch);
  emitHorizontalMaximum(body, l.scratch);
  return body;
}

/** Locals of the index-of function; parameters first. */
interface IndexOfLocals extends RowLocals {
  value: number;
  start: number;
  valueSplat: number;
  matches: number;
}

/**
 * The function `(ptr: i32, len: i32, value: f32) -> i32`: the index of the first score equal to `value`
 * (`f32x4.eq`: +0 equals −0, NaN equals nothing), or an index ≥ len when none is. `value` must be finite:
 * the −inf padding would match −inf.
 */
function indexOfBody(): FunctionBody {
  const body = new FunctionBody(3);
  const l: IndexOfLocals = {
    ptr: 0,
    len: 1,
    value: 2,
    end: body.local(ValueType.i32),
    start: body.local(ValueType.i32),
    valueSplat: body.local(ValueType.v128),
    matches: body.local(ValueType.i32),
  };
  body.localGet(l.ptr).localSet(l.start);
  body.localGet(l.value).f32x4Splat().localSet(l.valueSplat);
  emitPadding(body, l);
  body.block().loop();
  // while (ptr < end), one vector at a time, leaving the loop at the first vector with a match
  body.localGet(l.ptr).localGet(l.end).i32GeU().brIf(1);
  body.localGet(l.ptr).v128Load(0).localGet(l.valueSplat).f32x4Eq().i32x4Bitmask().localTee(l.matches).brIf(1);
  body.localGet(l.ptr).i32Const(16).i32Add().localSet(l.ptr);
  body.br(0).end().end();
  // (ptr − start) / 4 + the first matching lane; with no match, ptr = end and ctz(0) = 32: past the row
  body.localGet(l.ptr).localGet(l.start).i32Sub().i32Const(2).i32ShrU();
  body.localGet(l.matches).i32Ctz().i32Add();
  return body;
}

function kernelModuleBytes(): Uint8Array<ArrayBuffer> {
  return assembleModule({
    functions: [
      { name: 'sums', params: [ValueType.i32, ValueType.i32, ValueType.f64], results: [], body: kernelBody() },
      {
        name: 'finiteMaximum',
        params: [ValueType.i32, ValueType.i32],
        results: [ValueType.f32],
        body: finiteMaximumBody(),
      },
      {
        name: 'indexOf',
        params: [ValueType.i32, ValueType.i32, ValueType.f32],
        results: [ValueType.i32],
        body: indexOfBody(),
      },
    ],
    memoryName: 'memory',
    memoryPages: 1,
  });
}

type KernelFunction = (ptr: number, len: number, max: number) => void;
type MaximumFunction = (ptr: number, len: number) => number;
type IndexOfFunction = (ptr: number, len: number, value: number) => number;

/** One instance: its memory holds the longest row seen so far, and the views follow the memory's growth. */
class WasmExpSums implements ExpSumsKernel {
  private rowView: Float32Array;
  private resultView: Float64Array;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly kernel: KernelFunction,
    private readonly maximum: MaximumFunction,
    private readonly indexOfValue: IndexOfFunction,
  ) {
    this.rowView = this.viewRow();
    this.resultView = this.viewResults();
  }

  sums(row: Float32Array, max: number, out: Float64Array): void {
    this.copyIn(row);
    this.sumsOfCopiedRow(row.length, max, out);
  }

  summarize(row: Float32Array, out: Float64Array): number {
    this.copyIn(row);
    const max = this.firstZeroIfZero(row, this.maximum(ROW_OFFSET, row.length));
    if (max !== -Infinity) this.sumsOfCopiedRow(row.length, max, out);
    return max;
  }

  argmax(row: Float32Array): number {
    this.copyIn(row);
    const max = this.maximum(ROW_OFFSET, row.length);
    return max === -Infinity ? -1 : this.indexOfCopied(row.length, max);
  }

  summarizeWithArgmax(row: Float32Array, out: Float64Array): number {
    const max = this.summarize(row, out);
    if (max === -Infinity) return -1;
    out[2] = max;
    return this.indexOfCopied(row.length, max);
  }

  /** `value` is a float32 (a score of the row): the comparison in float32 is then exact. */
  private indexOfCopied(length: number, value: number): number {
    const index = this.indexOfValue(ROW_OFFSET, length, value);
    return index < length ? index : -1;
  }

  /**
   * `finiteMaximum` keeps the first of equal maxima, which matters only for a maximum of ±0: the wasm maximum
   * picks +0 or −0 by lane order, so the row's first zero (`indexOf` takes −0 and +0 alike) decides the sign.
   */
  private firstZeroIfZero(row: Float32Array, max: number): number {
    return max === 0 ? row[row.indexOf(0)]! : max;
  }

  private copyIn(row: Float32Array): void {
    this.ensureCapacity(row.length);
    this.rowView.set(row);
  }

  /** The sums over the row already in wasm memory, corrected for a `max` that is not a float32 value. */
  private sumsOfCopiedRow(length: number, max: number, out: Float64Array): void {
    const maxHi = Math.fround(max);
    this.kernel(ROW_OFFSET, length, maxHi);
    const sum = this.resultView[0]!;
    const weighted = this.resultView[1]!;
    const maxLo = max - maxHi;
    if (maxLo === 0) {
      out[0] = sum;
      out[1] = weighted;
      return;
    }
    // The kernel shifted by maxHi; with z − max = x − maxLo, Σ e^(z−max) = e^(−maxLo)·Σ e^x and
    // Σ e^(z−max)·(z − max) = e^(−maxLo)·(Σ e^x·x − maxLo·Σ e^x).
    const scale = Math.exp(-maxLo);
    out[0] = scale * sum;
    out[1] = scale * (weighted - maxLo * sum);
  }

  private ensureCapacity(length: number): void {
    const needed = ROW_OFFSET + 4 * length + PADDING_BYTES;
    const available = this.memory.buffer.byteLength;
    if (needed <= available) return;
    this.memory.grow(Math.ceil((needed - available) / PAGE_BYTES));
    // Growing detaches the old buffer and every view on it.
    this.rowView = this.viewRow();
    this.resultView = this.viewResults();
  }

  private viewRow(): Float32Array {
    return new Float32Array(this.memory.buffer, ROW_OFFSET);
  }

  private viewResults(): Float64Array {
    return new Float64Array(this.memory.buffer, RESULT_OFFSET, 2);
  }
}

function instantiate(): ExpSumsKernel | undefined {
  if (typeof WebAssembly !== 'object') return undefined;
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(kernelModuleBytes());
  } catch {
    // No SIMD support: the module does not validate.
    return undefined;
  }
  const { exports } = new WebAssembly.Instance(module);
  return new WasmExpSums(
    exports.memory as WebAssembly.Memory,
    exports.sums as KernelFunction,
    exports.finiteMaximum as MaximumFunction,
    exports.indexOf as IndexOfFunction,
  );
}

let cached: { kernel: ExpSumsKernel | undefined } | undefined;

/**
 * Set to `off` in the environment, the kernel is not used and every caller takes its JavaScript loop: the
 * benchmark's ablation compares the two (`bench/ablation.ts`).
 */
export const KERNEL_SWITCH = 'STEPWISE_EXP_SUMS_KERNEL';

/**
 * The kernel, or undefined where WebAssembly SIMD is unavailable or the kernel is switched off (callers
 * fall back to the JS loop). Instantiated once, synchronously (new WebAssembly.Module / Instance), cached.
 */
export function expSumsKernel(): ExpSumsKernel | undefined {
  cached ??= { kernel: process.env[KERNEL_SWITCH] === 'off' ? undefined : instantiate() };
  return cached.kernel;
}
