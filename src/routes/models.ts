// GET /v1/models: every model with its versions, states, signature, batching config and counters,
// and each version's compressed variants (file, state, compression method, accuracy delta, counters).
import type { FastifyInstance } from 'fastify';
import type { ModelVersion } from '../repository/model-version.js';
import { listOf, noInputClientError, openObject } from '../openapi.js';

const tensorSignature = openObject({
  name: { type: 'string' },
  dtype: { type: 'string', description: 'float32, int64, uint8, …' },
  dims: { type: 'array', items: { oneOf: [{ type: 'integer' }, { type: 'string' }] }, description: 'A string or -1 is a variable dimension.' },
});

const obj = (description: string, nullable = false) => ({ type: 'object', additionalProperties: true, description, ...(nullable ? { nullable: true } : {}) });

const modelsSchema = {
  summary: 'List the models, their versions, signatures, batching and counters',
  description:
    'Every model of the repository with each version: its state (`LOADING`, `READY`, `UNLOADING`, `UNAVAILABLE`…) and the reason when not ready, ' +
    "the inputs and outputs (name, dtype, dims), the batching configuration, worker instances and the scheduler's counters. " +
    'A model that failed to load is listed with `state: UNAVAILABLE`, no versions and the reason.',
  tags: ['v1'],
  response: {
    200: {
      ...openObject({
        models: listOf({
          name: { type: 'string' },
          state: { type: 'string', description: 'Only for a model that failed to load: `UNAVAILABLE`.' },
          reason: { type: 'string' },
          versions: listOf({
            version: { type: 'string' },
            state: { type: 'string' },
            reason: { type: 'string' },
            inputs: { type: 'array', items: tensorSignature },
            outputs: { type: 'array', items: tensorSignature },
            batching: obj('maxBatchSize and the dynamic batching settings (`policy` adaptive or static, `latencyTargetMs`, `priorityLevels`…), and `padding` (input → pad value) when config.json pads inputs; null until the model is loaded.', true),
            costModel: obj(
              "The cost model: predicted run time (dispatch to result) against rows, as a fitted line (`linear`: fixedMs + perRowMs·rows) and a table by batch-size bucket, each predictor's mean relative error, and the one in use. Seeded at load, updated by every run; null until loaded.",
              true,
            ),
            unbatched: { type: 'string', description: 'Why the model does not batch (maxBatchSize 0): a 0-d input, a batch that is not dimension 0, an output that does not follow the rows, or config.json.' },
            warmup: {
              ...obj('The load-time warm-up: `kind` (`made-up`, `samples` from config.json, `none`), `ok`, `reason` when it failed, `ms`. A failed made-up warm-up is only a warning. Null until loaded.', true),
              properties: { kind: { type: 'string' }, ok: { type: 'boolean' }, reason: { type: 'string' }, ms: { type: 'number' } },
            },
            instances: { type: 'integer', description: 'Worker threads, each with its own onnxruntime session (`sizing.instances`).' },
            intraOpThreads: { type: 'integer', description: 'onnxruntime intra-op threads per session (`sizing.intraOpThreads`).' },
            isolation: { type: 'string', enum: ['thread', 'process'], description: 'Where its sessions run (`--isolation`): worker threads of the server, or child processes it supervises, so that a native crash ends one child.' },
            sizing: {
              ...obj(
                'How instances × intraOpThreads were chosen: `auto` true when onnx-serve chose the instance count (neither config.json nor the CLI gave it) from the cores, the model\'s size on disk and the memory budget; `reason` says where each value came from, and ends in a warning when the copies exceed the budget.',
              ),
              properties: { instances: { type: 'integer' }, intraOpThreads: { type: 'integer' }, auto: { type: 'boolean' }, reason: { type: 'string' } },
            },
            sessionOptions: {
              ...obj(
                "The onnxruntime session options from config.json `sessionOptions`, defaults filled in: `executionProviders` as asked (in order of preference), `graphOptimizationLevel`, and `extra`, every session config entry set (onnx-serve's defaults merged under the model's).",
              ),
              properties: {
                executionProviders: { type: 'array', items: { type: 'string' } },
                graphOptimizationLevel: { type: 'string', enum: ['disabled', 'basic', 'extended', 'all'] },
                extra: { type: 'object', additionalProperties: { type: 'string' } },
              },
            },
            providers: {
              ...obj(
                'The execution providers the sessions actually run on (`inUse`, in order; onnxruntime gives each node to the first that can run it), and those asked for that this onnxruntime build or machine lacks, skipped because a later one in the list was available (`skipped`: `name`, `reason`). Null until loaded.',
                true,
              ),
              properties: {
                inUse: { type: 'array', items: { type: 'string' } },
                skipped: { type: 'array', items: openObject({ name: { type: 'string' }, reason: { type: 'string' } }) },
              },
            },
            variants: listOf(
              {
                name: { type: 'string' },
                file: { type: 'string', description: 'The ONNX file, in the version folder.' },
                state: { type: 'string' },
                reason: { type: 'string', description: 'Why it is not ready: file missing, failed to load, or a signature that differs from the base (which one).' },
                method: { type: 'string', nullable: true, description: "Compression method from the variant's report (`model.int8.report.json` beside `model.int8.onnx`); null without one." },
                accuracyDelta: { type: 'number', nullable: true, description: "The report's measured accuracy change (compressed − original); null when not measured." },
                stats: obj('The same counters as the base, for this variant; null until loaded.', true),
              },
              { description: 'Compressed variants (config.json `variants`), each served by its own workers and queue when a request names it.' },
            ),
            stats: obj('queueDepth, executions, inferences, batchSizes (rows → executions), workerRestarts; null until loaded.', true),
          }),
        }),
      }, { description: 'The models.' }),
      examples: [
        {
          models: [
            {
              name: 'digits',
              versions: [
                {
                  version: '1',
                  state: 'READY',
                  inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 64] }],
                  outputs: [
                    { name: 'logits', dtype: 'float32', dims: ['batch', 10] },
                    { name: 'probabilities', dtype: 'float32', dims: ['batch', 10] },
                  ],
                  batching: { maxBatchSize: 32, policy: 'adaptive', maxQueueDelayMs: 0, preferredBatchSizes: [], maxQueueSize: 1024, timeoutMs: 10000, priorityLevels: 3, defaultPriorityLevel: 2 },
                  warmup: { kind: 'made-up', ok: true, ms: 1.2 },
                  costModel: {
                    using: 'linear',
                    linear: { fixedMs: 0.081, perRowMs: 0.0021 },
                    table: [
                      { upTo: 1, rows: 1, ms: 0.083, runs: 41 },
                      { upTo: 4, rows: 3.2, ms: 0.088, runs: 12 },
                    ],
                    error: { linear: 0.12, table: 0.14 },
                    runs: 53,
                    seeded: 6,
                  },
                  instances: 1,
                  intraOpThreads: 1,
                  sizing: {
                    instances: 1,
                    intraOpThreads: 1,
                    auto: true,
                    reason: '2 cores, 1 for the main thread, 1 for compute; model 68 KiB < 16 MiB: small, HTTP-bound; a copy ≈ 102 KiB (1.5 × file), budget 3.9 GiB fits 100+: auto instances 1 (more would only wait on the main thread), auto intraOpThreads 1',
                  },
                  sessionOptions: { executionProviders: ['cuda', 'cpu'], graphOptimizationLevel: 'all', extra: { 'session.intra_op.allow_spinning': '0' } },
                  providers: { inUse: ['cpu'], skipped: [{ name: 'cuda', reason: 'execution provider "cuda" is not available in this onnxruntime install: libonnxruntime_providers_cuda.so is missing' }] },
                  variants: [
                    {
                      name: 'int8',
                      file: 'model.int8.onnx',
                      state: 'READY',
                      method: 'int8-dynamic',
                      accuracyDelta: -0.003,
                      stats: { queueDepth: 0, executions: 1, inferences: 1, batchSizes: { '1': 1 }, workerRestarts: 0 },
                    },
                  ],
                  stats: { queueDepth: 0, executions: 3, inferences: 5, batchSizes: { '1': 1, '2': 2 }, workerRestarts: 0 },
                },
              ],
            },
          ],
        },
      ],
    },
    '4xx': noInputClientError(),
  },
};

