// Matches a request's JSON inputs against a model's signature: names, ranks, fixed dims,
// dtypes, and rows along dimension 0. Pure: returns tensors or throws a ServeError.
import { fromDimsData, fromNested, batchKey, TensorError, type Tensor } from './tensors.js';
import type { TensorSignature } from './pool/protocol.js';
import { ServeError } from './errors.js';

export interface DecodedInputs {
  tensors: Record<string, Tensor>;
  /** Rows along dimension 0 (1 for a model that does not batch). */
  rows: number;
  /** Requests batch together only when keys match. */
  key: string;
}

function isDimsData(v: unknown): v is { dims: unknown; data: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'dims' in v && 'data' in v;
}

/** Decodes one JSON input (nested array, or {dims, data}) into a tensor of the signature's dtype. */
export function decodeInput(value: unknown, sig: TensorSignature): Tensor {
  try {
    if (isDimsData(value)) {
      if (!Array.isArray(value.dims) || !Array.isArray(value.data)) {
        throw new ServeError('INVALID_INPUT', `input "${sig.name}": "dims" and "data" must both be arrays`);
      }
      return fromDimsData(value.dims as number[], value.data, sig.dtype, sig.name);
    }
    if (Array.isArray(value) || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') {
      return fromNested(value, sig.dtype, sig.name);
    }
    throw new ServeError('INVALID_INPUT', `input "${sig.name}" must be a nested array or {"dims": [...], "data": [...]}`);
  } catch (err) {
    if (err instanceof TensorError) throw new ServeError(err.code, err.message);
    throw err;
  }
}

/** Checks a tensor's dims against the signature; `batched` lets dimension 0 vary. */
export function checkDims(t: Tensor, sig: TensorSignature): void {
  const want = sig.dims;
  if (t.dims.length !== want.length) {
    throw new ServeError('SHAPE_MISMATCH', `input "${sig.name}" has rank ${t.dims.length} (dims ${JSON.stringify(t.dims)}); the model expects rank ${want.length}: ${describeDims(want)}`);
  }
  want.forEach((d, i) => {
    if (typeof d === 'number' && t.dims[i] !== d) {
      throw new ServeError('SHAPE_MISMATCH', `input "${sig.name}" has dims ${JSON.stringify(t.dims)}; dimension ${i} must be ${d} (expected ${describeDims(want)})`);
    }
  });
}

export function describeDims(dims: readonly (number | string)[]): string {
  return `[${dims.map((d) => (typeof d === 'number' ? String(d) : d)).join(', ')}]`;
}

export function decodeInputs(body: Record<string, unknown>, signature: readonly TensorSignature[], maxBatchSize: number): DecodedInputs {
  return matchInputs(Object.keys(body), signature, maxBatchSize, (sig) => decodeInput(body[sig.name], sig));
}

/**
 * The checks every API shares (/v1 JSON, /v2 JSON and binary): input names against the
 * signature, each tensor (from `tensorFor`, in signature order) against its dims, rows along
 * dimension 0 agreeing and within maxBatchSize; and the batch key.
 */
export function matchInputs(
  provided: readonly string[],
  signature: readonly TensorSignature[],
  maxBatchSize: number,
  tensorFor: (sig: TensorSignature) => Tensor,
): DecodedInputs {
  const known = new Set(signature.map((s) => s.name));
  for (const name of provided) {
    if (!known.has(name)) throw new ServeError('INVALID_INPUT', `unknown input "${name}"; the model's inputs are: ${[...known].join(', ')}`);
  }
  const given = new Set(provided);
  const tensors: Record<string, Tensor> = {};
  let rows = -1;
  const keys: string[] = [];
  for (const sig of signature) {
    if (!given.has(sig.name)) throw new ServeError('INVALID_INPUT', `missing input "${sig.name}" (${sig.dtype} ${describeDims(sig.dims)})`);
    const t = tensorFor(sig);
    checkDims(t, sig);
    if (maxBatchSize > 0) {
      const n = t.dims[0]!;
      if (n < 1) throw new ServeError('SHAPE_MISMATCH', `input "${sig.name}" has 0 rows; send at least one row along dimension 0`);
      if (rows >= 0 && n !== rows) throw new ServeError('SHAPE_MISMATCH', `inputs disagree on the batch dimension: "${sig.name}" has ${n} rows, an earlier input has ${rows}`);
      rows = n;
    }
    tensors[sig.name] = t;
    keys.push(batchKey(t));
  }
  if (maxBatchSize > 0 && rows > maxBatchSize) {
    throw new ServeError('BATCH_TOO_LARGE', `the request has ${rows} rows; this model takes at most ${maxBatchSize} (maxBatchSize): split it into smaller requests`);
  }
  return { tensors, rows: maxBatchSize > 0 ? rows : 1, key: keys.join(';') };
}
