// The error catalogue: every /v1 error code, its one HTTP status and what it means; the mapping
// of every other error (fastify's, plugins', Node's HTTP parser's) onto it; the one renderer of
// an error body, in /v1's {"error": {code, message}} or /v2's {"error": message}; and OptionError
// (a bad command-line option, for `serve`, `compress` and `inspect`).
// Routes throw ServeError; the error handlers (src/app.ts, src/routes/v2.ts) render it here.
// No fastify at run time (its types only): code outside the HTTP layer imports this file.
import { maxHeaderSize } from 'node:http';
import type { FastifyBaseLogger, FastifyError } from 'fastify';

export const ERRORS = Object.freeze({
  INVALID_JSON: { status: 400, doc: 'The body is not valid JSON, or not a JSON object.' },
  INVALID_INPUT: { status: 400, doc: 'The body does not match the request schema (missing model, unknown input, bad header…).' },
  SHAPE_MISMATCH: { status: 400, doc: "A tensor's shape is ragged or does not fit the model's signature." },
  DTYPE_MISMATCH: { status: 400, doc: "A value cannot be represented in the input's dtype." },
  BATCH_TOO_LARGE: { status: 400, doc: "A request carries more rows than the model's maxBatchSize." },
  INVALID_MODEL_NAME: { status: 400, doc: 'A model name in an admin route that cannot name a folder of the repository (a path, "..", a NUL byte, a dotfile, a link out of the folder).' },
  MODEL_LOAD_FAILED: { status: 400, doc: 'A model (re)load failed (a bad config, a file onnxruntime refuses, a failing warm-up); the version that served before still serves.' },
  MODEL_CONTROL_DISABLED: { status: 400, doc: 'Load and unload need --model-control explicit or poll; the server started with none (everything loaded once at start).' },
  INVALID_LOG_SETTINGS: { status: 400, doc: 'A POST /v2/logging body with an unknown setting or a bad value.' },
  UNAUTHORIZED: { status: 401, doc: 'An admin route without `Authorization: Bearer <token>`, or with a token that is not the admin token; the answer carries WWW-Authenticate: Bearer.' },
  ADMIN_DISABLED: { status: 403, doc: 'An admin route while no admin token is configured (--admin-token, --admin-token-file or ONNX_SERVE_ADMIN_TOKEN).' },
  MODEL_NOT_FOUND: { status: 404, doc: 'No model (or version) by that name in the repository.' },
  ROUTE_NOT_FOUND: { status: 404, doc: 'No route for this method and path (the catalogue covers every error the server sends, this one too).' },
  FORBIDDEN: { status: 403, doc: 'The path is refused (a static file outside the docs, a dotfile or a malformed path).' },
  PRECONDITION_FAILED: { status: 412, doc: "A conditional request's precondition (If-Match, If-Unmodified-Since) does not hold for a docs file." },
  INVALID_ENCODING: { status: 400, doc: 'The body does not decode as its Content-Encoding says (corrupt or truncated gzip / deflate data).' },
  PAYLOAD_TOO_LARGE: { status: 413, doc: 'The body exceeds the body limit (--body-limit); a compressed body counts by its decoded size.' },
  UNSUPPORTED_ENCODING: { status: 415, doc: 'The body has a Content-Encoding other than gzip, deflate or identity.' },
  RANGE_NOT_SATISFIABLE: { status: 416, doc: 'The Range header asks for bytes outside a docs file.' },
  INPUT_REJECTED: { status: 422, doc: "onnxruntime refuses this request's values when it runs alone (e.g. a token id outside the vocabulary), or they crash its runtime twice when run alone, while the model answers others; the message is onnxruntime's or the crash's." },
  QUEUE_FULL: { status: 429, doc: "The model's queue holds maxQueueSize requests, or more predicted work than this request's deadline leaves room for; retry after Retry-After seconds." },
  RATE_LIMITED: { status: 429, doc: 'This client (by IP address) sent more than --rate-limit requests within --rate-limit-window-ms; retry after Retry-After seconds. Off unless --rate-limit is given; never on /v2/health/* or /metrics.' },
  // 499 is nginx's "client closed request": nobody reads the answer, but logs and metrics do
  REQUEST_CANCELLED: { status: 499, doc: 'The client closed the connection before the request was computed; it left the queue and was not run.' },
  MODEL_NOT_READY: { status: 503, doc: 'The model is loading, unloading or failed to load; or its workers all died.' },
  SHUTTING_DOWN: { status: 503, doc: 'The server is draining and accepts no new requests.' },
  SERVER_BUSY: { status: 503, doc: 'The request bodies being read at once would pass --max-body-bytes-in-flight with this one; retry after Retry-After seconds.' },
  QUEUE_TIMEOUT: { status: 504, doc: 'The request waited in the queue past its deadline and was not computed.' },
  NOT_IMPLEMENTED: { status: 501, doc: "A route of Triton's shared-memory extensions (system or CUDA), which onnx-serve does not serve: send tensors in the request body instead." },
  INFERENCE_FAILED: { status: 500, doc: 'onnxruntime failed to run this request for a reason that is not the request (the model fails on every input).' },
} as const);

