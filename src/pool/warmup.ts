// Warm-up and batch-axis rules, pure: whether a signature can batch along dimension 0 (and why
// not), the made-up inputs of a default warm-up, a sample doubled along dimension 0, and the
// check that every output's dimension 0 follows the rows. The worker runs what these build.
import { DTYPES, allocate, elementCount, type Tensor, type TypedArray } from '../tensors/dtypes.js';
import { packBatch } from '../tensors/batch.js';
import type { BatchCheck } from './protocol.js';
import { isNamedDim, type TensorSignature } from '../signature.js';

export interface SignatureLike {
  inputs: readonly TensorSignature[];
  outputs: readonly TensorSignature[];
}

/**
 * Why requests cannot be stacked along dimension 0 of this signature, or undefined when they can:
 * every input and output needs a variable dimension 0. A 0-d input, or a state tensor whose
 * batch sits elsewhere (`[2, batch, 64]`), rules it out.
 */
export function batchAxisProblem(sig: SignatureLike): string | undefined {
  const all = [...sig.inputs.map((t) => ['input', t] as const), ...sig.outputs.map((t) => ['output', t] as const)];
  const batchNames = new Set(all.map(([, t]) => t.dims[0]).filter((d): d is string => d !== undefined && isNamedDim(d)));
  for (const [kind, t] of all) {
    if (t.dims.length === 0) return `${kind} "${t.name}" is a scalar (0-d): requests cannot be stacked along dimension 0`;
    if (typeof t.dims[0] === 'string') continue;
    const at = t.dims.findIndex((d) => typeof d === 'string' && batchNames.has(d));
    const where = at > 0 ? `; its batch dimension "${t.dims[at] as string}" is dimension ${at}, not 0` : '';
    return `${kind} "${t.name}" has a fixed dimension 0 (dims ${JSON.stringify(t.dims)})${where}`;
  }
  return undefined;
}

/** Elements a made-up input may have at the larger size (16 MiB of float32): no warm-up should cost more. */
const MAX_MADE_UP_ELEMENTS = 1 << 22;

/**
 * Made-up inputs: fixed dims as declared, dimension 0 (and every dim sharing its name) 1 row,
 * other variable dims `size`, every element 1 (true for bools). Not 0: an integer input used as a
 * divisor (a sample rate, a length, a float cast to int) would divide by zero, which onnxruntime
 * answers with SIGFPE, and no thread survives that; and rows of ones tell apart a model that
 * mixes rows, where rows of zeros often do not. Undefined when an input would be too large.
 */
export function madeUpFeeds(inputs: readonly TensorSignature[], size: number): Record<string, Tensor> | undefined {
  const rowNames = new Set(inputs.map((t) => t.dims[0]).filter((d): d is string => d !== undefined && isNamedDim(d)));
  const feeds: Record<string, Tensor> = {};
  for (const s of inputs) {
    const dims = s.dims.map((d, i) => (typeof d === 'number' ? d : i === 0 || rowNames.has(d) ? 1 : size));
    const n = elementCount(dims);
    if (n > MAX_MADE_UP_ELEMENTS) return undefined;
    const data = allocate(s.dtype, n);
    const kind = DTYPES[s.dtype].kind;
    if (kind === 'bigint') (data as BigInt64Array).fill(1n);
    else if (kind === 'half') (data as Uint16Array).fill(0x3c00); // 1.0 in float16
    else (data as Exclude<TypedArray, BigInt64Array | BigUint64Array>).fill(1);
    feeds[s.name] = { dtype: s.dtype, dims, data };
  }
  return feeds;
}

/** The variable-dim sizes a default warm-up tries, in order: the smallest, then one a Conv or STFT can run on. */
export const MADE_UP_SIZES: readonly number[] = Object.freeze([1, 512]);

/** The same sample twice over along dimension 0 (what a batch of two such requests would be). */
export function doubled(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = t.dims.length === 0 ? t : packBatch([t, t]);
  return out;
}

/** Rows of a sample: dimension 0 of its first input (1 for a scalar). */
export function rowsOf(feeds: Readonly<Record<string, Tensor>>): number {
  const first = Object.values(feeds)[0];
  return first && first.dims.length > 0 ? first.dims[0]! : 1;
}

/** Outputs of one run, by name: dims and values. */
export type RunOutputs = Readonly<Record<string, { readonly dims: readonly number[]; readonly data: TypedArray }>>;

/**
 * Every output's dimension 0 must be the rows of the run, and the doubled run's rows must be the
 * single run's twice over: a model that mixes rows (an LSTM whose dimension 0 is time, a
 * reduction over the batch) stacks requests into each other's answers, so its values are compared,
 * not only its dims (floats within a tolerance: batched kernels round differently).
 */
export function checkBatchAxis(rows: number, single: RunOutputs, twice: RunOutputs): BatchCheck {
  for (const [name, one] of Object.entries(single)) {
    const two = twice[name];
    const d1 = one.dims[0];
    const d2 = two?.dims[0];
    if (d1 !== rows || d2 !== 2 * rows) {
      return {
        ok: false,
        reason: `output "${name}" has dimension 0 of ${d1 ?? 'none (0-d)'} for ${rows} row(s) and ${d2 ?? 'none (0-d)'} for ${2 * rows}: it does not follow the batch`,
      };
    }
    const n = one.data.length;
    if (two!.data.length !== 2 * n) return { ok: false, reason: `output "${name}" has ${two!.data.length} values for ${2 * rows} rows, not twice the ${n} for ${rows}` };
    for (let i = 0; i < 2 * n; i++) {
      if (!close(one.data[i % n]!, two!.data[i]!)) {
        return { ok: false, reason: `output "${name}": the same sample twice in one batch answers differently from the sample alone (rows mix, e.g. dimension 0 is not the batch)` };
      }
    }
  }
  return { ok: true };
}

function close(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === 'bigint' || typeof b === 'bigint') return a === b;
  if (Number.isNaN(a)) return Number.isNaN(b);
  return a === b || Math.abs(a - b) <= 1e-5 + 1e-3 * Math.abs(a);
}
