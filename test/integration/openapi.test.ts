// The API description from the real server: GET /openapi.json is a valid OpenAPI 3 document
// covering every route (summary, a documented 4xx, a digits example on /v1/predict). That Swagger
// UI at /docs renders it in headless Chromium is test/system/openapi-chromium.test.ts.
import t from 'tap';
import { Validator } from '@seriousme/openapi-schema-validator';
import { SHIPPED_MODELS, startServer, getJson } from '../helpers/server.js';

/** Every method + path the app serves, from fastify's route tree (printRoutes), in OpenAPI path syntax. */
function registeredRoutes(tree: string): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^(.*?)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (depth > 0 ? stack[depth - 1]! : '') + m[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) out.push({ method, path });
  }
  return out
    .filter((r) => r.method !== 'HEAD' && !r.path.startsWith('/docs') && r.path !== '/openapi.json')
    .map((r) => ({ method: r.method, path: (r.path.length > 1 ? r.path.replace(/\/$/, '') : r.path).replace(/:([A-Za-z0-9_]+)/g, '{$1}') }))
    .filter((r, i, all) => all.findIndex((o) => o.method === r.method && o.path === r.path) === i);
}

interface Operation {
  summary?: string;
  responses?: Record<string, unknown>;
  requestBody?: { content?: Record<string, { example?: unknown; examples?: Record<string, unknown> }> };
  parameters?: { name: string; in: string }[];
}

t.test('OpenAPI document', async (t) => {
  const served = await startServer(t, SHIPPED_MODELS);
  const res = await getJson(`${served.url}/openapi.json`);
  t.equal(res.status, 200);
  const spec = res.body as { openapi: string; paths: Record<string, Record<string, Operation>> };

  t.test('is a valid OpenAPI 3 document', async (t) => {
    t.match(spec.openapi, /^3\./);
    const result = await new Validator().validate(spec as never);
    t.same(result.errors ?? [], [], 'no validation errors');
    t.equal(result.valid, true);
  });

  t.test('documents every route with a summary and a 4xx', async (t) => {
    const routes = registeredRoutes(served.app.printRoutes({ commonPrefix: false }));
    t.ok(routes.length >= 15, `found ${routes.length} routes`);
    for (const want of ['POST /v1/predict', 'GET /v1/models', 'POST /v2/models/{model_name}/infer', 'GET /metrics', 'GET /v2']) {
      t.ok(routes.some((r) => `${r.method} ${r.path}` === want), `the route list has ${want}`);
    }
    for (const { method, path } of routes) {
      const op = spec.paths[path]?.[method.toLowerCase()];
      t.ok(op, `${method} ${path} is in paths`);
      if (!op) continue;
      t.ok(op.summary, `${method} ${path} has a summary`);
      t.ok(Object.keys(op.responses ?? {}).some((s) => /^4(\d\d|XX)$/i.test(s)), `${method} ${path} documents a 4xx response`);
    }
    t.notOk(spec.paths['/openapi.json'], '/openapi.json itself is hidden');
    t.notOk(Object.keys(spec.paths).some((p) => p.startsWith('/docs')), "Swagger UI's routes are hidden");
  });

  t.test('/v1/predict has a digits example; /v2 infer documents the binary body', async (t) => {
    const predict = spec.paths['/v1/predict']!.post!;
    const media = predict.requestBody?.content?.['application/json'];
    const example = (media?.example ?? Object.values(media?.examples ?? {})[0]) as { model: string; inputs: { input: number[][] } } | undefined;
    t.ok(example, 'request example');
    t.equal(example?.model, 'digits');
    t.equal(example?.inputs.input[0]?.length, 64, '64 pixel values');
    const infer = spec.paths['/v2/models/{model_name}/infer']!.post!;
    t.ok(infer.requestBody?.content?.['application/octet-stream'], 'binary body');
    t.ok(infer.parameters?.some((p) => p.in === 'header' && p.name.toLowerCase() === 'inference-header-content-length'), 'Inference-Header-Content-Length header');
  });
});
