// The catalogue's errors as gRPC status codes: one code per ServeError code, so that a gRPC client
// sees the same kind of answer an HTTP client does (INVALID_ARGUMENT for a 400, NOT_FOUND for a
// 404, UNAVAILABLE for a 503, RESOURCE_EXHAUSTED for a full queue, DEADLINE_EXCEEDED for a 504).
// The admin RPCs' refusals take gRPC's own codes for them: UNAUTHENTICATED for a missing or wrong
// token (HTTP's 401), PERMISSION_DENIED when admin calls are off (403), and FAILED_PRECONDITION
// for model control off: HTTP answers it 400, but nothing in the request is wrong;
// the server's mode (fixed at start) refuses it, and only a restart with another mode changes that.
import { status } from '@grpc/grpc-js';
import type { ErrorCode } from '../errors.js';

export const GRPC_STATUS: Readonly<Record<ErrorCode, status>> = Object.freeze({
  INVALID_JSON: status.INVALID_ARGUMENT,
  INVALID_INPUT: status.INVALID_ARGUMENT,
  SHAPE_MISMATCH: status.INVALID_ARGUMENT,
  DTYPE_MISMATCH: status.INVALID_ARGUMENT,
  BATCH_TOO_LARGE: status.INVALID_ARGUMENT,
  INVALID_MODEL_NAME: status.INVALID_ARGUMENT,
  // a bad config (the folder's or the request's), a file onnxruntime refuses, a failing warm-up
  MODEL_LOAD_FAILED: status.INVALID_ARGUMENT,
  MODEL_CONTROL_DISABLED: status.FAILED_PRECONDITION,
  INVALID_LOG_SETTINGS: status.INVALID_ARGUMENT,
  UNAUTHORIZED: status.UNAUTHENTICATED,
  ADMIN_DISABLED: status.PERMISSION_DENIED,
  // HTTP bodies only (grpc decompresses its messages itself): listed for completeness
  INVALID_ENCODING: status.INVALID_ARGUMENT,
  UNSUPPORTED_ENCODING: status.INVALID_ARGUMENT,
  // onnxruntime refused this request's values: still the request's fault
  INPUT_REJECTED: status.INVALID_ARGUMENT,
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
  // HTTP bodies only (gRPC messages are bounded by grpc's own receive limit): listed for completeness
  SERVER_BUSY: status.RESOURCE_EXHAUSTED,
  QUEUE_TIMEOUT: status.DEADLINE_EXCEEDED,
  NOT_IMPLEMENTED: status.UNIMPLEMENTED,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  INFERENCE_FAILED: status.INTERNAL,
});

/** Trailing metadata key naming the catalogue's code of an error (e.g. SHAPE_MISMATCH). */
export const ERROR_CODE_KEY = 'onnx-serve-error-code';
