// The soak's traffic against the real server: each invalid kind it mixes in gets its 4xx and code,
// and its valid bodies get 200 (a 5xx or a 2xx here would make every soak window count failures).
import t from 'tap';
import { request } from 'undici';
import { makeRepo, startServer, SHIPPED_MODELS } from '../helpers/server.js';
import { invalidBodies, makeBodies } from '../../bench/fixtures.js';
import { join } from 'node:path';

t.test("the soak's invalid bodies are refused with a stable 4xx, its valid ones answered", async (t) => {
  const repo = await makeRepo(t, { 'seed-mlp': { onnx: join(SHIPPED_MODELS, 'seed-mlp', 'model.onnx') } });
  const served = await startServer(t, repo);
  const post = async (body: Buffer): Promise<{ status: number; code?: string }> => {
    const res = await request(`${served.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const j = (await res.body.json().catch(() => ({}))) as { error?: { code?: string } };
    return { status: res.statusCode, ...(j.error?.code ? { code: j.error.code } : {}) };
  };
  const expected: Record<string, { status: number; code: string }> = {
    'malformed JSON': { status: 400, code: 'INVALID_JSON' },
    'wrong input shape': { status: 400, code: 'SHAPE_MISMATCH' },
    'unknown model': { status: 404, code: 'MODEL_NOT_FOUND' },
    'non-number values': { status: 400, code: 'DTYPE_MISMATCH' },
    'empty body': { status: 400, code: 'INVALID_JSON' },
  };
  const bodies = invalidBodies('seed-mlp', 1000);
  t.same(bodies.map((b) => b.kind).sort(), Object.keys(expected).sort(), 'every kind has an expected answer');
  for (const b of bodies) t.same(await post(b.body), expected[b.kind], b.kind);
  t.equal((await post(makeBodies('seed-mlp', 1000, 1)[0]!)).status, 200, 'a valid body');
});
