// One inference request over gRPC, whichever call carries it (a unary ModelInfer, or one message
// of a ModelStreamInfer stream): resolved, checked, queued and answered by the code the HTTP
// route runs, then counted, timed and logged as an HTTP request is (protocol "grpc").
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { Serving } from '../app.js';
import { ServeError } from '../errors.js';
import { BASE_VARIANT, UNRESOLVED } from '../metrics.js';
import { decodeInferInputs, planOutputs } from '../kserve/infer.js';
import { defaultDeadlineMs, enqueueDecoded, priorityLevel, resolveServing } from '../routes/inference.js';
import { UndecodableRequest } from './proto.js';
import { grpcInferResponse, parseGrpcInfer, type GrpcInferRequest, type GrpcInferResponse } from './infer.js';

/**
 * What the call a request came on tells it: its deadline and whether it was cancelled. A
 * request registers its queue entry's cancel while it waits, so that a client that goes away
 * takes its requests out of the queue.
 */
export class CallScope {
  /** True once the client cancelled the call (or its deadline passed). */
  cancelled = false;
  private readonly cancels = new Set<() => void>();

  /** `deadlineAt`: ms since the epoch (Date.now()'s clock), Infinity for none. */
  constructor(readonly deadlineAt: number) {}

  /** The client went away: queued requests leave their queues. One whose deadline passed is left to the scheduler's own timer (the same instant), so that it counts as a timeout, as over HTTP. */
  cancel(): void {
    this.cancelled = true;
    if (Number.isFinite(this.deadlineAt) && Date.now() >= this.deadlineAt - 1) return;
    for (const c of this.cancels) c();
    this.cancels.clear();
  }

  track(cancel: () => void): () => void {
    if (this.cancelled) cancel();
    else this.cancels.add(cancel);
    return () => {
      this.cancels.delete(cancel);
    };
  }
}

export interface InferAnswer {
  response: GrpcInferResponse;
  batchSize: number;
  queueMs: number;
  computeMs: number;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

export type InferRunner = (request: GrpcInferRequest | UndecodableRequest, scope: CallScope) => Promise<InferAnswer>;

export function inferRunner(serving: Serving, log: FastifyBaseLogger): InferRunner {
  return async (request, scope) => {
    const started = performance.now();
    const rec = { model: UNRESOLVED, version: UNRESOLVED, variant: BASE_VARIANT, batchSize: 0, queueMs: 0, computeMs: 0 };
    let statusCode = 200;
    try {
      if (request instanceof UndecodableRequest) throw new ServeError('INVALID_INPUT', request.message);
      const req = request;
      if (!req.model_name) throw new ServeError('INVALID_INPUT', 'model_name is empty; name the model to run');
      // the base first: an unknown model is NOT_FOUND whatever the request holds
      let mv = resolveServing(serving, req.model_name, req.model_version || undefined);
      Object.assign(rec, { model: mv.name, version: mv.version });
      const parsed = parseGrpcInfer(req);
      if (parsed.request.variant !== undefined) {
        Object.assign(rec, { model: UNRESOLVED, version: UNRESOLVED });
        mv = resolveServing(serving, req.model_name, mv.version, parsed.request.variant);
        Object.assign(rec, { model: mv.name, version: mv.version, variant: mv.variant ?? BASE_VARIANT });
      }
      const { request: v2, inputs } = decodeInferInputs(parsed, mv.signature!.inputs, mv.batching!.maxBatchSize);
      const plan = planOutputs(v2, mv.signature!.outputs);
      // the call's deadline is the request's own, as x-request-timeout-ms is over HTTP; else the
      // parameters' timeout or the model's, counted from the request's arrival
      const asks = v2.timeoutUs !== undefined ? { timeoutMs: Math.max(1, Math.ceil(v2.timeoutUs / 1000)) } : {};
      const ownMs = defaultDeadlineMs(mv, asks) - (performance.now() - started);
      const timeoutMs = Math.max(0.001, Number.isFinite(scope.deadlineAt) ? scope.deadlineAt - Date.now() : ownMs);
      let untrack = (): void => {};
      const result = await enqueueDecoded(mv, inputs, {
        timeoutMs,
        level: priorityLevel(v2.priority, mv),
        onCancel: (c) => {
          untrack = scope.track(c);
        },
      }).finally(() => untrack());
      Object.assign(rec, { batchSize: result.batchSize, queueMs: result.queueMs, computeMs: result.computeMs });
      return { response: grpcInferResponse(mv, v2.id, plan, result.outputs), batchSize: result.batchSize, queueMs: result.queueMs, computeMs: result.computeMs };
    } catch (err) {
      statusCode = err instanceof ServeError ? err.status : 500;
      throw err;
    } finally {
      const ms = performance.now() - started;
      serving.metrics.forVersion(rec.model, rec.version, rec.variant).request(statusCode, ms / 1000, 'grpc');
      log.info(
        { protocol: 'grpc', model: rec.model, version: rec.version, ...(rec.variant !== BASE_VARIANT ? { variant: rec.variant } : {}), status: statusCode, batchSize: rec.batchSize, queueMs: round3(rec.queueMs), computeMs: round3(rec.computeMs), ms: round3(ms) },
        'inference',
      );
    }
  };
}
