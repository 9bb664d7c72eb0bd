// The binary tensor extension (little-endian, row major, no padding): splitting a body into its
// JSON header and binary part, typed-array views over each input's bytes, and a response made
// of the JSON header followed by each output's bytes. No per-element work: at most one memcpy
// per tensor (for alignment), and one concatenation for a response. Typed arrays use the host's
// byte order, which is little-endian on every platform onnxruntime-node ships for.
import { elementCount, viewOf, type DType, type Tensor } from '../tensors/dtypes.js';
import { ServeError } from '../errors.js';
import { elementSize, fromV2Datatype } from './datatypes.js';
import { preview } from '../preview.js';

/** A v2 tensor header as the binary code needs it (request input or response output). */
export interface BinaryTensorHeader {
  name: string;
  datatype: unknown;
  shape: readonly number[];
  /** parameters.binary_data_size, already checked to be a non-negative integer. */
  binarySize?: number | undefined;
}

export interface SplitBody {
  /** The parsed JSON header (the whole body when there is no Inference-Header-Content-Length). */
  header: unknown;
  /** The bytes after the header (empty without the header). */
  binary: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** Splits a body by the Inference-Header-Content-Length header and parses its JSON part. */
export function splitBody(body: Buffer | undefined, headerLength: string | string[] | undefined): SplitBody {
  const buf = body ?? EMPTY;
  let n = buf.length;
  if (headerLength !== undefined) {
    const v = Array.isArray(headerLength) ? headerLength[0] ?? '' : headerLength;
    if (!/^\d+$/.test(v)) throw new ServeError('INVALID_INPUT', `header Inference-Header-Content-Length is "${v}"; it must be the byte length of the JSON header, a non-negative integer`);
    n = Number(v);
    if (n > buf.length) throw new ServeError('INVALID_INPUT', `header Inference-Header-Content-Length is ${n} but the body has only ${buf.length} bytes`);
  }
  if (n === 0) throw new ServeError('INVALID_JSON', 'the JSON header is empty; send the inference request as JSON');
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 0, n));
  } catch (err) {
    const what = headerLength === undefined ? 'the body is' : `the first ${n} bytes of the body (Inference-Header-Content-Length) are`;
    throw new ServeError('INVALID_JSON', `${what} not valid JSON: ${(err as Error).message}`);
  }
  return { header, binary: n === buf.length ? EMPTY : buf.subarray(n) };
}

/** Reads parameters.binary_data_size: undefined when absent, else a non-negative safe integer. */
export function binaryDataSize(parameters: unknown, name: string): number | undefined {
  if (parameters === undefined || parameters === null) return undefined;
  if (typeof parameters !== 'object' || Array.isArray(parameters)) throw new ServeError('INVALID_INPUT', `"${name}": parameters must be an object`);
  const size = (parameters as Record<string, unknown>).binary_data_size;
  if (size === undefined) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ServeError('INVALID_INPUT', `"${name}": parameters.binary_data_size is ${preview(size)}; it must be a non-negative integer number of bytes`);
  }
  return size;
}

/**
 * A tensor over `bytes` (a view: no copy), or over one aligned copy when the bytes do not
 * start at a multiple of the element size (typed arrays require it).
 */
export function tensorFromBytes(bytes: Uint8Array, dtype: DType, dims: readonly number[]): Tensor {
  const size = elementSize(dtype);
  if (bytes.byteOffset % size === 0) return { dtype, dims: [...dims], data: viewOf(dtype, bytes.buffer, bytes.byteOffset, bytes.byteLength / size) };
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return { dtype, dims: [...dims], data: viewOf(dtype, copy.buffer, 0, bytes.byteLength / size) };
}

/**
 * The tensors carried as binary data, by name: each header with a binarySize takes that many
 * bytes of `binary`, in order; together they must use every byte. Checks each size against
 * shape × element size (SHAPE_MISMATCH) and the datatype (BYTES is not served). Nothing is
 * allocated from a shape: a tensor is a view of bytes the body holds (or one copy of them).
 */
export function readBinaryTensors(headers: readonly BinaryTensorHeader[], binary: Uint8Array): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  let offset = 0;
  for (const h of headers) {
    if (h.binarySize === undefined) continue;
    const dtype = fromV2Datatype(h.datatype, h.name);
    const want = elementCount(h.shape) * elementSize(dtype);
    if (!Number.isSafeInteger(want)) {
      // past 2^53 the product is rounded (or Infinity): no body is that large, and no size can match
      throw new ServeError('SHAPE_MISMATCH', `input "${h.name}": shape ${preview(h.shape)} of ${h.datatype} needs more than 2^53 bytes; binary_data_size is ${h.binarySize}`);
    }
    if (h.binarySize !== want) {
      throw new ServeError('SHAPE_MISMATCH', `input "${h.name}": binary_data_size is ${h.binarySize} bytes but shape ${preview(h.shape)} of ${h.datatype} needs ${want}`);
    }
    if (offset + h.binarySize > binary.length) {
      throw new ServeError('INVALID_INPUT', `input "${h.name}" needs ${h.binarySize} bytes of binary data at offset ${offset}, but the body has only ${binary.length} bytes after the JSON header`);
    }
    out.set(h.name, tensorFromBytes(binary.subarray(offset, offset + h.binarySize), dtype, h.shape));
    offset += h.binarySize;
  }
  if (offset !== binary.length) {
    throw new ServeError('INVALID_INPUT', `the body has ${binary.length} bytes after the JSON header but the inputs' binary_data_size add up to ${offset}`);
  }
  return out;
}

/** The bytes of a tensor's data, as a Buffer view (no copy). */
export function tensorBytes(t: Tensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** A binary response: the JSON header's bytes, then each binary output's bytes (a tensor, or bytes already encoded: BYTES), in one copy. */
export function binaryBody(headerJson: string, outputs: readonly (Tensor | Buffer)[]): { body: Buffer; headerLength: number } {
  const header = Buffer.from(headerJson, 'utf8');
  return { body: Buffer.concat([header, ...outputs.map((o) => (Buffer.isBuffer(o) ? o : tensorBytes(o)))]), headerLength: header.length };
}
