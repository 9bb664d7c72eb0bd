// Models with the traits of real models this repository did not build, each served through
// /v1/predict and /v2 by the real server: a warm-up on made-up inputs that fails, an output whose
// dimension 0 is not the batch (found at load, and at serve time), a 0-d input, a state tensor
// with the batch in dimension 1, inputs sharing a symbolic dim, a Gather that refuses some ids
// (a poisoned batch), weights in an external data file, and the model's own warm-up samples.
import t from 'tap';
import { makeRepo, startServer, postJson, getJson } from '../helpers/server.js';
import { CONV_KERNEL, VOCAB, embeddingModel, hitsModel, longConvModel, maskedIdsModel, runningSumModel, scaledModel, stateModel, withExternalData } from '../helpers/trait-models.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';

const samples = (n: number, seed: number): number[] => Array.from(seededFloats(n, seed));

/** What a model's entry in /v1/models says of its version 1. */
async function modelEntry(url: string, name: string): Promise<any> {
  const res = await getJson(`${url}/v1/models`);
  return res.body.models.find((m: { name: string }) => m.name === name).versions[0];
}

t.test('a warm-up on made-up inputs that fails is a warning: the model is READY and serves real inputs', async (t) => {
  const repo = await makeRepo(t, { conv: { onnx: longConvModel() } });
  const served = await startServer(t, repo);
  t.equal((await getJson(`${served.url}/v2/health/ready`)).status, 200, 'the server is ready');
  const entry = await modelEntry(served.url, 'conv');
  t.equal(entry.state, 'READY');
  t.equal(entry.warmup.kind, 'made-up');
  t.equal(entry.warmup.ok, false, 'warmup.ok is false');
  t.match(entry.warmup.reason, /Conv/, "the reason is onnxruntime's (the Conv cannot run on so few samples)");
  t.equal(entry.batching.maxBatchSize, 32, 'the default rule still holds: it batches');
  const x = samples(CONV_KERNEL + 40, 1);
  const v1 = await postJson(`${served.url}/v1/predict`, { model: 'conv', inputs: { input: [[x]] } });
  t.equal(v1.status, 200, '/v1 answers');
  t.strictSame(v1.body.outputs.output.length, 1);
  t.equal(v1.body.outputs.output[0][0].length, 41, `${CONV_KERNEL + 40} samples give 41 frames`);
  const v2 = await postJson(`${served.url}/v2/models/conv/infer`, { inputs: [{ name: 'input', shape: [1, 1, x.length], datatype: 'FP32', data: x }] });
  t.equal(v2.status, 200, '/v2 answers');
  t.strictSame(v2.body.outputs[0].shape, [1, 1, 41]);
  t.strictSame(v2.body.outputs[0].data, v1.body.outputs.output[0][0], 'same outputs on both routes');
});

t.test("an output whose dimension 0 is not the batch: the warm-up's batch-2 check turns batching off", async (t) => {
  const repo = await makeRepo(t, { hits: { onnx: hitsModel() } });
  const served = await startServer(t, repo);
  const entry = await modelEntry(served.url, 'hits');
  t.equal(entry.state, 'READY');
  t.strictSame(entry.outputs[0].dims, ['count', 2], 'dimension 0 is symbolic, so the default rule would batch');
  t.equal(entry.batching.maxBatchSize, 0, 'unbatched');
  t.match(entry.unbatched, /batch-2 check failed: output "coords" has dimension 0 of 3 for 1 row\(s\) and 6 for 2/, '/v1/models says why');
  const meta = await getJson(`${served.url}/v2/models/hits`);
  t.equal(meta.body.batching.max_batch_size, 0, 'v2 metadata: max_batch_size 0');
  t.match(meta.body.batching.reason, /does not follow the batch/, 'v2 metadata: the reason');
  // unbatched, a request of 2 rows runs on its own and gets the whole output
  const res = await postJson(`${served.url}/v1/predict`, { model: 'hits', inputs: { x: [[1, -1, 2], [0, 0, 3]] } });
  t.equal(res.status, 200);
  t.strictSame(res.body.outputs.coords, [[0, 0], [0, 2], [1, 2]]);
});

