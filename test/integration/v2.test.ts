// KServe v2 / Open Inference Protocol against the real server: metadata, readiness, stats,
// inference with JSON (flat, nested) and binary tensors for every datatype, requested
// outputs, shared batches with /v1, and every malformed binary body answered 400.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { SHIPPED_MODELS, ROOT, makeRepo, startServer, postJson, getJson, waitUntil, type Asserts } from '../helpers/server.js';
import { identityModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { DTYPES, type DType, type TypedArray } from '../../src/tensors/dtypes.js';
import { f16ToF32 } from '../../src/float16.js';
import { toV2Datatype } from '../../src/kserve/datatypes.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  buf: Buffer;
}

async function post(url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await request(url, { method: 'POST', headers, body });
  return { status: res.statusCode, headers: res.headers, buf: Buffer.from(await res.body.arrayBuffer()) };
}

/** A binary request body: JSON header then each chunk's bytes; with its headers. */
function binaryRequest(header: unknown, chunks: TypedArray[], contentType = 'application/octet-stream'): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  const body = Buffer.concat([json, ...chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))]);
  return { body, headers: { 'content-type': contentType, 'inference-header-content-length': String(json.length) } };
}

/** Splits a v2 response into its JSON header and binary outputs (name → bytes). */
function readResponse(res: RawResponse): { json: any; binary: Map<string, Buffer> } {
  const len = res.headers['inference-header-content-length'];
  const n = len === undefined ? res.buf.length : Number(len);
  const json = JSON.parse(res.buf.subarray(0, n).toString('utf8'));
  const binary = new Map<string, Buffer>();
  let offset = n;
  for (const o of json.outputs ?? []) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(o.name, res.buf.subarray(offset, offset + size));
    offset += size;
  }
  return { json, binary };
}

const bytesOf = (a: TypedArray | Buffer): number[] => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

async function expectV2Error(t: Asserts, res: RawResponse | Promise<RawResponse>, status: number, what: string): Promise<void> {
  const r = await res;
  t.equal(r.status, status, `${what}: ${status}`);
  let body: any;
  try {
    body = JSON.parse(r.buf.toString('utf8'));
  } catch {
    body = undefined;
  }
  t.type(body?.error, 'string', `${what}: {"error": "message"} (${body?.error})`);
}

