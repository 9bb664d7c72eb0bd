// The batching policy through the real server: the adaptive policy and its cost model in
// GET /v1/models and /metrics, priorities and deadlines as /v1 and v2 requests ask for them,
// admission (429 / v2 503 with Retry-After, at once, with its server time) and priority order
// on one busy worker. Worker runs are slowed with the test fault hooks, not with sleeps.
import t from 'tap';
import { request } from 'undici';
import { makeRepo, startServer, postJson, getJson, waitUntil } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { Client, ServeClientError } from '../../src/client/index.js';

const mlp = mlpModel([8, 16, 2], 3);
const row = (seed: number): number[] => Array.from(seededFloats(8, seed));

interface VersionView {
  batching: Record<string, unknown>;
  costModel: { using: string; linear: { fixedMs: number; perRowMs: number } | null; table: { upTo: number }[]; runs: number; seeded: number } | null;
}
async function version(base: string, model: string): Promise<VersionView> {
  const body = (await getJson(`${base}/v1/models`)).body as { models: { name: string; versions: VersionView[] }[] };
  return body.models.find((m) => m.name === model)!.versions[0]!;
}

t.test('the adaptive policy is the default, with a cost model seeded at load and kept current', async (t) => {
  const repo = await makeRepo(t, {
    mlp: { onnx: mlp },
    fixed: { onnx: mlp, config: { dynamicBatching: { maxQueueDelayMs: 2 } } },
  });
  const served = await startServer(t, repo);
  const v = await version(served.url, 'mlp');
  t.match(v.batching, { policy: 'adaptive', maxQueueDelayMs: 0, priorityLevels: 3, defaultPriorityLevel: 2, maxBatchSize: 32 });
  t.ok(v.costModel && v.costModel.seeded >= 6, `seeded at load at batch sizes 1..32 (${v.costModel?.seeded})`);
  t.ok(v.costModel?.linear && v.costModel.linear.fixedMs >= 0 && v.costModel.linear.perRowMs >= 0, 'a fitted line');
  t.ok((v.costModel?.table.length ?? 0) >= 6, 'and a table by batch-size bucket');
  t.equal((await version(served.url, 'fixed')).batching.policy, 'static', 'an explicit maxQueueDelayMs is the static rule');

  for (let i = 0; i < 25; i++) t.equal((await postJson(`${served.url}/v1/predict`, { model: 'mlp', inputs: { input: [row(i)] } })).status, 200);
  const after = await version(served.url, 'mlp');
  t.ok((after.costModel?.runs ?? 0) >= 25, `every run updates it (${after.costModel?.runs} runs)`);

  const metrics = await (await request(`${served.url}/metrics`)).body.text();
  const value = (name: string): number => Number(new RegExp(`^onnx_serve_${name}\\{model="mlp",version="1",variant=""\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
  t.ok(value('cost_predicted_seconds_total') > 0, 'predicted run time is counted');
  t.ok(value('cost_measured_seconds_total') > 0, 'beside the measured one');
  t.ok(value('cost_error_ratio_count') >= 25, 'and each run\'s error');
  const busy = value('worker_busy_seconds_total');
  const compute = value('compute_duration_seconds_sum');
  t.ok(busy >= compute && busy > 0, `the workers' busy time holds their session.run time (${busy} >= ${compute} s)`);
  t.match(metrics, /^onnx_serve_predicted_drain_seconds\{model="mlp",version="1",variant=""\} \S+$/m, 'the predicted drain time is a gauge');
});

t.test('priority and deadlines as requests ask for them: valid ones serve, bad ones are 400s that say what to send', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlp } });
  const served = await startServer(t, repo);
  const v1 = `${served.url}/v1/predict`;
  const v2 = `${served.url}/v2/models/mlp/infer`;
  for (const priority of [0, 1, 2, 3]) t.equal((await postJson(v1, { model: 'mlp', priority, inputs: { input: [row(1)] } })).status, 200, `/v1 priority ${priority}`);
  const four = await postJson(v1, { model: 'mlp', priority: 4, inputs: { input: [row(1)] } });
  t.equal(four.status, 400);
  t.equal(four.body.error.code, 'INVALID_INPUT');
  t.match(four.body.error.message, /priority is 4; use an integer from 1 \(most urgent\) to 3, or 0 for the default \(2\)/);
  t.equal((await postJson(v1, { model: 'mlp', priority: 'high', inputs: { input: [row(1)] } })).status, 400, 'a string is refused by the schema');

  const infer = (parameters: unknown) =>
    postJson(v2, { inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: row(2) }], parameters });
  t.equal((await infer({ priority: 1, timeout: 5_000_000 })).status, 200, 'v2 parameters.priority and parameters.timeout (µs)');
  for (const [parameters, pattern] of [
    [{ priority: 'high' }, /parameters\.priority is "high"; use an integer from 0/],
    [{ priority: 7 }, /priority is 7; use an integer from 1 \(most urgent\) to 3/],
    [{ timeout: 0 }, /parameters\.timeout is 0; use an integer from 1 to 3600000000 \(microseconds\)/],
    [{ timeout: 1.5 }, /parameters\.timeout is 1\.5/],
  ] as [unknown, RegExp][]) {
    const res = await infer(parameters);
    t.equal(res.status, 400, JSON.stringify(parameters));
    t.match(res.body.error, pattern);
  }
});

