// GET /metrics against the real server (real workers, real onnxruntime): counters move by exactly
// the requests sent, per status code; batch counters agree with /v1/models; queue depth is sampled
// at scrape time; worker restarts are counted; labels stay bounded; one log line per request.
import t from 'tap';
import { request } from 'undici';
import { makeRepo, startServer, postJson, getJson, waitUntil, type Asserts } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import type { Served } from '../../src/server.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's sample lines (comments and blank lines skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const v = m[3]!;
    samples.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return samples;
}

class Scrape {
  constructor(
    readonly samples: Sample[],
    readonly contentType: string | undefined,
  ) {}
  /** Sum of the samples named `name` whose labels include `labels`. */
  get(name: string, labels: Record<string, string> = {}): number {
    return this.samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((n, s) => n + s.value, 0);
  }
  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
}

async function scrape(served: Served): Promise<Scrape> {
  const res = await request(`${served.url}/metrics`);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}: ${text}`);
  return new Scrape(parseMetrics(text), res.headers['content-type'] as string | undefined);
}

const row = (seed: number): number[] => Array.from(seededFloats(64, seed));
const until = waitUntil;

const MLP = { model: 'mlp', version: '1' };
const NONE = { model: '', version: '' };

t.test('counters, histograms and gauges move by exactly what was sent', async (t) => {
  const repo = await makeRepo(t, {
    mlp: { onnx: mlpModel([64, 256, 10], 5), config: { instances: 1, dynamicBatching: { maxQueueDelayMs: 2, maxQueueSize: 8 } } },
  });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const url = `${served.url}/v1/predict`;
  const mv = served.app.serving.repository.resolve('mlp');
  const pool = mv.workerPool!;
  const before = await scrape(served);
  t.equal(before.contentType, 'text/plain; version=0.0.4; charset=utf-8', 'content-type of the registry');

  // every request carries an x-request-id; none may become a label value
  let n = 0;
  const sent: { status: number; labels: typeof MLP }[] = [];
  const send = async (body: unknown, labels: typeof MLP, headers: Record<string, string> = {}): Promise<number> => {
    const res = await postJson(url, body, { 'x-request-id': `rid-${++n}-secret`, ...headers });
    sent.push({ status: res.status, labels });
    return res.status;
  };
  const ok = (rows: number, seed: number): unknown => ({ model: 'mlp', inputs: { input: Array.from({ length: rows }, (_, i) => row(seed + i)) } });

  // sequential, then concurrent (batches form), 1 to 3 rows each
  for (let i = 0; i < 5; i++) await send(ok(1 + (i % 3), i), MLP);
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 8 }, (_, i) => send(ok(1 + (i % 3), 100 * round + i), MLP)));
  }
  // errors: resolved to the model (400 unknown input) or not (404, bad JSON, schema)
  t.equal(await send({ model: 'mlp', inputs: { nope: [row(1)] } }, MLP), 400, 'unknown input: 400');
  t.equal(await send({ model: 'bogus-model-a', inputs: { input: [row(1)] } }, NONE), 404, 'unknown model: 404');
  t.equal(await send({ model: 'bogus-model-b', inputs: { input: [row(1)] } }, NONE), 404, 'another unknown model: 404');
  t.equal(await send({ model: 'mlp', version: '9', inputs: { input: [row(1)] } }, NONE), 404, 'unknown version: 404');
  t.equal(await send('{"model": "mlp", "inputs": ', NONE), 400, 'invalid JSON: 400');
  t.equal(await send({ model: 'mlp' }, NONE), 400, 'schema violation: 400');

  // a queue deadline passes while the only worker is busy: 504
  // (slow runs are long so that the test holds on a loaded machine: the worker stays busy meanwhile)
  pool.injectFault({ kind: 'delay-next-run', ms: 1000 });
  const busy1 = send(ok(1, 7), MLP);
  await until(() => pool.busyCount() === 1, 'the worker is busy');
  t.equal(await send(ok(1, 8), MLP, { 'x-request-timeout-ms': '30' }), 504, 'queue deadline: 504');
  t.equal(await busy1, 200);

  // the queue fills (maxQueueSize 8): 2 of 10 get 429; queue_depth is read at scrape time
  pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
  const busy2 = send(ok(1, 9), MLP);
  await until(() => pool.busyCount() === 1, 'the worker is busy');
  const burst = Promise.all(Array.from({ length: 10 }, (_, i) => send(ok(1, 200 + i), MLP)));
  await until(() => mv.scheduler!.depth === 8, 'eight requests are queued');
  const during = await scrape(served);
  t.equal(during.get('onnx_serve_queue_depth', MLP), 8, 'queue_depth is 8 while eight requests wait');
  const statuses = await burst;
  t.same([statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 429).length], [8, 2], '8 answered, 2 QUEUE_FULL');
  t.equal(await busy2, 200);

  const after = await scrape(served);
  const delta = (name: string, labels: Record<string, string> = {}): number => after.get(name, labels) - before.get(name, labels);

  t.test('requests_total per model, version and code: exactly the requests sent', async (t) => {
    const expected = new Map<string, number>();
    for (const s of sent) {
      const key = JSON.stringify({ ...s.labels, code: String(s.status) });
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const codes = new Set(sent.map((s) => s.status));
    t.same([...codes].sort(), [200, 400, 404, 429, 504], 'every kind of answer was exercised');
    for (const [key, count] of expected) t.equal(delta('onnx_serve_requests_total', JSON.parse(key)), count, `requests_total${key}`);
    t.equal(delta('onnx_serve_requests_total'), sent.length, `all ${sent.length} inference requests counted, nothing else (scrapes are not)`);
    t.equal(delta('onnx_serve_request_duration_seconds_count', MLP), sent.filter((s) => s.labels === MLP).length, 'request_duration_seconds_count{mlp}');
    t.equal(delta('onnx_serve_request_duration_seconds_count', NONE), sent.filter((s) => s.labels === NONE).length, 'request_duration_seconds_count{unresolved}');
    t.ok(delta('onnx_serve_request_duration_seconds_sum', MLP) > 0, 'request durations add up to more than 0 s');
  });

  t.test('batch counters agree with /v1/models and with each other', async (t) => {
    const stats = (await getJson(`${served.url}/v1/models`)).body.models[0].versions[0].stats;
    const executions = after.get('onnx_serve_executions_total', MLP);
    const inferences = after.get('onnx_serve_inferences_total', MLP);
    t.equal(executions, stats.executions, 'executions_total = stats.executions');
    t.equal(inferences, stats.inferences, 'inferences_total = stats.inferences');
    t.equal(inferences / executions, stats.inferences / stats.executions, `mean batch size ${(inferences / executions).toFixed(2)} rows`);
    t.ok(executions < sent.filter((s) => s.status === 200).length, 'concurrent requests shared executions');
    t.equal(after.get('onnx_serve_batch_size_count', MLP), executions, 'batch_size_count = executions_total');
    t.equal(after.get('onnx_serve_batch_size_sum', MLP), inferences, 'batch_size_sum = inferences_total');
    t.equal(after.get('onnx_serve_batch_size_bucket', { ...MLP, le: '+Inf' }), executions, 'batch_size +Inf bucket = executions_total');
    t.equal(after.get('onnx_serve_compute_duration_seconds_count', MLP), executions, 'one compute observation per execution');
    t.equal(after.get('onnx_serve_queue_duration_seconds_count', MLP), sent.filter((s) => s.status === 200).length, 'one queue observation per computed request');
    t.ok(after.get('onnx_serve_queue_duration_seconds_sum', MLP) >= 1, 'queue time includes the waits behind the slow runs');
  });

  t.test('rejections by reason, queue depth, load time, default metrics', async (t) => {
    t.equal(delta('onnx_serve_rejected_total', { ...MLP, reason: 'queue_full' }), 2, 'rejected_total{queue_full}');
    t.equal(delta('onnx_serve_rejected_total', { ...MLP, reason: 'timeout' }), 1, 'rejected_total{timeout}');
    t.equal(delta('onnx_serve_rejected_total', { ...MLP, reason: 'cancelled' }), 0, 'rejected_total{cancelled}');
    t.ok(after.has('onnx_serve_queue_depth', MLP), 'queue_depth present');
    t.equal(after.get('onnx_serve_queue_depth', MLP), 0, 'queue_depth 0 when idle');
    t.equal(after.get('onnx_serve_worker_restarts_total', MLP), 0, 'worker_restarts_total present at 0');
    const load = after.get('onnx_serve_model_load_duration_seconds', MLP);
    t.ok(load > 0 && Math.abs(load - mv.loadMs / 1000) < 1e-9, `model_load_duration_seconds = loadMs / 1000 (${load})`);
    for (const name of ['onnx_serve_process_cpu_user_seconds_total', 'onnx_serve_process_resident_memory_bytes', 'onnx_serve_nodejs_eventloop_lag_seconds', 'onnx_serve_nodejs_heap_size_used_bytes']) {
      t.ok(after.has(name), `default metric ${name}`);
    }
  });

  t.test('labels are bounded: model, version, variant, protocol, code, reason only, no ids, paths or made-up names', async (t) => {
    const ours = after.samples.filter((s) => /^onnx_serve_(requests|request_duration|queue|compute|batch|inferences|executions|rejected|worker|model_load)/.test(s.name));
    const keys = new Set(ours.flatMap((s) => Object.keys(s.labels)));
    t.same([...keys].sort(), ['code', 'le', 'model', 'protocol', 'reason', 'variant', 'version'], 'label names');
    t.ok(ours.every((s) => s.labels.protocol === undefined || s.labels.protocol === 'http'), 'protocol: "http" (no gRPC here)');
    t.same([...new Set(ours.map((s) => s.labels.variant))], [''], 'variant label: "" (the base) for a model without variants');
    const values = after.samples.flatMap((s) => Object.values(s.labels));
    t.notOk(values.some((v) => v.includes('rid-') || v.includes('secret')), 'no request id in any label value');
    t.notOk(values.some((v) => v.includes('/')), 'no path in any label value');
    t.notOk(values.some((v) => v.includes('bogus')), 'no label per unknown model name');
    t.same([...new Set(ours.map((s) => s.labels.model))].sort(), ['', 'mlp'], 'model label values: the loaded model, or "" (unresolved)');
    t.same([...new Set(ours.map((s) => s.labels.version))].sort(), ['', '1'], 'version label values');
    t.ok(ours.every((s) => s.labels.code === undefined || /^\d{3}$/.test(s.labels.code)), 'code is an HTTP status');
  });
});

t.test('worker_restarts_total moves after a worker dies', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([64, 128, 10], 3), config: { instances: 2, dynamicBatching: { maxQueueDelayMs: 1 } } } });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const mv = served.app.serving.repository.resolve('mlp');
  t.equal((await scrape(served)).get('onnx_serve_worker_restarts_total', MLP), 0, 'no restart yet');

  mv.workerPool!.injectFault({ kind: 'exit-on-next-run' });
  const load = await Promise.all(Array.from({ length: 20 }, (_, i) => postJson(`${served.url}/v1/predict`, { model: 'mlp', inputs: { input: [row(i)] } })));
  t.ok(load.filter((r) => r.status === 200).length >= 19, 'the dead worker\'s batch was retried');
  await until(() => mv.workerPool!.liveCount() === 2, 'the worker is replaced');

  const after = await scrape(served);
  t.equal(after.get('onnx_serve_worker_restarts_total', MLP), 1, 'worker_restarts_total 1');
  t.equal(after.get('onnx_serve_worker_restarts_total', MLP), mv.workerRestarts, 'equals the pool\'s own count');
  const stats = (await getJson(`${served.url}/v1/models`)).body.models[0].versions[0].stats;
  t.equal(after.get('onnx_serve_executions_total', MLP), stats.executions, 'the failed run is not an execution');
  t.equal(after.get('onnx_serve_inferences_total', MLP), stats.inferences, 'rows computed once each');
  t.equal(after.get('onnx_serve_queue_duration_seconds_count', MLP), 20, 'a retried request is queued once, not twice');
});

t.test('one structured log line per inference request, with the x-request-id as reqId', async (t) => {
  const repo = await makeRepo(t, { tiny: { onnx: mlpModel([4, 2], 2), config: { instances: 1, dynamicBatching: { maxQueueDelayMs: 0 } } } });
  const lines: Record<string, unknown>[] = [];
  const logStream = { write: (line: string): void => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  const served = await startServer(t, repo, ['--log-level', 'info', '--body-limit', '1kb'], { logStream, faultHooks: true });
  const url = `${served.url}/v1/predict`;
  const inference = (): Record<string, unknown>[] => lines.filter((l) => l.msg === 'inference');
  const byId = (id: string): Record<string, unknown>[] => inference().filter((l) => l.reqId === id);

  t.equal((await postJson(url, { model: 'tiny', inputs: { input: [[1, 2, 3, 4], [5, 6, 7, 8]] } }, { 'x-request-id': 'trace-ok-1' })).status, 200);
  t.equal((await postJson(url, { model: 'no-such-model', inputs: { input: [[1, 2, 3, 4]] } }, { 'x-request-id': 'trace-404' })).status, 404);
  const big = { model: 'tiny', inputs: { input: Array.from({ length: 100 }, () => [1.5, 2.5, 3.5, 4.5]) } };
  t.equal((await postJson(url, big, { 'x-request-id': 'trace-413' })).status, 413, 'over the body limit: 413');

  // a client that goes away while its request is queued behind a slow run: status 499
  const mv = served.app.serving.repository.resolve('tiny');
  mv.workerPool!.injectFault({ kind: 'delay-next-run', ms: 500 });
  const busy = postJson(url, { model: 'tiny', inputs: { input: [[1, 2, 3, 4]] } }, { 'x-request-id': 'trace-busy' });
  await until(() => mv.workerPool!.busyCount() === 1, 'the worker is busy');
  const ac = new AbortController();
  const gone = request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'trace-gone' },
    body: JSON.stringify({ model: 'tiny', inputs: { input: [[1, 2, 3, 4]] } }),
    signal: ac.signal,
  }).catch((e: Error) => e);
  await until(() => mv.scheduler!.depth === 1, 'the request is queued');
  ac.abort();
  t.type(await gone, Error, 'the client aborted');
  t.equal((await busy).status, 200);

  await getJson(`${served.url}/v1/models`);
  await scrape(served);
  // onResponse runs once the answer is sent: the client may read it a moment before the line is written
  await until(() => inference().length >= 5, 'five inference lines');

  const [ok] = byId('trace-ok-1');
  checkLine(t, ok, { model: 'tiny', version: '1', status: 200, batchSize: 2 }, true);
  checkLine(t, byId('trace-404')[0], { model: '', version: '', status: 404, batchSize: 0 }, false);
  checkLine(t, byId('trace-413')[0], { model: '', version: '', status: 413, batchSize: 0 }, false);
  checkLine(t, byId('trace-gone')[0], { model: 'tiny', version: '1', status: 499, batchSize: 0 }, false);
  checkLine(t, byId('trace-busy')[0], { model: 'tiny', version: '1', status: 200, batchSize: 1 }, true);
  // the five are counted just before their lines are written (request-metrics.ts finish), so these
  // totals are final; scraped before the sentinel below, they do not include it
  const m = await scrape(served);
  // a sentinel instead of a wait: sent after /v1/models and both scrapes were answered, so once its
  // own line is written, a line any of them wrote would be there too
  await postJson(url, { model: 'tiny', inputs: { input: [[1, 2, 3, 4]] } }, { 'x-request-id': 'trace-sentinel' });
  await until(() => byId('trace-sentinel').length > 0, 'the sentinel\'s line');
  t.equal(inference().filter((l) => l.reqId !== 'trace-sentinel').length, 5, 'exactly one line per inference request; none for /v1/models or /metrics');
  t.equal(byId('trace-ok-1').length, 1, 'one line for the request, not two');

  t.equal(m.get('onnx_serve_requests_total', { model: 'tiny', version: '1', code: '200' }), 2);
  t.equal(m.get('onnx_serve_requests_total', { model: 'tiny', version: '1', code: '499' }), 1, 'the client that left: 499');
  t.equal(m.get('onnx_serve_rejected_total', { model: 'tiny', version: '1', reason: 'cancelled' }), 1, 'and rejected_total{cancelled}');
  t.equal(m.get('onnx_serve_requests_total'), 5, 'five requests, each counted once');
  t.equal(m.get('onnx_serve_requests_total', { ...NONE, code: '404' }), 1, 'unknown model counted as model=""');
  t.equal(m.get('onnx_serve_requests_total', { ...NONE, code: '413' }), 1, 'a body over the limit is counted too (before the route ran)');
});

function checkLine(t: Asserts, line: Record<string, unknown> | undefined, expect: Record<string, unknown>, computed: boolean): void {
  t.ok(line, `a line for ${JSON.stringify(expect)}`);
  if (!line) return;
  t.match(line, { level: 30, msg: 'inference', ...expect }, 'info level, msg "inference", model, version, status, batchSize');
  t.same(
    Object.keys(line).filter((k) => !['level', 'time', 'pid', 'hostname'].includes(k)).sort(),
    ['batchSize', 'computeMs', 'model', 'ms', 'msg', 'queueMs', 'reqId', 'status', 'version'],
    'exactly the documented fields',
  );
  t.ok(typeof line.ms === 'number' && line.ms > 0, 'ms: time in the server');
  if (computed) t.ok((line.computeMs as number) > 0 && (line.queueMs as number) >= 0, 'queueMs and computeMs of the execution');
  else t.same([line.queueMs, line.computeMs], [0, 0], 'not computed: queueMs and computeMs 0');
}
