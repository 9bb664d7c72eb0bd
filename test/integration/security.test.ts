// What a hostile client learns from the real server: no absolute path and none of onnxruntime's
// internals in any error answer (the log has them, by request id), x-request-id on every answer,
// security headers on JSON, metrics and /docs, CORS off unless asked for, and the optional rate
// limit (429 RATE_LIMITED with Retry-After, never on the health probes or /metrics).
import t from 'tap';
import { request } from 'undici';
import { makeRepo, startServer } from '../helpers/server.js';
import { buildModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { DOCS_CSP } from '../../src/security.js';

const mlp = mlpModel([8, 16, 2], 3);
const row = (seed: number): number[] => Array.from(seededFloats(8, seed));

/** x [batch, n] → Reshape to [-1, 3]: onnxruntime fails at run time unless the row count × n divides by 3. */
function reshapeModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 'n'] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['rows', 3] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
    initializers: [{ name: 'shape', dtype: 'int64', dims: [2], data: new BigInt64Array([-1n, 3n]) }],
    name: 'reshape',
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function call(url: string, opts: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const res = await request(url, {
    method: (opts.method ?? (body === undefined ? 'GET' : 'POST')) as 'GET',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
    body,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

t.test('no error answer shows a path or onnxruntime internals; the log has them, by request id', async (t) => {
  const repo = await makeRepo(t, {
    mlp: { onnx: mlp, config: { instances: 1 } },
    reshape: { onnx: reshapeModel(), config: { maxBatchSize: 0 } },
    broken: { onnx: new Uint8Array([1, 2, 3, 4]) },
  });
  const lines: Record<string, unknown>[] = [];
  const served = await startServer(
    t,
    repo,
    ['--log-level', 'info', '--model-control', 'explicit', '--load-model', 'mlp', '--load-model', 'reshape', '--load-model', 'broken', '--admin-token', 'tok'],
    { faultHooks: true, logStream: { write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) } },
  );
  const u = served.url;
  const admin = { authorization: 'Bearer tok' };
  const x = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };
  const answers: [string, Answer][] = [];
  const ask = async (what: string, url: string, opts?: Parameters<typeof call>[1]): Promise<Answer> => {
    const a = await call(url, opts);
    answers.push([what, a]);
    return a;
  };

  const rejected = await ask('a Reshape onnxruntime refuses (v1)', `${u}/v1/predict`, { body: { model: 'reshape', inputs: { x: [[1, 2, 3, 4]] } } });
  t.equal(rejected.status, 422, "onnxruntime's refusal is INPUT_REJECTED");
  t.match(JSON.parse(rejected.text).error.message, /running Reshape node.*cannot be reshaped to the requested shape\. Input shape:\{1,4\}, requested shape:\{-1,3\}/, 'the client still reads what is wrong and which op');
  t.equal((await ask('a Reshape onnxruntime refuses (v2)', `${u}/v2/models/reshape/infer`, { body: x })).status, 422);
  t.equal((await ask('a model whose load failed (v1)', `${u}/v1/predict`, { body: { model: 'broken', inputs: { x: [[1]] } } })).status, 503);
  t.equal((await ask('a model whose load failed (v2 metadata)', `${u}/v2/models/broken`)).status, 503);
  t.equal((await ask('its readiness', `${u}/v2/models/broken/ready`)).status, 503);
  t.equal((await ask('server readiness', `${u}/v2/health/ready`)).status, 503, 'not ready: a model is unavailable');
  const load = await ask('a load that fails', `${u}/v2/repository/models/broken/load`, { body: {}, headers: admin });
  t.equal(load.status, 400, 'MODEL_LOAD_FAILED');
  t.match(load.text, /broken\/model\.onnx/, "the reason names the model's file relative to the repository");
  const models = await ask('/v1/models', `${u}/v1/models`);
  t.match(models.text, /"name":"broken"[^]*"state":"UNAVAILABLE"/, '/v1/models lists the broken model');
  await ask('/v2/repository/index', `${u}/v2/repository/index`, { body: {} });
  await ask('/v2 config', `${u}/v2/models/reshape/config`);
  await ask('/v2 stats', `${u}/v2/models/stats`);
  await ask('/metrics', `${u}/metrics`);
  await ask('an unknown model', `${u}/v1/predict`, { body: { model: 'nope', inputs: { x: [[1]] } } });
  await ask('bad JSON', `${u}/v1/predict`, { body: '{"model": ' });
  await ask('an unknown route', `${u}/v1/nothing-here`);
  await ask('bad percent-encoding', `${u}/v2/models/%zz/ready`);
  served.app.serving.repository.resolve('mlp').workerPool!.injectFault({ kind: 'fail-next-run' });
  t.equal((await ask('a run that fails (500)', `${u}/v1/predict`, { body: { model: 'mlp', inputs: { input: [row(1)] } } })).status, 500);
  served.app.serving.draining = true;
  t.equal((await ask('draining (503)', `${u}/v1/predict`, { body: { model: 'mlp', inputs: { input: [row(1)] } } })).status, 503);
  served.app.serving.draining = false;

  const forbidden: [string, (s: string) => boolean][] = [
    [`the repository root ${repo}`, (s) => s.includes(repo)],
    [`the working directory ${process.cwd()}`, (s) => s.includes(process.cwd())],
    ['onnxruntime_src', (s) => s.includes('onnxruntime_src')],
    ['a C++ source location', (s) => /\.(?:h|cc|cpp):\d/.test(s)],
    ['a graph node name', (s) => /Name:'/.test(s)],
  ];
  for (const [what, a] of answers) {
    const seen = `${a.text}\n${JSON.stringify(a.headers)}`;
    for (const [name, found] of forbidden) t.notOk(found(seen), `${what}: no ${name}`);
    t.match(a.headers['x-request-id'], UUID, `${what}: x-request-id`);
    t.equal(a.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  }

  // the detail the client did not get is in the log, under the request id it did get
  const id = rejected.headers['x-request-id'];
  const logged = lines.find((l) => l.reqId === id && typeof l.detail === 'string');
  t.ok(logged, 'the refused request has a log line under its x-request-id');
  t.match(String(logged?.detail), /reshape_helper\.h:\d+/, "the log line has onnxruntime's source location");
  t.match(String(logged?.detail), /Name:'/, 'and the node name');
  const loadLine = lines.find((l) => l.msg === 'model load failed' && l.model === 'broken');
  t.ok(loadLine, 'the failed load is logged');
});

t.test('x-request-id: a sane one is echoed, anything else is replaced by a fresh one', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlp } });
  const served = await startServer(t, repo);
  const u = served.url;
  const ids = async (path: string, header?: string): Promise<string> => {
    const a = await call(`${u}${path}`, header === undefined ? {} : { headers: { 'x-request-id': header } });
    return String(a.headers['x-request-id']);
  };
  t.equal(await ids('/v1/models', 'trace-0af7651916cd43dd'), 'trace-0af7651916cd43dd', 'echoed on a 200');
  t.equal(await ids('/v1/nothing-here', 'abc.123_XYZ:9'), 'abc.123_XYZ:9', 'echoed on a 404');
  t.equal(await ids('/v2/models/nope/ready', 'k8s-probe-1'), 'k8s-probe-1', 'echoed on a /v2 error');
  const generated = [await ids('/v1/models'), await ids('/v1/models')];
  t.match(generated[0], UUID, 'made when absent');
  t.not(generated[0], generated[1], 'a fresh one per request');
  t.match(await ids('/v1/models', 'x'.repeat(129)), UUID, 'too long (129 characters): replaced');
  t.match(await ids('/v1/models', 'has space'), UUID, 'a space: replaced');
  t.match(await ids('/v1/models', 'caf\u00e9'), UUID, 'not ASCII: replaced');
});

