// The real server (real workers, real onnxruntime) on an ephemeral loopback port, with the
// shipped models: answers equal a direct session.run, and concurrent requests form batches.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { SHIPPED_MODELS, makeRepo, startServer, postJson, getJson, type Asserts } from '../helpers/server.js';
import { seededFloats } from '../../tools/onnx-builder.js';

const seedPath = join(SHIPPED_MODELS, 'seed-mlp', 'model.onnx');

function rows(n: number, width: number, seed: number): number[][] {
  const flat = seededFloats(n * width, seed);
  return Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * width, (i + 1) * width)));
}

async function reference(session: ort.InferenceSession, input: number[][]): Promise<Float32Array> {
  const data = Float32Array.from(input.flat());
  const out = await session.run({ input: new ort.Tensor('float32', data, [input.length, input[0]!.length]) });
  return out.output!.data as Float32Array;
}

function close(t: Asserts, actual: number[], expected: Float32Array, what: string): void {
  t.equal(actual.length, expected.length, `${what}: length`);
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i]!)));
  t.ok(worst < 1e-5, `${what}: max abs difference ${worst} < 1e-5`);
}

t.test('shipped models through the real server', async (t) => {
  const served = await startServer(t, SHIPPED_MODELS, ['--instances', '2']);
  const session = await ort.InferenceSession.create(seedPath);
  t.teardown(() => session.release());

  t.test('GET /v1/models lists both shipped models with signatures', async (t) => {
    const res = await getJson(`${served.url}/v1/models`);
    t.equal(res.status, 200);
    const names = res.body.models.map((m: { name: string }) => m.name).sort();
    t.same(names, ['digits', 'seed-mlp']);
    const seed = res.body.models.find((m: { name: string }) => m.name === 'seed-mlp').versions[0];
    t.equal(seed.state, 'READY');
    t.same(seed.inputs, [{ name: 'input', dtype: 'float32', dims: ['batch', 1000] }]);
    t.equal(seed.batching.maxBatchSize, 32, 'a variable first dimension means the model batches (default 32)');
  });

  t.test('readiness and liveness', async (t) => {
    t.equal((await getJson(`${served.url}/v2/health/live`)).status, 200);
    const ready = await getJson(`${served.url}/v2/health/ready`);
    t.equal(ready.status, 200);
    t.equal(ready.body.ready, true);
  });

  t.test('a single request equals a direct session.run, with timing headers', async (t) => {
    const input = rows(3, 1000, 7);
    const res = await postJson(`${served.url}/v1/predict`, { model: 'seed-mlp', inputs: { input } });
    t.equal(res.status, 200);
    t.equal(res.body.model, 'seed-mlp');
    t.equal(res.body.version, '1');
    t.same(res.body.outputs.output.map((r: number[]) => r.length), [1, 1, 1], 'output keeps the [rows, 1] shape');
    close(t, res.body.outputs.output.flat(), await reference(session, input), 'seed-mlp');
    t.match(res.headers['server-timing'], /^queue;dur=\d+(\.\d+)?, compute;dur=\d+(\.\d+)?$/);
    t.equal(res.headers['x-batch-size'], '3');
  });

  t.test('the {dims, data} form gives the same answer as nested arrays', async (t) => {
    const input = rows(2, 1000, 8);
    const res = await postJson(`${served.url}/v1/predict`, { model: 'seed-mlp', inputs: { input: { dims: [2, 1000], data: input.flat() } } });
    t.equal(res.status, 200);
    close(t, res.body.outputs.output.flat(), await reference(session, input), 'dims/data');
  });

  t.test('64 concurrent requests: each gets its own answer, in fewer executions', async (t) => {
    // the static 2 ms rule, so that batches form for sure: the adaptive default sends each request
    // at once while the workers keep up, which a burst of 64 to this small model often lets them do
    const repo = await makeRepo(t, { 'seed-mlp': { onnx: seedPath, config: { dynamicBatching: { maxQueueDelayMs: 2 } } } });
    const batching = await startServer(t, repo, ['--instances', '2']);
    const before = (await getJson(`${batching.url}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'seed-mlp').versions[0].stats;
    const inputs = Array.from({ length: 64 }, (_, i) => rows(1 + (i % 3), 1000, 100 + i));
    const responses = await Promise.all(inputs.map((input) => postJson(`${batching.url}/v1/predict`, { model: 'seed-mlp', inputs: { input } })));
    const expected = await Promise.all(inputs.map((input) => reference(session, input)));
    let ok = 0;
    responses.forEach((res, i) => {
      const got = (res.body.outputs?.output ?? []).flat() as number[];
      if (res.status === 200 && got.length === expected[i]!.length && got.every((v, j) => Math.abs(v - expected[i]![j]!) < 1e-5)) ok++;
    });
    t.equal(ok, 64, 'every response equals the reference for its own input');
    const batchSizes = responses.map((r) => Number(r.headers['x-batch-size']));
    t.ok(Math.max(...batchSizes) > 3, `some batches hold rows of several requests (largest ${Math.max(...batchSizes)})`);
    const after = (await getJson(`${batching.url}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'seed-mlp').versions[0].stats;
    const executions = after.executions - before.executions;
    const rowsSent = inputs.reduce((n, x) => n + x.length, 0);
    t.ok(executions < 64, `64 requests ran in ${executions} executions`);
    t.equal(after.inferences - before.inferences, rowsSent, 'every row was computed exactly once');
  });

  t.test('digits: the shipped classifier keeps ≥ 95 % accuracy through the server', async (t) => {
    const set = JSON.parse(await readFile(join(SHIPPED_MODELS, 'digits', 'test-set.json'), 'utf8')) as { inputs: number[][]; labels: number[] };
    const chunks: number[][][] = [];
    for (let i = 0; i < set.inputs.length; i += 8) chunks.push(set.inputs.slice(i, i + 8));
    const answers = await Promise.all(chunks.map((input) => postJson(`${served.url}/v1/predict`, { model: 'digits', inputs: { input } })));
    const predicted = answers.flatMap((a) => (a.body.outputs.logits as number[][]).map((row) => row.indexOf(Math.max(...row))));
    const correct = predicted.filter((p, i) => p === set.labels[i]).length;
    t.equal(predicted.length, set.labels.length);
    t.ok(correct / set.labels.length >= 0.95, `accuracy ${correct}/${set.labels.length}`);
  });

  t.test('digits: the shipped int8 and pruned variants serve within 1.5 points of fp32 (the int8 within 1)', async (t) => {
    const set = JSON.parse(await readFile(join(SHIPPED_MODELS, 'digits', 'test-set.json'), 'utf8')) as { inputs: number[][]; labels: number[] };
    const accuracy = async (variant?: string): Promise<number> => {
      const chunks: number[][][] = [];
      for (let i = 0; i < set.inputs.length; i += 8) chunks.push(set.inputs.slice(i, i + 8));
      const answers = await Promise.all(chunks.map((input) => postJson(`${served.url}/v1/predict`, { model: 'digits', ...(variant ? { variant } : {}), inputs: { input } })));
      t.ok(answers.every((a) => a.status === 200 && (variant === undefined ? a.headers['x-model-variant'] === undefined : a.headers['x-model-variant'] === variant)), `${variant ?? 'base'}: every answer from ${variant ?? 'the base'}`);
      const predicted = answers.flatMap((a) => (a.body.outputs.logits as number[][]).map((row) => row.indexOf(Math.max(...row))));
      return predicted.filter((p, i) => p === set.labels[i]).length / set.labels.length;
    };
    const base = await accuracy();
    const int8 = await accuracy('int8');
    const pruned = await accuracy('pruned');
    t.ok(base - int8 <= 0.01, `int8 ${(int8 * 100).toFixed(1)} % vs fp32 ${(base * 100).toFixed(1)} %`);
    t.ok(base - pruned <= 0.015, `pruned ${(pruned * 100).toFixed(1)} % vs fp32 ${(base * 100).toFixed(1)} %`);
    const meta = (await getJson(`${served.url}/v2/models/digits`)).body as { variants: { name: string; method: string; accuracy_delta: number }[] };
    const byName = Object.fromEntries(meta.variants.map((v) => [v.name, v]));
    t.equal(byName.int8?.method, 'int8-dynamic', 'metadata names the method');
    t.ok(Math.abs((byName.int8?.accuracy_delta ?? NaN) - (int8 - base)) < 1e-9, 'the reported accuracy delta is what the server reproduces');
  });
});
