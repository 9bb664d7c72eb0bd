// JSON to tensors: nested arrays (shape inferred) and {dims, data}, checked to be rectangular,
// within MAX_RANK and within the dtype's range before anything is allocated from a claimed
// shape. Pure: throws TensorError, which the caller maps to its own error (signature.ts to a ServeError).
import { f32ToF16 } from '../float16.js';
import { preview } from '../preview.js';
import { DTYPES, allocate, elementCount, type DType, type Tensor, type TypedArray } from './dtypes.js';

/** Thrown for input a client must fix; the route maps `code` to the error catalogue. */
export class TensorError extends Error {
  /** What is wrong, without the `input "<name>"` that starts the message: for callers that name the input their own way. */
  readonly detail: string;
  constructor(readonly code: 'INVALID_INPUT' | 'SHAPE_MISMATCH' | 'DTYPE_MISMATCH', message: string, detail = message) {
    super(message);
    this.detail = detail;
  }
}

/** A TensorError whose message is `input "<name>" <detail>`. */
function inputError(code: TensorError['code'], name: string, detail: string): TensorError {
  return new TensorError(code, `input "${name}" ${detail}`, detail);
}

/**
 * Deepest nesting the decoders walk. Each walk recurses once per dimension, and JSON nests far
 * deeper than any model's rank (20,000 levels fit in a small body and overflow the stack).
 */
export const MAX_RANK = 256;

/**
 * The shape a nested JSON array claims, read along its first elements, at most `limit` + 1
 * dims long (one more than the limit tells the caller it is deeper). Iterative: no stack.
 * The claim is not the truth: checkRectangular compares it with every inner array.
 */
export function shapeOf(value: unknown, limit = MAX_RANK): number[] {
  const dims: number[] = [];
  let v = value;
  while (Array.isArray(v) && dims.length <= limit) {
    dims.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return dims;
}

function tooDeep(name: string): never {
  throw inputError('SHAPE_MISMATCH', name, `is nested more than ${MAX_RANK} arrays deep; no model input has that many dimensions`);
}

function ragged(name: string, dims: readonly number[], depth: number): never {
  throw inputError('SHAPE_MISMATCH', name, `is ragged: expected ${dims[depth]} elements at depth ${depth}, every row must have the same length and depth`);
}

/**
 * Checks that every array above the leaves has the length `dims` claims, without touching a
 * leaf: one visit per inner array. Afterwards prod(dims) is the real number of leaf slots, so
 * allocating it is bounded by the body; a "shape bomb" (a first-element chain claiming
 * 70,000 × 70,000) fails here instead of in `new Float32Array`. Recursion is bounded by
 * dims.length (callers keep it within MAX_RANK or the model's rank).
 */
export function checkRectangular(value: unknown, dims: readonly number[], name = 'input'): void {
  const last = dims.length - 1;
  if (last < 0) return;
  const walk = (v: unknown, depth: number): void => {
    if (!Array.isArray(v) || v.length !== dims[depth]) ragged(name, dims, depth);
    if (depth === last) return;
    const a = v as unknown[];
    for (let i = 0; i < a.length; i++) walk(a[i], depth + 1);
  };
  walk(value, 0);
}

/**
 * Flattens a nested array, checking it is rectangular with the given dims; call checkRectangular
 * first (the flat array is allocated from dims). The checked path only: for its error messages.
 */
function flattenChecked(value: unknown, dims: readonly number[], name: string): unknown[] {
  if (dims.length === 0) return [value];
  const flat = new Array<unknown>(elementCount(dims));
  let pos = 0;
  const last = dims.length - 1;
  const walk = (v: unknown, depth: number): void => {
    if (!Array.isArray(v) || v.length !== dims[depth]) ragged(name, dims, depth);
    const a = v as unknown[];
    if (depth === last) {
      for (let i = 0; i < a.length; i++) {
        const x = a[i];
        if (Array.isArray(x)) ragged(name, dims, depth + 1);
        flat[pos++] = x;
      }
    } else {
      for (let i = 0; i < a.length; i++) walk(a[i], depth + 1);
    }
  };
  walk(value, 0);
  return flat;
}

/** Magnitudes from here up round to Infinity in float32 (half-way from the largest float32 to 2^128). */
const F32_OVERFLOW = 3.4028235677973366e38;

// The hot path: one walk straight into the typed array, no intermediate array. Each row filler
// converts a row of leaves as fromJsonValues does and returns the next position, or -1 at the
// first leaf it does not expect; the caller then starts over on the checked path, whose error
// names the problem. A filler of its own keeps each float loop's stores monomorphic.
type RowFill = (row: unknown[], out: TypedArray, pos: number) => number;

function float32Row(row: unknown[], out: Float32Array, pos: number): number {
  for (let i = 0; i < row.length; i++) {
    const x = row[i];
    if (typeof x !== 'number' || x >= F32_OVERFLOW || x <= -F32_OVERFLOW) return -1;
    out[pos++] = x;
  }
  return pos;
}

function float64Row(row: unknown[], out: Float64Array, pos: number): number {
  for (let i = 0; i < row.length; i++) {
    const x = row[i];
    if (typeof x !== 'number' || x === Infinity || x === -Infinity) return -1; // JSON.parse reads 1e400 as Infinity
    out[pos++] = x;
  }
  return pos;
}

function halfRow(row: unknown[], out: Uint16Array, pos: number): number {
  for (let i = 0; i < row.length; i++) {
    const x = row[i];
    if (typeof x !== 'number') return -1;
    const h = f32ToF16(x);
    if ((h & 0x7fff) === 0x7c00) return -1;
    out[pos++] = h;
  }
  return pos;
}

function intRow(min: number, max: number): RowFill {
  return (row, out, pos) => {
    const o = out as Int32Array;
    for (let i = 0; i < row.length; i++) {
      const x = row[i];
      if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) return -1;
      o[pos++] = x;
    }
    return pos;
  };
}