t.test('security headers on JSON, metrics and /docs; CORS off by default', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlp } });
  const served = await startServer(t, repo);
  const u = served.url;
  const json = await call(`${u}/v1/models`, { headers: { origin: 'https://evil.example' } });
  const metrics = await call(`${u}/metrics`);
  const docs = await call(`${u}/docs/`);
  const asset = await call(`${u}/docs/static/swagger-ui-bundle.js`);
  const error = await call(`${u}/v1/predict`, { body: { model: 'nope', inputs: { input: [row(1)] } } });
  for (const [what, a] of [['JSON', json], ['metrics', metrics], ['/docs', docs], ['a /docs asset', asset], ['an error', error]] as const) {
    t.equal(a.status, what === 'an error' ? 404 : 200, `${what}: answered`);
    t.equal(a.headers['x-content-type-options'], 'nosniff', `${what}: x-content-type-options nosniff`);
    t.equal(a.headers['x-frame-options'], 'SAMEORIGIN', `${what}: x-frame-options`);
    t.equal(a.headers['referrer-policy'], 'no-referrer', `${what}: referrer-policy`);
    t.equal(a.headers['cross-origin-resource-policy'], 'same-origin', `${what}: cross-origin-resource-policy`);
    t.notOk('x-powered-by' in a.headers, `${what}: no x-powered-by`);
    t.notOk('strict-transport-security' in a.headers, `${what}: no HSTS from a plain-HTTP server`);
    t.notOk(Object.keys(a.headers).some((h) => h.startsWith('access-control-')), `${what}: no Access-Control-* header (CORS off)`);
  }
  t.equal(json.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", 'the API: nothing may load or frame it');
  t.equal(metrics.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", 'metrics: the same');
  t.equal(docs.headers['content-security-policy'], DOCS_CSP, "/docs: its own CSP (the Chromium system test shows the page works under it)");
  t.match(docs.text, /swagger-ui-bundle\.js/, '/docs is the Swagger UI page');
  const preflight = await call(`${u}/v1/predict`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  t.equal(preflight.status, 404, 'CORS off: no preflight route');
  t.notOk(Object.keys(preflight.headers).some((h) => h.startsWith('access-control-')), 'and no Access-Control-* header');
});

t.test('--cors-origin: listed origins get CORS headers and a preflight; others do not', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlp } });
  const served = await startServer(t, repo, ['--cors-origin', 'https://app.example,http://localhost:3000', '--cors-origin', 'https://other.example']);
  const u = served.url;
  const listed = await call(`${u}/v1/models`, { headers: { origin: 'http://localhost:3000' } });
  t.equal(listed.headers['access-control-allow-origin'], 'http://localhost:3000', 'a listed origin is allowed');
  t.match(listed.headers['access-control-expose-headers'], /x-request-id/, 'the browser may read x-request-id');
  t.match(listed.headers['vary'], /Origin/i, 'Vary: Origin (the answer depends on it)');
  t.equal((await call(`${u}/v1/models`, { headers: { origin: 'https://other.example' } })).headers['access-control-allow-origin'], 'https://other.example', 'a repeated flag adds an origin');
  const unlisted = await call(`${u}/v1/models`, { headers: { origin: 'https://evil.example' } });
  t.equal(unlisted.status, 200, 'an unlisted origin is still answered (CORS is for browsers)');
  t.notOk('access-control-allow-origin' in unlisted.headers, 'but not allowed');
  const preflight = await call(`${u}/v1/predict`, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-request-id' },
  });
  t.equal(preflight.status, 204, 'the preflight is answered');
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
  t.match(preflight.headers['access-control-allow-methods'], /POST/, 'POST allowed');
  t.match(preflight.headers['access-control-allow-headers'], /content-type/, 'the asked-for headers allowed');
  t.equal(preflight.headers['x-content-type-options'], 'nosniff', 'the preflight has the security headers too');

  const any = await startServer(t, repo, ['--cors-origin', '*']);
  t.equal((await call(`${any.url}/v1/models`, { headers: { origin: 'https://anyone.example' } })).headers['access-control-allow-origin'], '*', '"*": any origin');
});

