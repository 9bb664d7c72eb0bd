// A model's signature (its inputs and outputs as onnxruntime reports them, and which dims are
// named), and matching a request's JSON inputs against it: names, ranks, fixed dims, sizes of
// at least 1, dims the model names alike agreeing, dtypes, and rows along dimension 0.
// Pure: returns tensors or throws a ServeError. No fastify or routes, nor anything that pulls
// them: the worker's warm-up (src/pool/warmup.ts) imports isNamedDim from here.
import type { DType, Tensor } from './tensors/dtypes.js';
import { checkDimsList, fromDimsData, fromNested, shapeOf, TensorError } from './tensors/decode.js';
import { batchKey } from './tensors/batch.js';
import { ServeError } from './errors.js';
import { preview } from './preview.js';
import { isObject } from './json-shape.js';

/** One input or output as onnxruntime reports it; string dims are symbolic (e.g. "batch"). */
export interface TensorSignature {
  name: string;
  dtype: DType;
  dims: (number | string)[];
}

/**
 * A name that stands for one size wherever the model uses it. onnxruntime reports an unnamed
 * variable dim as "" (the worker turns a negative one into "-1"); converters write "?" or
 * "unk__N" for "unknown": none of those says two dims are equal.
 */
export function isNamedDim(d: number | string): d is string {
  return typeof d === 'string' && d !== '' && d !== '?' && !/^-?\d+$/.test(d) && !d.startsWith('unk__');
}

/** A model's inputs and outputs, as its workers report them once loaded. */
export interface Signature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

export interface DecodedInputs {
  tensors: Record<string, Tensor>;
  /** Rows along dimension 0 (1 for a model that does not batch). */
  rows: number;
  /** Requests batch together only when keys match. */
  key: string;
}

function isDimsData(v: unknown): v is { dims: unknown; data: unknown } {
  return isObject(v) && 'dims' in v && 'data' in v;
}

/**
 * Decodes one JSON input (nested array, or {dims, data}) into a tensor of the signature's dtype.
 * With `check`, the shape the input claims (nesting, or dims) is checked against the signature
 * first (checkShape): a deep or bombastic array is refused before anything walks or allocates
 * it. Without, any shape decodes (a model's warm-up samples, whose tensors matchInputs checks
 * afterwards), still bounded by MAX_RANK and the size of the JSON.
 */
export function decodeInput(value: unknown, sig: TensorSignature, check?: { batched: boolean }): Tensor {
  try {
    if (isDimsData(value)) {
      if (!Array.isArray(value.dims) || !Array.isArray(value.data)) {
        throw new ServeError('INVALID_INPUT', `input "${sig.name}": "dims" and "data" must both be arrays`);
      }
      checkDimsList(value.dims, sig.name);
      if (check) checkShape(value.dims, sig, check.batched);
      return fromDimsData(value.dims, value.data, sig.dtype, sig.name);
    }
    if (Array.isArray(value) || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') {
      if (check) {
        const rank = sig.dims.length;
        // rank + 1 levels tell "one too deep" from "far too deep" without walking the rest
        const claimed = shapeOf(value, rank + 1);
        if (claimed.length > rank + 1) {
          throw new ServeError('SHAPE_MISMATCH', `input "${sig.name}" is nested more than ${rank + 1} arrays deep (dims begin ${preview(claimed)}); the model expects rank ${rank}: ${describeDims(sig.dims)}`);
        }
        checkShape(claimed, sig, check.batched);
      }
      return fromNested(value, sig.dtype, sig.name);
    }
    throw new ServeError('INVALID_INPUT', `input "${sig.name}" must be a nested array or {"dims": [...], "data": [...]}`);
  } catch (err) {
    if (err instanceof TensorError) throw new ServeError(err.code, err.message);
    throw err;
  }
}

/**
 * Checks a shape against the signature: rank, fixed dims, and no dimension of size 0 (onnxruntime
 * kernels divide by dims: an empty sequence can kill the process with SIGFPE). With `batched`,
 * dimension 0 counts rows and says so. 0-d inputs (dims []) have nothing to check.
 */
