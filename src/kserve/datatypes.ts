// KServe v2 / Open Inference Protocol datatypes: our dtypes ↔ v2 names (BOOL, UINT8 … FP64),
// element sizes for the binary tensor extension, and shapes with -1 for variable dims.
import { DTYPES, type DType } from '../tensors/dtypes.js';
import { ServeError } from '../errors.js';
import { preview } from '../preview.js';

const TO_V2: Readonly<Record<DType, string>> = Object.freeze({
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
});

const FROM_V2: ReadonlyMap<string, DType> = new Map(Object.entries(TO_V2).map(([d, v]) => [v, d as DType]));

/** Every v2 datatype served, in the protocol's order (for docs and tests). */
export const V2_DATATYPES: readonly string[] = Object.freeze(Object.values(TO_V2));

export function toV2Datatype(dtype: DType): string {
  return TO_V2[dtype];
}

/** The dtype for a v2 datatype; BYTES and unknown names are INVALID_INPUT naming what is served. */
export function fromV2Datatype(datatype: unknown, name: string): DType {
  const d = typeof datatype === 'string' ? FROM_V2.get(datatype) : undefined;
  if (d) return d;
  if (datatype === 'BYTES') throw new ServeError('INVALID_INPUT', `input "${name}": datatype BYTES (strings) is not served; use one of ${V2_DATATYPES.join(', ')}`);
  throw new ServeError('INVALID_INPUT', `input "${name}": datatype ${preview(datatype)} is not a v2 datatype; use one of ${V2_DATATYPES.join(', ')}`);
}

/** Bytes per element in the binary tensor extension (BOOL is one byte; FP16 two). */
export function elementSize(dtype: DType): number {
  return DTYPES[dtype].array.BYTES_PER_ELEMENT;
}

/** A signature's dims as a v2 shape: symbolic (string) or negative dims become -1. */
export function v2Shape(dims: readonly (number | string)[]): number[] {
  return dims.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
}