export type ErrorCode = keyof typeof ERRORS;

export class ServeError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string, readonly headers: Record<string, string> = {}) {
    // no stack: a ServeError is an answer, not a fault, and under overload thousands of refusals a
    // second each paid for one (4.5 % of the main thread's time at 3× the heavy MLP's capacity)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'ServeError';
    this.status = ERRORS[code].status;
  }
}

/** A bad command-line option or argument: one line naming it, the value and what is allowed; the CLI exits 2 on it. */
export class OptionError extends Error {
  override name = 'OptionError';
  readonly code = 'ONNX_SERVE_ERR_OPTION';
}

export function isErrorCode(s: string): s is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERRORS, s);
}

/**
 * onnxruntime's source location and what follows it in an ORT_ENFORCE message: the C++ function
 * and the failed condition (`reshape_helper.h:91 onnxruntime::ReshapeHelper::ReshapeHelper(…)
 * size != 0 was false. `), with or without the build's folders (/onnxruntime_src/…). Bounded
 * repeats: the text may hold a client's long values, and the scan must stay linear in it.
 */
const SOURCE_LOCATION = /(?<![\w.+/-])(?:\/?[\w.+-]{1,200}\/){0,30}[\w.+-]{1,200}\.(?:h|hh|hpp|c|cc|cpp|cxx|cu|cuh|inl):\d{1,6}(?:\s{1,4}(?:[\w:<>,*&~]{1,200}\s{1,4}){0,6}[\w<>~]{0,200}::[\w:<>,*&~]{0,200}\([^()]{0,1000}\)(?:\s{0,4}const)?(?:\s{0,4}\[with [^\]]{0,500}\])?)?(?:\s{1,4}[^\n]{0,300}? was false\.)?\s*/g;
/** A graph node's name in onnxruntime's run errors (` Name:'/encoder/layer.0/Reshape'`): the op type before it says enough. */
const NODE_NAME = /\s*Name:'[^']*'/g;
/** An absolute path of two parts or more, not one of the server's own routes (/v1/…, /v2/…). */
const ABSOLUTE_PATH = /(^|[\s'"(=[:,<{`])\/(?!v[12]\/)(?:[^\s'"()[\]:/]+\/)+([^\s'"()[\]:/]*)/g;

/**
 * The one scrubber of what clients read (error bodies, load failures' reasons, gRPC details):
 * paths under the model repository become relative to it, any other absolute path is cut to its
 * last part, and onnxruntime's source locations, C++ functions and node names go. The full text
 * is for the log. The server's own routes a message names (POST /v2/repository/models/m/load)
 * are not files: kept.
 */
export function scrubPaths(message: string, root?: string): string {
  // every pattern needs a "/" (paths) or a ":" (source locations, node names): the refusals
  // that overload sends by the thousand have neither, and skip the scan
  if (!message.includes('/') && !message.includes(':')) return message.trimEnd();
  let m = message;
  if (root) m = m.split(root.endsWith('/') ? root : `${root}/`).join('');
  return m.replace(SOURCE_LOCATION, '').replace(NODE_NAME, '').replace(ABSOLUTE_PATH, '$1$2').trimEnd();
}

/** What the client reads of an error: scrubbed, but a 404 keeps the path it echoes (the client's own text). */
export function clientMessage(e: ServeError, root?: string): string {
  return e.code === 'ROUTE_NOT_FOUND' ? e.message : scrubPaths(e.message, root);
}