t.test('shipped models over v2', async (t) => {
  const served = await startServer(t, SHIPPED_MODELS, [], { faultHooks: true });
  const v2 = `${served.url}/v2`;

  t.test('server metadata', async (t) => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const res = await getJson(v2);
    t.equal(res.status, 200);
    t.equal(res.body.name, 'onnx-serve');
    t.equal(res.body.version, pkg.version);
    t.ok(res.body.extensions.includes('binary_tensor_data') && res.body.extensions.includes('statistics'), 'extensions listed');
  });

  t.test('model metadata, with and without a version', async (t) => {
    const expected = {
      name: 'seed-mlp', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 1000] }], outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 1] }],
    };
    t.same((await getJson(`${v2}/models/seed-mlp`)).body, expected);
    t.same((await getJson(`${v2}/models/seed-mlp/versions/1`)).body, expected);
    const digits = (await getJson(`${v2}/models/digits`)).body;
    t.same(digits.outputs.map((o: { name: string }) => o.name), ['logits', 'probabilities']);
    const noModel = await getJson(`${v2}/models/nope`);
    t.equal(noModel.status, 404, 'unknown model');
    t.type(noModel.body.error, 'string');
    const noVersion = await getJson(`${v2}/models/seed-mlp/versions/9`);
    t.equal(noVersion.status, 404);
    t.type(noVersion.body.error, 'string');
    const noRoute = await getJson(`${v2}/nothing/here`);
    t.equal(noRoute.status, 404, 'an unknown /v2 path');
    t.type(noRoute.body.error, 'string', 'answers in the v2 error shape');
  });

  t.test('model readiness', async (t) => {
    t.same((await getJson(`${v2}/models/digits/ready`)).body, { name: 'digits', version: '1', ready: true });
    t.equal((await getJson(`${v2}/models/digits/versions/1/ready`)).status, 200);
    t.equal((await getJson(`${v2}/models/nope/ready`)).status, 404);
    t.equal((await getJson(`${v2}/models/digits/versions/2/ready`)).status, 404);
    t.equal((await getJson(`${v2}/health/ready`)).status, 200, 'the health routes are untouched');
  });

  t.test('JSON and binary infer are bit-identical on seed-mlp, and equal /v1', async (t) => {
    const data = seededFloats(3 * 1000, 21);
    const input = { name: 'input', shape: [3, 1000], datatype: 'FP32' };
    const json = await postJson(`${v2}/models/seed-mlp/infer`, { inputs: [{ ...input, data: Array.from(data) }] });
    t.equal(json.status, 200);
    t.equal(json.body.model_name, 'seed-mlp');
    t.equal(json.body.model_version, '1');
    t.same(json.body.outputs.map((o: any) => [o.name, o.datatype, o.shape]), [['output', 'FP32', [3, 1]]]);
    const req = binaryRequest({ inputs: [{ ...input, parameters: { binary_data_size: data.byteLength } }], parameters: { binary_data_output: true } }, [data]);
    const bin = await post(`${v2}/models/seed-mlp/versions/1/infer`, req.body, req.headers);
    t.equal(bin.status, 200);
    t.match(bin.headers['content-type'], /application\/octet-stream/);
    const { json: head, binary } = readResponse(bin);
    t.same(head.outputs, [{ name: 'output', datatype: 'FP32', shape: [3, 1], parameters: { binary_data_size: 12 } }]);
    t.same(bytesOf(binary.get('output')!), bytesOf(Float32Array.from(json.body.outputs[0].data)), 'binary bytes equal the JSON values as float32');
    const v1 = await postJson(`${served.url}/v1/predict`, { model: 'seed-mlp', inputs: { input: { dims: [3, 1000], data: Array.from(data) } } });
    t.same(json.body.outputs[0].data, v1.body.outputs.output.flat(), '/v2 JSON equals /v1');
    t.match(bin.headers['server-timing'], /^queue;dur=.*compute;dur=/);
  });

  t.test('requested outputs on digits: only those, in that order; id echoed', async (t) => {
    const input = { name: 'input', shape: [1, 64], datatype: 'FP32', data: Array(64).fill(2) };
    const one = await postJson(`${v2}/models/digits/infer`, { id: 'abc-1', inputs: [input], outputs: [{ name: 'probabilities' }] });
    t.equal(one.status, 200);
    t.equal(one.body.id, 'abc-1', 'id echoed');
    t.same(one.body.outputs.map((o: { name: string }) => o.name), ['probabilities']);
    const sum = (one.body.outputs[0].data as number[]).reduce((a, b) => a + b, 0);
    t.ok(Math.abs(sum - 1) < 1e-4, 'probabilities sum to 1');
    const both = await postJson(`${v2}/models/digits/infer`, { inputs: [input], outputs: [{ name: 'probabilities' }, { name: 'logits', parameters: { binary_data: false } }] });
    t.same(both.body.outputs.map((o: { name: string }) => o.name), ['probabilities', 'logits'], 'in the order asked');
    t.equal(both.body.id, undefined, 'no id asked, none sent');
    const mixed = await post(`${v2}/models/digits/infer`, JSON.stringify({ inputs: [input], outputs: [{ name: 'logits', parameters: { binary_data: true } }, { name: 'probabilities' }] }), { 'content-type': 'application/json' });
    const { json, binary } = readResponse(mixed);
    t.same([...binary.keys()], ['logits'], 'binary_data on one output: only it is binary');
    t.same(Array.from(new Float32Array(Uint8Array.from(binary.get('logits')!).buffer)), Array.from(Float32Array.from(both.body.outputs[1].data)), 'binary logits equal JSON logits read as float32');
    t.equal(json.outputs[1].data.length, 10);
    await expectV2Error(t, post(`${v2}/models/digits/infer`, JSON.stringify({ inputs: [input], outputs: [{ name: 'nope' }] }), { 'content-type': 'application/json' }), 400, 'an unknown output');
  });

  t.test('/v2 and /v1 share the scheduler queue: mixed batches', async (t) => {
    const mv = served.app.serving.repository.resolve('seed-mlp');
    const stats0 = (await getJson(`${v2}/models/seed-mlp/stats`)).body.model_stats[0];
    // keep the only worker busy so that the requests below accumulate in one queue
    mv.workerPool!.injectFault({ kind: 'delay-next-run', ms: 1500 });
    const occupying = postJson(`${served.url}/v1/predict`, { model: 'seed-mlp', inputs: { input: [Array.from(seededFloats(1000, 1))] } });
    await waitUntil(() => mv.workerPool!.busyCount() === mv.workerPool!.liveCount(), 'the only worker is busy');
    // /v1 sends 1 row, /v2 sends 2 rows: an odd batch size on a /v2 answer means a /v1 request was in it
    const v1 = Array.from({ length: 5 }, (_, i) => postJson(`${served.url}/v1/predict`, { model: 'seed-mlp', inputs: { input: [Array.from(seededFloats(1000, 50 + i))] } }));
    const v2s = Array.from({ length: 5 }, (_, i) => {
      const data = seededFloats(2000, 80 + i);
      const req = binaryRequest({ inputs: [{ name: 'input', shape: [2, 1000], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }] }, [data]);
      return post(`${v2}/models/seed-mlp/infer`, req.body, req.headers);
    });
    await waitUntil(() => mv.scheduler!.depth === 10, 'all ten requests are queued behind the busy worker');
    const [r1, r2] = [await Promise.all(v1), await Promise.all(v2s)];
    t.equal((await occupying).status, 200);
    t.ok([...r1, ...r2].every((r) => r.status === 200), 'every request answered');
    const sizes = r2.map((r) => Number(r.headers['x-batch-size']));
    t.ok(sizes.some((s) => s % 2 === 1), `a /v2 request shared a batch with /v1 ones (batch sizes ${sizes.join(', ')})`);
    t.same(r1.map((r) => r.headers['x-batch-size']), r2.map((r) => r.headers['x-batch-size']), 'both APIs report the same batches');
    const stats1 = (await getJson(`${v2}/models/seed-mlp/stats`)).body.model_stats[0];
    const executions = stats1.execution_count - stats0.execution_count;
    t.ok(executions < 11, `11 requests in ${executions} executions`);
    t.equal(stats1.inference_count - stats0.inference_count, 1 + 5 + 10, 'every row counted once');
    t.equal(stats1.inference_stats.success.count - stats0.inference_stats.success.count, 11);
    const mixedSize = sizes.find((s) => s % 2 === 1)!;
    t.ok(stats1.batch_stats.some((b: { batch_size: number }) => b.batch_size === mixedSize), `batch_stats lists batch size ${mixedSize}`);
  });

  t.test('statistics shape', async (t) => {
    const res = await getJson(`${v2}/models/digits/versions/1/stats`);
    t.equal(res.status, 200);
    const s = res.body.model_stats[0];
    t.equal(s.name, 'digits');
    t.equal(s.version, '1');
    t.ok(s.inference_count >= 3 && s.execution_count >= 3, 'counts from earlier requests');
    for (const k of ['success', 'fail', 'queue', 'compute_infer']) t.ok(Number.isInteger(s.inference_stats[k].count) && Number.isInteger(s.inference_stats[k].ns), `${k} {count, ns}`);
    t.ok(s.inference_stats.compute_infer.ns > 0 && s.inference_stats.success.ns >= s.inference_stats.compute_infer.ns, 'durations in ns');
    t.ok(s.batch_stats.length >= 1 && s.batch_stats.every((b: any) => b.batch_size > 0 && b.compute_infer.count > 0), 'batch_stats per size');
    const all = await getJson(`${v2}/models/stats`);
    t.same(all.body.model_stats.map((m: { name: string }) => m.name).sort(), ['digits', 'seed-mlp']);
    t.equal((await getJson(`${v2}/models/nope/stats`)).status, 404);
  });

  t.test('every malformed binary body is a 400 with {"error"}, and the server keeps serving', async (t) => {
    const url = `${v2}/models/digits/infer`;
    const x = Float32Array.from(seededFloats(64, 3));
    const input = (params: object, extra: object = {}) => ({ name: 'input', shape: [1, 64], datatype: 'FP32', parameters: params, ...extra });
    const good = binaryRequest({ inputs: [input({ binary_data_size: 256 })] }, [x]);
    const send = (body: Buffer, headers: Record<string, string>) => post(url, body, headers);
    await expectV2Error(t, send(good.body, { ...good.headers, 'inference-header-content-length': String(good.body.length + 1) }), 400, 'header length past the body');
    await expectV2Error(t, send(good.body, { ...good.headers, 'inference-header-content-length': '-3' }), 400, 'negative header length');
    await expectV2Error(t, send(good.body, { ...good.headers, 'inference-header-content-length': 'ten' }), 400, 'header length not a number');
    await expectV2Error(t, send(good.body, { ...good.headers, 'inference-header-content-length': '5' }), 400, 'header not JSON');
    await expectV2Error(t, send(Buffer.concat([good.body, Buffer.alloc(4)]), good.headers), 400, 'bytes left over');
    await expectV2Error(t, send(good.body.subarray(0, good.body.length - 4), good.headers), 400, 'too few bytes');
    const r = (header: unknown, chunks: TypedArray[] = [x]) => binaryRequest(header, chunks);
    for (const [header, what] of [
      [{ inputs: [input({ binary_data_size: 128 })] }, 'binary_data_size disagrees with shape × 4'],
      [{ inputs: [input({ binary_data_size: -256 })] }, 'negative binary_data_size'],
      [{ inputs: [input({ binary_data_size: 255.5 })] }, 'non-integer binary_data_size'],
      [{ inputs: [input({ binary_data_size: '256' })] }, 'binary_data_size as a string'],
      [{ inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32' }] }, 'neither data nor binary_data_size'],
      [{ inputs: [input({ binary_data_size: 256 }, { datatype: 'BYTES' })] }, 'BYTES'],
      [{ inputs: [input({ binary_data_size: 256 }, { datatype: 'INT32' })] }, 'datatype differs from the model'],
      [{ inputs: [input({ binary_data_size: 256 }, { shape: [2, 32] })] }, 'shape differs from the signature'],
      [{ inputs: [input({ binary_data_size: 256 }, { name: 'other' })] }, 'unknown input'],
      [{ input: [] }, 'no inputs array'],
    ] as const) {
      const req = r(header);
      await expectV2Error(t, send(req.body, req.headers), 400, what);
    }
    await expectV2Error(t, post(url, '{"inputs": [', { 'content-type': 'application/json' }), 400, 'truncated JSON');
    await expectV2Error(t, post(url, '', { 'content-type': 'application/json' }), 400, 'empty body');
    // the header may come with any content type (or none): the header decides
    for (const ct of ['application/json', 'application/vnd.custom']) {
      const ok = binaryRequest({ inputs: [input({ binary_data_size: 256 })] }, [x], ct);
      t.equal((await send(ok.body, ok.headers)).status, 200, `binary body sent as ${ct}`);
    }
    const noType = await post(url, good.body, { 'inference-header-content-length': good.headers['inference-header-content-length']! });
    t.equal(noType.status, 200, 'binary body without a content type');
    t.equal((await send(good.body, good.headers)).status, 200, 'still serving after every malformed body');
    t.equal((await postJson(`${served.url}/v1/predict`, { model: 'digits', inputs: { input: [Array(64).fill(1)] } })).status, 200, '/v1 keeps its JSON parser');
  });
});