export function checkShape(dims: readonly number[], sig: TensorSignature, batched: boolean): void {
  // dims print through preview: a v2 shape may list thousands
  const want = sig.dims;
  if (dims.length !== want.length) {
    throw new ServeError('SHAPE_MISMATCH', `input "${sig.name}" has rank ${dims.length} (dims ${preview(dims)}); the model expects rank ${want.length}: ${describeDims(want)}`);
  }
  for (let i = 0; i < want.length; i++) {
    const d = want[i];
    if (typeof d === 'number' && dims[i] !== d) {
      throw new ServeError('SHAPE_MISMATCH', `input "${sig.name}" has dims ${preview(dims)}; dimension ${i} must be ${d} (expected ${describeDims(want)})`);
    }
  }
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] !== 0) continue;
    if (i === 0 && batched) throw new ServeError('SHAPE_MISMATCH', `input "${sig.name}" has 0 rows; send at least one row along dimension 0`);
    const named = isNamedDim(want[i]!) ? ` ("${want[i]}")` : '';
    throw new ServeError('SHAPE_MISMATCH', `input "${sig.name}" has dims ${preview(dims)}: dimension ${i}${named} is 0; every dimension must be at least 1`);
  }
}

export function describeDims(dims: readonly (number | string)[]): string {
  return `[${dims.map((d) => (typeof d === 'number' ? String(d) : d)).join(', ')}]`;
}

export function decodeInputs(body: Record<string, unknown>, signature: readonly TensorSignature[], maxBatchSize: number): DecodedInputs {
  return matchInputs(Object.keys(body), signature, maxBatchSize, (sig, batched) => decodeInput(body[sig.name], sig, { batched }));
}

/** Where a named dim was first seen in a request: to name both inputs when another disagrees. */
interface NamedSize {
  input: string;
  dim: number;
  size: number;
}

/**
 * The checks every API shares (/v1 JSON, /v2 JSON and binary): input names against the
 * signature, each tensor (from `tensorFor`, in signature order; `batched` says whether dimension
 * 0 counts rows, for decoders that check shapes before walking) against its dims, rows along
 * dimension 0 agreeing and within maxBatchSize, dims the model names alike agreeing across
 * inputs (dimension 0 is the rows when batching); and the batch key.
 */
export function matchInputs(
  provided: readonly string[],
  signature: readonly TensorSignature[],
  maxBatchSize: number,
  tensorFor: (sig: TensorSignature, batched: boolean) => Tensor,
): DecodedInputs {
  const known = new Set(signature.map((s) => s.name));
  for (const name of provided) {
    if (!known.has(name)) throw new ServeError('INVALID_INPUT', `unknown input "${name}"; the model's inputs are: ${[...known].join(', ')}`);
  }
  const given = new Set(provided);
  const batched = maxBatchSize > 0;
  const tensors: Record<string, Tensor> = {};
  const named = new Map<string, NamedSize>();
  let rows = -1;
  const keys: string[] = [];
  for (const sig of signature) {
    if (!given.has(sig.name)) throw new ServeError('INVALID_INPUT', `missing input "${sig.name}" (${sig.dtype} ${describeDims(sig.dims)})`);
    const t = tensorFor(sig, batched);
    checkShape(t.dims, sig, batched);
    if (batched) {
      const n = t.dims[0]!;
      if (rows >= 0 && n !== rows) throw new ServeError('SHAPE_MISMATCH', `inputs disagree on the batch dimension: "${sig.name}" has ${n} rows, an earlier input has ${rows}`);
      rows = n;
    }
    for (let i = batched ? 1 : 0; i < sig.dims.length; i++) {
      const d = sig.dims[i]!;
      if (!isNamedDim(d)) continue;
      const size = t.dims[i]!;
      const first = named.get(d);
      if (!first) named.set(d, { input: sig.name, dim: i, size });
      else if (first.size !== size) throw disagree(d, first, { input: sig.name, dim: i, size });
    }
    tensors[sig.name] = t;
    keys.push(batchKey(t));
  }
  if (batched && rows > maxBatchSize) {
    throw new ServeError('BATCH_TOO_LARGE', `the request has ${rows} rows; this model takes at most ${maxBatchSize} (maxBatchSize): split it into smaller requests`);
  }
  return { tensors, rows: batched ? rows : 1, key: keys.join(';') };
}

function disagree(name: string, a: NamedSize, b: NamedSize): ServeError {
  const why = 'dimensions the model names alike must have the same size';
  if (a.input === b.input) {
    return new ServeError('SHAPE_MISMATCH', `input "${a.input}" has ${a.size} at dimension ${a.dim} and ${b.size} at dimension ${b.dim}, both named "${name}"; ${why}`);
  }
  return new ServeError(
    'SHAPE_MISMATCH',
    `inputs "${a.input}" and "${b.input}" disagree on dimension "${name}": "${a.input}" has ${a.size} (dimension ${a.dim}), "${b.input}" has ${b.size} (dimension ${b.dim}); ${why}`,
  );
}
