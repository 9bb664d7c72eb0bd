// Triton's extensions against the real server: the model configuration route (and image_client.py's
// flow over it: metadata, config, binary infer with class_count), classification with and without
// labels.txt, parameters.timeout, compressed request bodies (gzip, deflate, corrupt, unknown, a bomb)
// on every inference route, compressed answers, and the statistics' extra fields.
import t from 'tap';
import { gzipSync, deflateSync, gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { makeRepo, startServer, getJson, postJson, waitUntil, type Asserts } from '../helpers/server.js';
import { cnnModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { imageClientParse } from '../helpers/triton-image-client.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  buf: Buffer;
}

async function post(url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<Raw> {
  const res = await request(url, { method: 'POST', headers, body });
  return { status: res.statusCode, headers: res.headers, buf: Buffer.from(await res.body.arrayBuffer()) };
}

/** The body of an answer, gunzipped when it says it is gzip. */
const decoded = (r: Raw): Buffer => (r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.buf) : r.buf);

/** A v2 binary answer: its JSON header and each binary output's bytes. */
function readBinary(r: Raw): { json: any; binary: Map<string, Buffer> } {
  const buf = decoded(r);
  const n = Number(r.headers['inference-header-content-length'] ?? buf.length);
  const json = JSON.parse(buf.toString('utf8', 0, n));
  const binary = new Map<string, Buffer>();
  let at = n;
  for (const o of json.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(o.name, buf.subarray(at, at + size));
    at += size;
  }
  return { json, binary };
}

/** BYTES elements of the binary tensor extension: 4-byte little-endian length, then the bytes. */
function bytesElements(b: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < b.length; ) {
    const n = b.readUInt32LE(at);
    out.push(b.toString('utf8', at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

function binaryRequest(header: unknown, data: Float32Array): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) } };
}

async function expectError(t: Asserts, r: Raw | Promise<Raw>, status: number, code: string | undefined, what: string, message?: RegExp): Promise<void> {
  const res = await r;
  t.equal(res.status, status, `${what}: ${status}`);
  const body = JSON.parse(res.buf.toString('utf8'));
  if (code === undefined) {
    t.type(body.error, 'string', `${what}: v2 {"error": message}`);
    if (message) t.match(body.error, message, `${what}: says what to send`);
  } else {
    t.equal(body.error?.code, code, `${what}: ${code}`);
    if (message) t.match(body.error?.message, message, `${what}: says what to send`);
  }
}

const LABELS = Array.from({ length: 10 }, (_, i) => `class-${i}`);

