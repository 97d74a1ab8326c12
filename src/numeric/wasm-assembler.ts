/**
 * A minimal WebAssembly binary emitter: enough to write a few exported functions over one exported memory,
 * with the scalar and 128-bit SIMD instructions that the numeric kernels here use. Each kernel writes its
 * instructions by name through `FunctionBody`, so that its source reads like the text format; the module
 * is a handful of bytes assembled at start-up, with no toolchain and no binary checked in.
 *
 * Binary format reference: https://webassembly.github.io/spec/core/binary/ (SIMD opcodes take the 0xfd
 * prefix followed by a LEB128 opcode).
 */

/** Value type bytes. */
export const ValueType = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValueType = (typeof ValueType)[keyof typeof ValueType];

/** Single-byte opcodes (control, locals, scalar numeric). */
const Op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f64Store: 0x39,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Ctz: 0x68,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  f64Add: 0xa0,
  f32DemoteF64: 0xb6,
} as const;

/** Opcodes that follow the 0xfd SIMD prefix. */
const SimdOp = {
  v128Load: 0x00,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i8x16Shuffle: 0x0d,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f64x2ExtractLane: 0x21,
  f32x4Eq: 0x41,
  f32x4Lt: 0x43,
  f32x4Le: 0x45,
  f32x4Ge: 0x46,
  v128And: 0x4e,
  v128Bitselect: 0x52,
  f64x2PromoteLowF32x4: 0x5f,
  i32x4Bitmask: 0xa4,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Pmax: 0xeb,
  f64x2Add: 0xf0,
} as const;

const SIMD_PREFIX = 0xfd;
/** Block type of a block or loop that takes and leaves nothing on the stack. */
const EMPTY_BLOCK = 0x40;

/** Unsigned LEB128: 7 bits per byte, low bits first, high bit set on every byte but the last. */
export function unsignedLeb128(value: number): number[] {
  const bytes: number[] = [];
  let rest = value >>> 0;
  do {
    const low = rest & 0x7f;
    rest >>>= 7;
    bytes.push(rest === 0 ? low : low | 0x80);
  } while (rest !== 0);
  return bytes;
}

/** Signed LEB128 of a 32-bit integer: stops once the remaining bits are all copies of the sign bit. */
export function signedLeb128(value: number): number[] {
  const bytes: number[] = [];
  let rest = value | 0;
  for (;;) {
    const low = rest & 0x7f;
    rest >>= 7;
    const done = (rest === 0 && (low & 0x40) === 0) || (rest === -1 && (low & 0x40) !== 0);
    bytes.push(done ? low : low | 0x80);
    if (done) return bytes;
  }
}

/** A vector in the binary format: its length, then its items. */
function vector(items: readonly (readonly number[])[]): number[] {
  return [...unsignedLeb128(items.length), ...items.flat()];
}

/** A length-prefixed UTF-8 name. */
function name(text: string): number[] {
  return vector([...new TextEncoder().encode(text)].map((byte) => [byte]));
}

/** A section: its id, then its content's size, then the content. */
function section(id: number, content: readonly number[]): number[] {
  return [id, ...unsignedLeb128(content.length), ...content];
}

/** The 16 little-endian bytes of a float32 repeated in all four lanes. */
function f32x4Bytes(value: number): number[] {
  const lanes = new Float32Array([value, value, value, value]);
  return [...new Uint8Array(lanes.buffer)];
}

/** The 16 little-endian bytes of an int32 repeated in all four lanes. */
function i32x4Bytes(value: number): number[] {
  const lanes = new Int32Array([value, value, value, value]);
  return [...new Uint8Array(lanes.buffer)];
}

/**
 * The instructions of one function, written one method per instruction (names as in the text format), and
 * its locals: parameters take the first indices, `local()` declares the others.
 */
export class FunctionBody {
  private readonly code: number[] = [];
  private readonly localTypes: ValueType[] = [];

  constructor(private readonly parameterCount: number) {}

  /** Declares a local of `type` and returns its index. */
  local(type: ValueType): number {
    this.localTypes.push(type);
    return this.parameterCount + this.localTypes.length - 1;
  }

  /** The encoded body: the local declarations (one group per local), the code, and the final `end`. */
  encode(): number[] {
    const declarations = this.localTypes.map((type) => [1, type]);
    const body = [...vector(declarations), ...this.code, Op.end];
    return [...unsignedLeb128(body.length), ...body];
  }

  private op(opcode: number, ...immediates: number[]): this {
    this.code.push(opcode, ...immediates);
    return this;
  }

  private simd(opcode: number, ...immediates: number[]): this {
    this.code.push(SIMD_PREFIX, ...unsignedLeb128(opcode), ...immediates);
    return this;
  }

  // Control.
  block(): this { return this.op(Op.block, EMPTY_BLOCK); }
  loop(): this { return this.op(Op.loop, EMPTY_BLOCK); }
  end(): this { return this.op(Op.end); }
  br(depth: number): this { return this.op(Op.br, ...unsignedLeb128(depth)); }
  brIf(depth: number): this { return this.op(Op.brIf, ...unsignedLeb128(depth)); }

  // Locals.
  localGet(index: number): this { return this.op(Op.localGet, ...unsignedLeb128(index)); }
  localSet(index: number): this { return this.op(Op.localSet, ...unsignedLeb128(index)); }
  localTee(index: number): this { return this.op(Op.localTee, ...unsignedLeb128(index)); }