const DTYPE_LIST = Object.keys(DTYPES) as DType[];
const SAMPLES: Record<DType, TypedArray> = {
  float32: Float32Array.of(1.5, -2, 3.25, 1e-30), float64: Float64Array.of(0.1, 1e300, -1.5, 5e-324), float16: Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001),
  int8: Int8Array.of(-128, 0, 127, 5), uint8: Uint8Array.of(0, 1, 255, 7), int16: Int16Array.of(-32768, 0, 32767, -1),
  uint16: Uint16Array.of(0, 1, 65535, 9), int32: Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1, -7), uint32: Uint32Array.of(0, 1, 2 ** 32 - 1, 3),
  int64: BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n, -5n), uint64: BigUint64Array.of(0n, 1n, 2n ** 64n - 1n, 2n ** 53n + 1n), bool: Uint8Array.of(1, 0, 1, 1),
};

/** The JSON values a v2 client sends and gets for a sample (64-bit beyond 2^53 as decimal strings). */
function jsonValues(d: DType): unknown[] {
  return Array.from(SAMPLES[d] as unknown as ArrayLike<number | bigint>, (x) => {
    if (typeof x === 'bigint') return Number.isSafeInteger(Number(x)) && BigInt(Number(x)) === x ? Number(x) : x.toString();
    if (d === 'bool') return x !== 0;
    if (d === 'float16') return f16ToF32(x);
    return x;
  });
}

