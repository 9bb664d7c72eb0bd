// What every inference route (/v1/predict, /v2 …/infer) does around its own decoding and
// encoding: refuse while draining, resolve the model version (or its variant) and label the
// request with it, queue the decoded tensors on that one's scheduler, and report timing headers.
import type { FastifyReply, FastifyRequest, FastifyInstance } from 'fastify';
import { ServeError } from '../errors.js';
import type { ModelVersion } from '../repository/model-version.js';
import type { DecodedInputs } from '../signature.js';
import type { InferenceResult } from '../batching/scheduler.js';
import { BASE_VARIANT, UNRESOLVED } from '../metrics.js';
import { requestKey } from '../tensors/pad.js';
import type { Serving } from '../app.js';

/** Response header naming the variant that computed the answer (absent when the base did). */
export const VARIANT_HEADER = 'x-model-variant';

export const MAX_TIMEOUT_MS = 3_600_000;

/** x-request-timeout-ms: a positive integer of milliseconds, or undefined when the header is absent. */
export function requestTimeoutMs(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const v = Array.isArray(header) ? header[0]! : header;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_TIMEOUT_MS) {
    throw new ServeError('INVALID_INPUT', `header x-request-timeout-ms is "${v}"; use an integer number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
  }
  return n;
}

/** What a request asks of the scheduler beyond its tensors (v2 parameters, /v1 body fields). */
export interface RequestAsks {
  /** 1 is the most urgent level; 0 or absent: the model's default level. */
  priority?: number;
  /** Its own deadline, ms (v2 parameters.timeout is in microseconds: the caller converts). */
  timeoutMs?: number;
}

/** The deadline a request gets: its own (header first), else the model's latency target, else its queue timeout. */
export function deadlineMs(request: FastifyRequest, mv: ModelVersion, asks: RequestAsks): number {
  return requestTimeoutMs(request.headers['x-request-timeout-ms']) ?? defaultDeadlineMs(mv, asks);
}

/** A request's deadline without a transport's own (header, gRPC deadline): its parameters', else the model's. */
export function defaultDeadlineMs(mv: ModelVersion, asks: RequestAsks): number {
  const b = mv.batching!;
  return asks.timeoutMs ?? b.latencyTargetMs ?? b.timeoutMs;
}

/** A priority as a scheduler level (0 the most urgent); a value outside the model's levels is a 400. */
export function priorityLevel(priority: number | undefined, mv: ModelVersion): number {
  const b = mv.batching!;
  if (priority === undefined || priority === 0) return b.defaultPriorityLevel - 1;
  if (!Number.isInteger(priority) || priority < 0 || priority > b.priorityLevels) {
    throw new ServeError('INVALID_INPUT', `priority is ${JSON.stringify(priority)}; use an integer from 1 (most urgent) to ${b.priorityLevels}, or 0 for the default (${b.defaultPriorityLevel})`);
  }
  return priority - 1;
}

/**
 * The READY model version (or variant) a request names, recorded for metrics and logs (never the
 * raw names). Called again once a request's variant is known (v2 reads it from the body): until
 * then the request counts under the base; an unknown or unready variant counts as unresolved.
 */
export function resolveForRequest(app: FastifyInstance, request: FastifyRequest, name: string, version: string | undefined, variant?: string): ModelVersion {
  const record = request.inference!; // set by the inference onRequest hook (config.inference)
  record.model = UNRESOLVED;
  record.version = UNRESOLVED;
  record.variant = BASE_VARIANT;
  const mv = resolveServing(app.serving, name, version, variant);
  record.model = mv.name;
  record.version = mv.version;
  record.variant = mv.variant ?? BASE_VARIANT;
  return mv;
}

/** The READY model version (or variant) named, for any transport: none while the server drains. */
export function resolveServing(serving: Pick<Serving, 'repository' | 'draining'>, name: string, version: string | undefined, variant?: string): ModelVersion {
  if (serving.draining) throw new ServeError('SHUTTING_DOWN', 'the server is shutting down; send the request to another replica');
  return serving.repository.resolve(name, version, variant);
}

/** What the scheduler needs besides the tensors: the same for every transport. */
export interface EnqueueAsks {
  timeoutMs: number;
  level: number;
  onCancel: (cancel: () => void) => void;
}

/** Queues one request's decoded tensors on its model version's scheduler (HTTP and gRPC alike). */
export function enqueueDecoded(mv: ModelVersion, decoded: DecodedInputs, asks: EnqueueAsks): Promise<InferenceResult> {
  return mv.scheduler!.enqueue({
    inputs: decoded.tensors,
    rows: decoded.rows,
    // with padding, lengths along the padded dims do not keep requests apart
    key: mv.padding ? requestKey(decoded.tensors, mv.padding) : decoded.key,
    timeoutMs: asks.timeoutMs,
    level: asks.level,
    onCancel: asks.onCancel,
  });
}

/** Queues decoded inputs for a batch and sets Server-Timing and x-batch-size on the reply. */
export async function runInference(request: FastifyRequest, reply: FastifyReply, mv: ModelVersion, decoded: DecodedInputs, asks: RequestAsks = {}): Promise<InferenceResult> {
  // the deadline counts from the request's arrival: reading, parsing and decoding it used some
  const timeoutMs = Math.max(0.001, deadlineMs(request, mv, asks) - reply.elapsedTime);
  const level = priorityLevel(asks.priority, mv);
  const record = request.inference!;
  const result = await enqueueDecoded(mv, decoded, {
    timeoutMs,
    level,
    // a client that goes away while queued is dropped from the queue: the inference hook's
    // 'close' listener (src/request-metrics.ts) calls this
    onCancel: (cancel) => (record.cancel = cancel),
  });
  record.cancel = undefined;
  record.batchSize = result.batchSize;
  record.queueMs = result.queueMs;
  record.computeMs = result.computeMs;
  reply.header('server-timing', `queue;dur=${result.queueMs.toFixed(3)}, compute;dur=${result.computeMs.toFixed(3)}`);
  reply.header('x-batch-size', String(result.batchSize));
  if (mv.variant !== undefined) reply.header(VARIANT_HEADER, mv.variant);
  return result;
}
