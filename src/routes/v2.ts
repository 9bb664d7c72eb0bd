// KServe v2 / Open Inference Protocol routes under /v2: server and model metadata, model
// readiness, statistics, and inference with JSON or binary tensors through the same scheduler
// queues as /v1. Errors here are the protocol's {"error": "message"} (Triton's statuses).
import type { FastifyInstance, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ServeError } from '../errors.js';
import { toServeError } from '../app.js';
import { requestTimeoutMs } from './predict.js';
import { decodeInferRequest, encodeInferResponse, planOutputs } from '../kserve/infer.js';
import { findVersions, modelMetadata, serverMetadata } from '../kserve/metadata.js';
import { modelStats } from '../kserve/stats.js';

interface ModelParams {
  m: string;
  v?: string;
}

/**
 * Status on /v2: the catalogue's, except QUEUE_FULL, which is 503 (Triton answers a full
 * queue as UNAVAILABLE) and keeps its Retry-After header.
 */
export function v2Status(e: ServeError): number {
  return e.code === 'QUEUE_FULL' ? 503 : e.status;
}

export async function v2Routes(app: FastifyInstance): Promise<void> {
  await app.register(kserveRoutes, { prefix: '/v2' });
}

async function kserveRoutes(app: FastifyInstance): Promise<void> {
  const bodyLimit = app.initialConfig.bodyLimit ?? 0;

  // every body arrives as a Buffer (JSON, or JSON header + binary tensors), whatever its
  // content type; /v1 keeps fastify's JSON parser (this scope is encapsulated)
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((err: FastifyError | ServeError, request, reply) => {
    const e = toServeError(err, bodyLimit);
    const status = v2Status(e);
    // logged as /v1 logs them (by catalogue status): a full queue is load, not a server fault
    if (e.status >= 500) request.log.error({ err, code: e.code }, 'request failed');
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return reply.code(status).send({ error: e.message });
  });
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}; see README.md for the API` });
  });

  app.get('/', async () => serverMetadata());

  // statistics of every model (a static route: it wins over /models/:m)
  app.get('/models/stats', async () => {
    return { model_stats: app.serving.repository.all().map(modelStats) };
  });

  for (const base of ['/models/:m', '/models/:m/versions/:v']) {
    app.get<{ Params: ModelParams }>(base, async (request) => modelMetadata(app.serving.repository, request.params.m, request.params.v));

    app.get<{ Params: ModelParams }>(`${base}/ready`, async (request, reply) => {
      const { m, v } = request.params;
      let versions;
      try {
        versions = findVersions(app.serving.repository, m, v);
      } catch (err) {
        if (err instanceof ServeError && err.code === 'MODEL_NOT_READY') return reply.code(503).send({ name: m, ready: false });
        throw err;
      }
      const mv = versions[versions.length - 1]!;
      const ready = mv.ready && !app.serving.draining;
      return reply.code(ready ? 200 : 503).send({ name: m, version: mv.version, ready });
    });

    app.get<{ Params: ModelParams }>(`${base}/stats`, async (request) => {
      return { model_stats: findVersions(app.serving.repository, request.params.m, request.params.v).map(modelStats) };
    });

    // config.inference: counted, timed and logged by the request-metrics hook, as /v1/predict is
    app.post<{ Params: ModelParams }>(`${base}/infer`, { config: { inference: true } }, (request, reply) => infer(app, request, reply));
  }
}

async function infer(app: FastifyInstance, request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply): Promise<string | Buffer> {
  if (app.serving.draining) throw new ServeError('SHUTTING_DOWN', 'the server is shutting down; send the request to another replica');
  const mv = app.serving.repository.resolve(request.params.m, request.params.v);
  const record = request.inference!; // set by the inference onRequest hook (config.inference)
  record.model = mv.name;
  record.version = mv.version;
  const batching = mv.batching!;
  const body = request.body as Buffer | undefined;
  const { request: req, inputs } = decodeInferRequest(body, request.headers['inference-header-content-length'], mv.signature!.inputs, batching.maxBatchSize);
  const plan = planOutputs(req, mv.signature!.outputs);
  const timeoutMs = requestTimeoutMs(request.headers['x-request-timeout-ms'], batching.timeoutMs);

  const result = await mv.scheduler!.enqueue({
    inputs: inputs.tensors,
    rows: inputs.rows,
    key: inputs.key,
    timeoutMs,
    // a client that goes away while queued is dropped from the queue, as on /v1
    onCancel: (cancel) => reply.raw.once('close', () => reply.raw.writableFinished || cancel()),
  });

  record.batchSize = result.batchSize;
  record.queueMs = result.queueMs;
  record.computeMs = result.computeMs;

  const res = encodeInferResponse(mv, req.id, plan, result.outputs);
  reply.header('server-timing', `queue;dur=${result.queueMs.toFixed(3)}, compute;dur=${result.computeMs.toFixed(3)}`);
  reply.header('x-batch-size', String(result.batchSize));
  if (res.headerLength === undefined) {
    reply.type('application/json; charset=utf-8');
  } else {
    reply.header('inference-header-content-length', String(res.headerLength));
    reply.type('application/octet-stream');
  }
  return res.body;
}

export default v2Routes;
