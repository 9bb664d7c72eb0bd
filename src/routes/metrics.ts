// GET /metrics: every metric of this app's registry in the Prometheus text format.
import type { FastifyInstance } from 'fastify';

export async function metricsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const { metrics } = app.serving;
    reply.type(metrics.registry.contentType);
    return metrics.scrape();
  });
}
