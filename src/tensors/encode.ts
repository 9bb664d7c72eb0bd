// Tensors to JSON: nested arrays (toNested) and their text built directly (toJsonText, the
// /v1 and v2 answers' hot path). float32 as its shortest text, float16 decoded, bool as boolean,
// 64-bit integers exact.
import { f16ToF32 } from '../float16.js';
import type { DType, Tensor, TypedArray } from './dtypes.js';
import { FLOAT32_TEXT_MAX, FLOAT32_TEXT_SPILL, writeFloat32 } from './float32-text.js';

/** JSON-friendly element: float16 decoded, bool as boolean, 64-bit integers as numbers when exact, else strings. */
function jsonElement(dtype: DType, data: TypedArray, i: number): number | boolean | string {
  const x = data[i]!;
  if (typeof x === 'bigint') return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString();
  if (dtype === 'bool') return x !== 0;
  if (dtype === 'float16') return f16ToF32(x);
  return x;
}

/** Nested JSON array for a tensor (a scalar for rank 0). */
export function toNested(t: Tensor): unknown {
  const { dims, data, dtype } = t;
  if (dims.length === 0) return jsonElement(dtype, data, 0);
  let pos = 0;
  const build = (depth: number): unknown[] => {
    const n = dims[depth]!;
    const out = new Array<unknown>(n);
    if (depth === dims.length - 1) {
      if (dtype === 'float32' || dtype === 'float64') {
        for (let i = 0; i < n; i++) out[i] = data[pos++];
      } else {
        for (let i = 0; i < n; i++) out[i] = jsonElement(dtype, data, pos++);
      }
    } else {
      for (let i = 0; i < n; i++) out[i] = build(depth + 1);
    }
    return out;
  };
  return build(0);
}

/**
 * The JSON text of toNested(t), built directly: JSON.stringify of a nested array of 1000
 * floats costs ~100 µs on the main thread; joining each row of a typed array costs a third.
 * float32 values are written with their shortest text (float32-text.ts), not the double's
 * 17 digits: the same float32 when read back, and about half the bytes.
 */
export function toJsonText(t: Tensor): string {
  const { dims, data, dtype } = t;
  if (dtype === 'float32') return float32JsonText(dims, data as Float32Array);
  if (dtype !== 'float64') return JSON.stringify(toNested(t));
  if (dims.length === 0) return JSON.stringify(toNested(t));
  const rowLen = dims[dims.length - 1]!;
  let finite = true;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i] as number)) {
      finite = false;
      break;
    }
  }
  if (!finite) return JSON.stringify(toNested(t)); // NaN/Infinity become null, as JSON.stringify does
  let pos = 0;
  const build = (depth: number): string => {
    if (depth === dims.length - 1) {
      const row = data.subarray(pos, pos + rowLen) as Float64Array;
      pos += rowLen;
      return `[${row.join(',')}]`;
    }
    const parts = new Array<string>(dims[depth]!);
    for (let i = 0; i < parts.length; i++) parts[i] = build(depth + 1);
    return `[${parts.join(',')}]`;
  };
  return build(0);
}

/** Reused between calls (encoding is synchronous); a body larger than this gets its own buffer. */
let scratch = Buffer.allocUnsafe(64 * 1024);
let scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
const SCRATCH_MAX = 8 * 1024 * 1024;

/** Nested JSON arrays of float32 text, written as bytes and turned into one string. */
function float32JsonText(dims: readonly number[], data: Float32Array): string {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  // at most FLOAT32_TEXT_MAX + ',' per value, and '[' ']' ',' per array
  let arrays = 0;
  let rows = 1;
  for (let d = 0; d < dims.length; d++) {
    arrays += rows;
    rows *= dims[d]!;
  }
  const need = data.length * (FLOAT32_TEXT_MAX + 1) + arrays * 3 + FLOAT32_TEXT_MAX + FLOAT32_TEXT_SPILL;
  let out = scratch;
  let view = scratchView;
  if (need > out.length) {
    out = Buffer.allocUnsafe(need);
    view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    if (need <= SCRATCH_MAX) [scratch, scratchView] = [out, view];
  }
  if (dims.length === 0) return out.toString('latin1', 0, writeFloat32(data[0]!, bits[0]!, out, view, 0));
  let pos = 0;
  let i = 0;
  const last = dims.length - 1;
  const build = (depth: number): void => {
    out[pos++] = 91; // '['
    const n = dims[depth]!;
    if (depth === last) {
      pos = writeRow(data, bits, i, n, out, view, pos);
      i += n;
    } else {
      for (let k = 0; k < n; k++) {
        if (k > 0) out[pos++] = 44; // ','
        build(depth + 1);
      }
    }
    out[pos++] = 93; // ']'
  };
  build(0);
  return out.toString('latin1', 0, pos);
}

function writeRow(data: Float32Array, bits: Uint32Array, start: number, n: number, out: Uint8Array, view: DataView, pos: number): number {
  for (let k = start; k < start + n; k++) {
    if (k > start) out[pos++] = 44; // ','
    pos = writeFloat32(data[k]!, bits[k]!, out, view, pos);
  }
  return pos;
}
