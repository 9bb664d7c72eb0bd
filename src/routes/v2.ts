// KServe v2 / Open Inference Protocol routes under /v2: server and model metadata, model
// readiness, statistics, and inference with JSON or binary tensors through the same scheduler
// queues as /v1. Errors here are the protocol's {"error": "message"} (Triton's statuses).
import type { FastifyInstance, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ServeError, errorPayload, logError, toServeError, v2Status } from '../errors.js';
import { resolveForRequest, runInference } from './inference.js';
import { earlyAdmission, noteBodyAsks } from './early-admission.js';
import { timeErrorAnswer } from '../request-metrics.js';
import { decodeInferInputs, encodeInferResponse, parseInferBody, planOutputs } from '../kserve/infer.js';
import { modelConfig, modelMetadata, serverMetadata } from '../kserve/metadata.js';
import { modelStats } from '../kserve/stats.js';
import { repositoryRoutes } from './repository.js';
import { sharedMemoryRoutes } from './shared-memory.js';
import { loggingRoutes } from './logging.js';
import { allStatsSchema, configSchema, inferBodyDoc, inferSchema, metadataSchema, modelStatsSchema, readySchema, serverMetadataSchema } from '../kserve/schemas.js';

// the protocol's names: /v2/models/{model_name}[/versions/{model_version}]
interface ModelParams {
  model_name: string;
  model_version?: string;
}

interface InferQuery {
  variant?: string;
}

export default async function v2Routes(app: FastifyInstance): Promise<void> {
  await app.register(kserveRoutes, { prefix: '/v2' });
}

async function kserveRoutes(app: FastifyInstance): Promise<void> {
  const bodyLimit = app.initialConfig.bodyLimit ?? 0;
  const root = app.serving.repository.root;

  // every body arrives as a Buffer (JSON, or JSON header + binary tensors), whatever its
  // content type; /v1 keeps fastify's JSON parser (this scope is encapsulated)
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((err: FastifyError | ServeError, request, reply) => {
    const e = toServeError(err, bodyLimit);
    const status = v2Status(e);
    // logged as /v1 logs them (by catalogue status): a full queue is load, not a server fault
    logError(request, err, e, root);
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    timeErrorAnswer(request, reply);
    return reply.code(status).send(errorPayload(e, true, root));
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new ServeError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; see README.md for the API`);
    return reply.code(e.status).send(errorPayload(e, true, root));
  });

  app.get('/', { schema: serverMetadataSchema }, async () => serverMetadata());

  // Triton's model repository and logging extensions (admin token for what changes the server)
  await app.register(repositoryRoutes);
  await app.register(loggingRoutes);
  await app.register(sharedMemoryRoutes);

  // statistics of every model (a static route: it wins over /models/:m)
  app.get('/models/stats', { schema: allStatsSchema }, async () => {
    return { model_stats: app.serving.repository.all().map(modelStats) };
  });

  for (const withVersion of [false, true]) {
    const base = withVersion ? '/models/:model_name/versions/:model_version' : '/models/:model_name';
    app.get<{ Params: ModelParams }>(base, { schema: metadataSchema(withVersion) }, async (request) =>
      modelMetadata(app.serving.repository, request.params.model_name, request.params.model_version),
    );

    // Triton's model configuration extension (image_client.py reads it after the metadata)
    app.get<{ Params: ModelParams }>(`${base}/config`, { schema: configSchema(withVersion) }, async (request) =>
      modelConfig(app.serving.repository, request.params.model_name, request.params.model_version),
    );

    app.get<{ Params: ModelParams }>(`${base}/ready`, { schema: readySchema(withVersion) }, async (request, reply) => {
      const { model_name: m, model_version: v } = request.params;
      let versions;
      try {
        versions = app.serving.repository.find(m, v);
      } catch (err) {
        if (err instanceof ServeError && err.code === 'MODEL_NOT_READY') return reply.code(503).send({ name: m, ready: false });
        throw err;
      }
      const mv = versions[versions.length - 1]!;
      const ready = mv.ready && !app.serving.draining;
      return reply.code(ready ? 200 : 503).send({ name: m, version: mv.version, ready });
    });

    app.get<{ Params: ModelParams }>(`${base}/stats`, { schema: modelStatsSchema(withVersion) }, async (request) => {
      return { model_stats: app.serving.repository.find(request.params.model_name, request.params.model_version).map(modelStats) };
    });

    // config.inference: counted, timed and logged by the request-metrics hook, as /v1/predict is
    // config.openapiBody: the body is documented but not validated by fastify (it arrives as bytes)
    app.post<{ Params: ModelParams; Querystring: InferQuery }>(
      `${base}/infer`,
      // onRequest: a request the queue would refuse anyway is answered before its body is read
      { schema: inferSchema(withVersion), config: { inference: true, openapiBody: inferBodyDoc }, onRequest: earlyAdmission(app) },
      (request, reply) => infer(app, request, reply),
    );
  }
}

async function infer(app: FastifyInstance, request: FastifyRequest<{ Params: ModelParams; Querystring: InferQuery }>, reply: FastifyReply): Promise<string | Buffer> {
  const { model_name: name, model_version: version } = request.params;
  // the base first: an unknown model is a 404 whatever the body holds
  let mv = resolveForRequest(app, request, name, version);
  const parsed = parseInferBody(request.body as Buffer | undefined, request.headers['inference-header-content-length']);
  const variant = requestedVariant(parsed.request.variant, request.query.variant);
  noteBodyAsks(mv, parsed.request);
  if (variant !== undefined) mv = resolveForRequest(app, request, name, mv.version, variant);
  const { request: req, inputs } = decodeInferInputs(parsed, mv.signature!.inputs, mv.batching!.maxBatchSize);
  const batched = mv.batching!.maxBatchSize > 0;
  const plan = planOutputs(req, mv.signature!.outputs, batched);
  const result = await runInference(request, reply, mv, inputs, {
    ...(req.priority !== undefined ? { priority: req.priority } : {}),
    ...(req.timeoutUs !== undefined ? { timeoutMs: Math.max(1, Math.ceil(req.timeoutUs / 1000)) } : {}),
  });

  const res = encodeInferResponse(mv, req.id, plan, result.outputs, { batched, labels: mv.labels });
  if (res.headerLength === undefined) {
    reply.type('application/json; charset=utf-8');
  } else {
    reply.header('inference-header-content-length', String(res.headerLength));
    reply.type('application/octet-stream');
  }
  return res.body;
}

/** The variant named by `parameters.variant` or `?variant=`; both may be given only if they agree. */
function requestedVariant(fromBody: string | undefined, fromQuery: string | undefined): string | undefined {
  if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
    throw new ServeError('INVALID_INPUT', `the request names variant "${fromBody}" in parameters.variant and "${fromQuery}" in the query; name one`);
  }
  return fromBody ?? fromQuery;
}
