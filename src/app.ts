// buildApp: the fastify instance with error handling and every route, around a loaded
// repository. No listen here (server.ts does that), so tests can inject or listen on port 0.
import Fastify, { LogController, type ConnectionError, type FastifyInstance, type FastifyError, type FastifyReply } from 'fastify';
import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { Socket } from 'node:net';
import type { ModelRepository } from './repository/repository.js';
import { ServeError, ERRORS, isErrorCode } from './errors.js';
import { predictRoutes } from './routes/predict.js';
import { modelRoutes } from './routes/models.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { Metrics } from './metrics.js';
import { instrumentInferenceRequests } from './request-metrics.js';
import { registerDocs } from './openapi.js';

export interface Serving {
  repository: ModelRepository;
  metrics: Metrics;
  /** Set on SIGTERM: readiness answers 503 and new inference requests SHUTTING_DOWN. */
  draining: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    serving: Serving;
  }
}

export interface AppOptions {
  repository: ModelRepository;
  bodyLimit: number;
  logLevel?: string;
  /** pino options (e.g. `{ level, stream }`); defaults to JSON lines on stdout at logLevel. */
  logger?: boolean | object;
  /**
   * This app's metrics. serve() makes them before loading the repository so that the schedulers
   * and pools report to them; without it buildApp makes its own, fed only by the request hook.
   */
  metrics?: Metrics;
}

/** Default body limit: maxBatchSize rows of each model's largest input as JSON (≈ 24 bytes a number), at least 8 MiB. */
export function defaultBodyLimit(repository: ModelRepository): number {
  let need = 0;
  for (const mv of repository.all()) {
    if (!mv.signature || !mv.batching) continue;
    const rows = Math.max(1, mv.batching.maxBatchSize);
    let perRow = 0;
    for (const s of mv.signature.inputs) {
      const dims = mv.batching.maxBatchSize > 0 ? s.dims.slice(1) : s.dims;
      perRow += dims.reduce<number>((n, d) => n * (typeof d === 'number' ? d : 1), 1);
    }
    need = Math.max(need, rows * perRow * 24 + 64 * 1024);
  }
  return Math.max(8 * 1024 * 1024, need);
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: opts.logLevel ?? 'info' },
    bodyLimit: opts.bodyLimit,
    requestIdHeader: 'x-request-id',
    logController: new LogController({ disableRequestLogging: true }),
    // our own SHUTTING_DOWN answer replaces fastify's bare 503 while draining
    return503OnClosing: false,
    // bodies are read by known keys and never merged into other objects, so the __proto__ /
    // constructor scan of every body (a regex over the whole text) buys nothing here
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    // a bad percent-encoding or an over-long path parameter is found before routing: fastify
    // would answer in its own shape, not the catalogue's
    frameworkErrors: (err, request, reply) => {
      const e = toServeError(err, opts.bodyLimit);
      // (reply's generics here are the option's, not the app's: the plain type is what it is)
      return (reply as unknown as FastifyReply).code(e.status).type('application/json; charset=utf-8').send(errorBody(e, isV2Url(request.raw.url ?? '')));
    },
    clientErrorHandler: onClientError,
  });
  const metrics = opts.metrics ?? new Metrics(() => opts.repository.allWithVariants());
  app.decorate('serving', { repository: opts.repository, metrics, draining: false });
  instrumentInferenceRequests(app, metrics); // before any route: it hooks routes as they are added

  app.setErrorHandler((err: FastifyError | ServeError, request, reply) => {
    const e = toServeError(err, opts.bodyLimit);
    if (e.status >= 500) request.log.error({ err, code: e.code }, 'request failed');
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return reply.code(e.status).send({ error: { code: e.code, message: e.message } });
  });
  app.setNotFoundHandler((request) => {
    throw new ServeError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; see README.md for the API`);
  });

  // while draining, each answer closes its connection: keep-alive sockets must not hold the process open
  // (a callback hook, not async: no promise per response)
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (app.serving.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  // the spec is built from the routes' schemas as they are added: swagger comes before every route
  await registerDocs(app);
  await app.register(healthRoutes);
  await app.register(modelRoutes);
  await app.register(predictRoutes);
  await app.register(metricsRoutes);
  await app.register(import('./routes/v2.js')); // KServe v2 / Open Inference Protocol (its own body parsers and error shape)
  app.addHook('onClose', async () => {
    await opts.repository.close();
  });
  return app;
}

/** /v2 answers the protocol's `{"error": message}`; every other path the catalogue's `{"error": {code, message}}`. */
export function isV2Url(url: string): boolean {
  return /^\/v2(?:[/?#]|$)/.test(url);
}

export function errorBody(e: ServeError, v2: boolean): string {
  return JSON.stringify(v2 ? { error: e.message } : { error: { code: e.code, message: e.message } });
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

/**
 * fastify's clientErrorHandler: answers in the catalogue's shape (the /v2 one when the request
 * line names /v2) and closes the connection, whose framing can no longer be trusted.
 */
function onClientError(err: ConnectionError & { reason?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let response: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // the client was too slow to send a request at all: nothing to correct in it
    response = 'HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
  } else {
    const e = clientError(err);
    const raw: unknown = err.rawPacket; // a Buffer at run time, whatever fastify's type says
    const line = Buffer.isBuffer(raw) ? raw.toString('latin1', 0, 256) : '';
    const body = errorBody(e, /^[A-Z]+ \/v2(?:[/?# ]|$)/.test(line));
    response = `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  }
  if (socket.writable) socket.write(response);
  socket.destroy(err);
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