t.test('model configuration, classification, compression and statistics', async (t) => {
  const repo = await makeRepo(t, {
    cnn: { onnx: cnnModel(5), files: { 'labels.txt': `${LABELS.join('\n')}\n` } },
    // labels in the version folder
    mlp: { versions: { '1': mlpModel([8, 16, 4], 3) }, files: { '1/labels.txt': 'cat\r\ndog\r\nbird\r\nfish\r\n' } },
    fixed: { onnx: mlpModel([8, 4], 9), config: { maxBatchSize: 0, dynamicBatching: { maxQueueDelayMs: 1 } } },
    wide: { onnx: mlpModel([8, 600], 4) },
  });
  const served = await startServer(t, repo, ['--response-compression', 'on']);
  const v2 = `${served.url}/v2`;

  t.test('GET …/config: Triton\'s model configuration; the same 404s as metadata', async (t) => {
    const res = await getJson(`${v2}/models/cnn/config`);
    t.equal(res.status, 200);
    const c = res.body;
    t.match(c, { name: 'cnn', platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 32 });
    t.strictSame(c.input, [{ name: 'input', data_type: 'TYPE_FP32', dims: [3, 224, 224], format: 'FORMAT_NCHW' }]);
    t.strictSame(c.output, [{ name: 'output', data_type: 'TYPE_FP32', dims: [10], label_filename: 'labels.txt' }]);
    t.match(c.dynamic_batching, { max_queue_delay_microseconds: 0, preferred_batch_size: [], default_queue_policy: { max_queue_size: 1024 } });
    t.strictSame(c.instance_group, [{ name: 'cnn_0', kind: 'KIND_CPU', count: 1 }]);
    t.strictSame((await getJson(`${v2}/models/cnn/versions/1/config`)).body, c, 'the version route: the same');
    const fixed = (await getJson(`${v2}/models/fixed/config`)).body;
    t.equal(fixed.max_batch_size, 0, 'a model that does not batch');
    t.strictSame(fixed.input[0].dims, [-1, 8], 'dims are the whole shape then');
    t.notOk('dynamic_batching' in fixed);
    t.notOk('label_filename' in fixed.output[0], 'no labels.txt, no label_filename');
    for (const path of ['nope', 'cnn/versions/7']) {
      const meta = await getJson(`${v2}/models/${path}`);
      const conf = await getJson(`${v2}/models/${path}/config`);
      t.equal(conf.status, 404, `${path}: 404`);
      t.strictSame(conf.body, meta.body, `${path}: the same error as metadata`);
    }
    t.ok((await getJson(v2)).body.extensions.includes('model_configuration') && (await getJson(v2)).body.extensions.includes('classification'), 'extensions listed');
  });

  t.test("image_client.py's flow: metadata, config, parse_model's checks, binary infer with class_count", async (t) => {
    const metadata = (await getJson(`${v2}/models/cnn`)).body;
    const config = (await getJson(`${v2}/models/cnn/config`)).body;
    const parsed = imageClientParse(metadata, config);
    t.strictSame(parsed, { maxBatchSize: 32, c: 3, h: 224, w: 224, format: 'FORMAT_NCHW' });
    const batch = 2;
    const data = seededFloats(batch * 3 * 224 * 224, 8);
    // the Python client's InferRequestedOutput(name, binary_data=True, class_count=3)
    const req = binaryRequest(
      { inputs: [{ name: 'input', shape: [batch, 3, 224, 224], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }], outputs: [{ name: 'output', parameters: { classification: 3, binary_data: true } }] },
      data,
    );
    const res = await post(`${v2}/models/cnn/infer`, req.body, req.headers);
    t.equal(res.status, 200);
    const { json, binary } = readBinary(res);
    t.strictSame(json.outputs[0].datatype, 'BYTES');
    t.strictSame(json.outputs[0].shape, [batch, 3], '[batch, class_count]');
    const classes = bytesElements(binary.get('output')!);
    t.equal(classes.length, batch * 3);
    for (const cls of classes) {
      const [value, index, label] = cls.split(':');
      t.ok(Number.isFinite(Number(value)) && label === `class-${index}`, `"${cls}": value:index:label (what image_client prints)`);
    }
    // the same request without classification: the top 3 are the 3 highest of the raw output
    const raw = binaryRequest({ inputs: [{ name: 'input', shape: [batch, 3, 224, 224], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }] }, data);
    const plain = await post(`${v2}/models/cnn/infer`, raw.body, raw.headers);
    const scores: number[] = JSON.parse(decoded(plain).toString()).outputs[0].data;
    for (let r = 0; r < batch; r++) {
      const row = scores.slice(r * 10, r * 10 + 10);
      const want = row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, i]) => String(i));
      t.strictSame(classes.slice(r * 3, r * 3 + 3).map((c) => c.split(':')[1]), want, `row ${r}: the top 3 indices, highest first`);
    }
  });

  t.test('classification as JSON, labels from the version folder, and without labels', async (t) => {
    const input = { name: 'input', shape: [2, 8], datatype: 'FP32', data: Array.from(seededFloats(16, 2)) };
    const res = await postJson(`${v2}/models/mlp/infer`, { inputs: [input], outputs: [{ name: 'output', parameters: { classification: 2 } }] });
    t.equal(res.status, 200);
    const out = res.body.outputs[0];
    t.match(out, { name: 'output', datatype: 'BYTES', shape: [2, 2] });
    t.ok(out.data.every((s: string) => /^-?[\d.e+-]+:[0-3]:(cat|dog|bird|fish)$/.test(s)), `value:index:label from 1/labels.txt (${out.data.join(' ')})`);
    const fixed = await postJson(`${v2}/models/fixed/infer`, { inputs: [{ ...input, shape: [1, 8], data: input.data.slice(0, 8) }], outputs: [{ name: 'output', parameters: { classification: 4 } }] });
    t.equal(fixed.status, 200);
    t.strictSame(fixed.body.outputs[0].shape, [4], 'a model that does not batch: [N]');
    t.ok(fixed.body.outputs[0].data.every((s: string) => /^-?[\d.e+-]+:[0-3]$/.test(s)), 'no labels: value:index');
    for (const [bad, message] of [
      [0, /classification is 0; send a positive integer/],
      [-2, /classification is -2; send a positive integer/],
      [1.5, /classification is 1.5; send a positive integer/],
      ['3', /classification is "3"; send a positive integer/],
      [5, /classification is 5 but the output has 4 classes per row; send an integer from 1 to 4/],
    ] as const) {
      await expectError(t, post(`${v2}/models/mlp/infer`, JSON.stringify({ inputs: [input], outputs: [{ name: 'output', parameters: { classification: bad } }] }), { 'content-type': 'application/json' }), 400, undefined, `classification ${JSON.stringify(bad)}`, message);
    }
  });

  t.test('request bodies with Content-Encoding on /v1/predict, /v2 JSON and /v2 binary', async (t) => {
    const data = seededFloats(3 * 8, 6);
    const v1Body = JSON.stringify({ model: 'mlp', inputs: { input: { dims: [3, 8], data: Array.from(data) } } });
    const plainV1 = await postJson(`${served.url}/v1/predict`, v1Body);
    for (const [coding, enc] of [['gzip', gzipSync], ['deflate', deflateSync]] as const) {
      const r = await post(`${served.url}/v1/predict`, enc(v1Body), { 'content-type': 'application/json', 'content-encoding': coding });
      t.equal(r.status, 200, `/v1 ${coding}`);
      t.strictSame(JSON.parse(r.buf.toString()).outputs, plainV1.body.outputs, `/v1 ${coding}: the same answer`);
    }
    const v2Json = JSON.stringify({ inputs: [{ name: 'input', shape: [3, 8], datatype: 'FP32', data: Array.from(data) }] });
    const plainV2 = await postJson(`${v2}/models/mlp/infer`, v2Json);
    const gzJson = await post(`${v2}/models/mlp/infer`, gzipSync(v2Json), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    t.strictSame(JSON.parse(gzJson.buf.toString()).outputs, plainV2.body.outputs, '/v2 JSON gzip');
    // Inference-Header-Content-Length is the JSON header's length in the decoded body
    const bin = binaryRequest({ inputs: [{ name: 'input', shape: [3, 8], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }] }, data);
    const gzBin = await post(`${v2}/models/mlp/infer`, gzipSync(bin.body), { ...bin.headers, 'content-encoding': 'gzip' });
    t.equal(gzBin.status, 200, '/v2 binary gzip');
    t.strictSame(JSON.parse(gzBin.buf.toString()).outputs, plainV2.body.outputs, '/v2 binary gzip: the same answer');
    const identity = await post(`${v2}/models/mlp/infer`, v2Json, { 'content-type': 'application/json', 'content-encoding': 'identity' });
    t.equal(identity.status, 200, 'identity: as is');

    const corrupt = Buffer.concat([gzipSync(v2Json).subarray(0, 20), Buffer.from('garbage')]);
    await expectError(t, post(`${served.url}/v1/predict`, corrupt, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 400, 'INVALID_ENCODING', '/v1 corrupt gzip', /not valid gzip data/);
    await expectError(t, post(`${v2}/models/mlp/infer`, corrupt, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 400, undefined, '/v2 corrupt gzip', /not valid gzip data/);
    await expectError(t, post(`${v2}/models/mlp/infer`, Buffer.from(v2Json), { 'content-type': 'application/json', 'content-encoding': 'deflate' }), 400, undefined, '/v2 plain JSON sent as deflate');
    await expectError(t, post(`${served.url}/v1/predict`, v1Body, { 'content-type': 'application/json', 'content-encoding': 'br' }), 415, 'UNSUPPORTED_ENCODING', '/v1 br', /gzip or deflate/);
    await expectError(t, post(`${v2}/models/mlp/infer`, v2Json, { 'content-type': 'application/json', 'content-encoding': 'compress' }), 415, undefined, '/v2 compress', /gzip or deflate/);
    t.equal((await postJson(`${v2}/models/mlp/infer`, v2Json)).status, 200, 'still serving');
  });

  t.test('answers compressed when Accept-Encoding asks and they are large enough; binary framing intact', async (t) => {
    const rows = 8;
    const data = seededFloats(rows * 8, 12);
    const header = { inputs: [{ name: 'input', shape: [rows, 8], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }], parameters: { binary_data_output: true } };
    const bin = binaryRequest(header, data);
    const plain = await post(`${v2}/models/wide/infer`, bin.body, bin.headers);
    t.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: not compressed');
    const gz = await post(`${v2}/models/wide/infer`, bin.body, { ...bin.headers, 'accept-encoding': 'gzip' });
    t.equal(gz.status, 200);
    t.equal(gz.headers['content-encoding'], 'gzip', `${plain.buf.length} bytes: compressed`);
    t.equal(gz.headers['inference-header-content-length'], plain.headers['inference-header-content-length'], 'the header length refers to the uncompressed body');
    t.ok(decoded(gz).equals(plain.buf), 'decoded: byte for byte the uncompressed answer');
    const parsed = readBinary(gz);
    t.equal(parsed.binary.get('output')!.length, rows * 600 * 4, 'the binary output where the header says');
    const small = await post(`${v2}/models/mlp/infer`, JSON.stringify({ inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: Array(8).fill(1) }] }), { 'content-type': 'application/json', 'accept-encoding': 'gzip' });
    t.ok(small.buf.length < 1024 && small.headers['content-encoding'] === undefined, `a ${small.buf.length}-byte answer is sent as is`);
    const v1 = await post(`${served.url}/v1/predict`, JSON.stringify({ model: 'wide', inputs: { input: { dims: [rows, 8], data: Array.from(data) } } }), { 'content-type': 'application/json', 'accept-encoding': 'gzip' });
    t.equal(v1.headers['content-encoding'], 'gzip', '/v1 too');
    t.equal(JSON.parse(decoded(v1).toString()).outputs.output.length, rows);
  });

  t.test('statistics: compute_input, compute_output, cache, memory_usage, response_stats', async (t) => {
    const s = (await getJson(`${v2}/models/mlp/stats`)).body.model_stats[0];
    const is = s.inference_stats;
    for (const k of ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss']) {
      t.ok(Number.isInteger(is[k].count) && Number.isInteger(is[k].ns), `inference_stats.${k}: {count, ns}`);
    }
    t.equal(is.compute_input.count, is.success.count, 'compute_input: one per answered request');
    t.equal(is.compute_output.count, is.success.count);
    t.ok(is.compute_input.ns > 0 && is.compute_output.ns > 0, 'measured');
    t.strictSame([is.cache_hit, is.cache_miss], [{ count: 0, ns: 0 }, { count: 0, ns: 0 }], 'no response cache');
    t.ok(s.batch_stats.every((b: any) => b.compute_input.count === b.compute_infer.count && b.compute_output.count === b.compute_infer.count), 'batch_stats: input and output per batch size');
    t.strictSame(s.memory_usage, []);
    t.strictSame(Object.keys(s.response_stats), ['0'], 'one response per request: index 0');
    t.strictSame(s.response_stats['0'].success, is.success);
    t.strictSame(s.response_stats['0'].compute_infer, is.compute_infer);
    t.strictSame(s.response_stats['0'].empty_response, { count: 0, ns: 0 });
    const idle = (await getJson(`${v2}/models/fixed/versions/1/stats`)).body.model_stats[0];
    t.ok(idle.response_stats !== undefined && idle.memory_usage !== undefined, 'the keys are there on every model');
  });
});