t.test('every datatype through an identity model: JSON flat, JSON nested, binary', async (t) => {
  const repo = await makeRepo(t, { id: { onnx: identityModel(DTYPE_LIST.map((d) => ({ name: d, dtype: d, dims: ['batch', 2] }))) } });
  const served = await startServer(t, repo);
  const url = `${served.url}/v2/models/id/infer`;
  const meta = (await getJson(`${served.url}/v2/models/id`)).body;
  t.same(meta.inputs.map((i: { datatype: string }) => i.datatype), DTYPE_LIST.map(toV2Datatype), 'metadata datatypes');

  for (const form of ['flat', 'nested'] as const) {
    const inputs = DTYPE_LIST.map((d) => {
      const v = jsonValues(d);
      return { name: d, datatype: toV2Datatype(d), shape: [2, 2], data: form === 'flat' ? v : [v.slice(0, 2), v.slice(2)] };
    });
    const res = await postJson(url, { inputs });
    t.equal(res.status, 200, `JSON ${form}`);
    for (const d of DTYPE_LIST) {
      const out = res.body.outputs.find((o: { name: string }) => o.name === `${d}_out`);
      t.equal(out.datatype, toV2Datatype(d), `${d}: datatype (JSON ${form})`);
      t.same(out.shape, [2, 2]);
      // float32 comes back as its shortest text: the same float32, not the same double
      const got = d === 'float32' ? Array.from(Float32Array.from(out.data as number[])) : out.data;
      t.strictSame(got, jsonValues(d), `${d}: values (JSON ${form})`);
      if (d === 'float32') t.strictSame(out.data, [1.5, -2, 3.25, 1e-30], 'float32: the shortest texts');
    }
  }

  const header = { inputs: DTYPE_LIST.map((d) => ({ name: d, datatype: toV2Datatype(d), shape: [2, 2], parameters: { binary_data_size: SAMPLES[d].byteLength } })), parameters: { binary_data_output: true } };
  const req = binaryRequest(header, DTYPE_LIST.map((d) => SAMPLES[d]));
  const res = await post(url, req.body, req.headers);
  t.equal(res.status, 200, 'binary');
  const { json, binary } = readResponse(res);
  t.equal(json.outputs.length, DTYPE_LIST.length);
  for (const d of DTYPE_LIST) {
    const out = json.outputs.find((o: { name: string }) => o.name === `${d}_out`);
    t.same([out.datatype, out.shape, out.parameters.binary_data_size], [toV2Datatype(d), [2, 2], SAMPLES[d].byteLength], `${d}: header`);
    t.same(bytesOf(binary.get(`${d}_out`)!), bytesOf(SAMPLES[d]), `${d}: bytes (binary in, binary out)`);
  }

  const mismatch = await postJson(url, { inputs: DTYPE_LIST.map((d) => ({ name: d, datatype: d === 'int8' ? 'UINT8' : toV2Datatype(d), shape: [2, 2], data: jsonValues(d) })) });
  t.equal(mismatch.status, 400, 'a datatype other than the model input\'s is 400');
  t.match(mismatch.body.error, /"int8".*UINT8.*INT8/);

  // v2 inference requests are counted like /v1 ones (only v2 requests reached this server)
  const metrics = await (await request(`${served.url}/metrics`)).body.text();
  t.match(metrics, /onnx_serve_requests_total\{model="id",version="1",variant="",protocol="http",code="200"\} 3\n/, 'three answered v2 requests counted');
  t.match(metrics, /onnx_serve_requests_total\{model="id",version="1",variant="",protocol="http",code="400"\} 1\n/, 'the rejected one counted with its status');
});

