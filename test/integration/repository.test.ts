// Model repository behaviour through the real server: versions, bare models with no config,
// models that do not batch, every dtype, and a broken config that leaves the others serving.
import t from 'tap';
import { makeRepo, startServer, postJson, getJson } from '../helpers/server.js';
import { identityModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { DTYPES, type DType } from '../../src/tensors/dtypes.js';

const row = (n: number, seed: number): number[] => Array.from(seededFloats(n, seed));

t.test('repository', async (t) => {
  const dtypes = Object.keys(DTYPES) as DType[];
  const repo = await makeRepo(t, {
    versioned: { versions: { '1': mlpModel([4, 3], 1), '2': mlpModel([4, 5], 2), '10': mlpModel([4, 7], 3) } },
    fixed: { onnx: identityModel([{ name: 'x', dtype: 'float32', dims: [1, 4] }]) },
    alltypes: { onnx: identityModel(dtypes.map((d) => ({ name: d, dtype: d, dims: ['batch', 2] }))) },
    badconfig: { onnx: mlpModel([4, 3], 1), config: { maxBatchSize: 8, dynamicBatching: { maxQueueDelayMs: 'soon' } } },
    nobatch: { onnx: identityModel([{ name: 'x', dtype: 'float32', dims: [1, 4] }]), config: { maxBatchSize: 4 } },
    images: { onnx: identityModel([{ name: 'image', dtype: 'float32', dims: ['batch', 3, 224, 224] }]), config: { maxBatchSize: 4 } },
  });
  const served = await startServer(t, repo);
  const url = `${served.url}/v1/predict`;

  t.test('numbered versions: the highest by default, "version" selects', async (t) => {
    const input = [row(4, 1)];
    const dflt = await postJson(url, { model: 'versioned', inputs: { input } });
    t.equal(dflt.status, 200);
    t.equal(dflt.body.version, '10', 'version 10 is higher than 2 (numeric order)');
    t.equal(dflt.body.outputs.output[0].length, 7);
    const v2 = await postJson(url, { model: 'versioned', version: '2', inputs: { input } });
    t.equal(v2.body.version, '2');
    t.equal(v2.body.outputs.output[0].length, 5);
  });

  t.test('a model with a fixed first dimension does not batch: one request per execution', async (t) => {
    const models = (await getJson(`${served.url}/v1/models`)).body.models;
    const fixed = models.find((m: { name: string }) => m.name === 'fixed').versions[0];
    t.equal(fixed.batching.maxBatchSize, 0);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => postJson(url, { model: 'fixed', inputs: { x: [row(4, i)] } })));
    t.same(answers.map((a) => a.status), Array(8).fill(200));
    t.same(answers.map((a) => a.headers['x-batch-size']), Array(8).fill('1'), 'each ran alone');
    // float32 answers are their shortest texts: the same float32 once read back as one
    answers.forEach((a, i) => t.same(a.body.outputs.x_out.map((r: number[]) => r.map(Math.fround)), [row(4, i).map((v) => Math.fround(v))], `request ${i} got its own input back`));
  });

  t.test('every dtype round-trips through JSON, the queue and a worker', async (t) => {
    const samples: Record<DType, unknown[][]> = {
      float32: [[1.5, -2.25]], float64: [[0.1, 1e300]], float16: [[0.5, -65504]],
      int8: [[-128, 127]], uint8: [[0, 255]], int16: [[-32768, 32767]], uint16: [[0, 65535]],
      int32: [[-2147483648, 2147483647]], uint32: [[0, 4294967295]],
      int64: [[-9007199254740991, '9223372036854775807']], uint64: [[0, '18446744073709551615']], bool: [[true, false]],
    };
    const res = await postJson(url, { model: 'alltypes', inputs: samples });
    t.equal(res.status, 200, JSON.stringify(res.body).slice(0, 200));
    for (const d of dtypes) {
      const expected = d === 'bool' ? [[true, false]] : samples[d];
      t.same(res.body.outputs[`${d}_out`], expected, `${d} comes back unchanged`);
    }
  });

  t.test('the default body limit fits maxBatchSize rows of the largest input sent as JSON', async (t) => {
    const image = (seed: number): number[][][] => {
      const flat = seededFloats(3 * 224 * 224, seed);
      return Array.from({ length: 3 }, (_, c) => Array.from({ length: 224 }, (_, y) => Array.from(flat.subarray((c * 224 + y) * 224, (c * 224 + y + 1) * 224))));
    };
    const body = JSON.stringify({ model: 'images', inputs: { image: [image(1), image(2), image(3), image(4)] } });
    t.ok(body.length > 8 * 1024 * 1024, `four 3×224×224 images are ${(body.length / 2 ** 20).toFixed(1)} MiB of JSON, more than the 8 MiB floor`);
    const res = await postJson(url, body);
    t.equal(res.status, 200, 'accepted under the default limit');
    t.equal(res.headers['x-batch-size'], '4');
    t.same((res.body.outputs.image_out[3][2][223] as number[]).map(Math.fround), image(4)[2]![223]!.map((v) => Math.fround(v)), 'the last row of the last image comes back');
  });

  t.test('a bad config.json makes only that model unavailable, and readiness names it', async (t) => {
    const ready = await getJson(`${served.url}/v2/health/ready`);
    t.equal(ready.status, 503, 'strict readiness: not every model is READY');
    const bad = ready.body.models.find((m: { name: string }) => m.name === 'badconfig');
    t.equal(bad.state, 'UNAVAILABLE');
    t.match(bad.reason, /config\.json: "dynamicBatching\.maxQueueDelayMs" is "soon"; allowed: a number/);
    const nobatch = ready.body.models.find((m: { name: string }) => m.name === 'nobatch');
    t.equal(nobatch.state, 'UNAVAILABLE');
    t.match(nobatch.reason, /"maxBatchSize" is 4; allowed: 0 for this model/);
    const res = await postJson(url, { model: 'badconfig', inputs: { input: [row(4, 1)] } });
    t.equal(res.status, 503);
    t.equal(res.body.error.code, 'MODEL_NOT_READY');
    t.match(res.body.error.message, /maxQueueDelayMs/, 'the 503 says why');
    t.equal((await postJson(url, { model: 'versioned', inputs: { input: [row(4, 1)] } })).status, 200, 'the other models serve');
  });
});