function bigintRow(lo: bigint, hi: bigint): RowFill {
  return (row, out, pos) => {
    const o = out as BigInt64Array;
    for (let i = 0; i < row.length; i++) {
      const x = row[i];
      let b: bigint;
      if (typeof x === 'number' && Number.isSafeInteger(x)) b = BigInt(x);
      else if (typeof x === 'string' && /^-?\d+$/.test(x)) b = BigInt(x);
      else return -1;
      if (b < lo || b >= hi) return -1;
      o[pos++] = b;
    }
    return pos;
  };
}

function boolRow(row: unknown[], out: Uint8Array, pos: number): number {
  for (let i = 0; i < row.length; i++) {
    const x = row[i];
    if (x === true || x === 1) out[pos++] = 1;
    else if (x === false || x === 0) out[pos++] = 0;
    else return -1;
  }
  return pos;
}

const ROW_FILL: Readonly<Record<DType, RowFill>> = Object.freeze({
  float32: float32Row as RowFill,
  float64: float64Row as RowFill,
  float16: halfRow as RowFill,
  int8: intRow(-128, 127),
  uint8: intRow(0, 255),
  int16: intRow(-32768, 32767),
  uint16: intRow(0, 65535),
  int32: intRow(-2147483648, 2147483647),
  uint32: intRow(0, 4294967295),
  int64: bigintRow(-(2n ** 63n), 2n ** 63n),
  uint64: bigintRow(0n, 2n ** 64n),
  bool: boolRow as RowFill,
});

/**
 * Fills `out` (prod(dims) elements) from a rectangular array of dims (rank >= 1) in one walk;
 * false at anything unusual (a bad value, a ragged row), and the caller takes the checked path.
 */
function fill(value: unknown, dims: readonly number[], dtype: DType, out: TypedArray): boolean {
  const rowFill = ROW_FILL[dtype];
  let pos = 0;
  const last = dims.length - 1;
  const walk = (v: unknown, depth: number): boolean => {
    if (!Array.isArray(v) || v.length !== dims[depth]) return false;
    if (depth === last) {
      pos = rowFill(v, out, pos);
      return pos >= 0;
    }
    for (let i = 0; i < v.length; i++) if (!walk(v[i], depth + 1)) return false;
    return true;
  };
  return walk(value, 0);
}