t.test('v2 status mapping: 503 queue full (Retry-After), 504 queue timeout, 503 not ready, 413 too large', async (t) => {
  const mlp = mlpModel([8, 16, 2], 3);
  const repo = await makeRepo(t, {
    slow: { onnx: mlp, config: { instances: 1, maxBatchSize: 4, dynamicBatching: { maxQueueDelayMs: 0, maxQueueSize: 1 } } },
    broken: { onnx: new Uint8Array([1, 2, 3, 4]) },
  });
  const served = await startServer(t, repo, ['--body-limit', '2kb'], { faultHooks: true });
  const v2 = `${served.url}/v2`;
  const pool = served.app.serving.repository.resolve('slow').workerPool!;
  const body = (seed: number) => JSON.stringify({ inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: Array.from(seededFloats(8, seed)) }] });
  const infer = (seed: number, headers: Record<string, string> = {}) => post(`${v2}/models/slow/infer`, body(seed), { 'content-type': 'application/json', ...headers });

  const sched = served.app.serving.repository.resolve('slow').scheduler!;
  // the expiry first: once the cost model has seen a 1.5 s run, admission refuses a 50 ms request at once
  pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
  const occupying = infer(4);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  await expectV2Error(t, infer(5, { 'x-request-timeout-ms': '50' }), 504, 'queue timeout');
  t.equal((await occupying).status, 200);

  pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
  const running = infer(1);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const queued = infer(2);
  await waitUntil(() => sched.depth === 1, 'one request is queued');
  const full = await infer(3);
  await expectV2Error(t, full, 503, 'queue full');
  t.match(full.headers['retry-after'], /^\d+$/, 'queue full keeps Retry-After');
  t.same([(await running).status, (await queued).status], [200, 200]);
  await expectV2Error(t, infer(6, { 'x-request-timeout-ms': 'soon' }), 400, 'bad timeout header');

  const stats = (await getJson(`${v2}/models/slow/stats`)).body.model_stats[0];
  t.equal(stats.inference_stats.fail.count, 2, 'the full-queue and the expired request count as failures');
  t.ok(stats.inference_stats.fail.ns > 0, 'failure time counted');

  await expectV2Error(t, post(`${v2}/models/broken/infer`, body(1), { 'content-type': 'application/json' }), 503, 'a model that failed to load');
  t.equal((await getJson(`${v2}/models/broken/ready`)).status, 503, 'its readiness is 503');
  t.equal((await getJson(`${v2}/models/broken`)).status, 503, 'its metadata is 503');
  await expectV2Error(t, post(`${v2}/models/nope/infer`, body(1), { 'content-type': 'application/json' }), 404, 'unknown model');
  await expectV2Error(t, post(`${v2}/models/slow/versions/3/infer`, body(1), { 'content-type': 'application/json' }), 404, 'unknown version');
  await expectV2Error(t, post(`${v2}/models/slow/infer`, Buffer.alloc(4096), { 'content-type': 'application/octet-stream', 'inference-header-content-length': '10' }), 413, 'body over --body-limit');

  served.app.serving.draining = true;
  await expectV2Error(t, infer(7), 503, 'draining');
  t.equal((await getJson(`${v2}/models/slow/ready`)).status, 503, 'model readiness is 503 while draining');
  served.app.serving.draining = false;
});
