// buildApp: the fastify instance with error handling and every route, around a loaded
// repository. No listen here (server.ts does that), so tests can inject or listen on port 0.
import Fastify, { LogController, type FastifyInstance, type FastifyError } from 'fastify';
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

/** Maps fastify's own errors (parser, validation, body limit) onto the catalogue. */
export function toServeError(err: FastifyError | ServeError, bodyLimit: number): ServeError {
  if (err instanceof ServeError) return err;
  const code = (err as FastifyError).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new ServeError('PAYLOAD_TOO_LARGE', `the body is larger than the limit of ${bodyLimit} bytes; send fewer rows per request or raise --body-limit`);
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ServeError('INVALID_JSON', 'send the body as JSON with Content-Type: application/json');
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new ServeError('INVALID_JSON', `the body is not valid JSON: ${err.message}`);
  }
  if ((err as FastifyError).validation) return new ServeError('INVALID_INPUT', `the body does not match the request schema: ${err.message}`);
  if (isErrorCode(code ?? '')) return new ServeError(code as keyof typeof ERRORS, err.message);
  const status = (err as FastifyError).statusCode ?? 500;
  if (status === 400) return new ServeError('INVALID_INPUT', err.message);
  return new ServeError('INFERENCE_FAILED', err.message);
}
