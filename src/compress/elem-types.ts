// ONNX element types: onnx-proto's own enum (onnx.TensorProto.DataType), our DType names for
// its codes both ways, the names inspect prints and the bytes per element. The one table the
// compress tools, inspect and the test model builder (tools/onnx-builder.ts) share.
import onnxProto from 'onnx-proto';
import { DTYPES, type DType } from '../tensors/dtypes.js';

/** onnx.TensorProto.DataType (name → code, and code → name). */
export const ELEM = onnxProto.onnx.TensorProto.DataType;
export type ElemName = keyof typeof ELEM;

/** The ONNX element type of each DType. */
const ELEM_NAME_OF = {
  float32: 'FLOAT', float64: 'DOUBLE', float16: 'FLOAT16',
  int8: 'INT8', uint8: 'UINT8', int16: 'INT16', uint16: 'UINT16', int32: 'INT32', uint32: 'UINT32', int64: 'INT64', uint64: 'UINT64',
  bool: 'BOOL',
} as const satisfies Record<DType, ElemName>;

const DTYPE_LIST = Object.keys(ELEM_NAME_OF) as DType[];

/** DType → ONNX code. */
export const ONNX_ELEM_TYPE: Readonly<Record<DType, number>> = Object.freeze(
  Object.fromEntries(DTYPE_LIST.map((d) => [d, ELEM[ELEM_NAME_OF[d]]])) as Record<DType, number>,
);

const DTYPE_OF = new Map<number, DType>(DTYPE_LIST.map((d) => [ONNX_ELEM_TYPE[d], d]));

/** ONNX code → DType; undefined for types this tool cannot feed (string, complex, bfloat16, …). */
export function dtypeOf(code: number): DType | undefined {
  return DTYPE_OF.get(code);
}

/** How errors and inspect name a type: the DType name, else "element type N". */
export function elemTypeName(code: number): string {
  return DTYPE_OF.get(code) ?? `element type ${code}`;
}

/** The float8 types of ONNX 1.14 (FLOAT8E4M3FN … FLOAT8E5M2FNUZ): newer than onnx-proto's enum. */
const FLOAT8_CODES = [17, 18, 19, 20] as const;

/** Bytes per element by ONNX code; strings (and complex types) are absent: their raw bytes count instead. */
const ELEM_BYTES = new Map<number, number>([
  ...DTYPE_LIST.map((d): [number, number] => [ONNX_ELEM_TYPE[d], DTYPES[d].array.BYTES_PER_ELEMENT]),
  [ELEM.BFLOAT16, 2],
  ...FLOAT8_CODES.map((c): [number, number] => [c, 1]),
]);

export function elemBytes(code: number): number | undefined {
  return ELEM_BYTES.get(code);
}
