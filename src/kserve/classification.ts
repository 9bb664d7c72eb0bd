// Triton's classification extension: an output requested with `parameters.classification: N`
// is answered as a BYTES tensor of its N highest entries per row, each "value:index" or
// "value:index:label" (labels.txt, line i = class i), highest first, compared in the output's
// own dtype. Pure: tensors in, strings and bytes out.
import type { Tensor } from '../tensors/dtypes.js';
import { ServeError } from '../errors.js';
import { float32Text } from '../tensors/float32-text.js';
import { f16ToF32 } from '../float16.js';
import { preview } from '../preview.js';

/** Checks the parameter's form (a positive integer); whether the output has that many classes is checked against its shape. */
export function classificationCount(v: unknown, output: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new ServeError('INVALID_INPUT', `output "${output}": parameters.classification is ${preview(v)}; send a positive integer, the number of top classes to return (at most the output's classes)`);
  }
  return v;
}

/** Classes per row: the elements after the batch dimension (all of them for a model that does not batch). */
export function classesPerRow(dims: readonly number[], batched: boolean): { rows: number; classes: number } {
  const rest = batched ? dims.slice(1) : dims;
  return { rows: batched ? dims[0] ?? 1 : 1, classes: rest.reduce((a, b) => a * b, 1) };
}

/** The request's N against the output's classes: more than it has is a 400 saying how many it has. */
export function checkClassCount(n: number, classes: number, output: string): void {
  if (n > classes) {
    throw new ServeError('INVALID_INPUT', `output "${output}": parameters.classification is ${n} but the output has ${classes} classes per row; send an integer from 1 to ${classes}`);
  }
}

/** The value as text: floats as the shortest text of their own precision, integers in full. */
function valueText(t: Tensor, i: number): string {
  const v = t.data[i]!;
  if (typeof v === 'bigint') return v.toString();
  const x = t.dtype === 'float16' ? f16ToF32(v) : v;
  if (!Number.isFinite(x)) return String(x);
  return t.dtype === 'float32' || t.dtype === 'float16' ? float32Text(x) : String(x);
}

/** a ranks above b (higher value; NaN below everything; ties: the lower index first, as a stable sort would). */
function above(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === 'number' && Number.isNaN(a)) return false;
  if (typeof b === 'number' && Number.isNaN(b)) return true;
  return a > b;
}

/** Indices of the n highest of data[start, start + count), highest first. */
export function topIndices(data: ArrayLike<number | bigint>, start: number, count: number, n: number, key: (v: number | bigint) => number | bigint = (v) => v): number[] {
  const at = (i: number): number | bigint => key(data[start + i]!);
  // sorted insertion into the top n: n is small next to the classes in practice
  const top: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = at(i);
    if (top.length === n) {
      if (!above(v, at(top[n - 1]!))) continue;
      top.pop();
    }
    let j = top.length;
    while (j > 0 && above(v, at(top[j - 1]!))) j--;
    top.splice(j, 0, i);
  }
  return top;
}

export interface Classified {
  /** [rows, n], or [n] for a model that does not batch. */
  shape: number[];
  /** Row-major "value:index[:label]" strings. */
  strings: string[];
}

/** The top n classes of every row of an output tensor. */
export function classify(t: Tensor, n: number, batched: boolean, labels: readonly string[] | undefined, output: string): Classified {
  const { rows, classes } = classesPerRow(t.dims, batched);
  checkClassCount(n, classes, output);
  const key = t.dtype === 'float16' ? (v: number | bigint) => f16ToF32(v as number) : undefined;
  const strings: string[] = [];
  for (let r = 0; r < rows; r++) {
    for (const i of topIndices(t.data as ArrayLike<number | bigint>, r * classes, classes, n, key)) {
      const label = labels?.[i];
      strings.push(`${valueText(t, r * classes + i)}:${i}${label !== undefined ? `:${label}` : ''}`);
    }
  }
  return { shape: batched ? [rows, n] : [n], strings };
}

/** BYTES in the binary tensor extension: each element a 4-byte little-endian length, then its bytes. */
export function bytesTensorData(strings: readonly string[]): Buffer {
  const parts = strings.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.allocUnsafe(parts.reduce((a, p) => a + 4 + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, o);
    p.copy(out, o + 4);
    o += 4 + p.length;
  }
  return out;
}