t.test('a model that mixes rows along dimension 0 (time, not the batch): the batch-2 check compares values and turns batching off', async (t) => {
  const repo = await makeRepo(t, { cumsum: { onnx: runningSumModel() } });
  const served = await startServer(t, repo);
  const entry = await modelEntry(served.url, 'cumsum');
  t.equal(entry.batching.maxBatchSize, 0, 'unbatched, though every dimension 0 is symbolic and doubles');
  t.match(entry.unbatched, /output "y": the same sample twice in one batch answers differently from the sample alone/);
  const res = await postJson(`${served.url}/v1/predict`, { model: 'cumsum', inputs: { x: [[1, 1, 1, 1], [2, 2, 2, 2]] } });
  t.strictSame(res.body.outputs.y, [[1, 1, 1, 1], [3, 3, 3, 3]], 'a request still gets its running sum');
});

t.test('an output that is not the batch, found at serve time: the batch is rerun one request at a time and batching goes off', async (t) => {
  // no warm-up, so nothing checks the batch axis before the first batch; a long delay makes the two requests share one
  const repo = await makeRepo(t, { hits: { onnx: hitsModel(), config: { warmup: false, dynamicBatching: { maxQueueDelayMs: 400 } } } });
  const served = await startServer(t, repo);
  t.equal((await modelEntry(served.url, 'hits')).batching.maxBatchSize, 32, 'batches by the default rule at first');
  const [a, b] = await Promise.all([
    postJson(`${served.url}/v1/predict`, { model: 'hits', inputs: { x: [[1, 1, 1]] } }),
    postJson(`${served.url}/v1/predict`, { model: 'hits', inputs: { x: [[0, 0, 0], [0, 5, 0]] } }),
  ]);
  t.strictSame([a.status, b.status], [200, 200], 'both answered');
  t.strictSame(a.body.outputs.coords, [[0, 0], [0, 1], [0, 2]], 'each request its own answer');
  t.strictSame(b.body.outputs.coords, [[1, 1]]);
  t.equal(b.headers['x-batch-size'], '1', 'computed alone');
  const entry = await modelEntry(served.url, 'hits');
  t.equal(entry.batching.maxBatchSize, 0, 'batching is off now');
  t.match(entry.unbatched, /output "coords" has dimension 0 of 4 for a batch of 3 rows/, 'with the reason');
  t.equal(entry.warmup.kind, 'none', 'config.json "warmup": false ran none');
});

t.test('a 0-d input: unbatched with the reason, served on /v1 (a bare number) and /v2 (shape [])', async (t) => {
  const repo = await makeRepo(t, { scaled: { onnx: scaledModel() } });
  const served = await startServer(t, repo);
  const entry = await modelEntry(served.url, 'scaled');
  t.equal(entry.batching.maxBatchSize, 0);
  t.match(entry.unbatched, /input "scale" is a scalar \(0-d\)/);
  const v1 = await postJson(`${served.url}/v1/predict`, { model: 'scaled', inputs: { x: [[1, 2, 3, 4], [5, 6, 7, 8]], scale: 2 } });
  t.equal(v1.status, 200);
  t.strictSame(v1.body.outputs.y, [[2, 4, 6, 8], [10, 12, 14, 16]]);
  const v2 = await postJson(`${served.url}/v2/models/scaled/infer`, {
    inputs: [
      { name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 1, 1, 1] },
      { name: 'scale', shape: [], datatype: 'FP32', data: [0.5] },
    ],
  });
  t.equal(v2.status, 200);
  t.strictSame(v2.body.outputs[0].data, [0.5, 0.5, 0.5, 0.5]);
  const wrongRank = await postJson(`${served.url}/v1/predict`, { model: 'scaled', inputs: { x: [[1, 2, 3, 4]], scale: [2] } });
  t.equal(wrongRank.status, 400, 'a 1-d scale is a 400');
  t.equal(wrongRank.body.error.code, 'SHAPE_MISMATCH');
});

