// Compressed variants (config.json "variants") served beside their base: requests pick one on
// /v1 and /v2 (JSON and binary), each batches in its own queue with its own counters and metric
// series; a variant that is missing, not ONNX or of another signature is UNAVAILABLE with the
// reason while the base and the other variants serve; metadata carries the compress report.
import t from 'tap';
import { request } from 'undici';
import { makeRepo, startServer, postJson, getJson, type JsonResponse } from '../helpers/server.js';
import { identityModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { Client } from '../../src/client/index.js';
import type { Served } from '../../src/server.js';

// base and variant share the signature ([batch, 8] → [batch, 2]) but not the weights; `twin`
// serves the variant's file as a plain model, so its answers prove which one computed a request
const BASE = mlpModel([8, 16, 2], 1);
const INT8 = mlpModel([8, 16, 2], 2);
const REPORT = { method: 'int8-dynamic', changed: 2, eval: { accuracy: { original: 0.972, compressed: 0.969, delta: -0.003 } } };

const row = (seed: number): number[] => Array.from(seededFloats(8, seed));
const rows = (n: number, seed: number): number[][] => Array.from({ length: n }, (_, i) => row(seed + i));

async function metricsText(served: Served): Promise<string> {
  const res = await request(`${served.url}/metrics`);
  return res.body.text();
}

/** The value of one sample line, by its exact label set in the registry's order; undefined when absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

t.test('variants of a model version', async (t) => {
  const repo = await makeRepo(t, {
    mlp: {
      onnx: BASE,
      config: {
        instances: 1,
        dynamicBatching: { maxQueueDelayMs: 40 },
        variants: { int8: 'model.int8.onnx', gone: 'model.gone.onnx', junk: 'model.junk.onnx', f64: 'model.f64.onnx', wide: 'model.wide.onnx' },
      },
      files: {
        'model.int8.onnx': INT8,
        'model.int8.report.json': JSON.stringify(REPORT),
        'model.junk.onnx': 'this is not an ONNX file',
        'model.junk.report.json': '{ not json',
        // names match, the dtype does not
        'model.f64.onnx': identityModel([{ name: 'input', dtype: 'float64', dims: ['batch', 8] }]),
        // names and dtypes match, a fixed dimension does not
        'model.wide.onnx': mlpModel([4, 16, 2], 2),
      },
    },
    twin: { onnx: INT8, config: { instances: 1 } },
    // numbered versions: each version folder holds its own variant file (version 2's is missing)
    nv: {
      versions: { '1': BASE, '2': mlpModel([8, 16, 2], 3) },
      config: { instances: 1, variants: { int8: 'model.int8.onnx' } },
      files: { '1/model.int8.onnx': INT8 },
    },
  });
  const lines: Record<string, unknown>[] = [];
  const logStream = { write: (line: string): void => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  const served = await startServer(t, repo, ['--log-level', 'info'], { logStream });
  const predict = (body: unknown): Promise<JsonResponse> => postJson(`${served.url}/v1/predict`, body);
  const input = rows(3, 10);
  const baseOut = (await predict({ model: 'mlp', inputs: { input } })).body.outputs.output as number[][];
  const twinOut = (await predict({ model: 'twin', inputs: { input } })).body.outputs.output as number[][];
  t.notSame(baseOut, twinOut, 'base and variant weights give different answers');

  t.test('/v1/predict picks the variant, and says so', async (t) => {
    const res = await predict({ model: 'mlp', variant: 'int8', inputs: { input } });
    t.equal(res.status, 200);
    t.same(res.body.outputs.output, twinOut, "the variant's weights computed it");
    t.equal(res.body.variant, 'int8', '"variant" in the body');
    t.equal(res.headers['x-model-variant'], 'int8', 'x-model-variant header');
    t.match(res.headers['server-timing'], /queue;dur=.*compute;dur=/, 'timing headers as usual');

    const plain = await predict({ model: 'mlp', inputs: { input } });
    t.same(plain.body.outputs.output, baseOut, 'without a variant the base answers');
    t.notOk('variant' in plain.body, 'no "variant" in the body');
    t.equal(plain.headers['x-model-variant'], undefined, 'no x-model-variant header');
  });

  t.test('an unknown variant is 404 naming the ones that exist; a broken one 503 with its reason', async (t) => {
    const unknown = await predict({ model: 'mlp', variant: 'fp16', inputs: { input } });
    t.equal(unknown.status, 404);
    t.equal(unknown.body.error.code, 'MODEL_NOT_FOUND');
    t.match(unknown.body.error.message, /no variant "fp16".*int8/, `names the variants (${unknown.body.error.message})`);
    const gone = await predict({ model: 'mlp', variant: 'gone', inputs: { input } });
    t.equal(gone.status, 503);
    t.equal(gone.body.error.code, 'MODEL_NOT_READY');
    t.match(gone.body.error.message, /variant "gone" is UNAVAILABLE: file "model\.gone\.onnx" is missing/);
    const bad = await predict({ model: 'mlp', variant: '', inputs: { input } });
    t.equal(bad.status, 400, 'an empty variant name is a schema error');
    t.equal(bad.body.error.code, 'INVALID_INPUT');
  });

  t.test('KServe v2: JSON with parameters.variant, binary with ?variant=', async (t) => {
    const flat = input.flat();
    const json = await postJson(`${served.url}/v2/models/mlp/infer`, {
      parameters: { variant: 'int8' },
      inputs: [{ name: 'input', shape: [3, 8], datatype: 'FP32', data: flat }],
    });
    t.equal(json.status, 200);
    t.same(json.body.outputs[0].data, twinOut.flat(), 'the variant answered (JSON)');
    t.equal(json.headers['x-model-variant'], 'int8');
    t.same(json.body.parameters, { variant: 'int8' }, 'the response names the variant');

    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [3, 8], datatype: 'FP32', parameters: { binary_data_size: 96 } }], parameters: { binary_data_output: true } }));
    const body = Buffer.concat([header, Buffer.from(Float32Array.from(flat).buffer)]);
    const res = await request(`${served.url}/v2/models/mlp/versions/1/infer?variant=int8`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body,
    });
    const buf = Buffer.from(await res.body.arrayBuffer());
    t.equal(res.statusCode, 200);
    t.equal(res.headers['x-model-variant'], 'int8');
    const n = Number(res.headers['inference-header-content-length']);
    const out = new Float32Array(buf.buffer.slice(buf.byteOffset + n, buf.byteOffset + buf.length));
    t.same(Array.from(out), twinOut.flat().map(Math.fround), 'the variant answered (binary; the JSON answers are float32 texts)');

    const base = await postJson(`${served.url}/v2/models/mlp/infer`, { inputs: [{ name: 'input', shape: [3, 8], datatype: 'FP32', data: flat }] });
    t.same(base.body.outputs[0].data, baseOut.flat(), 'without a variant the base answers');
    t.equal(base.headers['x-model-variant'], undefined);
    t.notOk('parameters' in base.body);

    const unknown = await postJson(`${served.url}/v2/models/mlp/infer?variant=fp16`, { inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: row(1) }] });
    t.equal(unknown.status, 404);
    t.match(unknown.body.error, /no variant "fp16".*int8/);
    const broken = await postJson(`${served.url}/v2/models/mlp/infer`, { parameters: { variant: 'f64' }, inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: row(1) }] });
    t.equal(broken.status, 503);
    t.match(broken.body.error, /input "input" is float64, the base's is float32/);
    const conflict = await postJson(`${served.url}/v2/models/mlp/infer?variant=gone`, { parameters: { variant: 'int8' }, inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: row(1) }] });
    t.equal(conflict.status, 400, 'body and query naming different variants');
    const notString = await postJson(`${served.url}/v2/models/mlp/infer`, { parameters: { variant: 8 }, inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: row(1) }] });
    t.equal(notString.status, 400, 'parameters.variant must be a string');
  });

  t.test('variant requests batch in their own queue', async (t) => {
    const before = (await getJson(`${served.url}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'mlp').versions[0];
    const baseBefore = before.stats.inferences;
    const int8Before = before.variants.find((v: { name: string }) => v.name === 'int8').stats.inferences;
    // 4 + 4 concurrent requests: each execution holds only one side's rows
    const answers = await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => predict({ model: 'mlp', variant: 'int8', inputs: { input: [row(100 + i)] } })),
      ...Array.from({ length: 4 }, (_, i) => predict({ model: 'mlp', inputs: { input: [row(200 + i)] } })),
    ]);
    t.same(answers.map((a) => a.status), Array(8).fill(200));
    t.ok(answers.every((a) => Number(a.headers['x-batch-size']) <= 4), `no execution mixed base and variant rows (${answers.map((a) => a.headers['x-batch-size'])})`);
    t.ok(answers.slice(0, 4).some((a) => Number(a.headers['x-batch-size']) > 1), 'variant requests were batched together');

    const after = (await getJson(`${served.url}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'mlp').versions[0];
    t.equal(after.variants.find((v: { name: string }) => v.name === 'int8').stats.inferences - int8Before, 4, "the variant's counters moved by its 4 rows");
    t.equal(after.stats.inferences - baseBefore, 4, "the base's by its own 4 only");
  });

  t.test('/metrics: a variant label, bounded to configured names', async (t) => {
    await predict({ model: 'mlp', variant: 'nope-secret', inputs: { input: [row(1)] } });
    const text = await metricsText(served);
    const int8 = 'model="mlp",version="1",variant="int8"';
    const base = 'model="mlp",version="1",variant=""';
    const models = (await getJson(`${served.url}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'mlp').versions[0];
    const int8Stats = models.variants.find((v: { name: string }) => v.name === 'int8').stats;
    t.equal(sample(text, 'onnx_serve_inferences_total', int8), int8Stats.inferences, 'inferences_total{variant="int8"} = its stats');
    t.equal(sample(text, 'onnx_serve_executions_total', int8), int8Stats.executions, 'executions_total{variant="int8"}');
    t.equal(sample(text, 'onnx_serve_inferences_total', base), models.stats.inferences, 'inferences_total{variant=""} = the base stats');
    t.ok((sample(text, 'onnx_serve_requests_total', `${int8},protocol="http",code="200"`) ?? 0) >= 7, 'requests_total{variant="int8",code="200"}');
    t.equal(sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="gone",protocol="http",code="503"'), undefined, 'a request for a broken variant is not counted under it');
    t.ok((sample(text, 'onnx_serve_requests_total', 'model="",version="",variant="",protocol="http",code="404"') ?? 0) >= 1, 'an unknown variant counts as unresolved');
    t.equal(sample(text, 'onnx_serve_queue_depth', int8), 0, 'queue_depth{variant="int8"}');
    t.ok((sample(text, 'onnx_serve_model_load_duration_seconds', int8) ?? 0) > 0, 'model_load_duration_seconds{variant="int8"}');
    t.equal(sample(text, 'onnx_serve_rejected_total', `${int8},reason="queue_full"`), 0, 'rejected_total{variant="int8"} from the start');
    t.ok(text.includes(`onnx_serve_batch_size_count{${int8}}`), 'batch_size{variant="int8"}');
    t.ok(text.includes(`onnx_serve_compute_duration_seconds_count{${int8}}`), 'compute_duration_seconds{variant="int8"}');
    t.notOk(text.includes('nope-secret'), 'no label for a variant name a client made up');
  });

  t.test('/v1/models, v2 metadata and readiness list the variants', async (t) => {
    const mlp = (await getJson(`${served.url}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'mlp').versions[0];
    t.equal(mlp.state, 'READY', 'broken variants leave the base READY');
    const byName = Object.fromEntries(mlp.variants.map((v: { name: string }) => [v.name, v]));
    t.same(Object.keys(byName).sort(), ['f64', 'gone', 'int8', 'junk', 'wide']);
    t.match(byName.int8, { file: 'model.int8.onnx', state: 'READY', method: 'int8-dynamic', accuracyDelta: -0.003 });
    t.notOk('reason' in byName.int8);
    t.match(byName.gone, { state: 'UNAVAILABLE', reason: /missing/, method: null, accuracyDelta: null, stats: null });
    t.match(byName.junk, { state: 'UNAVAILABLE', reason: /file "model\.junk\.onnx" failed to load/, method: null }, 'not ONNX; an unreadable report gives nulls');
    t.match(byName.f64, { state: 'UNAVAILABLE', reason: /does not match the base model's signature: input "input" is float64, the base's is float32/ });
    t.match(byName.wide, { state: 'UNAVAILABLE', reason: /input "input" has dims \["batch",4\], the base's are \["batch",8\]/ });

    const meta = (await getJson(`${served.url}/v2/models/mlp`)).body;
    t.same(meta.variants.find((v: { name: string }) => v.name === 'int8'), { name: 'int8', file: 'model.int8.onnx', state: 'READY', method: 'int8-dynamic', accuracy_delta: -0.003 });
    t.match(meta.variants.find((v: { name: string }) => v.name === 'gone'), { state: 'UNAVAILABLE', reason: /missing/, method: null, accuracy_delta: null });
    t.notOk('variants' in (await getJson(`${served.url}/v2/models/twin`)).body, 'a model without variants: the protocol fields only');

    const stats = (await getJson(`${served.url}/v2/models/mlp/stats`)).body.model_stats[0];
    t.equal(stats.variants.find((v: { variant: string }) => v.variant === 'int8').inference_count, byName.int8.stats.inferences, 'v2 stats nest each variant');

    const ready = await getJson(`${served.url}/v2/health/ready`);
    t.equal(ready.status, 200, 'broken variants do not make the server unready');
    const entry = ready.body.models.find((m: { name: string; version: string }) => m.name === 'mlp');
    t.match(entry.variants.find((v: { name: string }) => v.name === 'junk'), { state: 'UNAVAILABLE', reason: /failed to load/ });
    t.equal((await getJson(`${served.url}/v2/models/mlp/ready`)).status, 200, 'the base model is ready');
  });

  t.test('log lines: each variant\'s load, and the variant that served a request', async (t) => {
    const loads = lines.filter((l) => l.msg === 'variant ready' || l.msg === 'variant unavailable');
    t.same(
      loads.filter((l) => l.model === 'mlp').map((l) => [l.variant, l.msg]).sort(),
      [['f64', 'variant unavailable'], ['gone', 'variant unavailable'], ['int8', 'variant ready'], ['junk', 'variant unavailable'], ['wide', 'variant unavailable']],
      'one line per variant at load',
    );
    const inference = lines.filter((l) => l.msg === 'inference' && l.model === 'mlp' && l.status === 200);
    t.ok(inference.some((l) => l.variant === 'int8'), 'a request the variant served logs variant "int8"');
    t.ok(inference.some((l) => !('variant' in l)), 'a request the base served logs no variant field');
  });

  t.test('numbered versions: each version folder has its own variants', async (t) => {
    const v1 = await predict({ model: 'nv', version: '1', variant: 'int8', inputs: { input } });
    t.equal(v1.status, 200);
    t.same(v1.body.outputs.output, twinOut, "version 1's variant file answered");
    t.equal(v1.body.version, '1');
    const v2 = await predict({ model: 'nv', variant: 'int8', inputs: { input } });
    t.equal(v2.status, 503, "version 2 (the highest) has no variant file: that variant is unavailable");
    t.match(v2.body.error.message, /version 2 variant "int8" is UNAVAILABLE: file "model\.int8\.onnx" is missing/);
    t.equal((await predict({ model: 'nv', inputs: { input } })).status, 200, 'version 2 itself serves');
  });

  t.test('the client takes a variant', async (t) => {
    const client = new Client(served.url);
    t.teardown(() => client.close());
    const p = await client.predict('mlp', { input }, { variant: 'int8' });
    t.same(p.outputs.output, twinOut);
    t.equal(p.variant, 'int8');
    const data = Float32Array.from(input.flat());
    for (const binary of [true, false]) {
      const r = await client.infer('mlp', { input: { dtype: 'float32', dims: [3, 8], data } }, { variant: 'int8', binary });
      t.same(Array.from(r.outputs.output!.data as Float32Array), twinOut.flat().map(Math.fround), `infer (${binary ? 'binary' : 'JSON'}) with the variant`);
      t.equal(r.variant, 'int8');
    }
    t.equal((await client.infer('mlp', { input: { dtype: 'float32', dims: [3, 8], data } })).variant, undefined, 'the base: no variant');
  });

  t.test('shutdown ends the variants\' workers too', async (t) => {
    const mv = served.app.serving.repository.resolve('mlp');
    const int8 = mv.variants.get('int8')!;
    t.equal(int8.workerPool!.liveCount(), 1);
    await served.shutdown();
    t.equal(int8.workerPool!.liveCount(), 0, 'the variant pool closed');
    t.equal(mv.workerPool!.liveCount(), 0, 'the base pool closed');
  });
});
