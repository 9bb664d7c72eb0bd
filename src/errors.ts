// The error catalogue: every /v1 error code, its one HTTP status and what it means.
// Routes throw ServeError; the app's error handler renders {"error": {code, message}}.

export const ERRORS = Object.freeze({
  INVALID_JSON: { status: 400, doc: 'The body is not valid JSON, or not a JSON object.' },
  INVALID_INPUT: { status: 400, doc: 'The body does not match the request schema (missing model, unknown input, bad header…).' },
  SHAPE_MISMATCH: { status: 400, doc: "A tensor's shape is ragged or does not fit the model's signature." },
  DTYPE_MISMATCH: { status: 400, doc: "A value cannot be represented in the input's dtype." },
  BATCH_TOO_LARGE: { status: 400, doc: "A request carries more rows than the model's maxBatchSize." },
  MODEL_NOT_FOUND: { status: 404, doc: 'No model (or version) by that name in the repository.' },
  ROUTE_NOT_FOUND: { status: 404, doc: 'No route for this method and path (beyond DESIGN.md: the catalogue covers every error the server sends).' },
  FORBIDDEN: { status: 403, doc: 'The path is refused (a static file outside the docs, a dotfile or a malformed path).' },
  PRECONDITION_FAILED: { status: 412, doc: "A conditional request's precondition (If-Match, If-Unmodified-Since) does not hold for a docs file." },
  PAYLOAD_TOO_LARGE: { status: 413, doc: 'The body exceeds the body limit (--body-limit).' },
  RANGE_NOT_SATISFIABLE: { status: 416, doc: 'The Range header asks for bytes outside a docs file.' },
  INPUT_REJECTED: { status: 422, doc: "onnxruntime refuses this request's values when it runs alone (e.g. a token id outside the vocabulary) while the model answers others; the message is onnxruntime's." },
  QUEUE_FULL: { status: 429, doc: "The model's queue holds maxQueueSize requests; retry after Retry-After seconds." },
  MODEL_NOT_READY: { status: 503, doc: 'The model is loading, unloading or failed to load; or its workers all died.' },
  SHUTTING_DOWN: { status: 503, doc: 'The server is draining and accepts no new requests.' },
  QUEUE_TIMEOUT: { status: 504, doc: 'The request waited in the queue past its deadline and was not computed.' },
  INFERENCE_FAILED: { status: 500, doc: 'onnxruntime failed to run this request for a reason that is not the request (the model fails on every input).' },
} as const);

export type ErrorCode = keyof typeof ERRORS;

export class ServeError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ServeError';
    this.status = ERRORS[code].status;
  }
}

export function isErrorCode(s: string): s is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERRORS, s);
}

/**
 * A message fit for a client: paths under the model repository become relative to it, and any
 * other absolute path (onnxruntime's source files, a temp folder) is cut to its last part.
 */
export function scrubPaths(message: string, root?: string): string {
  let m = message;
  if (root) m = m.split(root.endsWith('/') ? root : `${root}/`).join('');
  return m.replace(/(^|[\s'"(=[:])\/(?:[^\s'"()[\]:/]+\/)+([^\s'"()[\]:/]*)/g, '$1$2');
}
