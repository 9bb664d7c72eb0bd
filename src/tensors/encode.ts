// Tensors to JSON: nested arrays (toNested) and their text built directly (toJsonText, the
// /v1 and v2 answers' hot path). float16 decoded, bool as boolean, 64-bit integers exact.
import { f16ToF32 } from '../float16.js';
import type { DType, Tensor, TypedArray } from './dtypes.js';

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
 */
export function toJsonText(t: Tensor): string {
  const { dims, data, dtype } = t;
  if (dtype !== 'float32' && dtype !== 'float64') return JSON.stringify(toNested(t));
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
      const row = data.subarray(pos, pos + rowLen) as Float32Array;
      pos += rowLen;
      return `[${row.join(',')}]`;
    }
    const parts = new Array<string>(dims[depth]!);
    for (let i = 0; i < parts.length; i++) parts[i] = build(depth + 1);
    return `[${parts.join(',')}]`;
  };
  return build(0);
}
