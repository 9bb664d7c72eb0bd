// buildApp: the fastify instance with error handling and every route, around a loaded
// repository. No listen here (server.ts does that), so tests can inject or listen on port 0.
// The error hooks here hand errors to src/errors.ts, which maps and renders them.
import Fastify, { LogController, type ConnectionError, type FastifyInstance, type FastifyError, type FastifyReply } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ModelRepository } from './repository/repository.js';
import type { ModelControl } from './config.js';
import { ServeError, clientError, errorBody, errorPayload, isV2Url, logError, toServeError } from './errors.js';
import { predictRoutes } from './routes/predict.js';
import { modelRoutes } from './routes/models.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { Metrics } from './metrics.js';
import { instrumentInferenceRequests, timeErrorAnswer } from './request-metrics.js';
import { registerDocs } from './openapi.js';
import { decodeRequestBodies } from './body-decoding.js';
import fastifyCompress from '@fastify/compress';
import { registerSecurity, requestId, type SecurityOptions } from './security.js';
import { answerAndClose, httpServerFactory, type HttpTimeouts } from './http-server.js';
import { HEADERS_TIMEOUT_MS_DEFAULT, KEEP_ALIVE_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_DEFAULT } from './config.js';
import { limitBodiesInFlight } from './body-budget.js';

export interface Serving {
  repository: ModelRepository;
  metrics: Metrics;
  /** Set on SIGTERM: readiness answers 503 and new inference requests SHUTTING_DOWN. */
  draining: boolean;
  /** The admin routes' token (undefined: they answer 403) and the model control mode (none: no load or unload). */
  admin: { token: string | undefined; modelControl: ModelControl };
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
  /** Compress answers of at least COMPRESS_THRESHOLD bytes when Accept-Encoding asks (gzip, deflate); default false (it costs main-thread CPU). */
  responseCompression?: boolean;
  /** The bearer token of the admin routes; without one they answer 403 ADMIN_DISABLED. */
  adminToken?: string;
  /** Triton's model control mode; default none (load and unload answer MODEL_CONTROL_DISABLED). */
  modelControl?: ModelControl;
  /** CORS origins (default none: off) and the per-client rate limit (default none). */
  security?: Partial<SecurityOptions>;
  /** Slow-client timeouts of the HTTP server; default the CLI's defaults (src/config.ts). */
  timeouts?: HttpTimeouts;
  /** Bytes of request bodies read and held at once (src/body-budget.ts); default no bound. */
  maxBodyBytesInFlight?: number;
}

/** Answers smaller than this go uncompressed: a few hundred bytes gain nothing worth the CPU. */
export const COMPRESS_THRESHOLD = 1024;

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
  // set before the first request (registerSecurity below); frameworkErrors needs it too
  let securityHeaders: Readonly<Record<string, string>> = {};
  const timeouts = opts.timeouts ?? { requestTimeoutMs: REQUEST_TIMEOUT_MS_DEFAULT, headersTimeoutMs: HEADERS_TIMEOUT_MS_DEFAULT, keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS_DEFAULT };
  const app = Fastify({
    // the server drains on close instead of destroying idle kept-alive sockets, and carries the timeouts
    serverFactory: httpServerFactory(timeouts),
    forceCloseConnections: false,
    logger: opts.logger ?? { level: opts.logLevel ?? 'info' },
    bodyLimit: opts.bodyLimit,
    // the client's x-request-id only when sane (requestId); fastify would take any value as is
    requestIdHeader: false,
    genReqId: requestId,
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
      // (these answers skip the onSend hooks: their headers are set here)
      return (reply as unknown as FastifyReply)
        .code(e.status)
        .headers(securityHeaders)
        .header('x-request-id', request.id)
        .type('application/json; charset=utf-8')
        .send(errorBody(e, isV2Url(request.raw.url ?? ''), opts.repository.root));
    },
    clientErrorHandler: onClientError,
  });
  const metrics = opts.metrics ?? new Metrics(() => opts.repository.allWithVariants());
  app.decorate('serving', { repository: opts.repository, metrics, draining: false, admin: { token: opts.adminToken, modelControl: opts.modelControl ?? 'none' } });
  instrumentInferenceRequests(app, metrics); // before any route: it hooks routes as they are added
  if (opts.maxBodyBytesInFlight !== undefined) limitBodiesInFlight(app, opts.maxBodyBytesInFlight, opts.bodyLimit);

  app.setErrorHandler((err: FastifyError | ServeError, request, reply) => {
    const e = toServeError(err, opts.bodyLimit);
    logError(request, err, e, opts.repository.root);
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    timeErrorAnswer(request, reply);
    return reply.code(e.status).send(errorPayload(e, false, opts.repository.root));
  });
  app.setNotFoundHandler((request) => {
    throw new ServeError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; see README.md for the API`);
  });

  // CORS and the rate limit hook routes as they are added: before every route
  securityHeaders = await registerSecurity(app, { corsOrigins: opts.security?.corsOrigins ?? [], rateLimit: opts.security?.rateLimit });
  // every answer carries the security headers (precomputed: src/security.ts) and names its request,
  // as the log does; while draining, each answer closes its connection: keep-alive sockets must not
  // hold the process open (a callback hook, not async: no promise per response)
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.headers(securityHeaders);
    reply.header('x-request-id', request.id);
    if (app.serving.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  // request bodies with Content-Encoding gzip / deflate, decoded with the limit on the decoded size
  decodeRequestBodies(app, opts.bodyLimit);
  // answers compressed on Accept-Encoding: a plugin of onRoute hooks, so before every route; its own
  // request decompression is off (decodeRequestBodies above answers in the catalogue's terms)
  if (opts.responseCompression) {
    // level 1: on float JSON nearly level 6's size (9.2 vs 8.8 KB of 19 KB) for 70 % of its CPU
    await app.register(fastifyCompress, { encodings: ['gzip', 'deflate'], threshold: COMPRESS_THRESHOLD, globalDecompression: false, zlibOptions: { level: 1 } });
  }
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

/**
 * fastify's clientErrorHandler: answers in the catalogue's shape (the /v2 one when the request
 * line names /v2) and closes the connection, whose framing can no longer be trusted, once the
 * requests pipelined before the bad one are answered (src/http-server.ts).
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
  answerAndClose(socket, response);
}
