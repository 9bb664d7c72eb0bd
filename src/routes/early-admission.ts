// Admission before the body is read. Under overload most requests are refused; a refusal that
// comes only after the body was read, parsed and decoded costs the main thread the same as an
// accepted request, and that CPU is taken from the requests being computed. Where the URL names
// the model (the v2 infer routes), its queue is asked in onRequest with what the headers say (the
// deadline from x-request-timeout-ms, else the model's), and a request that would be refused is
// answered at once (QUEUE_FULL: 503 on /v2, with Retry-After); Node discards its body unread.
//
// The body may ask for more than the headers show: a priority, a variant (another queue), a
// timeout. A model whose recent requests asked for any of them in their bodies is judged as the
// most favoured such request would be (the most urgent level, no deadline of its own, only the
// queue's count and wait limits), and one whose requests named a variant not at all: they are
// refused, if need be, after their bodies are read, as before.
//
// /v1/predict names its model in the body. Its request is refused before the body only when
// every model version it could name would refuse it: exact for the common one-model server, and
// cheap to ask while the repository is small (MAX_VERSIONS_ASKED).
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ModelVersion } from '../repository/model-version.js';
import { MAX_TIMEOUT_MS, requestTimeoutMs } from './inference.js';

/** /v1's check before the body asks every version's queue only while there are at most this many. */
const MAX_VERSIONS_ASKED = 8;

/** How long a body's priority, timeout or variant keeps its model judged leniently before the body is read. */
const BODY_ASKS_MEMORY_MS = 10_000;

interface BodyAsks {
  /** Date.now() of the last request that named a priority or a timeout in its body. */
  levelOrTimeoutAt: number;
  /** … and of the last one that named a variant there. */
  variantAt: number;
}

const seen = new WeakMap<ModelVersion, BodyAsks>();

/** Called once a request's body is parsed: what it asked for beyond the headers. */
export function noteBodyAsks(mv: ModelVersion, asks: { priority?: number | undefined; timeoutUs?: number | undefined; variant?: string | undefined }): void {
  if (asks.priority === undefined && asks.timeoutUs === undefined && asks.variant === undefined) return;
  const s = seen.get(mv) ?? { levelOrTimeoutAt: -Infinity, variantAt: -Infinity };
  const now = Date.now();
  if (asks.priority !== undefined || asks.timeoutUs !== undefined) s.levelOrTimeoutAt = now;
  if (asks.variant !== undefined) s.variantAt = now;
  seen.set(mv, s);
}

interface InferParams {
  model_name: string;
  model_version?: string;
}

/**
 * The v2 infer routes' onRequest: the refusal now when the queue would refuse the request anyway.
 * Anything it cannot judge (an unknown model, a bad header, a server draining) is left to the
 * route, which answers it with its usual error once the body is read.
 */
export function earlyAdmission(app: FastifyInstance): onRequestHookHandler {
  return (request, _reply, done) => {
    const err = refusal(app, request as FastifyRequest<{ Params: InferParams; Querystring: { variant?: string } }>);
    if (err === undefined) return done();
    done(counted(request, err));
  };
}

/** The refusal's error, the request counted under its model, as the same refusal after the body would be. */
function counted(request: FastifyRequest, r: { mv: ModelVersion; error: Error }): Error {
  const record = request.inference;
  if (record) {
    record.model = r.mv.name;
    record.version = r.mv.version;
  }
  return r.error;
}

/**
 * /v1/predict's onRequest: the refusal now when every READY version of every model (variants
 * included) would refuse the request, whichever its body names; then the one of its first model.
 */
export function earlyAdmissionAnyModel(app: FastifyInstance): onRequestHookHandler {
  return (request, _reply, done) => {
    if (app.serving.draining) return done();
    const versions = app.serving.repository.allWithVariants();
    if (versions.length === 0 || versions.length > MAX_VERSIONS_ASKED) return done();
    let timeoutMs: number | undefined;
    try {
      timeoutMs = requestTimeoutMs(request.headers['x-request-timeout-ms']);
    } catch {
      return done();
    }
    let first: { mv: ModelVersion; error: Error } | undefined;
    for (const mv of versions) {
      if (!mv.ready) continue;
      const r = judge(mv, timeoutMs);
      if (r === undefined) return done();
      first ??= r;
    }
    if (first === undefined) return done();
    done(counted(request, first));
  };
}

function refusal(app: FastifyInstance, request: FastifyRequest<{ Params: InferParams; Querystring: { variant?: string } }>) {
  if (app.serving.draining) return undefined;
  let mv: ModelVersion;
  let timeoutMs: number | undefined;
  try {
    mv = app.serving.repository.resolve(request.params.model_name, request.params.model_version, request.query?.variant);
    timeoutMs = requestTimeoutMs(request.headers['x-request-timeout-ms']);
  } catch {
    return undefined;
  }
  return judge(mv, timeoutMs);
}

/** A model version's refusal of a one-row request with `timeoutMs` from its headers (or none), or undefined. */
function judge(mv: ModelVersion, timeoutMs: number | undefined) {
  const b = mv.batching;
  if (!mv.scheduler || !b) return undefined;
  const asks = seen.get(mv);
  const now = Date.now();
  if (asks && now - asks.variantAt < BODY_ASKS_MEMORY_MS) return undefined;
  const lenient = asks !== undefined && now - asks.levelOrTimeoutAt < BODY_ASKS_MEMORY_MS;
  const level = lenient ? 0 : b.defaultPriorityLevel - 1;
  const budgetMs = timeoutMs ?? (lenient ? MAX_TIMEOUT_MS : (b.latencyTargetMs ?? b.timeoutMs));
  // one row: the least a request can hold, so none is refused that its rows would let in
  const error = mv.scheduler.refusal(1, budgetMs, level);
  return error ? { mv, error } : undefined;
}