t.test('a state input with the batch in dimension 1: unbatched, and the state comes back', async (t) => {
  const repo = await makeRepo(t, { state: { onnx: stateModel() } });
  const served = await startServer(t, repo);
  const entry = await modelEntry(served.url, 'state');
  t.equal(entry.batching.maxBatchSize, 0);
  t.match(entry.unbatched, /input "h" has a fixed dimension 0 .*its batch dimension "batch" is dimension 1, not 0/);
  const h = [[Array(8).fill(1)], [Array(8).fill(2)]];
  const res = await postJson(`${served.url}/v1/predict`, { model: 'state', inputs: { x: [Array(8).fill(10)], h } });
  t.equal(res.status, 200);
  t.strictSame(res.body.outputs.y, [Array(8).fill(11)]);
  t.strictSame(res.body.outputs.hn, [[Array(8).fill(2)], [Array(8).fill(3)]]);
  const meta = await getJson(`${served.url}/v2/models/state`);
  t.match(meta.body.batching.reason, /dimension 1/, 'v2 metadata says why');
});

t.test('two inputs sharing a symbolic dimension must agree; a zero-length dimension is a 400; the process lives on', async (t) => {
  const repo = await makeRepo(t, { ids: { onnx: maskedIdsModel() } });
  const served = await startServer(t, repo);
  const mismatch = await postJson(`${served.url}/v1/predict`, { model: 'ids', inputs: { input_ids: [[1, 2, 3]], attention_mask: [[1, 1]] } });
  t.equal(mismatch.status, 400);
  t.equal(mismatch.body.error.code, 'SHAPE_MISMATCH');
  t.match(mismatch.body.error.message, /input_ids/);
  t.match(mismatch.body.error.message, /attention_mask/);
  const v2 = await postJson(`${served.url}/v2/models/ids/infer`, {
    inputs: [
      { name: 'input_ids', shape: [1, 3], datatype: 'INT64', data: [1, 2, 3] },
      { name: 'attention_mask', shape: [1, 2], datatype: 'INT64', data: [1, 1] },
    ],
  });
  t.equal(v2.status, 400, '/v2 too');
  for (const body of [
    { model: 'ids', inputs: { input_ids: [[]], attention_mask: [[]] } },
    { model: 'ids', inputs: { input_ids: { dims: [1, 0], data: [] }, attention_mask: { dims: [1, 0], data: [] } } },
  ]) {
    const res = await postJson(`${served.url}/v1/predict`, body);
    t.equal(res.status, 400, `${JSON.stringify(body)}: 400`);
    t.equal(res.body.error.code, 'SHAPE_MISMATCH');
  }
  const ok = await postJson(`${served.url}/v1/predict`, { model: 'ids', inputs: { input_ids: [[5, 6, 7]], attention_mask: [[1, 0, 1]] } });
  t.equal(ok.status, 200, 'the server still answers');
  t.strictSame(ok.body.outputs.masked, [[5, 0, 7]]);
});

t.test('a poisoned batch: the request with an id outside the vocabulary fails alone (422); the others answer as when run alone', async (t) => {
  const repo = await makeRepo(t, { emb: { onnx: embeddingModel(), config: { dynamicBatching: { maxQueueDelayMs: 300 } } } });
  const served = await startServer(t, repo);
  const rows = Array.from({ length: 7 }, (_, i) => [i % VOCAB, (i + 3) % VOCAB, (2 * i) % VOCAB]);
  const alone: unknown[] = [];
  for (const r of rows) {
    const res = await postJson(`${served.url}/v1/predict`, { model: 'emb', inputs: { ids: [r] } }, { 'x-request-timeout-ms': '5000' });
    t.equal(res.status, 200);
    alone.push(res.body.outputs.embeddings);
  }
  const sched = () => served.app.serving.repository.resolve('emb').stats!;
  const executionsBefore = sched().executions;
  const poisoned = [...rows.slice(0, 3), [1, 100, 2], ...rows.slice(3)];
  const answers = await Promise.all(poisoned.map((r) => postJson(`${served.url}/v1/predict`, { model: 'emb', inputs: { ids: [r] } })));
  const poison = answers[3]!;
  t.equal(poison.status, 422, 'the poison: 422');
  t.equal(poison.body.error.code, 'INPUT_REJECTED');
  t.match(poison.body.error.message, /Gather/, "onnxruntime's message");
  t.notMatch(poison.body.error.message, /\/onnxruntime_src|\.cc:/, 'no source paths');
  const others = answers.filter((_, i) => i !== 3);
  t.strictSame(others.map((a) => a.status), Array(7).fill(200), 'every other request 200');
  t.strictSame(others.map((a) => a.body.outputs.embeddings), alone, 'with the same outputs as when run alone');
  t.ok(Number(answers[0]!.headers['x-batch-size']) > 1 || sched().bisectionRuns > 0, 'they did share a batch');
  t.ok(sched().executions - executionsBefore > 1, 'the batch was split and rerun');
  const metrics = await (await fetch(`${served.url}/metrics`)).text();
  t.match(metrics, /onnx_serve_rejected_total\{model="emb",version="1",variant="",reason="input_rejected"\} 1/, 'rejected_total{reason="input_rejected"} is 1');
  // /v2, a request with two rows, one of them bad: the whole request is the one that fails
  const v2 = await postJson(`${served.url}/v2/models/emb/infer`, { inputs: [{ name: 'ids', shape: [2, 1], datatype: 'INT64', data: [1, -11] }] });
  t.equal(v2.status, 422, '/v2: 422');
  t.match(v2.body.error, /indices|Gather/);
  t.equal((await postJson(`${served.url}/v1/predict`, { model: 'emb', inputs: { ids: [[1]] } })).status, 200, 'the model still serves');
});

