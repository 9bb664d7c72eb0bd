// Packing tensors along dimension 0 into one batch, slicing a batch's outputs back into
// per-request views, and the key under which requests may share a batch.
import { allocate, type Tensor, type TypedArray } from './dtypes.js';

/**
 * Concatenates tensors along dimension 0 into one freshly allocated array (ordinary
 * ArrayBuffer, ready to transfer: onnxruntime rejects SharedArrayBuffer views).
 */
export function packBatch(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new Error('packBatch needs at least one tensor');
  if (first.dims.length === 0) {
    // a 0-d input (a model that does not batch): one request, copied so that its buffer can be transferred
    if (parts.length !== 1) throw new Error('packBatch: 0-d tensors cannot be stacked');
    return { dtype: first.dtype, dims: [], data: first.data.slice() as TypedArray };
  }
  let rows = 0;
  let total = 0;
  for (const p of parts) {
    if (p.dtype !== first.dtype) throw new Error(`packBatch: dtype ${p.dtype} differs from ${first.dtype}`);
    if (p.dims.length !== first.dims.length || p.dims.some((d, i) => i > 0 && d !== first.dims[i])) {
      throw new Error(`packBatch: dims ${JSON.stringify(p.dims)} differ from ${JSON.stringify(first.dims)} beyond dimension 0`);
    }
    rows += p.dims[0]!;
    total += p.data.length;
  }
  const data = allocate(first.dtype, total);
  let offset = 0;
  for (const p of parts) {
    (data as Uint8Array).set(p.data as Uint8Array, offset);
    offset += p.data.length;
  }
  return { dtype: first.dtype, dims: [rows, ...first.dims.slice(1)], data };
}

/** Splits a batch along dimension 0 into views (subarray, no copies), one per row count. */
export function sliceBatch(batch: Tensor, rowCounts: readonly number[]): Tensor[] {
  const rows = batch.dims[0] ?? 0;
  const sum = rowCounts.reduce((a, b) => a + b, 0);
  if (sum !== rows) throw new Error(`sliceBatch: row counts add up to ${sum}, batch has ${rows}`);
  const rowSize = rows === 0 ? 0 : batch.data.length / rows;
  const out: Tensor[] = [];
  let start = 0;
  for (const n of rowCounts) {
    const data = batch.data.subarray(start * rowSize, (start + n) * rowSize) as TypedArray;
    out.push({ dtype: batch.dtype, dims: [n, ...batch.dims.slice(1)], data });
    start += n;
  }
  return out;
}

/** Key under which requests may share a batch: dtype and every dimension but the first. */
export function batchKey(t: Tensor): string {
  return `${t.dtype}[${t.dims.slice(1).join(',')}]`;
}
