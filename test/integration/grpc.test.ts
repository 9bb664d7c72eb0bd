// The KServe v2 gRPC service against the real server (--grpc-port 0), called by a client made
// from the shipped proto/grpc_service.proto as any user's would be: every served RPC, raw and
// typed tensor contents for every datatype, requested outputs, variants, shared batches, the
// call's deadline, status codes of errors, UNIMPLEMENTED methods, metrics and the drain; Triton's
// extensions (ModelConfig, the repository's index, load and unload, LogSettings) with the admin
// token in the call's metadata, against their HTTP routes.
import t from 'tap';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type ClientDuplexStream, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { request } from 'undici';
import { createServer } from 'node:net';
import { ROOT, makeRepo, startServer, getJson, postJson, waitUntil, freePort, type Asserts } from '../helpers/server.js';
import { serve } from '../../src/server.js';
import { identityModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { DTYPES, type DType, type TypedArray } from '../../src/tensors/dtypes.js';
import { toV2Datatype } from '../../src/kserve/datatypes.js';
import { parseServeOptions } from '../../src/config.js';
import type { Served } from '../../src/server.js';

const PROTO = join(ROOT, 'proto', 'grpc_service.proto');

interface Answer {
  res: any;
  trailer: Metadata;
}

interface GrpcClient {
  call(method: string, req: object, deadlineMs?: number, metadata?: Metadata): Promise<Answer>;
  /** The call itself too (to cancel it). */
  start(method: string, req: object, deadlineMs?: number, metadata?: Metadata): { call: ClientUnaryCall; done: Promise<Answer> };
  /** A call whose message is these bytes as they are (not a serialized object). */
  rawBytes(method: string, bytes: Buffer): Promise<Answer>;
  /** A ModelStreamInfer call: write requests, read answers, end. */
  stream(deadlineMs?: number): ClientDuplexStream<object, any>;
}

const DEFINITION = loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });

function connect(t: { teardown(fn: () => unknown): void }, port: number): GrpcClient {
  const Service = (loadPackageDefinition(DEFINITION) as any).inference.GRPCInferenceService as new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client;
  const client = new Service(`127.0.0.1:${port}`, credentials.createInsecure()) as Client & Record<string, any>;
  t.teardown(() => client.close());
  /** Settles once the status (and its trailers) arrived; the unary callback runs before it. */
  const settle = (make: (cb: (err: ServiceError | null, r: unknown) => void) => ClientUnaryCall): { call: ClientUnaryCall; done: Promise<Answer> } => {
    let call!: ClientUnaryCall;
    const done = new Promise<Answer>((resolve, reject) => {
      let res: unknown;
      let failed: ServiceError | undefined;
      call = make((err, r) => {
        if (err) failed = err;
        res = r;
      });
      call.on('status', (s: { metadata: Metadata }) => (failed ? reject(failed) : resolve({ res, trailer: s.metadata })));
    });
    return { call, done };
  };
  const start = (method: string, req: object, deadlineMs?: number, metadata = new Metadata()) =>
    settle((cb) => client[method]!(req, metadata, deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }, cb));
  return {
    start,
    call: (method, req, deadlineMs, metadata) => start(method, req, deadlineMs, metadata).done,
    rawBytes: (method, bytes) => settle((cb) => client.makeUnaryRequest(`/inference.GRPCInferenceService/${method}`, (b: Buffer) => b, (b: Buffer) => b, bytes, cb)).done,
    stream: (deadlineMs) => client.ModelStreamInfer!(deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }),
  };
}

async function expectStatus(t: Asserts, p: Promise<unknown>, code: status, what: string, details?: RegExp, errorCode?: string): Promise<ServiceError | undefined> {
  try {
    await p;
    t.fail(`${what}: expected status ${status[code]}, got an answer`);
    return undefined;
  } catch (err) {
    const e = err as ServiceError;
    t.equal(e.code, code, `${what}: ${status[code]} (${e.details})`);
    if (details) t.match(e.details, details, `${what}: the message says what to fix`);
    // an HTTP route the message names (POST /v2/repository/…) is not a file's path
    t.notMatch(e.details, /(^|[\s"'(])\/(?!v[12]\/)[A-Za-z]/, `${what}: no absolute path in the message`);
    if (errorCode) t.same(e.metadata.get('onnx-serve-error-code'), [errorCode], `${what}: trailer onnx-serve-error-code ${errorCode}`);
    return e;
  }
}

/** Metadata with `authorization: Bearer <token>`, or with this exact authorization value. */
function bearer(token: string, raw = false): Metadata {
  const m = new Metadata();
  m.set('authorization', raw ? token : `Bearer ${token}`);
  return m;
}

/** A LogSettingsResponse's settings as the plain values GET /v2/logging answers. */
const plainSettings = (s: Record<string, any>): Record<string, unknown> => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v[v.parameter_choice]]));

const bytes = (a: TypedArray | Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const rows = (n: number, seed: number): Float32Array => seededFloats(n * 8, seed);

function rawInfer(model: string, data: Float32Array, extra: object = {}): object {
  return { model_name: model, inputs: [{ name: 'input', datatype: 'FP32', shape: [data.length / 8, 8] }], raw_input_contents: [bytes(data)], ...extra };
}

async function metricsText(served: Served): Promise<string> {
  return (await request(`${served.url}/metrics`)).body.text();
}

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

// base and variant share the signature ([batch, 8] → [batch, 2]) but not the weights
const BASE = mlpModel([8, 16, 2], 1);
const ALT = mlpModel([8, 16, 2], 2);
const DTYPE_LIST = Object.keys(DTYPES) as DType[];
const SAMPLES: Record<DType, TypedArray> = {
  float32: Float32Array.of(1.5, -2, 3.25, 1e-30), float64: Float64Array.of(0.1, 1e300, -1.5, 5e-324), float16: Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001),
  int8: Int8Array.of(-128, 0, 127, 5), uint8: Uint8Array.of(0, 1, 255, 7), int16: Int16Array.of(-32768, 0, 32767, -1),
  uint16: Uint16Array.of(0, 1, 65535, 9), int32: Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1, -7), uint32: Uint32Array.of(0, 1, 2 ** 32 - 1, 3),
  int64: BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n, -5n), uint64: BigUint64Array.of(0n, 1n, 2n ** 64n - 1n, 2n ** 53n + 1n), bool: Uint8Array.of(1, 0, 1, 1),
};
const CONTENTS: Partial<Record<DType, string>> = {
  float32: 'fp32_contents', float64: 'fp64_contents', int8: 'int_contents', int16: 'int_contents', int32: 'int_contents', int64: 'int64_contents',
  uint8: 'uint_contents', uint16: 'uint_contents', uint32: 'uint_contents', uint64: 'uint64_contents', bool: 'bool_contents',
};
const TYPED = DTYPE_LIST.filter((d) => d !== 'float16');
/** A sample as typed contents: 64-bit as decimal strings (exact), BOOL as booleans. */
const typedValues = (d: DType): unknown[] => Array.from(SAMPLES[d] as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? x.toString() : d === 'bool' ? x !== 0 : x));