t.test('--rate-limit: the N+1th request in the window is 429 RATE_LIMITED with Retry-After; probes and metrics are never limited', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlp } });
  // a window far longer than the test: the count cannot reset midway on a slow machine
  const served = await startServer(t, repo, ['--rate-limit', '3', '--rate-limit-window-ms', '600000']);
  const u = served.url;
  for (let i = 0; i < 5; i++) {
    t.equal((await call(`${u}/v2/health/live`)).status, 200, `liveness ${i + 1}: not counted`);
    t.equal((await call(`${u}/v2/health/ready`)).status, 200, `readiness ${i + 1}: not counted`);
    t.equal((await call(`${u}/metrics`)).status, 200, `metrics ${i + 1}: not counted`);
  }
  const first = await call(`${u}/v1/predict`, { body: { model: 'mlp', inputs: { input: [row(1)] } } });
  t.equal(first.status, 200, 'request 1 is served');
  t.equal(first.headers['x-ratelimit-remaining'], '2', 'and told how many remain');
  t.equal((await call(`${u}/v1/models`)).status, 200, 'request 2 is served');
  t.equal((await call(`${u}/v2/models/mlp`)).status, 200, 'request 3 is served');
  const limited = await call(`${u}/v1/predict`, { body: { model: 'mlp', inputs: { input: [row(1)] } } });
  t.equal(limited.status, 429, 'request 4: 429');
  const body = JSON.parse(limited.text) as { error: { code: string; message: string } };
  t.equal(body.error.code, 'RATE_LIMITED', "the catalogue's code");
  t.match(body.error.message, /more than 3 requests from this client within 600000 ms/, 'says why');
  t.match(limited.headers['retry-after'], /^\d+$/, 'Retry-After in seconds');
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 600, `Retry-After within the window (${limited.headers['retry-after']})`);
  t.match(limited.headers['x-request-id'], UUID, 'the 429 has its request id');
  t.equal(limited.headers['x-content-type-options'], 'nosniff', 'and the security headers');
  const v2 = await call(`${u}/v2/models/mlp/ready`);
  t.equal(v2.status, 429, '/v2 is limited too');
  t.type((JSON.parse(v2.text) as { error: unknown }).error, 'string', "in /v2's error shape");
  t.equal((await call(`${u}/v2/health/ready`)).status, 200, 'readiness after the limit: still 200');
  t.equal((await call(`${u}/v2/health/live`)).status, 200, 'liveness after the limit: still 200');
  t.equal((await call(`${u}/metrics`)).status, 200, 'metrics after the limit: still 200');
});