t.test('parameters.timeout (microseconds) is the request deadline, as x-request-timeout-ms', async (t) => {
  const repo = await makeRepo(t, { slow: { onnx: mlpModel([8, 16, 2], 3), config: { instances: 1, maxBatchSize: 4, dynamicBatching: { maxQueueDelayMs: 0 } } } });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const v2 = `${served.url}/v2`;
  const pool = served.app.serving.repository.resolve('slow').workerPool!;
  const infer = (seed: number, parameters: object = {}, headers: Record<string, string> = {}) =>
    post(`${v2}/models/slow/infer`, JSON.stringify({ inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: Array.from(seededFloats(8, seed)) }], parameters }), { 'content-type': 'application/json', ...headers });

  pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
  const occupying = infer(1);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  // queued behind a 1.5 s run with a 50 ms deadline: expired in the queue, never computed
  await expectError(t, infer(2, { timeout: 50_000 }), 504, undefined, 'parameters.timeout 50 ms behind a 1.5 s run');
  // the header wins over the parameter (as /v1's header is the request's own deadline)
  const patient = infer(3, { timeout: 50_000 }, { 'x-request-timeout-ms': '10000' });
  t.equal((await occupying).status, 200);
  t.equal((await patient).status, 200, 'x-request-timeout-ms 10 s over parameters.timeout 50 ms');

  // now the cost model has seen a 1.5 s run: admission refuses a 50 ms deadline at once (503 on /v2, Retry-After)
  pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
  const again = infer(4);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const refused = await infer(5, { timeout: 50_000 });
  t.ok(refused.status === 503 || refused.status === 504, `refused or expired (${refused.status})`);
  t.equal((await again).status, 200);
  await expectError(t, infer(6, { timeout: 0 }), 400, undefined, 'timeout 0', /parameters.timeout is 0; use an integer from 1/);
  await expectError(t, infer(7, { timeout: 'soon' }), 400, undefined, 'timeout "soon"');
  const stats = (await getJson(`${v2}/models/slow/stats`)).body.model_stats[0];
  t.ok(stats.inference_stats.fail.count >= 2, 'the timed-out requests count as failures');
});

