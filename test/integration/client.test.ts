// The typed client, imported as applications do ('onnx-serve/client'), against the real server.
import t from 'tap';
import type * as ClientModule from '../../src/client/index.js';
import { makeRepo, startServer, SHIPPED_MODELS } from '../helpers/server.js';
import { identityModel, seededFloats } from '../../tools/onnx-builder.js';
import { DTYPES, type DType, type TypedArray } from '../../src/tensors/dtypes.js';

// through the package's exports map, exactly as an application would import it
const { Client, ServeClientError } = (await import('onnx-serve/client' as string)) as typeof ClientModule;

t.test('client against the shipped models', async (t) => {
  const served = await startServer(t, SHIPPED_MODELS);
  const client = new Client(served.url);
  t.teardown(() => client.close());

  t.equal(await client.ready(), true, 'server ready');
  t.equal(await client.ready('digits'), true, 'model ready');
  const meta = (await client.metadata('seed-mlp')) as { platform: string; inputs: { name: string; datatype: string; shape: number[] }[] };
  t.equal(meta.platform, 'onnxruntime_onnx');
  t.same(meta.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 1000] }]);

  const input = { dtype: 'float32' as const, dims: [2, 1000], data: seededFloats(2000, 4) };
  const viaPredict = await client.predict('seed-mlp', { input });
  t.equal(viaPredict.model, 'seed-mlp');
  t.ok(viaPredict.batchSize >= 2, 'batch size reported');
  const binary = await client.infer('seed-mlp', { input });
  const json = await client.infer('seed-mlp', { input }, { binary: false });
  t.same(binary.outputs.output!.dims, [2, 1]);
  t.same(Array.from(binary.outputs.output!.data as Float32Array), Array.from(json.outputs.output!.data as Float32Array), 'binary and JSON infer agree');
  t.same(
    Array.from(binary.outputs.output!.data as Float32Array),
    (viaPredict.outputs.output as number[][]).flat().map(Math.fround),
    'v2 infer and /v1/predict agree bit for bit (read as float32)',
  );

  const digits = await client.infer('digits', { input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(64).fill(3) } }, { outputs: ['probabilities'], id: 'req-7' });
  t.same(Object.keys(digits.outputs), ['probabilities'], 'only the requested output');
  t.equal(digits.id, 'req-7', 'id echoed');

  const notFound = await client.predict('nope', { input: [[1]] }).catch((e: unknown) => e);
  t.type(notFound, ServeClientError);
  t.equal((notFound as ClientModule.ServeClientError).code, 'MODEL_NOT_FOUND', 'the server code travels with the error');
  t.equal((notFound as ClientModule.ServeClientError).status, 404);
  const badShape = await client.infer('seed-mlp', { input: { dtype: 'float32', dims: [1, 3], data: new Float32Array(3) } }).catch((e: unknown) => e);
  t.type(badShape, ServeClientError);
  t.equal((badShape as ClientModule.ServeClientError).status, 400, 'v2 errors carry their status');

  // priority and deadline travel as /v1's body field and header, and as v2's parameters (timeout in µs)
  t.ok((await client.predict('seed-mlp', { input }, { priority: 1, timeoutMs: 5000 })).batchSize >= 2, 'predict with priority and deadline');
  t.same((await client.infer('seed-mlp', { input }, { priority: 3, timeoutMs: 5000 })).outputs.output!.dims, [2, 1], 'infer with priority and deadline');
  for (const call of [() => client.predict('seed-mlp', { input }, { priority: 9 }), () => client.infer('seed-mlp', { input }, { priority: 9 }), () => client.infer('seed-mlp', { input }, { timeoutMs: 0 })]) {
    const bad = await call().catch((e: unknown) => e);
    t.type(bad, ServeClientError);
    t.equal((bad as ClientModule.ServeClientError).status, 400, (bad as Error).message);
    t.equal((bad as ClientModule.ServeClientError).retryAfterS, undefined, 'no Retry-After on a 400');
  }
});

t.test('client: every dtype round-trips as binary and as JSON', async (t) => {
  const dtypes = Object.keys(DTYPES) as DType[];
  const repo = await makeRepo(t, { id: { onnx: identityModel(dtypes.map((d) => ({ name: d, dtype: d, dims: ['batch', 3] }))) } });
  const served = await startServer(t, repo);
  const client = new Client(served.url);
  t.teardown(() => client.close());
  const samples: Record<DType, TypedArray> = {
    float32: Float32Array.of(1.5, -2, 3.25), float64: Float64Array.of(0.1, 1e300, -0), float16: Uint16Array.of(0x3c00, 0xc000, 0x7bff),
    int8: Int8Array.of(-128, 0, 127), uint8: Uint8Array.of(0, 1, 255), int16: Int16Array.of(-32768, 0, 32767),
    uint16: Uint16Array.of(0, 1, 65535), int32: Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1), uint32: Uint32Array.of(0, 1, 2 ** 32 - 1),
    int64: BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n), uint64: BigUint64Array.of(0n, 1n, 2n ** 64n - 1n), bool: Uint8Array.of(1, 0, 1),
  };
  const inputs = Object.fromEntries(dtypes.map((d) => [d, { dtype: d, dims: [1, 3], data: samples[d] }]));
  for (const binary of [true, false]) {
    const res = await client.infer('id', inputs, { binary });
    for (const d of dtypes) {
      const out = res.outputs[`${d}_out`]!;
      t.equal(out.dtype, d, `${d} dtype (${binary ? 'binary' : 'JSON'})`);
      t.same(Array.from(out.data as Uint8Array), Array.from(samples[d] as Uint8Array), `${d} values (${binary ? 'binary' : 'JSON'})`);
    }
  }
});