/** /v2 answers the protocol's `{"error": message}`; every other path the catalogue's `{"error": {code, message}}`. */
export function isV2Url(url: string): boolean {
  return /^\/v2(?:[/?#]|$)/.test(url);
}

/** The body of an error answer: the one renderer, in /v2's shape or the catalogue's, its message through clientMessage. */
export function errorPayload(e: ServeError, v2: boolean, root?: string): { error: string } | { error: { code: ErrorCode; message: string } } {
  const message = clientMessage(e, root);
  return v2 ? { error: message } : { error: { code: e.code, message } };
}

/** errorPayload as JSON text, for answers written without fastify's serializer. */
export function errorBody(e: ServeError, v2: boolean, root?: string): string {
  return JSON.stringify(errorPayload(e, v2, root));
}

/**
 * A 5xx goes to the log whole (a server fault); a 4xx whose message lost a path or onnxruntime's
 * internals to the scrubber goes there with its full text. Either way with the request id.
 */
export function logError(request: { log: FastifyBaseLogger }, err: Error, e: ServeError, root: string): void {
  if (e.status >= 500) request.log.error({ err, code: e.code }, 'request failed');
  else if (clientMessage(e, root) !== e.message) request.log.info({ code: e.code, detail: e.message }, 'request failed; the detail is withheld from the client');
}

/**
 * Status on /v2: the catalogue's, except QUEUE_FULL, which is 503 (Triton answers a full
 * queue as UNAVAILABLE) and keeps its Retry-After header.
 */
export function v2Status(e: ServeError): number {
  return e.code === 'QUEUE_FULL' ? 503 : e.status;
}

/** The catalogue's answer to a request Node's HTTP parser refused (it never reaches a route). */
export function clientError(err: Error & { code?: string; reason?: string }): ServeError {
  const reason = err.reason ?? 'it could not be parsed';
  switch (err.code) {
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new ServeError('INVALID_INPUT', `the Content-Length header is not valid (${reason}); send one Content-Length, the body's length in bytes`);
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return new ServeError('INVALID_INPUT', `the Transfer-Encoding header is not valid (${reason}); send Content-Length or Transfer-Encoding: chunked, not both`);
    case 'HPE_HEADER_OVERFLOW':
      return new ServeError('INVALID_INPUT', `the request's headers are larger than the ${maxHeaderSize} bytes the server reads; send shorter headers`);
    default:
      return new ServeError('INVALID_INPUT', `the request is not valid HTTP/1.1 (${reason})`);
  }
}

/** fastify's maxParamLength (its default): a longer path parameter is FST_ERR_MAX_PARAM_LENGTH. */
const MAX_PARAM_LENGTH = 100;

/**
 * Plugin and fastify errors by HTTP status: the docs' static files (@fastify/static, @fastify/send)
 * refuse paths with 403, preconditions with 412 and ranges with 416, and those keep their status.
 */
function byStatus(status: number, err: FastifyError, bodyLimit: number): ServeError {
  switch (status) {
    case 400:
      return new ServeError('INVALID_INPUT', err.message);
    case 403:
      return new ServeError('FORBIDDEN', 'the path is refused: the docs serve their own files under /docs/static/ by plain names (no dotfiles, "..", backslashes or NUL bytes)');
    case 404:
      return new ServeError('ROUTE_NOT_FOUND', 'no such file or route; see README.md for the API');
    case 412:
      return new ServeError('PRECONDITION_FAILED', "the file does not meet the request's If-Match or If-Unmodified-Since; fetch it without them, or with its current ETag");
    case 413:
      return payloadTooLarge(bodyLimit);
    case 415:
      return new ServeError('INVALID_JSON', 'send the body as JSON with Content-Type: application/json');
    case 416: {
      const range = (err as { headers?: Record<string, string> }).headers?.['Content-Range'];
      return new ServeError('RANGE_NOT_SATISFIABLE', 'the Range header asks for bytes outside this file; ask for a range within its length (Content-Range gives it)', range ? { 'content-range': range } : {});
    }
  }
  if (status >= 400 && status < 500) return new ServeError('INVALID_INPUT', err.message);
  // a real server fault: its message (a stack, a file path) stays in the log
  return new ServeError('INFERENCE_FAILED', 'the server failed to answer this request; the error is in its log');
}

function payloadTooLarge(bodyLimit: number): ServeError {
  return new ServeError('PAYLOAD_TOO_LARGE', `the body is larger than the limit of ${bodyLimit} bytes; send fewer rows per request or raise --body-limit`);
}

/** Maps fastify's own errors (parser, validation, body limit) and plugins' HTTP errors onto the catalogue. */
export function toServeError(err: FastifyError | ServeError, bodyLimit: number): ServeError {
  if (err instanceof ServeError) return err;
  const code = (err as FastifyError).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return payloadTooLarge(bodyLimit);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ServeError('INVALID_JSON', 'send the body as JSON with Content-Type: application/json');
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new ServeError('INVALID_JSON', `the body is not valid JSON: ${err.message}`);
  }
  if ((err as FastifyError).validation) return new ServeError('INVALID_INPUT', `the body does not match the request schema: ${err.message}`);
  if (code === 'FST_ERR_BAD_URL') return new ServeError('INVALID_INPUT', `the URL is not valid percent-encoding (${err.message}); write a literal "%" as %25`);
  if (code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return new ServeError('INVALID_INPUT', `a path segment is longer than ${MAX_PARAM_LENGTH} characters; no model name or version served here is that long`);
  }
  if (isErrorCode(code ?? '')) return new ServeError(code as keyof typeof ERRORS, err.message);
  const status = (err as FastifyError).statusCode ?? (err as { status?: number }).status ?? 500;
  return byStatus(status, err as FastifyError, bodyLimit);
}
