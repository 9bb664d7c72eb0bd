// Padding for variable-length inputs (config.json "padding"): the batch key that lets requests
// of different lengths share a batch, packing them padded to the longest, and cutting each
// request's outputs back to its own length. Pure: no I/O, no onnxruntime.
import { f32ToF16 } from '../float16.js';
import { DTYPES, allocate, elementCount, type Tensor, type TypedArray } from './dtypes.js';
import { batchKey, packBatch, sliceBatch } from './batch.js';

/** How one input is padded: the dimensions (each ≥ 1, symbolic in the signature) and the value. */
export interface InputPadding {
  readonly dims: readonly number[];
  /** The pad value; a bool input's is 0 or 1. */
  readonly value: number;
}

/** An output dimension cut back per request: to the length of `input`'s dimension `inputDim`. */
export interface OutputCut {
  readonly dim: number;
  readonly input: string;
  readonly inputDim: number;
}

/** A model's padding, built at load from config.json and the signature (src/repository/padding.ts). */
export interface PaddingPlan {
  readonly inputs: Readonly<Record<string, InputPadding>>;
  /** Only outputs with a dimension to cut back are listed. */
  readonly outputs: Readonly<Record<string, readonly OutputCut[]>>;
}

/** batchKey with the padded dimensions left out (`*`): lengths there do not keep requests apart. */
export function paddedKey(t: Tensor, pad: InputPadding): string {
  return `${t.dtype}[${t.dims.slice(1).map((d, i) => (pad.dims.includes(i + 1) ? '*' : d)).join(',')}]`;
}

/** A request's batch key under a padding plan: inputs not padded keep the exact-shape rule. */
export function requestKey(tensors: Readonly<Record<string, Tensor>>, plan: PaddingPlan): string {
  const keys: string[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const pad = plan.inputs[name];
    keys.push(pad ? paddedKey(t, pad) : batchKey(t));
  }
  return keys.join(';');
}

/**
 * Concatenates tensors along dimension 0, each padded with `pad.value` up to the longest along
 * every padded dimension (a fresh ordinary ArrayBuffer, as packBatch). Other dimensions must agree.
 */
export function packPadded(parts: readonly Tensor[], pad: InputPadding): Tensor {
  const first = parts[0];
  if (!first) throw new Error('packPadded needs at least one tensor');
  const rank = first.dims.length;
  if (rank < 2) return packBatch(parts); // nothing beyond the rows to pad
  const dims = [...first.dims];
  let rows = 0;
  let ragged = false;
  for (const p of parts) {
    if (p.dtype !== first.dtype) throw new Error(`packPadded: dtype ${p.dtype} differs from ${first.dtype}`);
    if (p.dims.length !== rank) throw new Error(`packPadded: rank ${p.dims.length} differs from ${rank}`);
    rows += p.dims[0]!;
    for (let i = 1; i < rank; i++) {
      const d = p.dims[i]!;
      if (d === dims[i]) continue;
      if (!pad.dims.includes(i)) throw new Error(`packPadded: dims ${JSON.stringify(p.dims)} differ from ${JSON.stringify(first.dims)} at dimension ${i}, which is not padded`);
      ragged = true;
      if (d > dims[i]!) dims[i] = d;
    }
  }
  if (!ragged) return packBatch(parts);
  dims[0] = rows;
  const data = allocate(first.dtype, elementCount(dims));
  fill(data, first.dtype, pad.value);
  let row = 0;
  for (const p of parts) {
    copyBlock(p.data, p.dims, data, dims, p.dims, row);
    row += p.dims[0]!;
  }
  return { dtype: first.dtype, dims, data };
}

function fill(data: TypedArray, dtype: Tensor['dtype'], value: number): void {
  const kind = DTYPES[dtype].kind;
  if (kind === 'bigint') (data as BigInt64Array).fill(BigInt(value));
  else if (kind === 'half') (data as Uint16Array).fill(f32ToF16(value));
  else if (kind === 'bool') (data as Uint8Array).fill(value ? 1 : 0);
  else (data as Float64Array).fill(value);
}

/**
 * Copies the block `block` (dims, no larger than either) from the start of `src` (row major,
 * dims `srcDims`) into `dst` (dims `dstDims`) at row `dstRow` of dimension 0, one contiguous run
 * of the last dimension at a time: padding copies a whole part into a larger batch, cropping
 * the start of a part into a smaller tensor.
 */
function copyBlock(src: TypedArray, srcDims: readonly number[], dst: TypedArray, dstDims: readonly number[], block: readonly number[], dstRow: number): void {
  const rank = block.length;
  const total = elementCount(block);
  if (total === 0) return;
  const strides = (d: readonly number[]): number[] => {
    const s = new Array<number>(rank).fill(1);
    for (let i = rank - 2; i >= 0; i--) s[i] = s[i + 1]! * d[i + 1]!;
    return s;
  };
  const srcStrides = strides(srcDims);
  const dstStrides = strides(dstDims);
  const run = block[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  for (let r = total / run; r > 0; r--) {
    let s = 0;
    let d = dstRow * dstStrides[0]!;
    for (let i = 0; i < rank - 1; i++) {
      s += idx[i]! * srcStrides[i]!;
      d += idx[i]! * dstStrides[i]!;
    }
    (dst as Uint8Array).set((src as Uint8Array).subarray(s, s + run), d);
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i]! < block[i]!) break;
      idx[i] = 0;
    }
  }
}

/**
 * Splits a batch's output along dimension 0 (rowCounts, as sliceBatch), then cuts each part back
 * along every cut dimension to its request's own length, read from that request's inputs. A
 * dimension whose size is not the batch's padded length (the longest request's) is left whole:
 * the output does not follow that input there, whatever its name says. A part that needs no
 * cut stays a view; a cut one is a copy.
 */
export function slicePadded(
  output: Tensor,
  rowCounts: readonly number[],
  cuts: readonly OutputCut[],
  requests: readonly Readonly<Record<string, Tensor>>[],
): Tensor[] {
  const parts = sliceBatch(output, rowCounts);
  const live = cuts.filter((c) => c.dim > 0 && c.dim < output.dims.length && output.dims[c.dim] === Math.max(...requests.map((r) => lengthOf(r, c))));
  if (!live.length) return parts;
  return parts.map((part, j) => {
    const dims = [...part.dims];
    for (const c of live) dims[c.dim] = lengthOf(requests[j]!, c);
    if (dims.every((d, i) => d === part.dims[i])) return part;
    const data = allocate(part.dtype, elementCount(dims));
    copyBlock(part.data, part.dims, data, dims, dims, 0);
    return { dtype: part.dtype, dims, data };
  });
}

function lengthOf(inputs: Readonly<Record<string, Tensor>>, c: OutputCut): number {
  const t = inputs[c.input];
  if (!t) throw new Error(`slicePadded: a request has no input "${c.input}"`);
  return t.dims[c.inputDim]!;
}