/** Converts flat JSON values into a typed array of `dtype`, rejecting values the dtype cannot hold. */
export function fromJsonValues(flat: readonly unknown[], dtype: DType, name = 'input'): TypedArray {
  const info = DTYPES[dtype];
  const out = new info.array(flat.length);
  const bad = (i: number, why: string): never => {
    throw inputError('DTYPE_MISMATCH', name, `element ${i} (${preview(flat[i])}) ${why} for dtype ${dtype}`);
  };
  switch (info.kind) {
    case 'float': {
      const o = out as Float32Array | Float64Array;
      for (let i = 0; i < flat.length; i++) {
        const x = flat[i];
        if (typeof x !== 'number') bad(i, 'is not a number');
        o[i] = x as number;
        if (o[i] === Infinity || o[i] === -Infinity) bad(i, 'is too large'); // JSON has no Infinity: only float32 overflow lands here
      }
      break;
    }
    case 'half': {
      const o = out as Uint16Array;
      for (let i = 0; i < flat.length; i++) {
        const x = flat[i];
        if (typeof x !== 'number') bad(i, 'is not a number');
        const h = f32ToF16(x as number);
        if ((h & 0x7fff) === 0x7c00) bad(i, 'is too large (float16 holds at most ±65504)');
        o[i] = h;
      }
      break;
    }
    case 'int': {
      const o = out as Int32Array;
      for (let i = 0; i < flat.length; i++) {
        const x = flat[i];
        if (typeof x !== 'number' || !Number.isInteger(x)) bad(i, 'is not an integer');
        if ((x as number) < info.min! || (x as number) > info.max!) bad(i, `is out of range [${info.min}, ${info.max}]`);
        o[i] = x as number;
      }
      break;
    }
    case 'bigint': {
      const o = out as BigInt64Array | BigUint64Array;
      const [lo, hi] = [BigInt(info.min!), BigInt(info.max!)];
      for (let i = 0; i < flat.length; i++) {
        const x = flat[i];
        let b: bigint;
        if (typeof x === 'number' && Number.isSafeInteger(x)) b = BigInt(x);
        else if (typeof x === 'string' && /^-?\d+$/.test(x)) b = BigInt(x); // exact beyond 2^53
        else b = bad(i, 'is not an integer (send a safe integer, or a decimal string for larger values)');
        if (b < lo || b >= hi) bad(i, 'is out of range');
        o[i] = b;
      }
      break;
    }
    case 'bool': {
      const o = out as Uint8Array;
      for (let i = 0; i < flat.length; i++) {
        const x = flat[i];
        if (x === true || x === 1) o[i] = 1;
        else if (x === false || x === 0) o[i] = 0;
        else bad(i, 'is not a boolean (true/false or 1/0)');
      }
      break;
    }
  }
  return out;
}

/** Decodes a nested JSON array (shape inferred) into a tensor. */
export function fromNested(value: unknown, dtype: DType, name = 'input'): Tensor {
  const dims = shapeOf(value);
  if (dims.length > MAX_RANK) tooDeep(name);
  checkRectangular(value, dims, name);
  if (dims.length > 0) {
    const out = allocate(dtype, elementCount(dims));
    if (fill(value, dims, dtype, out)) return { dtype, dims, data: out };
  }
  // anything unusual (a scalar, a bad value, a leaf that is an array) takes the checked path and its exact error
  return { dtype, dims, data: fromJsonValues(flattenChecked(value, dims, name), dtype, name) };
}

/** Throws unless every dim is a non-negative integer (as JSON sends them: anything may arrive). */
export function checkDimsList(dims: readonly unknown[], name = 'input'): asserts dims is readonly number[] {
  for (const d of dims) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw inputError('INVALID_INPUT', name, `dims must be non-negative integers, got ${preview(dims)}`);
  }
}

/**
 * Decodes `{dims, data}` where data is flat (or nested, flattened) and must hold prod(dims)
 * values. The count is compared before anything is allocated: prod(dims) is only a claim,
 * and so is the shape of nested data until checkRectangular has seen it.
 */
export function fromDimsData(dims: readonly number[], data: readonly unknown[], dtype: DType, name = 'input'): Tensor {
  checkDimsList(dims, name);
  const expected = elementCount(dims);
  // the usual case, flat data of the right count, in one pass; nested data or a bad value start over below
  if (data.length === expected) {
    const out = allocate(dtype, expected);
    if (fill(data, [expected], dtype, out)) return { dtype, dims: [...dims], data: out };
  }
  let flat = data;
  let nested: number[] | undefined;
  if (data.some(Array.isArray)) {
    nested = shapeOf(data);
    if (nested.length > MAX_RANK) tooDeep(name);
    checkRectangular(data, nested, name);
  }
  const count = nested ? elementCount(nested) : data.length;
  if (count !== expected) {
    throw inputError('SHAPE_MISMATCH', name, `has ${count} values but dims ${preview(dims)} need ${expected}`);
  }
  if (nested) flat = flattenChecked(data, nested, name);
  return { dtype, dims: [...dims], data: fromJsonValues(flat, dtype, name) };
}
