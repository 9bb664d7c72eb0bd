// The catalogue's errors as gRPC status codes: one code per ServeError code, so that a gRPC client
// sees the same kind of answer an HTTP client does (INVALID_ARGUMENT for a 400, NOT_FOUND for a
// 404, UNAVAILABLE for a 503, RESOURCE_EXHAUSTED for a full queue, DEADLINE_EXCEEDED for a 504).
import { status } from '@grpc/grpc-js';
import type { ErrorCode } from '../errors.js';

export const GRPC_STATUS: Readonly<Record<ErrorCode, status>> = Object.freeze({
  INVALID_JSON: status.INVALID_ARGUMENT,
  INVALID_INPUT: status.INVALID_ARGUMENT,
  SHAPE_MISMATCH: status.INVALID_ARGUMENT,
  DTYPE_MISMATCH: status.INVALID_ARGUMENT,
  BATCH_TOO_LARGE: status.INVALID_ARGUMENT,
  // onnxruntime refused this request's values: still the request's fault
  INPUT_REJECTED: status.INVALID_ARGUMENT,
  // a body's Content-Encoding is HTTP's; over gRPC the message itself was bad
  INVALID_ENCODING: status.INVALID_ARGUMENT,
  UNSUPPORTED_ENCODING: status.INVALID_ARGUMENT,
  INVALID_MODEL_NAME: status.INVALID_ARGUMENT,
  MODEL_LOAD_FAILED: status.INVALID_ARGUMENT,
  INVALID_LOG_SETTINGS: status.INVALID_ARGUMENT,
  // the server's mode, not the request, is what must change
  MODEL_CONTROL_DISABLED: status.FAILED_PRECONDITION,
  UNAUTHORIZED: status.UNAUTHENTICATED,
  ADMIN_DISABLED: status.PERMISSION_DENIED,
  MODEL_NOT_FOUND: status.NOT_FOUND,
  ROUTE_NOT_FOUND: status.NOT_FOUND,
  FORBIDDEN: status.PERMISSION_DENIED,
  PRECONDITION_FAILED: status.FAILED_PRECONDITION,
  PAYLOAD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  RANGE_NOT_SATISFIABLE: status.OUT_OF_RANGE,
  QUEUE_FULL: status.RESOURCE_EXHAUSTED,
  REQUEST_CANCELLED: status.CANCELLED,
  MODEL_NOT_READY: status.UNAVAILABLE,
  SHUTTING_DOWN: status.UNAVAILABLE,
  QUEUE_TIMEOUT: status.DEADLINE_EXCEEDED,
  INFERENCE_FAILED: status.INTERNAL,
});

/** Trailing metadata key naming the catalogue's code of an error (e.g. SHAPE_MISMATCH). */
export const ERROR_CODE_KEY = 'onnx-serve-error-code';
