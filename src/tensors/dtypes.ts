// Dtypes and the Tensor they type: the dtypes onnxruntime-node feeds and fetches, their typed
// arrays and ranges, and allocating or viewing arrays of them. Pure: no I/O, no onnxruntime.
// Apart from the JSON decoders and encoders because most importers need only this (the worker,
// the client, the compress tools); the worker thread never loads encode.ts.
export type DType =
  | 'float32' | 'float64' | 'float16'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'bool';

export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

type ArrayCtor = { new (n: number): TypedArray; new (b: ArrayBufferLike, o: number, n: number): TypedArray; BYTES_PER_ELEMENT: number };

interface DTypeInfo { readonly array: ArrayCtor; readonly kind: 'float' | 'int' | 'bigint' | 'bool' | 'half'; readonly min?: number; readonly max?: number }

/** Every dtype onnxruntime-node can feed and fetch (strings and 4-bit types are not served). */
export const DTYPES: Readonly<Record<DType, DTypeInfo>> = Object.freeze({
  float32: { array: Float32Array, kind: 'float' },
  float64: { array: Float64Array, kind: 'float' },
  float16: { array: Uint16Array, kind: 'half' },
  int8: { array: Int8Array, kind: 'int', min: -128, max: 127 },
  uint8: { array: Uint8Array, kind: 'int', min: 0, max: 255 },
  int16: { array: Int16Array, kind: 'int', min: -32768, max: 32767 },
  uint16: { array: Uint16Array, kind: 'int', min: 0, max: 65535 },
  int32: { array: Int32Array, kind: 'int', min: -2147483648, max: 2147483647 },
  uint32: { array: Uint32Array, kind: 'int', min: 0, max: 4294967295 },
  int64: { array: BigInt64Array, kind: 'bigint', min: -(2 ** 63), max: 2 ** 63 },
  uint64: { array: BigUint64Array, kind: 'bigint', min: 0, max: 2 ** 64 },
  bool: { array: Uint8Array, kind: 'bool' },
} as const satisfies Record<DType, DTypeInfo>);

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

export interface Tensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TypedArray;
}

/** prod(dims); 0 when a dim is 0 even if the others overflow (Infinity × 0 would be NaN). May exceed 2^53: callers compare, never allocate, before checking. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (d === 0) return 0;
    n *= d;
  }
  return n;
}

export function allocate(dtype: DType, count: number): TypedArray {
  return new DTYPES[dtype].array(count);
}

/** A view of a typed array's bytes for a given dtype over a (possibly offset) buffer. */
export function viewOf(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray {
  return new DTYPES[dtype].array(buffer, byteOffset, length);
}
