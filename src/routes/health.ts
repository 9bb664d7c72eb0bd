// Liveness and readiness (KServe v2 paths): ready means not draining and every model READY.
// Compressed variants are listed with their state but never make the server unready.
import type { FastifyInstance } from 'fastify';
import { listOf, noInputClientError, openObject } from '../openapi.js';
import type { ModelVersion } from '../repository/model-version.js';

const stateOf = (mv: ModelVersion) => ({ state: mv.state, ...(mv.reason ? { reason: mv.reason } : {}) });

const readyBody = (description: string) =>
  openObject(
    {
      ready: { type: 'boolean' },
      draining: { type: 'boolean', description: 'Present (true) once SIGTERM started the drain.' },
      models: listOf({
        name: { type: 'string' },
        version: { type: 'string' },
        state: { type: 'string' },
        reason: { type: 'string' },
        variants: listOf(
          { name: { type: 'string' }, state: { type: 'string' }, reason: { type: 'string' } },
          { description: "Only for a version with compressed variants: each one's state (a variant that is not READY does not make the server unready)." },
        ),
      }),
    },
    { description },
  );

const liveSchema = {
  summary: 'Liveness',
  description: 'Answers 200 while the process serves HTTP.',
  tags: ['health'],
  response: {
    200: { description: 'Alive.', type: 'object', additionalProperties: true, properties: { live: { type: 'boolean' } }, examples: [{ live: true }] },
    '4xx': noInputClientError(),
  },
};

const readySchema = {
  summary: 'Readiness',
  description: "200 when the server is not draining and every model version is READY, else 503; the body lists each model's state and reason.",
  tags: ['health'],
  response: {
    200: { ...readyBody('Ready.'), examples: [{ ready: true, models: [{ name: 'digits', version: '1', state: 'READY' }] }] },
    '4xx': noInputClientError(),
    503: readyBody('Not ready: draining, or a model is loading or unavailable (see `reason`).'),
  },
};

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/v2/health/live', { schema: liveSchema }, async () => ({ live: true }));
  app.get('/v2/health/ready', { schema: readySchema }, async (_req, reply) => {
    const { repository, draining } = app.serving;
    const ready = !draining && repository.allReady();
    const models = [
      ...repository.all().map((mv) => ({
        name: mv.name,
        version: mv.version,
        ...stateOf(mv),
        ...(mv.variants.size ? { variants: [...mv.variants.values()].map((v) => ({ name: v.variant, ...stateOf(v) })) } : {}),
      })),
      ...repository.broken.map((b) => ({ name: b.name, state: 'UNAVAILABLE', reason: b.reason })),
    ];
    return reply.code(ready ? 200 : 503).send({ ready, ...(draining ? { draining: true } : {}), models });
  });
}