t.test('admission: a request that the work ahead would make miss its deadline is refused at once, with Retry-After', async (t) => {
  const repo = await makeRepo(t, { slow: { onnx: mlp, config: { instances: 1, maxBatchSize: 4, dynamicBatching: { latencyTargetMs: 200 } } } });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const mv = served.app.serving.repository.resolve('slow');
  const pool = mv.workerPool!;
  const v1 = `${served.url}/v1/predict`;
  const body = (seed: number) => ({ model: 'slow', inputs: { input: [row(seed)] } });

  // the cost model learns that runs take about a second
  pool.injectFault({ kind: 'delay-next-run', ms: 1000 });
  t.equal((await postJson(v1, body(1))).status, 200);
  t.ok(mv.scheduler!.cost.predict(1) > 200, `one row is now predicted at ${mv.scheduler!.cost.predict(1).toFixed(0)} ms`);

  pool.injectFault({ kind: 'delay-next-run', ms: 1000 });
  const running = postJson(v1, body(2), { 'x-request-timeout-ms': '60000' });
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const refused = await postJson(v1, body(3));
  t.equal(refused.status, 429, 'a 200 ms target behind a second of predicted work: refused');
  t.equal(refused.body.error.code, 'QUEUE_FULL');
  // the time left is the deadline less what reading and decoding the request took (a few ms on a busy machine)
  const left = Number(/more than the (\d+) ms left before this request's deadline/.exec(refused.body.error.message)?.[1]);
  t.ok(left <= 200 && left >= 150, `names the time left before its 200 ms deadline (${refused.body.error.message})`);
  t.match(refused.headers['retry-after'], /^[1-9]\d*$/, 'Retry-After in whole seconds');
  t.match(refused.headers['server-timing'], /^total;dur=\d+\.\d{3}$/, 'the refusal says what it cost the server');
  t.equal(mv.scheduler!.depth, 0, 'it never entered the queue');

  const client = new Client(served.url);
  t.teardown(() => client.close());
  const viaClient = await client.predict('slow', { input: [row(6)] }).catch((e: unknown) => e);
  t.type(viaClient, ServeClientError, 'the typed client sees the refusal');
  t.match(viaClient, { status: 429, code: 'QUEUE_FULL' });
  t.ok(((viaClient as ServeClientError).retryAfterS ?? 0) >= 1, 'with the Retry-After to wait');

  const v2 = await postJson(`${served.url}/v2/models/slow/infer`, { inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: row(4) }] });
  t.equal(v2.status, 503, "on /v2 a refusal is 503 (Triton's UNAVAILABLE), with Retry-After");
  t.match(v2.headers['retry-after'], /^[1-9]\d*$/);

  const patient = postJson(v1, body(5), { 'x-request-timeout-ms': '60000' });
  await waitUntil(() => mv.scheduler!.depth === 1, 'a request with a long deadline is queued');
  t.same([(await running).status, (await patient).status], [200, 200], 'the running and the patient request are answered');
});

t.test('priorities on one busy worker: the urgent level runs first, the others still get answers', async (t) => {
  const repo = await makeRepo(t, { one: { onnx: mlp, config: { instances: 1, maxBatchSize: 1, dynamicBatching: { priorityLevels: 3 } } } });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const mv = served.app.serving.repository.resolve('one');
  const pool = mv.workerPool!;
  const v1 = `${served.url}/v1/predict`;
  pool.injectFault({ kind: 'delay-next-run', ms: 300 });
  const order: string[] = [];
  const send = (name: string, priority: number) =>
    postJson(v1, { model: 'one', priority, inputs: { input: [row(name.length)] } }).then((r) => {
      order.push(name);
      return r.status;
    });
  const occupying = send('occupying', 2);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  // a busy worker holds one batch queued behind its run (here a batch is one request): fill it
  const queuedBehind = send('queued-behind', 2);
  await waitUntil(() => pool.queueableCount() === 0, "the worker's queue is full");
  const lows = [send('low-1', 3), send('low-2', 3)];
  await waitUntil(() => mv.scheduler!.depth === 2, 'two low requests queued');
  const highs = [send('high-1', 1), send('high-2', 1)];
  await waitUntil(() => mv.scheduler!.depth === 4, 'two high requests queued behind them');
  t.same(await Promise.all([occupying, queuedBehind, ...lows, ...highs]), [200, 200, 200, 200, 200, 200], 'every request is answered');
  t.same(order, ['occupying', 'queued-behind', 'high-1', 'high-2', 'low-1', 'low-2'], 'the urgent level first, arrival order within a level');
});