t.test('options: --grpc-port and ONNX_SERVE_GRPC_PORT', async (t) => {
  t.equal(parseServeOptions([], {}).grpcPort, undefined, 'off by default');
  t.equal(parseServeOptions(['--grpc-port', '9090'], {}).grpcPort, 9090);
  t.equal(parseServeOptions([], { ONNX_SERVE_GRPC_PORT: '9091' }).grpcPort, 9091, 'from the environment');
  t.equal(parseServeOptions(['--grpc-port', '0'], { ONNX_SERVE_GRPC_PORT: '9091' }).grpcPort, 0, 'the flag wins');
  t.throws(() => parseServeOptions(['--grpc-port', 'x'], {}), /--grpc-port: "x" is not allowed/);
  t.throws(() => parseServeOptions(['--grpc-port', '70000'], {}), /from 0 to 65535/);
  t.throws(() => parseServeOptions(['--port', '8080', '--grpc-port', '8080'], {}), /it is the HTTP port/);
});

t.test('a gRPC port in use: start-up fails saying so, and nothing is left listening', async (t) => {
  const repo = await makeRepo(t, { mlp: { onnx: BASE } });
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => busy.close(() => r())));
  const port = (busy.address() as { port: number }).port;
  const httpPort = await freePort();
  const opts = parseServeOptions(['--models', repo, '--host', '127.0.0.1', '--port', String(httpPort), '--grpc-port', String(port), '--log-level', 'silent', '--instances', '1'], {});
  await t.rejects(serve(opts), new RegExp(`gRPC: cannot listen on 127\\.0\\.0\\.1:${port} .*--grpc-port`));
  // the HTTP side that was already listening is closed again
  const again = createServer();
  await new Promise<void>((resolve, reject) => {
    again.once('error', reject);
    again.listen(httpPort, '127.0.0.1', () => resolve());
  });
  t.pass('the HTTP port is free again');
  await new Promise<void>((r) => again.close(() => r()));
});

