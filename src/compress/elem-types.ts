// ONNX element types (onnx.TensorProto.DataType) and our DType names for them: the one table
// the compress tools, inspect and the test model builder (tools/onnx-builder.ts) share.
import type { DType } from '../tensors.js';

export const ONNX_ELEM_TYPE: Readonly<Record<DType, number>> = Object.freeze({
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, bool: 9,
  float16: 10, float64: 11, uint32: 12, uint64: 13,
});
