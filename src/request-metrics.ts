// The per-inference-request record (`request.inference`) and the hooks that turn it into
// requests_total / request_duration_seconds and a single structured log line: onResponse, or
// the response's 'close' (status 499) when the client went away first. Routes opt in with
// `config: { inference: true }` and fill the record once they know the model version.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import { BASE_VARIANT, UNRESOLVED, type Metrics } from './metrics.js';

/**
 * What an inference route knows about its request. model and version come only from the
 * resolved ModelVersion (never from the URL or body: labels must stay bounded); they stay
 * UNRESOLVED ('') when the request failed before that. The rest is 0 until computed.
 */
export interface InferenceRecord {
  model: string;
  version: string;
  /** The variant that served (BASE_VARIANT '' for the base model, and while unresolved). */
  variant: string;
  /** Rows in the execution that computed this request. */
  batchSize: number;
  queueMs: number;
  computeMs: number;
  /** Set while the request is queued: drops it from the queue if the client goes away. */
  cancel?: () => void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set (by the route's onRequest, see below) on inference routes only; null elsewhere. */
    inference: InferenceRecord | null;
  }
  interface FastifyContextConfig {
    /** Marks an inference route: its requests are counted, timed and logged. */
    inference?: boolean;
  }
}

/** nginx's "client closed request": the client went away before the answer was sent. */
export const CLIENT_CLOSED = 499;

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Counts, times and logs one finished request, once: the record is cleared afterwards. */
function finish(metrics: Metrics, request: FastifyRequest, rec: InferenceRecord, status: number, ms: number): void {
  request.inference = null;
  metrics.forVersion(rec.model, rec.version, rec.variant).request(status, ms / 1000, 'http');
  request.log.info(
    // variant only when one served: base requests log the same fields as before
    { model: rec.model, version: rec.version, ...(rec.variant !== BASE_VARIANT ? { variant: rec.variant } : {}), status, batchSize: rec.batchSize, queueMs: round3(rec.queueMs), computeMs: round3(rec.computeMs), ms: round3(ms) },
    'inference',
  );
}

/** Call on the root instance before any route is registered (routes in child plugins included). */
export function instrumentInferenceRequests(app: FastifyInstance, metrics: Metrics): void {
  app.decorateRequest('inference', null);

  // onRequest of inference routes only (other routes pay nothing): a fresh record before the
  // body is parsed, so body-limit, JSON and schema errors are counted too
  const start = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    request.inference = { model: UNRESOLVED, version: UNRESOLVED, variant: BASE_VARIANT, batchSize: 0, queueMs: 0, computeMs: 0 };
    // the client went away before its answer (e.g. while queued): fastify runs no onResponse then
    // (and its onRequestAbort fires only while the body is still arriving)
    reply.raw.on('close', () => {
      const rec = request.inference;
      if (rec === null || reply.raw.writableFinished) return;
      rec.cancel?.(); // one 'close' listener per request serves both the queue and the count
      finish(metrics, request, rec, CLIENT_CLOSED, reply.elapsedTime);
    });
    done();
  };
  app.addHook('onRoute', (route) => {
    if (route.config?.inference) route.onRequest = [start as onRequestHookHandler, ...asArray(route.onRequest)];
  });

  // a callback hook, not async: no promise per response
  app.addHook('onResponse', (request, reply, done) => {
    const rec = request.inference;
    if (rec !== null) finish(metrics, request, rec, reply.statusCode, reply.elapsedTime);
    done();
  });
}

/**
 * Called by the error handlers: an inference route's error answer says how long the server spent
 * on it (a refusal's cost, for clients and load tests); a computed answer's Server-Timing has its
 * queue and compute times instead. Only error answers pay for it.
 */
export function timeErrorAnswer(request: FastifyRequest, reply: FastifyReply): void {
  if (request.inference !== null) reply.header('server-timing', `total;dur=${reply.elapsedTime.toFixed(3)}`);
}

function asArray<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}