t.test('served RPCs', async (t) => {
  const repo = await makeRepo(t, {
    mlp: { onnx: BASE, config: { instances: 1, maxBatchSize: 16, dynamicBatching: { maxQueueDelayMs: 50 }, variants: { alt: 'model.alt.onnx' } }, files: { 'model.alt.onnx': ALT } },
    twin: { onnx: ALT },
    id: { onnx: identityModel(DTYPE_LIST.map((d) => ({ name: d, dtype: d, dims: ['batch', 2] }))) },
    typed: { onnx: identityModel(TYPED.map((d) => ({ name: d, dtype: d, dims: ['batch', 2] }))) },
  });
  const served = await startServer(t, repo, ['--grpc-port', '0']);
  t.type(served.grpcPort, 'number', 'the bound port is exposed');
  t.not(served.grpcPort, 0, 'an ephemeral port, not 0');
  const c = connect(t, served.grpcPort!);
  const v2 = `${served.url}/v2`;

  t.test('health and metadata', async (t) => {
    t.same((await c.call('ServerLive', {})).res, { live: true });
    t.same((await c.call('ServerReady', {})).res, { ready: true });
    t.same((await c.call('ModelReady', { name: 'mlp' })).res, { ready: true });
    t.same((await c.call('ModelReady', { name: 'mlp', version: '1' })).res, { ready: true });
    await expectStatus(t, c.call('ModelReady', { name: 'nope' }), status.NOT_FOUND, 'ModelReady of an unknown model');
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const meta = (await c.call('ServerMetadata', {})).res;
    t.same([meta.name, meta.version], ['onnx-serve', pkg.version]);
    t.same(meta.extensions, (await getJson(v2)).body.extensions, 'the same extensions as GET /v2');
    const http = (await getJson(`${v2}/models/mlp`)).body;
    const m = (await c.call('ModelMetadata', { name: 'mlp' })).res;
    const shapes = (ts: { name: string; datatype: string; shape: (number | string)[] }[]) => ts.map((x) => ({ name: x.name, datatype: x.datatype, shape: x.shape.map(Number) }));
    t.same([m.name, m.versions, m.platform], [http.name, http.versions, http.platform]);
    t.same(shapes(m.inputs), shapes(http.inputs), 'inputs as GET /v2/models/mlp lists them (-1 for the batch)');
    t.same(shapes(m.outputs), shapes(http.outputs));
    await expectStatus(t, c.call('ModelMetadata', { name: 'mlp', version: '9' }), status.NOT_FOUND, 'metadata of an unknown version');
  });

  t.test('ModelInfer: raw and typed contents give HTTP v2 answer', async (t) => {
    const x = rows(2, 7);
    const http = await postJson(`${v2}/models/mlp/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 8], data: Array.from(x) }] });
    const want = Float32Array.from(http.body.outputs[0].data as number[]);
    const raw = await c.call('ModelInfer', rawInfer('mlp', x, { id: 'r1' }));
    t.same([raw.res.model_name, raw.res.model_version, raw.res.id], ['mlp', '1', 'r1'], 'model, version and id');
    t.same(raw.res.outputs.map((o: any) => [o.name, o.datatype, o.shape.map(Number)]), [['output', 'FP32', [2, 2]]]);
    t.equal(raw.res.raw_output_contents.length, 1, 'the answer is in raw_output_contents');
    t.same([...bytes(raw.res.raw_output_contents[0] as Buffer)], [...bytes(want)], 'raw: the same floats as HTTP');
    t.match(raw.trailer.get('x-batch-size')[0], /^\d+$/, 'trailer x-batch-size');
    t.match(raw.trailer.get('server-timing')[0], /queue;dur=.*compute;dur=/, 'trailer server-timing');
    const typed = await c.call('ModelInfer', { model_name: 'mlp', model_version: '1', inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 8], contents: { fp32_contents: Array.from(x) } }] });
    t.same([...bytes(typed.res.raw_output_contents[0] as Buffer)], [...bytes(want)], 'typed fp32_contents: the same floats');
    t.equal(typed.res.id, '', 'no id asked, none echoed');
  });

  t.test('every datatype, raw and typed; requested outputs', async (t) => {
    const inputs = DTYPE_LIST.map((d) => ({ name: d, datatype: toV2Datatype(d), shape: [2, 2] }));
    const raw = await c.call('ModelInfer', { model_name: 'id', inputs, raw_input_contents: DTYPE_LIST.map((d) => bytes(SAMPLES[d])) });
    for (const d of DTYPE_LIST) {
      const i = raw.res.outputs.findIndex((o: any) => o.name === `${d}_out`);
      t.same([raw.res.outputs[i].datatype, raw.res.outputs[i].shape.map(Number)], [toV2Datatype(d), [2, 2]], `${d}: header`);
      t.same([...raw.res.raw_output_contents[i]], [...bytes(SAMPLES[d])], `${d}: raw bytes in, the same bytes out`);
    }
    // typed contents: every datatype but FP16 (it has no field), through a model without it
    const typedInputs = TYPED.map((d) => ({ name: d, datatype: toV2Datatype(d), shape: [2, 2], contents: { [CONTENTS[d]!]: typedValues(d) } }));
    const typed = await c.call('ModelInfer', { model_name: 'typed', inputs: typedInputs });
    for (const d of TYPED) {
      const i = typed.res.outputs.findIndex((o: any) => o.name === `${d}_out`);
      t.same([...typed.res.raw_output_contents[i]], [...bytes(SAMPLES[d])], `${d}: typed ${CONTENTS[d]} in, the same values out`);
    }
    const some = await c.call('ModelInfer', { model_name: 'typed', inputs: typedInputs, outputs: [{ name: 'int64_out' }, { name: 'bool_out' }] });
    t.same(some.res.outputs.map((o: any) => o.name), ['int64_out', 'bool_out'], 'requested outputs only, in the order asked');
    t.equal(some.res.raw_output_contents.length, 2);
    await expectStatus(t, c.call('ModelInfer', { model_name: 'typed', inputs: typedInputs.map((i) => (i.name === 'int8' ? { ...i, contents: { int_contents: [300, 0, 0, 0] } } : i)) }), status.INVALID_ARGUMENT, 'a value outside INT8', /int8/, 'DTYPE_MISMATCH');
    await expectStatus(t, c.call('ModelInfer', { model_name: 'typed', inputs: typedInputs.slice(1) }), status.INVALID_ARGUMENT, 'a missing input', new RegExp(TYPED[0]!));
  });

  t.test('variant selection and shared batches', async (t) => {
    const x = rows(1, 3);
    const twin = await c.call('ModelInfer', rawInfer('twin', x));
    const alt = await c.call('ModelInfer', rawInfer('mlp', x, { parameters: { variant: { string_param: 'alt' } } }));
    t.same([...alt.res.raw_output_contents[0]], [...twin.res.raw_output_contents[0]], 'parameters.variant ran the variant');
    t.same(alt.res.parameters.variant?.string_param, 'alt', 'the answer names the variant');
    await expectStatus(t, c.call('ModelInfer', rawInfer('mlp', x, { parameters: { variant: { string_param: 'fp16' } } })), status.NOT_FOUND, 'an unknown variant', /no variant "fp16".*alt/, 'MODEL_NOT_FOUND');

    const before = served.app.serving.repository.resolve('mlp').stats!.executions;
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => c.call('ModelInfer', rawInfer('mlp', rows(1, 100 + i)))));
    const sizes = answers.map((a) => Number(a.trailer.get('x-batch-size')[0]));
    t.ok(sizes.some((s) => s > 1), `concurrent calls share batches (batch sizes ${sizes.join(', ')})`);
    const executions = served.app.serving.repository.resolve('mlp').stats!.executions - before;
    t.ok(executions < 6, `6 calls in ${executions} executions`);
    const stats = (await c.call('ModelStatistics', { name: 'mlp' })).res.model_stats;
    t.equal(stats.length, 1);
    t.ok(stats[0].batch_stats.some((b: any) => Number(b.batch_size) > 1), 'ModelStatistics shows a batch of more than one');
  });

  t.test('ModelStreamInfer: one answer per request, errors in error_message, shared batches', async (t) => {
    const stream = c.stream();
    const answers: any[] = [];
    const ended = new Promise<{ code: number }>((resolve, reject) => {
      stream.on('data', (a: any) => answers.push(a));
      stream.on('status', resolve);
      stream.on('error', reject);
    });
    const x = (i: number): Float32Array => rows(1, 200 + i);
    for (let i = 0; i < 8; i++) stream.write(rawInfer('mlp', x(i), { id: `s${i}` }));
    stream.write(rawInfer('nope', x(0), { id: 'bad-model' }));
    stream.write({ model_name: 'mlp', id: 'bad-shape', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3] }], raw_input_contents: [bytes(new Float32Array(3))] });
    stream.write(rawInfer('mlp', x(9), { id: 'alt', parameters: { variant: { string_param: 'alt' } } }));
    stream.end();
    const end = await ended;
    t.equal(end.code, status.OK, 'the stream ends OK once every request is answered');
    t.equal(answers.length, 11, 'one answer per request');
    const byId = new Map(answers.map((a) => [a.infer_response?.id ?? a.error_message, a]));
    for (let i = 0; i < 8; i++) {
      const want = await c.call('ModelInfer', rawInfer('mlp', x(i)));
      const a = byId.get(`s${i}`);
      t.equal(a?.error_message, '', `s${i}: no error`);
      t.same([...(a?.infer_response.raw_output_contents[0] ?? [])], [...want.res.raw_output_contents[0]], `s${i}: the unary call's answer`);
    }
    const errors = answers.filter((a) => a.error_message !== '');
    t.equal(errors.length, 2, 'the two bad requests are answered with their errors, the stream goes on');
    t.same(errors.map((e) => e.infer_response?.id).sort(), ['bad-model', 'bad-shape'], 'each error carries its request\'s id, to match it by');
    t.ok(errors.some((e) => /nope/.test(e.error_message)), 'an unknown model names it');
    t.ok(errors.some((e) => /input/.test(e.error_message) && /\b8\b/.test(e.error_message)), `a wrong shape says what is wrong (${errors.map((e) => e.error_message).join(' | ')})`);
    for (const e of errors) t.notMatch(e.error_message, /(^|[\s"'(])\/(?!v[12]\/)[A-Za-z]/, 'no absolute path in an error');
    t.same(byId.get('alt')?.infer_response.parameters.variant?.string_param, 'alt', 'parameters.variant runs the variant in a stream too');
    const text = await metricsText(served);
    t.ok((sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="",protocol="grpc",code="200"') ?? 0) >= 8, 'each streamed request counts as a gRPC request');
  });

  t.test('ModelStatistics matches GET /v2/models/…/stats', async (t) => {
    const http = (await getJson(`${v2}/models/mlp/stats`)).body.model_stats[0];
    const g = (await c.call('ModelStatistics', { name: 'mlp', version: '1' })).res.model_stats[0];
    t.same([g.name, g.version, Number(g.inference_count), Number(g.execution_count), Number(g.last_inference)], [http.name, http.version, http.inference_count, http.execution_count, http.last_inference]);
    t.same(Number(g.inference_stats.success.count), http.inference_stats.success.count);
    t.same(Number(g.inference_stats.success.ns), http.inference_stats.success.ns);
    t.same(g.batch_stats.map((b: any) => [Number(b.batch_size), Number(b.compute_infer.count)]), http.batch_stats.map((b: any) => [b.batch_size, b.compute_infer.count]));
    const all = (await c.call('ModelStatistics', {})).res.model_stats;
    t.same(all.map((s: any) => s.name).sort(), ['id', 'mlp', 'twin', 'typed'], 'no name: every model');
    await expectStatus(t, c.call('ModelStatistics', { name: 'nope' }), status.NOT_FOUND, 'statistics of an unknown model');
    await expectStatus(t, c.call('ModelStatistics', { version: '1' }), status.INVALID_ARGUMENT, 'a version without a name');
  });

  t.test('errors: status codes and messages', async (t) => {
    const x = rows(1, 1);
    await expectStatus(t, c.call('ModelInfer', rawInfer('nope', x)), status.NOT_FOUND, 'unknown model', /nope/, 'MODEL_NOT_FOUND');
    await expectStatus(t, c.call('ModelInfer', rawInfer('mlp', x, { model_version: '7' })), status.NOT_FOUND, 'unknown version', undefined, 'MODEL_NOT_FOUND');
    await expectStatus(t, c.call('ModelInfer', rawInfer('', x)), status.INVALID_ARGUMENT, 'no model name', /model_name/);
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8] }], raw_input_contents: [bytes(x.subarray(0, 7))] }), status.INVALID_ARGUMENT, 'raw bytes short of the shape', /raw_input_contents\[0\] has 28 bytes.*needs 32/, 'SHAPE_MISMATCH');
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 7] }], raw_input_contents: [bytes(x.subarray(0, 7))] }), status.INVALID_ARGUMENT, 'wrong shape for the model', /input "input"/, 'SHAPE_MISMATCH');
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 8], contents: { fp32_contents: Array.from(x) } }] }), status.INVALID_ARGUMENT, 'typed contents short of the shape', /8 values.*16/, 'SHAPE_MISMATCH');
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 4] }], raw_input_contents: [bytes(x)] }), status.INVALID_ARGUMENT, 'wrong datatype', /FP64.*FP32/, 'DTYPE_MISMATCH');
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'other', datatype: 'FP32', shape: [1, 8] }], raw_input_contents: [bytes(x)] }), status.INVALID_ARGUMENT, 'missing input (another given)', /input/, 'INVALID_INPUT');
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [] }), status.INVALID_ARGUMENT, 'no inputs', /inputs/);
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 1], contents: { bytes_contents: [Buffer.from('hi')] } }] }), status.INVALID_ARGUMENT, 'BYTES', /BYTES.*not served/);
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], contents: { fp64_contents: Array.from(x) } }] }), status.INVALID_ARGUMENT, 'the wrong contents field', /fp32_contents, not contents.fp64_contents/);
    await expectStatus(t, c.call('ModelInfer', { model_name: 'id', inputs: [{ name: 'float16', datatype: 'FP16', shape: [1, 2], contents: { uint_contents: [1, 2] } }] }), status.INVALID_ARGUMENT, 'FP16 as typed contents', /raw_input_contents/);
    await expectStatus(t, c.call('ModelInfer', { ...rawInfer('mlp', x), raw_input_contents: [bytes(x), bytes(x)] }), status.INVALID_ARGUMENT, 'more raw entries than inputs', /2 entries.*1 inputs/);
    await expectStatus(t, c.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], contents: { fp32_contents: Array.from(x) } }], raw_input_contents: [bytes(x)] }), status.INVALID_ARGUMENT, 'raw and typed at once', /one way/);
    await expectStatus(t, c.call('ModelInfer', rawInfer('mlp', x, { outputs: [{ name: 'nope' }] })), status.INVALID_ARGUMENT, 'unknown requested output', /unknown output "nope"/);
    await expectStatus(t, c.call('ModelInfer', rawInfer('mlp', x, { parameters: { priority: { int64_param: '99' } } })), status.INVALID_ARGUMENT, 'priority outside the levels', /priority/);
    await expectStatus(t, c.call('ModelInfer', rawInfer('mlp', x, { parameters: { timeout: { string_param: 'soon' } } })), status.INVALID_ARGUMENT, 'a timeout that is not a number', /parameters.timeout/);
    const ok = await c.call('ModelInfer', rawInfer('mlp', x, { parameters: { timeout: { int64_param: '5000000' }, priority: { int64_param: '0' }, sequence_id: { int64_param: '0' } } }));
    t.equal(ok.res.outputs.length, 1, 'timeout, priority and an unknown parameter are accepted');
  });

  t.test('no admin token configured: admin calls PERMISSION_DENIED, reads open; shared memory UNIMPLEMENTED', async (t) => {
    for (const [m, req] of [['RepositoryModelLoad', { model_name: 'mlp' }], ['RepositoryModelUnload', { model_name: 'mlp' }], ['LogSettings', { settings: { log_level: { string_param: 'info' } } }]] as const) {
      await expectStatus(t, c.call(m, req, undefined, bearer('anything')), status.PERMISSION_DENIED, m, /no admin token is configured.*--admin-token/, 'ADMIN_DISABLED');
    }
    t.equal((await c.call('LogSettings', {})).res.settings.log_level.string_param, 'silent', 'LogSettings reads without a token');
    t.ok((await c.call('RepositoryIndex', {})).res.models.length >= 4, 'RepositoryIndex needs no token');
    t.equal((await c.call('ModelConfig', { name: 'mlp' })).res.config.max_batch_size, 16, 'ModelConfig needs no token');
    for (const m of ['SystemSharedMemoryStatus', 'SystemSharedMemoryRegister', 'SystemSharedMemoryUnregister', 'CudaSharedMemoryStatus', 'CudaSharedMemoryRegister', 'CudaSharedMemoryUnregister']) {
      await expectStatus(t, c.call(m, {}), status.UNIMPLEMENTED, m, /shared memory is not supported/);
    }
  });

  t.test('metrics: requests_total by protocol', async (t) => {
    const text = await metricsText(served);
    t.ok((sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="",protocol="grpc",code="200"') ?? 0) >= 8, 'answered gRPC calls counted under protocol="grpc"');
    t.ok((sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="",protocol="grpc",code="400"') ?? 0) >= 5, 'refused ones with the status HTTP would answer');
    t.equal(sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="alt",protocol="grpc",code="200"'), 2, 'the variant calls (unary and streamed) under their variant');
    t.ok((sample(text, 'onnx_serve_requests_total', 'model="",version="",variant="",protocol="grpc",code="404"') ?? 0) >= 1, 'an unknown model as unresolved');
    t.equal(sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="",protocol="http",code="200"'), 1, 'the one HTTP request under protocol="http"');
  });
});

t.test("Triton's extensions: ModelConfig, repository index, load and unload, LogSettings", async (t) => {
  const TOKEN = 'grpc-admin-token';
  const lines: string[] = [];
  const repo = await makeRepo(t, {
    a: { onnx: BASE, config: { instances: 1, maxBatchSize: 8, dynamicBatching: { maxQueueDelayMs: 2, preferredBatchSizes: [4], maxQueueSize: 32 } } },
    b: { versions: { '1': ALT } },
    u: { onnx: BASE, config: { instances: 1, maxBatchSize: 0 } },
  });
  const served = await startServer(t, repo, ['--grpc-port', '0', '--model-control', 'explicit', '--load-model', 'a', '--load-model', 'u', '--admin-token', TOKEN], { logStream: { write: (l) => void lines.push(l) } });
  const c = connect(t, served.grpcPort!);
  const v2 = `${served.url}/v2`;
  const auth = (): Metadata => bearer(TOKEN);
  const x = rows(1, 5);
  const serves = async (model: string): Promise<boolean> => (await c.call('ModelInfer', rawInfer(model, x))).res.outputs.length === 1;

  t.test('ModelConfig: the message of GET …/config', async (t) => {
    const http = (await getJson(`${v2}/models/a/config`)).body;
    const g = (await c.call('ModelConfig', { name: 'a' })).res.config;
    t.same([g.name, g.platform, g.backend, g.max_batch_size], [http.name, http.platform, http.backend, http.max_batch_size], 'name, platform, backend, max_batch_size');
    t.equal(g.max_batch_size, 8);
    const tensors = (ts: any[]) => ts.map((i) => ({ name: i.name, data_type: i.data_type, dims: i.dims.map(Number), format: i.format ?? 'FORMAT_NONE', label_filename: i.label_filename ?? '' }));
    t.same(tensors(g.input), tensors(http.input), 'inputs: enum data_type, dims without the batch, format');
    t.same(tensors(g.output), tensors(http.output), 'outputs');
    t.same(g.input[0].data_type, 'TYPE_FP32');
    t.same(g.input[0].dims.map(Number), [8]);
    t.equal(g.version_policy.policy_choice, 'all', 'version_policy: all');
    t.equal(g.scheduling_choice, 'dynamic_batching');
    const db = g.dynamic_batching;
    const hdb = http.dynamic_batching;
    t.same(
      [Number(db.max_queue_delay_microseconds), db.preferred_batch_size, Number(db.priority_levels), Number(db.default_priority_level)],
      [hdb.max_queue_delay_microseconds, hdb.preferred_batch_size, hdb.priority_levels, hdb.default_priority_level],
      'dynamic_batching as HTTP shows it',
    );
    t.same(db.preferred_batch_size, [4]);
    const q = db.default_queue_policy;
    t.same([q.timeout_action, Number(q.default_timeout_microseconds), q.allow_timeout_override, q.max_queue_size], [hdb.default_queue_policy.timeout_action, hdb.default_queue_policy.default_timeout_microseconds, true, 32], 'default_queue_policy');
    t.same(g.instance_group.map((i: any) => [i.name, i.kind, i.count, i.gpus]), http.instance_group.map((i: any) => [i.name, i.kind, i.count, i.gpus ?? []]), 'instance_group');
    t.equal(g.instance_group[0].kind, 'KIND_CPU');
    t.same(Object.fromEntries(Object.entries(g.parameters).map(([k, v]: [string, any]) => [k, v.string_value])), Object.fromEntries(Object.entries(http.parameters).map(([k, v]: [string, any]) => [k, v.string_value])), 'parameters');
    t.same((await c.call('ModelConfig', { name: 'a', version: '1' })).res.config.name, 'a', 'a version named');

    const u = (await c.call('ModelConfig', { name: 'u' })).res.config;
    t.equal(u.max_batch_size, 0, 'a model that does not batch');
    t.same(u.input[0].dims.map(Number), (await getJson(`${v2}/models/u/config`)).body.input[0].dims, 'dims: the whole shape');
    t.equal(u.scheduling_choice, undefined, 'no dynamic batcher');
    t.notOk(u.dynamic_batching, 'dynamic_batching unset');

    await expectStatus(t, c.call('ModelConfig', { name: 'nope' }), status.NOT_FOUND, 'an unknown model', /nope/, 'MODEL_NOT_FOUND');
    await expectStatus(t, c.call('ModelConfig', { name: 'a', version: '9' }), status.NOT_FOUND, 'an unknown version', undefined, 'MODEL_NOT_FOUND');
    await expectStatus(t, c.call('ModelConfig', { name: 'b' }), status.NOT_FOUND, 'a model not loaded', undefined, 'MODEL_NOT_FOUND');
    await expectStatus(t, c.call('ModelConfig', {}), status.INVALID_ARGUMENT, 'no name', /name is empty/, 'INVALID_INPUT');
  });

  t.test('RepositoryIndex: the index of POST /v2/repository/index, no token needed', async (t) => {
    const http = (await postJson(`${v2}/repository/index`, {})).body as { name: string; version?: string; state: string; reason: string }[];
    const g = (await c.call('RepositoryIndex', {})).res.models;
    t.same(g, http.map((e) => ({ name: e.name, version: e.version ?? '', state: e.state, reason: e.reason })), 'the same entries');
    t.same(g.find((e: any) => e.name === 'b'), { name: 'b', version: '1', state: 'UNAVAILABLE', reason: 'not loaded' }, 'b is listed, not loaded');
    t.same((await c.call('RepositoryIndex', { ready: true })).res.models.map((e: any) => e.name), ['a', 'u'], 'ready: only the READY ones');
    await expectStatus(t, c.call('RepositoryIndex', { repository_name: 'other' }), status.INVALID_ARGUMENT, 'a repository name', /leave repository_name empty/, 'INVALID_INPUT');
  });

  t.test('RepositoryModelLoad and Unload: the admin token, then the model', async (t) => {
    for (const m of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
      const none = await expectStatus(t, c.call(m, { model_name: 'b' }), status.UNAUTHENTICATED, `${m} without a token`, /Authorization: Bearer/, 'UNAUTHORIZED');
      t.match(none?.metadata.get('www-authenticate')[0], /^Bearer/, 'www-authenticate in the trailers');
      await expectStatus(t, c.call(m, { model_name: 'b' }, undefined, bearer('wrong')), status.UNAUTHENTICATED, `${m} with a wrong token`, /not the admin token/, 'UNAUTHORIZED');
      await expectStatus(t, c.call(m, { model_name: 'b' }, undefined, bearer(`Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, true)), status.UNAUTHENTICATED, `${m} with Basic`, undefined, 'UNAUTHORIZED');
    }
    t.equal((await c.call('RepositoryIndex', { ready: true })).res.models.length, 2, 'nothing was loaded');

    t.same((await c.call('RepositoryModelLoad', { model_name: 'b' }, undefined, auth())).res, {}, 'load b');
    t.same((await c.call('ModelReady', { name: 'b' })).res, { ready: true }, 'b is ready');
    t.ok(await serves('b'), 'b serves');
    t.same((await c.call('RepositoryIndex', {})).res.models.find((e: any) => e.name === 'b'), { name: 'b', version: '1', state: 'READY', reason: '' });
    t.same((await c.call('RepositoryModelUnload', { model_name: 'b' }, undefined, auth())).res, {}, 'unload b');
    t.same((await c.call('ModelReady', { name: 'b' })).res, { ready: false }, 'b is not ready once unloaded');
    await expectStatus(t, c.call('ModelInfer', rawInfer('b', x)), status.UNAVAILABLE, 'inference on an unloaded model', /not loaded \(unloaded\); POST \/v2\/repository\/models\/b\/load loads it/, 'MODEL_NOT_READY');
    await expectStatus(t, c.call('ModelConfig', { name: 'b' }), status.UNAVAILABLE, 'the config of an unloaded model', undefined, 'MODEL_NOT_READY');
    t.same((await c.call('RepositoryIndex', {})).res.models.find((e: any) => e.name === 'b'), { name: 'b', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    t.same((await c.call('RepositoryModelUnload', { model_name: 'b', parameters: { unload_dependents: { bool_param: true } } }, undefined, auth())).res, {}, 'unloading it again (unload_dependents ignored): nothing to do');

    // parameters.config, as tritonclient's load_model(config=...) sends it: onnx-serve's form and Triton's
    const load = (parameters: object) => c.call('RepositoryModelLoad', { model_name: 'a', parameters }, undefined, auth());
    await load({ config: { string_param: JSON.stringify({ maxBatchSize: 2 }) } });
    t.equal((await c.call('ModelConfig', { name: 'a' })).res.config.max_batch_size, 2, 'the override is the config');
    await load({ config: { string_param: JSON.stringify({ name: 'a', max_batch_size: 4, instance_group: [{ kind: 'KIND_CPU', count: 1 }], dynamic_batching: { default_queue_policy: { max_queue_size: 16 } } }) } });
    const triton = (await c.call('ModelConfig', { name: 'a' })).res.config;
    t.same([triton.max_batch_size, triton.dynamic_batching.default_queue_policy.max_queue_size], [4, 16], "Triton's form, mapped onto config.json");
    await expectStatus(t, load({ config: { string_param: JSON.stringify({ maxBatchSise: 2 }) } }), status.INVALID_ARGUMENT, 'a bad override', /unknown key "maxBatchSise".*still serve/, 'MODEL_LOAD_FAILED');
    t.ok(await serves('a'), 'a still serves after the failed load');
    await expectStatus(t, load({ config: { string_param: '{not json' } }), status.INVALID_ARGUMENT, 'config that is not JSON', /not valid JSON/, 'INVALID_INPUT');
    await expectStatus(t, load({ config: { bool_param: true } }), status.INVALID_ARGUMENT, 'config not a string_param', /string_param/, 'INVALID_INPUT');
    await expectStatus(t, load({ 'file:1/model.onnx': { bytes_param: Buffer.from('xx') } }), status.INVALID_ARGUMENT, "Triton's file: parameters", /parameter "file:1\/model.onnx" is not supported/, 'INVALID_INPUT');
    t.same((await load({})).res, {}, 'a reload with its config.json');
    t.equal((await c.call('ModelConfig', { name: 'a' })).res.config.max_batch_size, 8, 'config.json again');

    for (const m of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
      await expectStatus(t, c.call(m, { model_name: 'nope' }, undefined, auth()), status.NOT_FOUND, `${m} of a model with no folder`, /no model folder "nope"/, 'MODEL_NOT_FOUND');
      for (const name of ['', '..', '../a', 'a/1', '.hidden']) {
        await expectStatus(t, c.call(m, { model_name: name }, undefined, auth()), status.INVALID_ARGUMENT, `${m} of ${JSON.stringify(name)}`, /is not allowed/, 'INVALID_MODEL_NAME');
      }
      await expectStatus(t, c.call(m, { model_name: 'a', repository_name: 'other' }, undefined, auth()), status.INVALID_ARGUMENT, `${m} in a named repository`, /leave repository_name empty/, 'INVALID_INPUT');
    }

    const admin = served.app.serving.admin;
    admin.modelControl = 'none';
    try {
      for (const m of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
        await expectStatus(t, c.call(m, { model_name: 'a' }, undefined, auth()), status.FAILED_PRECONDITION, `${m} with model control off`, /--model-control explicit or poll/, 'MODEL_CONTROL_DISABLED');
        await expectStatus(t, c.call(m, { model_name: 'a' }), status.UNAUTHENTICATED, `${m} with model control off and no token: the token first`, undefined, 'UNAUTHORIZED');
      }
    } finally {
      admin.modelControl = 'explicit';
    }
    served.app.serving.draining = true;
    try {
      await expectStatus(t, c.call('RepositoryModelLoad', { model_name: 'a' }, undefined, auth()), status.UNAVAILABLE, 'a load while draining', /shutting down/, 'SHUTTING_DOWN');
    } finally {
      served.app.serving.draining = false;
    }
    t.ok(await serves('a'), 'a serves throughout');
  });

  t.test('LogSettings: read open, change with the token, as /v2/logging', async (t) => {
    const read = plainSettings((await c.call('LogSettings', {})).res.settings);
    t.same(read, (await getJson(`${v2}/logging`)).body, 'no settings: the settings of GET /v2/logging');
    t.match(read, { log_file: '', log_info: false, log_verbose_level: 0, log_format: 'default', log_level: 'silent' });
    const change = { log_verbose_level: { uint32_param: 1 } };
    await expectStatus(t, c.call('LogSettings', { settings: change }), status.UNAUTHENTICATED, 'a change without a token', /Authorization: Bearer/, 'UNAUTHORIZED');
    await expectStatus(t, c.call('LogSettings', { settings: change }, undefined, bearer('wrong')), status.UNAUTHENTICATED, 'a change with a wrong token', /not the admin token/, 'UNAUTHORIZED');
    t.equal(served.app.log.level, 'silent', 'refused changes change nothing');

    const set = await c.call('LogSettings', { settings: change }, undefined, auth());
    t.match(plainSettings(set.res.settings), { log_info: true, log_warnings: true, log_errors: true, log_verbose_level: 1, log_level: 'debug' }, 'every setting answered');
    t.equal(set.res.settings.log_info.parameter_choice, 'bool_param');
    t.equal(set.res.settings.log_verbose_level.parameter_choice, 'uint32_param');
    t.equal(served.app.log.level, 'debug', "the app's logger follows");
    t.equal((await getJson(`${v2}/logging`)).body.log_level, 'debug', 'HTTP reads the change');
    t.ok(lines.some((l) => /"msg":"log level changed"/.test(l) && /"to":"debug"/.test(l)), 'the change is logged');
    const sw = await c.call('LogSettings', { settings: { log_verbose_level: { uint32_param: 0 }, log_info: { bool_param: false } } }, undefined, auth());
    t.equal(plainSettings(sw.res.settings).log_level, 'warn', "Triton's switches: warnings and errors only");

    for (const [settings, what, msg] of [
      [{ nope: { bool_param: true } }, 'an unknown setting', /unknown log setting "nope"/],
      [{ log_info: {} }, 'a setting without a value', /has no value/],
      [{ log_info: { string_param: 'yes' } }, 'a switch that is not a bool', /true or false/],
      [{ log_level: { string_param: 'loud' } }, 'an unknown level', /log_level.*trace, debug/],
      [{ log_level: { string_param: 'info' }, log_info: { bool_param: true } }, 'a level and switches', /not both/],
      [{ log_format: { string_param: 'text' } }, 'another format', /log_format/],
    ] as const) {
      await expectStatus(t, c.call('LogSettings', { settings }, undefined, auth()), status.INVALID_ARGUMENT, what, msg, 'INVALID_LOG_SETTINGS');
    }
    t.equal(served.app.log.level, 'warn', 'refused changes change nothing');
    t.equal(plainSettings((await c.call('LogSettings', { settings: { log_level: { string_param: 'silent' } } }, undefined, auth())).res.settings).log_level, 'silent', 'log_level by name');
    t.equal(served.app.log.level, 'silent');
  });
});

t.test('deadline, queue full, not ready, drain', async (t) => {
  const mlp = mlpModel([8, 16, 2], 3);
  const repo = await makeRepo(t, {
    slow: { onnx: mlp, config: { instances: 1, maxBatchSize: 4, dynamicBatching: { maxQueueDelayMs: 0, maxQueueSize: 1 } } },
    broken: { onnx: new Uint8Array([1, 2, 3, 4]) },
  });
  const served = await startServer(t, repo, ['--grpc-port', '0'], { faultHooks: true });
  const c = connect(t, served.grpcPort!);
  const pool = served.app.serving.repository.resolve('slow').workerPool!;
  const sched = served.app.serving.repository.resolve('slow').scheduler!;
  const call = (seed: number, deadlineMs?: number) => c.call('ModelInfer', rawInfer('slow', rows(1, seed)), deadlineMs);

  t.same((await c.call('ServerReady', {})).res, { ready: false }, 'a model that failed to load: the server is not ready');
  await expectStatus(t, call(0).then(() => c.call('ModelInfer', rawInfer('broken', rows(1, 1)))), status.UNAVAILABLE, 'a model that failed to load');

  // the call's deadline is the scheduler's: it expires in the queue behind a slowed run
  pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
  const occupying = call(1);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const started = Date.now();
  await expectStatus(t, call(2, 150), status.DEADLINE_EXCEEDED, 'the deadline passes in the queue');
  t.ok(Date.now() - started < 1200, `answered at the deadline, not after the run (${Date.now() - started} ms)`);
  t.ok((await occupying).res.outputs.length === 1, 'the slowed call itself succeeds');
  await waitUntil(() => (served.app.serving.repository.resolve('slow').stats!.failCount ?? 0) >= 1, 'the expired call counts as a failure');

  pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
  const running = call(3);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const queued = call(4);
  await waitUntil(() => sched.depth === 1, 'one call is queued');
  const full = await expectStatus(t, call(5), status.RESOURCE_EXHAUSTED, 'queue full', /queue/, 'QUEUE_FULL');
  t.match(full?.metadata.get('retry-after')[0], /^\d+$/, 'queue full keeps retry-after');
  await Promise.all([running, queued]);

  const text = await metricsText(served);
  t.ok((sample(text, 'onnx_serve_requests_total', 'model="slow",version="1",variant="",protocol="grpc",code="504"') ?? 0) >= 1, 'the expired call counted as 504');
  t.ok((sample(text, 'onnx_serve_requests_total', 'model="slow",version="1",variant="",protocol="grpc",code="429"') ?? 0) >= 1, 'the refused call counted as 429');

  // a client that cancels while queued leaves the queue: counted 499, as over HTTP
  pool.injectFault({ kind: 'delay-next-run', ms: 800 });
  const busy = call(8);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const pending = c.start('ModelInfer', rawInfer('slow', rows(1, 9)));
  await waitUntil(() => sched.depth === 1, 'the call is queued');
  pending.call.cancel();
  await expectStatus(t, pending.done, status.CANCELLED, 'a cancelled call');
  await waitUntil(() => sched.depth === 0, 'the cancelled call left the queue');
  await busy;
  await waitUntil(() => served.app.serving.repository.resolve('slow').stats!.executions >= 4, 'the runs are done');
  t.ok((sample(await metricsText(served), 'onnx_serve_requests_total', 'model="slow",version="1",variant="",protocol="grpc",code="499"') ?? 0) >= 1, 'the cancelled call counted as 499');

  await expectStatus(t, c.rawBytes('ModelInfer', Buffer.from([0x0a, 0xff, 0xff, 0xff])), status.INVALID_ARGUMENT, 'bytes that are not a ModelInferRequest', /not a valid ModelInfer request/, 'INVALID_INPUT');
  await expectStatus(t, c.rawBytes('ModelMetadata', Buffer.from([0xff])), status.INVALID_ARGUMENT, 'bytes that are not a ModelMetadataRequest', /not a valid ModelMetadata request/);

  served.app.serving.draining = true;
  await expectStatus(t, call(10), status.UNAVAILABLE, 'a call while draining', /shutting down/, 'SHUTTING_DOWN');
  t.same((await c.call('ServerReady', {})).res, { ready: false }, 'the server is not ready while draining');
  t.same((await c.call('ModelReady', { name: 'slow' })).res, { ready: false }, 'nor its models');
  served.app.serving.draining = false;

  // a cancelled stream takes its queued request out of the queue
  pool.injectFault({ kind: 'delay-next-run', ms: 800 });
  const busy2 = call(11);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const cancelled = c.stream();
  cancelled.on('error', () => {});
  cancelled.write(rawInfer('slow', rows(1, 12)));
  await waitUntil(() => sched.depth === 1, 'the streamed request is queued');
  cancelled.cancel();
  await waitUntil(() => sched.depth === 0, 'the cancelled stream\'s request left the queue');
  await busy2;

  // drain: a call in flight finishes, and a stream left open gets its answer, then its end;
  // new calls are refused; the server closes
  pool.injectFault({ kind: 'delay-next-run', ms: 600 });
  const inFlight = call(6);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const open = c.stream();
  const streamed: any[] = [];
  const streamEnd = new Promise<{ code: number; details: string }>((resolve) => {
    open.on('data', (a: any) => streamed.push(a));
    open.on('status', resolve);
    open.on('error', () => {});
  });
  open.write(rawInfer('slow', rows(1, 13), { id: 'open' }));
  await waitUntil(() => sched.depth === 1, 'the streamed request is queued behind the run');
  const closing = served.shutdown('SIGTERM');
  await expectStatus(t, call(7), status.UNAVAILABLE, 'a call once the drain began');
  t.equal((await inFlight).res.outputs.length, 1, 'the call in flight is answered during the drain');
  const end = await streamEnd;
  t.equal(end.code, status.UNAVAILABLE, 'the open stream is ended by the drain: UNAVAILABLE, as the client had more to send');
  t.match(end.details, /shutting down.*another replica/, 'saying so');
  t.same(streamed.map((a) => [a.error_message, a.infer_response?.id]), [['', 'open']], 'after the answer of its request in flight');
  await closing;
  await expectStatus(t, c.call('ServerLive', {}, 2000), status.UNAVAILABLE, 'after the drain nothing listens');
});
