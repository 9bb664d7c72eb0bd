// Process isolation against the real server: each model's sessions in child processes, a real
// native crash (process.abort() in the child, a test-only fault keyed to one input value) under
// load, the bisection that finds the request behind it, and the backoff of a model whose children
// keep crashing.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { makeRepo, startServer, postJson, getJson, waitUntil } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';

const POISON = 7777;
const row = (seed: number): number[] => Array.from(seededFloats(64, seed));
const poisoned = (): number[] => row(99).map((v, i) => (i === 5 ? POISON : v));

/** Pids of this process's children that run the inference worker (Linux /proc). */
function workerChildren(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('pool/worker.js')) pids.push(Number(name));
    } catch {
      // gone between the listing and the read
    }
  }
  return pids;
}

t.test('--isolation process: sessions run in child processes, which end with the server', async (t) => {
  const before = workerChildren().length;
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([64, 32, 10], 3), config: { instances: 2 } } });
  const threaded = await startServer(t, repo, ['--isolation', 'thread']);
  const reference = await postJson(`${threaded.url}/v1/predict`, { model: 'mlp', inputs: { input: [row(1)] } });
  t.equal(workerChildren().length, before, 'thread isolation starts no process');
  await threaded.shutdown();

  const served = await startServer(t, repo, ['--isolation', 'process']);
  t.equal(workerChildren().length, before + 2, 'one child process per instance');
  const res = await postJson(`${served.url}/v1/predict`, { model: 'mlp', inputs: { input: [row(1)] } });
  t.equal(res.status, 200);
  t.same(res.body.outputs, reference.body.outputs, 'the same answer as a thread computes');
  const version = (await getJson(`${served.url}/v1/models`)).body.models[0].versions[0];
  t.equal(version.isolation, 'process', '/v1/models says where the sessions run');
  await served.shutdown();
  await waitUntil(() => workerChildren().length === before, 'the children have ended', 10_000);
  t.pass('no child outlives the drain');
});

t.test('a native crash mid-batch under load costs one child and only the request behind it', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([64, 256, 10], 5), config: { instances: 2, dynamicBatching: { maxQueueDelayMs: 5 } } } });
  const served = await startServer(t, repo, ['--isolation', 'process'], { faultHooks: true });
  const url = `${served.url}/v1/predict`;
  const mv = served.app.serving.repository.resolve('mlp');
  const references = await Promise.all([0, 1, 2, 3].map((s) => postJson(url, { model: 'mlp', inputs: { input: [row(s)] } })));
  mv.workerPool!.injectFault({ kind: 'abort-on-value', value: POISON });

  // 80 requests at once, the poisoned one in the middle: it shares a batch with others
  const load = await Promise.all(
    Array.from({ length: 80 }, (_, i) => postJson(url, { model: 'mlp', inputs: { input: [i === 40 ? poisoned() : row(i % 4)] } })),
  );
  const crasher = load[40]!;
  t.equal(crasher.status, 422, 'the request that crashes the runtime: 422');
  t.equal(crasher.body.error.code, 'INPUT_REJECTED');
  t.match(crasher.body.error.message, /crashed the model's runtime \(worker process ended by SIGABRT during the run\), run alone and in \d+ runs? before/);
  t.notMatch(crasher.body.error.message, /\/tmp\/|\/work\/|onnxruntime_src/, 'no path or internals');
  const others = load.filter((_, i) => i !== 40);
  t.same(others.map((r) => r.status), Array(79).fill(200), 'every other request answered 200');
  t.ok(
    others.every((r, j) => JSON.stringify(r.body.outputs) === JSON.stringify(references[(j < 40 ? j : j + 1) % 4]!.body.outputs)),
    'with the answers it has without a crash',
  );
  t.ok(mv.workerRestarts >= 2, `children replaced (${mv.workerRestarts} restarts: the batch's run, then the request alone twice)`);
  t.equal((await getJson(`${served.url}/v2/health/live`)).status, 200, 'the server lives');
  await waitUntil(() => mv.workerPool!.liveCount() === 2, 'both children live again', 30_000);
  const later = await Promise.all(Array.from({ length: 10 }, (_, i) => postJson(url, { model: 'mlp', inputs: { input: [row(i)] } })));
  t.same(later.map((r) => r.status), Array(10).fill(200), 'later requests succeed');
  t.equal((await getJson(`${served.url}/v2/models/mlp/ready`)).status, 200, 'the model stayed ready');
});

t.test('a model whose children keep crashing is UNAVAILABLE with backoff, then serves again', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([64, 10], 6), config: { instances: 1, dynamicBatching: { maxQueueDelayMs: 0 } } } });
  const served = await startServer(t, repo, ['--isolation', 'process'], { faultHooks: true });
  const url = `${served.url}/v1/predict`;
  const mv = served.app.serving.repository.resolve('mlp');
  mv.workerPool!.injectFault({ kind: 'abort-on-value', value: POISON });
  // one at a time: each crashes its child twice (the retry), and no run succeeds in between
  const crashes: number[] = [];
  for (let i = 0; i < 4; i++) crashes.push((await postJson(url, { model: 'mlp', inputs: { input: [poisoned()] } })).status);
  t.same(crashes, [422, 422, 422, 422], 'each crasher answered INPUT_REJECTED');
  const refused = await postJson(url, { model: 'mlp', inputs: { input: [row(1)] } });
  t.equal(refused.status, 503, 'after 8 deaths in a row the model is not ready');
  t.equal(refused.body.error.code, 'MODEL_NOT_READY');
  t.match(refused.body.error.message, /keep dying; the next is started in \d+ s/);
  t.ok(Number(refused.headers['retry-after']) >= 1, `Retry-After until the next try (${refused.headers['retry-after']} s)`);
  t.equal((await getJson(`${served.url}/v2/models/mlp/ready`)).status, 503, 'its readiness says not ready');
  t.equal((await getJson(`${served.url}/v2/health/live`)).status, 200, 'the server lives');
  await waitUntil(() => mv.ready, 'the model is ready again after the backoff', 30_000);
  const after = await postJson(url, { model: 'mlp', inputs: { input: [row(1)] } });
  t.equal(after.status, 200, 'and serves');
  t.equal((await getJson(`${served.url}/v1/models`)).body.models[0].versions[0].state, 'READY');
});

t.test('the crash fault needs process isolation: in a thread it would end the server', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([64, 10], 6) } });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const mv = served.app.serving.repository.resolve('mlp');
  t.throws(() => mv.workerPool!.injectFault({ kind: 'abort-on-value', value: POISON }), /needs process isolation/);
});

t.test('--isolation takes thread or process', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([64, 10], 6) } });
  await t.rejects(startServer(t, repo, ['--isolation', 'container']), /--isolation: "container" is not allowed; use one of thread, process/);
});
