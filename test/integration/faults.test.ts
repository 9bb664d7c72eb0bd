// Faults against the real server: a worker thread that dies with a batch in flight, and a
// client that goes away while its request is queued.
import t from 'tap';
import { request } from 'undici';
import { makeRepo, startServer, postJson, getJson, waitUntil } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';

const row = (seed: number): number[] => Array.from(seededFloats(64, seed));

t.test('a worker that dies under load is replaced; its batch is retried, later requests succeed', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([64, 256, 10], 5), config: { instances: 2, dynamicBatching: { maxQueueDelayMs: 1 } } } });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const url = `${served.url}/v1/predict`;
  const mv = served.app.serving.repository.resolve('mlp');
  const reference = await postJson(url, { model: 'mlp', inputs: { input: [row(1)] } });

  mv.workerPool!.injectFault({ kind: 'exit-on-next-run' });
  const load = await Promise.all(Array.from({ length: 60 }, (_, i) => postJson(url, { model: 'mlp', inputs: { input: [row(i % 4)] } })));
  const statuses = load.map((r) => r.status);
  t.equal(statuses.filter((s) => s !== 200 && s !== 503).length, 0, 'every request answered 200 (or 503 if its retry also died)');
  t.ok(statuses.filter((s) => s === 200).length >= 59, `retried on the other worker: ${statuses.filter((s) => s === 200).length}/60 succeeded`);
  const sameAsBefore = load.filter((r, i) => i % 4 === 1 && r.status === 200).every((r) => JSON.stringify(r.body.outputs) === JSON.stringify(reference.body.outputs));
  t.ok(sameAsBefore, 'answers after the death equal the answer before it');

  // the replacement loads in the background (a new thread + session + warm-up, which takes
  // seconds on a loaded 2-core CI machine); wait, bounded at 30 s, until both workers live again
  for (let i = 0; i < 600 && mv.workerPool!.liveCount() < 2; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(mv.workerPool!.liveCount(), 2, 'the dead worker was replaced');
  t.equal(mv.workerRestarts, 1, 'one restart counted');
  const models = (await getJson(`${served.url}/v1/models`)).body.models;
  t.equal(models[0].versions[0].stats.workerRestarts, 1, '/v1/models reports the restart');
  const later = await Promise.all(Array.from({ length: 20 }, (_, i) => postJson(url, { model: 'mlp', inputs: { input: [row(i)] } })));
  t.same(later.map((r) => r.status), Array(20).fill(200), 'later requests succeed');
  t.equal((await getJson(`${served.url}/v2/health/ready`)).status, 200, 'the model stayed ready');
});

t.test('a queued request whose client disconnects is dropped, never computed', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([64, 10], 6), config: { instances: 1, dynamicBatching: { maxQueueDelayMs: 0 } } } });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const url = `${served.url}/v1/predict`;
  const mv = served.app.serving.repository.resolve('mlp');
  const sched = mv.scheduler!;

  // the busy run lasts 2 s: room for the second request to arrive and be queued on a slow machine
  mv.workerPool!.injectFault({ kind: 'delay-next-run', ms: 2000 });
  const busy = postJson(url, { model: 'mlp', inputs: { input: [row(1)] } });
  await waitUntil(() => mv.workerPool!.busyCount() === 1, 'the worker is busy');
  const ac = new AbortController();
  const gone = request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mlp', inputs: { input: [row(2), row(3)] } }),
    signal: ac.signal,
  }).catch((e: Error) => e);
  for (let i = 0; i < 150 && sched.depth === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(sched.depth, 1, 'the second request is queued behind the busy worker');
  ac.abort();
  for (let i = 0; i < 150 && sched.depth > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(sched.depth, 0, 'the disconnected request left the queue');
  t.type(await gone, Error, 'the client saw its own abort');
  t.equal((await busy).status, 200);
  t.equal(mv.stats!.inferences, 1, 'only the busy request was computed (2 rows of the dropped one were not)');
});