  // Scalar numeric and memory. A memarg is the alignment (log2 bytes) and a constant address offset.
  i32Const(value: number): this { return this.op(Op.i32Const, ...signedLeb128(value)); }
  i32Add(): this { return this.op(Op.i32Add); }
  i32And(): this { return this.op(Op.i32And); }
  i32Shl(): this { return this.op(Op.i32Shl); }
  i32GeU(): this { return this.op(Op.i32GeU); }
  /** Count of trailing zero bits (32 for 0). */
  i32Ctz(): this { return this.op(Op.i32Ctz); }
  i32Sub(): this { return this.op(Op.i32Sub); }
  i32ShrU(): this { return this.op(Op.i32ShrU); }
  f64Add(): this { return this.op(Op.f64Add); }
  f32DemoteF64(): this { return this.op(Op.f32DemoteF64); }
  f64Store(offset: number): this { return this.op(Op.f64Store, 3, ...unsignedLeb128(offset)); }

  // SIMD. Loads and stores declare byte alignment only: rows need not start on a 16-byte boundary.
  v128Load(offset: number): this { return this.simd(SimdOp.v128Load, 0, ...unsignedLeb128(offset)); }
  v128Store(offset: number): this { return this.simd(SimdOp.v128Store, 0, ...unsignedLeb128(offset)); }
  /** v128.const with `value` in all four f32 lanes. */
  f32x4Const(value: number): this { return this.simd(SimdOp.v128Const, ...f32x4Bytes(value)); }
  /** v128.const with `value` in all four i32 lanes. */
  i32x4Const(value: number): this { return this.simd(SimdOp.v128Const, ...i32x4Bytes(value)); }
  /** i8x16.shuffle of the two vectors on the stack: byte i of the result is byte `lanes[i]` of a‖b. */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16) throw new Error('i8x16.shuffle takes 16 lane indices');
    return this.simd(SimdOp.i8x16Shuffle, ...lanes);
  }
  f32x4Splat(): this { return this.simd(SimdOp.f32x4Splat); }
  f32x4ExtractLane(lane: number): this { return this.simd(SimdOp.f32x4ExtractLane, lane); }
  f64x2ExtractLane(lane: number): this { return this.simd(SimdOp.f64x2ExtractLane, lane); }
  f32x4Eq(): this { return this.simd(SimdOp.f32x4Eq); }
  f32x4Lt(): this { return this.simd(SimdOp.f32x4Lt); }
  f32x4Le(): this { return this.simd(SimdOp.f32x4Le); }
  f32x4Ge(): this { return this.simd(SimdOp.f32x4Ge); }
  v128And(): this { return this.simd(SimdOp.v128And); }
  /** v128.bitselect of (a, b, mask) on the stack: bits of a where mask is 1, of b where it is 0. */
  v128Bitselect(): this { return this.simd(SimdOp.v128Bitselect); }
  f64x2PromoteLowF32x4(): this { return this.simd(SimdOp.f64x2PromoteLowF32x4); }
  /** The sign bit of each i32 lane as bits 0..3 of an i32 (lane i at bit i). */
  i32x4Bitmask(): this { return this.simd(SimdOp.i32x4Bitmask); }
  i32x4Shl(): this { return this.simd(SimdOp.i32x4Shl); }
  i32x4Add(): this { return this.simd(SimdOp.i32x4Add); }
  f32x4Add(): this { return this.simd(SimdOp.f32x4Add); }
  f32x4Sub(): this { return this.simd(SimdOp.f32x4Sub); }
  f32x4Mul(): this { return this.simd(SimdOp.f32x4Mul); }
  /** Pseudo-maximum, lane-wise `a < b ? b : a`: one instruction on x64 and arm64, where `f32x4.max` needs several to order NaN and ±0. */
  f32x4Pmax(): this { return this.simd(SimdOp.f32x4Pmax); }
  f64x2Add(): this { return this.simd(SimdOp.f64x2Add); }
}

export interface ExportedFunction {
  /** Export name. */
  name: string;
  params: readonly ValueType[];
  results: readonly ValueType[];
  body: FunctionBody;
}

export interface ModuleSpec {
  /** Function i takes index i and type i. */
  functions: readonly ExportedFunction[];
  /** Export name of the module's own memory. */
  memoryName: string;
  /** Initial memory size in 64 KiB pages (no maximum: the host grows it). */
  memoryPages: number;
}

const SectionId = { type: 1, function: 3, memory: 5, export: 7, code: 10 } as const;
const ExportKind = { function: 0x00, memory: 0x02 } as const;
const FUNCTION_TYPE = 0x60;
const LIMITS_MIN_ONLY = 0x00;

function functionType(fn: ExportedFunction): number[] {
  return [FUNCTION_TYPE, ...vector(fn.params.map((t) => [t])), ...vector(fn.results.map((t) => [t]))];
}

/** The binary of a module with the given functions (all exported) and one memory (index 0, exported). */
export function assembleModule(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const { functions } = spec;
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d], // "\0asm"
    ...[0x01, 0x00, 0x00, 0x00], // version 1
    ...section(SectionId.type, vector(functions.map(functionType))),
    ...section(SectionId.function, vector(functions.map((_, index) => unsignedLeb128(index)))),
    ...section(SectionId.memory, vector([[LIMITS_MIN_ONLY, ...unsignedLeb128(spec.memoryPages)]])),
    ...section(
      SectionId.export,
      vector([
        ...functions.map((fn, index) => [...name(fn.name), ExportKind.function, ...unsignedLeb128(index)]),
        [...name(spec.memoryName), ExportKind.memory, 0],
      ]),
    ),
    ...section(SectionId.code, vector(functions.map((fn) => fn.body.encode()))),
  ];
  return new Uint8Array(bytes);
}
