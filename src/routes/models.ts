// GET /v1/models: every model with its versions, states, signature, batching config and counters.
import type { FastifyInstance } from 'fastify';

export async function modelRoutes(app: FastifyInstance): Promise<void> {
  app.get('/v1/models', async () => {
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
        instances: mv.config.instances,
        intraOpThreads: mv.config.intraOpThreads,
        variants: mv.config.variants,
        stats: mv.scheduler
          ? {
              queueDepth: mv.scheduler.depth,
              executions: mv.scheduler.executions,
              inferences: mv.scheduler.inferences,
              batchSizes: Object.fromEntries(mv.scheduler.batchSizes),
              workerRestarts: mv.workerRestarts,
            }
          : null,
      })),
    }));
    const unavailable = repository.broken.map((b) => ({ name: b.name, versions: [], state: 'UNAVAILABLE', reason: b.reason }));
    return { models: [...models, ...unavailable] };
  });
}