t.test('a gzip bomb is a 413 past the decoded limit, and the server keeps serving', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([8, 4], 1) } });
  const served = await startServer(t, repo, ['--body-limit', '64kb']);
  // 60 MiB of zeros in about 60 KB (6 gzip members of 10 MiB), under the 64 KiB limit as sent
  const member = gzipSync(Buffer.alloc(10 * 1024 * 1024));
  const bomb = Buffer.concat(Array.from({ length: 6 }, () => member));
  t.ok(bomb.length < 64 * 1024, `${bomb.length} bytes as sent`);
  const before = process.memoryUsage().arrayBuffers;
  await expectError(t, post(`${served.url}/v1/predict`, bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 413, 'PAYLOAD_TOO_LARGE', '/v1 bomb', /decodes to more than the limit of 65536 bytes/);
  await expectError(t, post(`${served.url}/v2/models/mlp/infer`, bomb, { 'content-type': 'application/octet-stream', 'inference-header-content-length': '10', 'content-encoding': 'gzip' }), 413, undefined, '/v2 bomb', /decodes to more than the limit/);
  const grew = process.memoryUsage().arrayBuffers - before;
  t.ok(grew < 30 * 1024 * 1024, `no 60 MiB buffer held (array buffers grew ${(grew / 2 ** 20).toFixed(1)} MiB)`);
  const ok = await postJson(`${served.url}/v2/models/mlp/infer`, { inputs: [{ name: 'input', shape: [1, 8], datatype: 'FP32', data: Array(8).fill(1) }] }, { 'accept-encoding': 'gzip' });
  t.equal(ok.status, 200, 'still serving');
  const big = await post(`${served.url}/v2/models/mlp/infer`, JSON.stringify({ inputs: [{ name: 'input', shape: [32, 8], datatype: 'FP32', data: Array(256).fill(1) }] }), { 'content-type': 'application/json', 'accept-encoding': 'gzip' });
  t.ok(big.status === 200 && big.buf.length > 1024 && big.headers['content-encoding'] === undefined, `answer compression is off without --response-compression on (${big.status}, ${big.buf.length} bytes)`);
});