export async function modelRoutes(app: FastifyInstance): Promise<void> {
  app.get('/v1/models', { schema: modelsSchema }, async () => {
    const { repository } = app.serving;
    const models = [...repository.models.entries()].map(([name, versions]) => ({
      name,
      versions: versions.map((mv) => ({
        version: mv.version,
        state: mv.state,
        ...(mv.reason ? { reason: mv.reason } : {}),
        inputs: mv.signature?.inputs ?? [],
        outputs: mv.signature?.outputs ?? [],
        batching: mv.batching ?? null,
        ...(mv.unbatchedReason ? { unbatched: mv.unbatchedReason } : {}),
        warmup: mv.warmup ?? null,
        costModel: mv.scheduler?.cost.view() ?? null,
        instances: mv.sizing.instances,
        intraOpThreads: mv.sizing.intraOpThreads,
        isolation: mv.isolation,
        sizing: { instances: mv.sizing.instances, intraOpThreads: mv.sizing.intraOpThreads, auto: mv.sizing.auto, reason: mv.sizing.reason },
        sessionOptions: mv.config.sessionOptions,
        providers: mv.providers ?? null,
        variants: [...mv.variants.values()].map((v) => ({
          name: v.variant,
          file: v.file,
          state: v.state,
          ...(v.reason ? { reason: v.reason } : {}),
          method: v.compression.method,
          accuracyDelta: v.compression.accuracyDelta,
          stats: counters(v),
        })),
        stats: counters(mv),
      })),
    }));
    const unavailable = repository.broken.map((b) => ({ name: b.name, versions: [], state: 'UNAVAILABLE', reason: b.reason }));
    return { models: [...models, ...unavailable] };
  });
}

/** A version's (or variant's) queue depth and statistics; null until it is loaded. */
function counters(mv: ModelVersion) {
  if (!mv.scheduler || !mv.stats) return null;
  return {
    queueDepth: mv.scheduler.depth,
    executions: mv.stats.executions,
    inferences: mv.stats.inferences,
    batchSizes: Object.fromEntries(mv.stats.batchSizes),
    workerRestarts: mv.workerRestarts,
  };
}
