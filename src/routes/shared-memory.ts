// Triton's shared-memory extensions (system and CUDA) under /v2: onnx-serve keeps every tensor in
// the request and answer bodies, so each of their routes answers 501 NOT_IMPLEMENTED with what to
// do instead, rather than the 404 of a path nobody serves (Triton's clients read the message).
import type { FastifyInstance } from 'fastify';
import { ServeError } from '../errors.js';
import { v2Error } from '../openapi.js';

const KINDS = { systemsharedmemory: 'system', cudasharedmemory: 'CUDA' } as const;
const tags = ['shared-memory'];

export async function sharedMemoryRoutes(app: FastifyInstance): Promise<void> {
  for (const [kind, label] of Object.entries(KINDS)) {
    const refuse = async (): Promise<never> => {
      throw new ServeError('NOT_IMPLEMENTED', `${label} shared memory is not supported: send tensors in the request body (JSON, or binary with Inference-Header-Content-Length) and read them from the answer`);
    };
    const schema = (summary: string) => ({ summary, description: `Triton's ${label} shared-memory extension, which onnx-serve does not serve: always 501.`, tags, response: { '4xx': v2Error('A path or method nobody serves.'), 501: v2Error(`${label} shared memory is not supported.`) } });
    for (const region of ['', '/region/:region']) {
      app.get(`/${kind}${region}/status`, { schema: schema(`${label} shared-memory status (not supported)`) }, refuse);
      app.post(`/${kind}${region}/register`, { schema: schema(`Register ${label} shared memory (not supported)`) }, refuse);
      app.post(`/${kind}${region}/unregister`, { schema: schema(`Unregister ${label} shared memory (not supported)`) }, refuse);
    }
  }
}
