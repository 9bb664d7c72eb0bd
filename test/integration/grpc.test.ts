// The KServe v2 gRPC service against the real server (--grpc-port 0), called by a client made
// from the shipped proto/grpc_service.proto as any user's would be: every served RPC, raw and
// typed tensor contents for every datatype, requested outputs, variants, shared batches, the
// call's deadline, status codes of errors, UNIMPLEMENTED methods, metrics and the drain.
import t from 'tap';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
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
  call(method: string, req: object, deadlineMs?: number): Promise<Answer>;
  /** The call itself too (to cancel it). */
  start(method: string, req: object, deadlineMs?: number): { call: ClientUnaryCall; done: Promise<Answer> };
  /** A call whose message is these bytes as they are (not a serialized object). */
  rawBytes(method: string, bytes: Buffer): Promise<Answer>;
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
  const start = (method: string, req: object, deadlineMs?: number) => settle((cb) => client[method]!(req, new Metadata(), deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }, cb));
  return {
    start,
    call: (method, req, deadlineMs) => start(method, req, deadlineMs).done,
    rawBytes: (method, bytes) => settle((cb) => client.makeUnaryRequest(`/inference.GRPCInferenceService/${method}`, (b: Buffer) => b, (b: Buffer) => b, bytes, cb)).done,
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
    t.notMatch(e.details, /(^|[\s"'(])\/[A-Za-z]/, `${what}: no absolute path in the message`);
    if (errorCode) t.same(e.metadata.get('onnx-serve-error-code'), [errorCode], `${what}: trailer onnx-serve-error-code ${errorCode}`);
    return e;
  }
}

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

  t.test('unsupported methods answer UNIMPLEMENTED', async (t) => {
    for (const m of ['ModelConfig', 'RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload', 'LogSettings']) {
      await expectStatus(t, c.call(m, {}), status.UNIMPLEMENTED, m, /not supported over gRPC yet/);
    }
    for (const m of ['SystemSharedMemoryStatus', 'SystemSharedMemoryRegister', 'SystemSharedMemoryUnregister', 'CudaSharedMemoryStatus', 'CudaSharedMemoryRegister', 'CudaSharedMemoryUnregister']) {
      await expectStatus(t, c.call(m, {}), status.UNIMPLEMENTED, m, /shared memory is not supported/);
    }
  });

  t.test('metrics: requests_total by protocol', async (t) => {
    const text = await metricsText(served);
    t.ok((sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="",protocol="grpc",code="200"') ?? 0) >= 8, 'answered gRPC calls counted under protocol="grpc"');
    t.ok((sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="",protocol="grpc",code="400"') ?? 0) >= 5, 'refused ones with the status HTTP would answer');
    t.equal(sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="alt",protocol="grpc",code="200"'), 1, 'the variant call under its variant');
    t.ok((sample(text, 'onnx_serve_requests_total', 'model="",version="",variant="",protocol="grpc",code="404"') ?? 0) >= 1, 'an unknown model as unresolved');
    t.equal(sample(text, 'onnx_serve_requests_total', 'model="mlp",version="1",variant="",protocol="http",code="200"'), 1, 'the one HTTP request under protocol="http"');
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

  // drain: a call in flight finishes; new calls are refused; the server closes
  pool.injectFault({ kind: 'delay-next-run', ms: 600 });
  const inFlight = call(6);
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const closing = served.shutdown('SIGTERM');
  await expectStatus(t, call(7), status.UNAVAILABLE, 'a call once the drain began');
  t.equal((await inFlight).res.outputs.length, 1, 'the call in flight is answered during the drain');
  await closing;
  await expectStatus(t, c.call('ServerLive', {}, 2000), status.UNAVAILABLE, 'after the drain nothing listens');
});
