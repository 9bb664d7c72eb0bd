// Every error code of the catalogue, produced by a real request against the real server.
import t from 'tap';
import { request } from 'undici';
import { connect, type Socket } from 'node:net';
import { makeRepo, startServer, postJson, getJson, waitUntil } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import { embeddingModel, VOCAB } from '../helpers/trait-models.js';

const mlp = mlpModel([8, 16, 2], 3);
const row = (seed: number): number[] => Array.from(seededFloats(8, seed));

t.test('every error code from a real request', async (t) => {
  const repo = await makeRepo(t, {
    mlp: { onnx: mlp },
    // one worker, no waiting for rows: a slowed run keeps the only worker busy on demand
    slow: { onnx: mlp, config: { instances: 1, maxBatchSize: 4, dynamicBatching: { maxQueueDelayMs: 0, maxQueueSize: 1 } } },
    broken: { onnx: new Uint8Array([1, 2, 3, 4]) },
    emb: { onnx: embeddingModel() },
  });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const url = `${served.url}/v1/predict`;
  const seen = new Set<ErrorCode>();
  const expectError = async (res: { status: number; body: any }, code: ErrorCode, what: string): Promise<void> => {
    t.equal(res.status, ERRORS[code].status, `${what}: status ${ERRORS[code].status}`);
    t.equal(res.body?.error?.code, code, `${what}: code ${code}`);
    t.type(res.body?.error?.message, 'string', `${what}: has a message`);
    seen.add(code);
  };
  const slowPool = () => served.app.serving.repository.resolve('slow').workerPool!;

  const raw = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "mlp", "inputs": ' });
  await expectError({ status: raw.statusCode, body: await raw.body.json() }, 'INVALID_JSON', 'truncated JSON');
  await expectError(await postJson(url, { inputs: { input: [row(1)] } }), 'INVALID_INPUT', 'no model field');
  await expectError(await postJson(url, { model: 'mlp', inputs: { nope: [row(1)] } }), 'INVALID_INPUT', 'unknown input');
  await expectError(await postJson(url, { model: 'mlp', inputs: { input: [row(1)] } }, { 'x-request-timeout-ms': 'soon' }), 'INVALID_INPUT', 'bad timeout header');
  await expectError(await postJson(url, { model: 'mlp', inputs: { input: [[1, 2, 3]] } }), 'SHAPE_MISMATCH', 'wrong width');
  await expectError(await postJson(url, { model: 'mlp', inputs: { input: [row(1), [1, 2]] } }), 'SHAPE_MISMATCH', 'ragged rows');
  await expectError(await postJson(url, { model: 'mlp', inputs: { input: [[1, 2, 3, 4, 5, 6, 7, 'x']] } }), 'DTYPE_MISMATCH', 'a string in float32');
  await expectError(await postJson(url, { model: 'mlp', inputs: { input: Array.from({ length: 33 }, (_, i) => row(i)) } }), 'BATCH_TOO_LARGE', '33 rows, max 32');
  await expectError(await postJson(url, { model: 'nope', inputs: { input: [row(1)] } }), 'MODEL_NOT_FOUND', 'unknown model');
  await expectError(await postJson(url, { model: 'mlp', version: '9', inputs: { input: [row(1)] } }), 'MODEL_NOT_FOUND', 'unknown version');
  await expectError(await postJson(url, { model: 'broken', inputs: { input: [row(1)] } }), 'MODEL_NOT_READY', 'a model that failed to load');
  await expectError(await getJson(`${served.url}/v1/nothing-here`), 'ROUTE_NOT_FOUND', 'an unknown path');
  await expectError(await postJson(url, { model: 'emb', inputs: { ids: [[VOCAB + 5]] } }), 'INPUT_REJECTED', 'an id onnxruntime refuses');
  const encoded = async (body: Buffer, coding: string) => {
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': coding }, body });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };
  await expectError(await encoded(Buffer.from('{"model": "mlp"}'), 'gzip'), 'INVALID_ENCODING', 'a body that is not the gzip it says');
  await expectError(await encoded(Buffer.from('{"model": "mlp"}'), 'br'), 'UNSUPPORTED_ENCODING', 'a Content-Encoding not served');

  // the docs' static files (@fastify/static, @fastify/send) keep their statuses
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`${served.url}${path}`, { headers });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };
  await expectError(await get('/docs/static/a%00b'), 'FORBIDDEN', 'a NUL byte in a docs path');
  await expectError(await get('/docs/static/swagger-ui.css', { 'if-match': '"not-its-etag"' }), 'PRECONDITION_FAILED', 'an If-Match that does not hold');
  await expectError(await get('/docs/static/swagger-ui.css', { range: 'bytes=999999999-' }), 'RANGE_NOT_SATISFIABLE', 'a range past the end of the file');

  // PAYLOAD_TOO_LARGE: a second server with a tiny body limit
  const small = await startServer(t, repo, ['--body-limit', '2kb']);
  const big = await postJson(`${small.url}/v1/predict`, { model: 'mlp', inputs: { input: Array.from({ length: 30 }, (_, i) => row(i)) } });
  await expectError(big, 'PAYLOAD_TOO_LARGE', 'body over --body-limit');

  // RATE_LIMITED: a server with --rate-limit 1; the window outlasts the test
  const limited = await startServer(t, repo, ['--rate-limit', '1', '--rate-limit-window-ms', '600000']);
  t.equal((await postJson(`${limited.url}/v1/predict`, { model: 'mlp', inputs: { input: [row(1)] } })).status, 200, 'the first request in the window is served');
  const over = await postJson(`${limited.url}/v1/predict`, { model: 'mlp', inputs: { input: [row(1)] } });
  await expectError(over, 'RATE_LIMITED', 'the second request in a window of one');
  t.match(over.headers['retry-after'], /^\d+$/, 'RATE_LIMITED carries Retry-After');

  // SERVER_BUSY: a server that reads at most 1 KiB of bodies at once, one of 900 bytes held
  // half-sent on a raw socket; freed when that client goes away
  const tight = await startServer(t, repo, ['--max-body-bytes-in-flight', '1kb']);
  const port = Number(new URL(tight.url).port);
  const held = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  held.on('error', () => {});
  held.write('POST /v1/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 900\r\n\r\n{"model": "mlp",');
  const smallBody = { model: 'mlp', inputs: { input: [row(1)] } };
  // its headers are read by now: it holds its 900 bytes
  await new Promise((r) => setTimeout(r, 100));
  const crowded = await postJson(`${tight.url}/v1/predict`, smallBody);
  await expectError(crowded, 'SERVER_BUSY', 'a body while 900 of 1024 bytes are held');
  t.equal(crowded.headers['retry-after'], '1', 'SERVER_BUSY carries Retry-After');
  held.destroy();
  let freed = await postJson(`${tight.url}/v1/predict`, smallBody);
  for (let i = 0; i < 20 && freed.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    freed = await postJson(`${tight.url}/v1/predict`, smallBody);
  }
  t.equal(freed.status, 200, 'the held bytes are freed when their client goes away');

  // QUEUE_TIMEOUT: the only worker is busy for 1.5 s; a request that may wait 50 ms expires, uncomputed
  const slowSched = () => served.app.serving.repository.resolve('slow').scheduler!;
  const before = served.app.serving.repository.resolve('slow').stats!.inferences;
  slowPool().injectFault({ kind: 'delay-next-run', ms: 1500 });
  const occupying = postJson(url, { model: 'slow', inputs: { input: [row(1)] } });
  await waitUntil(() => slowPool().busyCount() === 1, 'the slow worker is busy');
  await expectError(await postJson(url, { model: 'slow', inputs: { input: [row(2)] } }, { 'x-request-timeout-ms': '50' }), 'QUEUE_TIMEOUT', 'deadline passed in the queue');
  t.equal((await occupying).status, 200, 'the slowed request itself succeeds');
  const after = served.app.serving.repository.resolve('slow').stats!.inferences;
  t.equal(after - before, 1, 'the expired request was never computed');

  // QUEUE_FULL: worker busy, one request queued (maxQueueSize 1), the next is refused at once
  slowPool().injectFault({ kind: 'delay-next-run', ms: 1500 });
  const running = postJson(url, { model: 'slow', inputs: { input: [row(1)] } });
  await waitUntil(() => slowPool().busyCount() === 1, 'the slow worker is busy');
  const queued = postJson(url, { model: 'slow', inputs: { input: [row(3)] } });
  await waitUntil(() => slowSched().depth === 1, 'one request is queued');
  const full = await postJson(url, { model: 'slow', inputs: { input: [row(4)] } });
  await expectError(full, 'QUEUE_FULL', 'queue holds maxQueueSize');
  t.match(full.headers['retry-after'], /^\d+$/, 'QUEUE_FULL carries Retry-After');
  t.same([(await running).status, (await queued).status], [200, 200], 'the running and the queued request both succeed');

  // REQUEST_CANCELLED: a client that leaves while its request is queued; nobody reads that answer,
  // so what shows it is the server's count of 499 answers and of cancelled rejections
  const cancelledBefore = slowSched().depth;
  slowPool().injectFault({ kind: 'delay-next-run', ms: 1000 });
  const busy = postJson(url, { model: 'slow', inputs: { input: [row(1)] } });
  await waitUntil(() => slowPool().busyCount() === 1, 'the slow worker is busy');
  const leaving = new AbortController();
  const gone = request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'slow', inputs: { input: [row(5)] } }), signal: leaving.signal }).catch(() => 'aborted');
  await waitUntil(() => slowSched().depth === cancelledBefore + 1, 'the leaving request is queued');
  leaving.abort();
  t.equal(await gone, 'aborted', 'the client went away');
  await waitUntil(() => slowSched().depth === cancelledBefore, 'it left the queue');
  const metrics = await (await request(`${served.url}/metrics`)).body.text();
  t.match(metrics, /onnx_serve_requests_total\{model="slow",version="1",variant="",protocol="http",code="499"\} 1/, 'answered 499, REQUEST_CANCELLED\'s status');
  t.match(metrics, /onnx_serve_rejected_total\{model="slow",version="1",variant="",reason="cancelled"\} 1/, 'counted as cancelled');
  t.equal((await busy).status, 200, 'the running request is answered');
  seen.add('REQUEST_CANCELLED');

  // INFERENCE_FAILED: a run that fails fails only its own batch
  slowPool().injectFault({ kind: 'fail-next-run' });
  await expectError(await postJson(url, { model: 'slow', inputs: { input: [row(1)] } }), 'INFERENCE_FAILED', 'onnxruntime run failed');
  t.equal((await postJson(url, { model: 'slow', inputs: { input: [row(1)] } })).status, 200, 'the next request succeeds');

  // the admin routes (/v2: {"error": message}, so the status and the message tell the code)
  const admin = async (base: string, path: string, code: ErrorCode, what: string, body?: unknown, headers: Record<string, string> = {}): Promise<void> => {
    const res = await request(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body ?? {}) });
    const parsed = (await res.body.json()) as { error?: unknown };
    t.equal(res.statusCode, ERRORS[code].status, `${what}: status ${ERRORS[code].status}`);
    t.type(parsed.error, 'string', `${what}: has a message`);
    seen.add(code);
  };
  const bearer = { authorization: 'Bearer tok' };
  await admin(served.url, '/v2/repository/models/mlp/load', 'ADMIN_DISABLED', 'an admin route with no token configured');
  served.app.serving.admin.token = 'tok'; // as if started with --admin-token tok
  await admin(served.url, '/v2/repository/models/mlp/load', 'MODEL_CONTROL_DISABLED', 'load in mode none', undefined, bearer);
  served.app.serving.admin.token = undefined;
  const ctl = await startServer(t, repo, ['--model-control', 'explicit', '--admin-token', 'tok']);
  await admin(ctl.url, '/v2/repository/models/mlp/load', 'UNAUTHORIZED', 'no bearer token');
  await admin(ctl.url, '/v2/repository/models/x%2f..%2fy/load', 'INVALID_MODEL_NAME', 'a model name that is a path', undefined, bearer);
  await admin(ctl.url, '/v2/repository/models/broken/load', 'MODEL_LOAD_FAILED', 'a model that does not load', undefined, bearer);
  await admin(ctl.url, '/v2/logging', 'INVALID_LOG_SETTINGS', 'a log file', { log_file: '/var/log/x' }, bearer);
  // Triton's shared-memory extensions: said to be unsupported (501), every route of both
  for (const kind of ['systemsharedmemory', 'cudasharedmemory']) {
    for (const region of ['', '/region/r0']) {
      for (const [method, path] of [['GET', 'status'], ['POST', 'register'], ['POST', 'unregister']] as const) {
        const res = await request(`${served.url}/v2/${kind}${region}/${path}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{"key": "k", "offset": 0, "byte_size": 64}' } : {}) });
        const parsed = (await res.body.json()) as { error?: string };
        t.equal(res.statusCode, 501, `${method} /v2/${kind}${region}/${path}: 501`);
        t.match(parsed.error, /shared memory is not supported: send tensors in the request body/, 'says what to do instead');
      }
    }
  }
  seen.add('NOT_IMPLEMENTED');

  // SHUTTING_DOWN: once draining, new requests are refused and readiness turns 503
  served.app.serving.draining = true;
  await expectError(await postJson(url, { model: 'mlp', inputs: { input: [row(1)] } }), 'SHUTTING_DOWN', 'draining');
  t.equal((await getJson(`${served.url}/v2/health/ready`)).status, 503, 'readiness is 503 while draining');

  t.same([...seen].sort(), Object.keys(ERRORS).sort(), 'every catalogue code was produced by a real request');
});
