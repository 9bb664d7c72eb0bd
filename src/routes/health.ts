// Liveness and readiness (KServe v2 paths): ready means not draining and every model READY.
import type { FastifyInstance } from 'fastify';

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => {
    const { repository, draining } = app.serving;
    const ready = !draining && repository.allReady();
    const models = [
      ...repository.all().map((mv) => ({ name: mv.name, version: mv.version, state: mv.state, ...(mv.reason ? { reason: mv.reason } : {}) })),
      ...repository.broken.map((b) => ({ name: b.name, state: 'UNAVAILABLE', reason: b.reason })),
    ];
    return reply.code(ready ? 200 : 503).send({ ready, ...(draining ? { draining: true } : {}), models });
  });
}