t.test('weights in an external data file next to model.onnx', async (t) => {
  const { model, data } = withExternalData(mlpModel([8, 16, 3], 5), 'model.onnx.data');
  const repo = await makeRepo(t, { ext: { onnx: model, files: { 'model.onnx.data': data } }, inline: { onnx: mlpModel([8, 16, 3], 5) } });
  const served = await startServer(t, repo);
  const x = [samples(8, 9), samples(8, 10)];
  const ext = await postJson(`${served.url}/v1/predict`, { model: 'ext', inputs: { input: x } });
  const inline = await postJson(`${served.url}/v1/predict`, { model: 'inline', inputs: { input: x } });
  t.equal(ext.status, 200);
  t.ok(data.length === 195 * 4 && model.length < data.length, `the weights live in the data file (${data.length} bytes; model.onnx ${model.length})`);
  t.strictSame(ext.body.outputs, inline.body.outputs, 'the same answers as the same weights inline');
});

t.test("a model's own warm-up samples (config.json, or a file beside it); one that fails makes the model UNAVAILABLE", async (t) => {
  const x = samples(CONV_KERNEL + 8, 4);
  const repo = await makeRepo(t, {
    inline: { onnx: longConvModel(), config: { warmup: [{ name: 'speech', inputs: { input: { dims: [1, 1, CONV_KERNEL + 8], fill: 0.25 } } }] } },
    file: { onnx: longConvModel(), config: { warmup: 'warmup.json' }, files: { 'warmup.json': JSON.stringify([{ inputs: { input: [[x]] } }]) } },
    short: { onnx: longConvModel(), config: { warmup: [{ inputs: { input: [[[1, 2, 3]]] } }] } },
    misfit: { onnx: longConvModel(), config: { warmup: [{ inputs: { samples: [[1]] } }] } },
    healthy: { onnx: mlpModel([4, 2], 1) },
  });
  const served = await startServer(t, repo);
  for (const name of ['inline', 'file']) {
    const entry = await modelEntry(served.url, name);
    t.equal(entry.state, 'READY', `${name}: READY`);
    t.strictSame([entry.warmup.kind, entry.warmup.ok], ['samples', true], `${name}: its samples ran`);
    t.equal(entry.batching.maxBatchSize, 32, `${name}: the batch-2 check on its sample passed`);
  }
  const short = await modelEntry(served.url, 'short');
  t.equal(short.state, 'UNAVAILABLE', 'a configured sample that fails: UNAVAILABLE');
  t.match(short.reason, /warm-up from config\.json failed: sample 0: .*Conv/, 'with the reason');
  const misfit = await modelEntry(served.url, 'misfit');
  t.equal(misfit.state, 'UNAVAILABLE', 'a sample that does not fit the signature: UNAVAILABLE');
  t.match(misfit.reason, /config\.json: warmup\[0\] does not fit the model: unknown input "samples"/);
  t.notMatch(misfit.reason, /^\//, 'no absolute path in the reason');
  const res = await postJson(`${served.url}/v1/predict`, { model: 'short', inputs: { input: [[x]] } });
  t.equal(res.status, 503, 'the unavailable model answers 503');
  t.equal((await postJson(`${served.url}/v1/predict`, { model: 'healthy', inputs: { input: [[1, 2, 3, 4]] } })).status, 200, 'the others serve');
});
