// fp16 and prune on real models run by onnxruntime: fp16 halves the weights while inputs,
// outputs and compute stay float32; magnitude pruning zeroes exactly the stated share of each
// weight; structured pruning halves hidden layers, keeps shapes, and picks the units that
// matter; unsupported patterns are left alone with a warning; digits' accuracy is measured.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import t from 'tap';
import { buildModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { decodeModel, encodeModel, type ModelProto } from '../../src/compress/onnx-file.js';
import { ELEM, dimsOf, floatData, numel } from '../../src/compress/graph.js';
import { toFloat16 } from '../../src/compress/fp16.js';
import { prune, zeroSmallest } from '../../src/compress/prune.js';
import { relError, smallCnnModel, transformerModel } from '../helpers/compress-models.js';

type Feeds = Record<string, ort.Tensor>;
interface Output {
  data: Float32Array;
  dims: readonly number[];
  type: string;
}

const MODELS = new URL('../../../models/', import.meta.url);
const DIGITS = readFileSync(new URL('digits/model.onnx', MODELS));
const SEED_MLP = readFileSync(new URL('seed-mlp/model.onnx', MODELS));
const DIGITS_SET = JSON.parse(readFileSync(new URL('digits/test-set.json', MODELS), 'utf8')) as { inputs: number[][]; labels: number[] };

// Weights rounded to float16 (relative error ≤ 2^-11) move outputs by far less than this;
// measured: ≤ 0.1 % of the output range on every model here.
const FP16_TOLERANCE = 1e-2;

function randomFeeds(dims: number[], seed: number): Feeds {
  return { input: new ort.Tensor('float32', seededFloats(numel(dims), seed), dims) };
}

function rowsFeeds(rows: number[][]): Feeds {
  return { input: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]) };
}

async function run(bytes: Uint8Array, feeds: Feeds): Promise<Record<string, Output>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: v.dims, type: v.type }]));
  } finally {
    await session.release();
  }
}


const decode = (bytes: Uint8Array): ModelProto => decodeModel(bytes, 'test model');
const init = (m: ModelProto, name: string) => m.graph.initializer.find((i) => i.name === name)!;
const elemTypes = (m: ModelProto) => [...m.graph.input, ...m.graph.output].map((v) => v.type?.tensorType?.elemType);

interface Case {
  name: string;
  bytes: Uint8Array;
  feeds: Feeds;
  /** Largest encoded fp16 size as a fraction of fp32 (node and name overhead weighs more in tiny models). */
  fp16Size: number;
}

const CASES: Case[] = [
  { name: 'mlp 64-128-64-10', bytes: mlpModel([64, 128, 64, 10], 3), feeds: randomFeeds([8, 64], 11), fp16Size: 0.52 },
  { name: 'seed-mlp', bytes: SEED_MLP, feeds: randomFeeds([4, 1000], 12), fp16Size: 0.51 },
  { name: 'digits', bytes: DIGITS, feeds: rowsFeeds(DIGITS_SET.inputs.slice(0, 16)), fp16Size: 0.52 },
  { name: 'small cnn', bytes: smallCnnModel(), feeds: randomFeeds([2, 3, 16, 16], 13), fp16Size: 0.62 },
  { name: 'transformer block', bytes: transformerModel(), feeds: randomFeeds([2, 5, 32], 14), fp16Size: 0.53 },
];

t.test('fp16: float16 weights, float32 interface, outputs close, file about half', async (t) => {
  for (const c of CASES) {
    const ref = await run(c.bytes, c.feeds);
    const before = decode(c.bytes);
    const floats = before.graph.initializer.filter((i) => i.dataType === ELEM.FLOAT).length;
    const { model, changed, warnings, details } = toFloat16(decode(c.bytes));
    const bytes = encodeModel(model);
    t.equal(changed, floats, `${c.name}: every float32 initializer converted`);
    t.equal(details.convertedTensors, floats, `${c.name}: details count them`);
    t.same(warnings, [], `${c.name}: nothing kept float32`);
    t.equal(model.graph.initializer.filter((i) => i.dataType === ELEM.FLOAT16).length, floats, `${c.name}: FLOAT16 initializers stored`);
    t.ok(elemTypes(model).every((e) => e === ELEM.FLOAT), `${c.name}: inputs and outputs declared float32`);
    t.ok(bytes.length <= c.fp16Size * c.bytes.length, `${c.name}: ${c.bytes.length} → ${bytes.length} bytes (≤ ${c.fp16Size}×)`);
    t.equal(details.bytesAfter, bytes.length, `${c.name}: bytesAfter is the encoded size`);
    const got = await run(bytes, c.feeds);
    for (const [name, out] of Object.entries(ref)) {
      t.equal(got[name]!.type, 'float32', `${c.name}/${name}: float32 out`);
      const err = relError(out.data, got[name]!.data);
      t.ok(err <= FP16_TOLERANCE, `${c.name}/${name}: max error ${(err * 100).toFixed(3)} % of the output range`);
    }
  }
});

t.test('fp16: onnxruntime folds the Casts, so compute runs on float32 constants', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp16-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'optimized.onnx');
  const bytes = encodeModel(toFloat16(decode(SEED_MLP)).model);
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'basic', optimizedModelFilePath: file });
  await session.release();
  const optimized = decode(readFileSync(file));
  t.notOk(optimized.graph.node.some((n) => n.opType === 'Cast'), 'no Cast left after load');
  t.ok(optimized.graph.initializer.every((i) => i.dataType === ELEM.FLOAT), 'weights are float32 constants again');
});

t.test('fp16: overflowing weights stay float32, underflow is counted, integer tensors untouched', async (t) => {
  const w = seededFloats(12, 5);
  w[3] = 70000; // beyond float16's 65504
  const v = seededFloats(12, 6);
  v[0] = 1e-9; // below float16's smallest subnormal (≈ 6e-8): becomes 0
  v[1] = -2e-9;
  const bytes = buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 4] }],
    outputs: [{ name: 'output', dtype: 'float32', dims: ['batch', 4] }],
    nodes: [
      { op: 'MatMul', inputs: ['input', 'w'], outputs: ['a'] },
      { op: 'Reshape', inputs: ['a', 'shape'], outputs: ['a2'] },
      { op: 'MatMul', inputs: ['a2', 'v'], outputs: ['output'] },
    ],
    initializers: [
      { name: 'w', dtype: 'float32', dims: [4, 3], data: w },
      { name: 'shape', dtype: 'int64', dims: [2], data: BigInt64Array.from([-1n, 3n]) },
      { name: 'v', dtype: 'float32', dims: [3, 4], data: v },
    ],
  });
  const feeds = randomFeeds([2, 4], 7);
  const ref = await run(bytes, feeds);
  const { model, changed, warnings, details } = toFloat16(decode(bytes));
  t.equal(changed, 1, 'only v converted');
  t.equal(init(model, 'w').dataType, ELEM.FLOAT, 'w kept float32');
  t.match(warnings, [/initializer "w": .*70000.*65504; kept float32/], 'the warning names the tensor and the value');
  t.equal(details.keptFloat32, 1);
  t.equal(details.underflowedToZero, 2, 'two tiny values of v became 0');
  t.equal(init(model, 'shape').dataType, ELEM.INT64, 'integer shape tensor untouched');
  const got = await run(encodeModel(model), feeds);
  t.ok(relError(ref.output!.data, got.output!.data) <= FP16_TOLERANCE, 'still runs and matches');
});

t.test('fp16: a model without float initializers is unchanged and says so', async (t) => {
  const bytes = buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: [2, 3] }],
    outputs: [{ name: 'output', dtype: 'float32', dims: [6] }],
    nodes: [{ op: 'Reshape', inputs: ['input', 'shape'], outputs: ['output'] }],
    initializers: [{ name: 'shape', dtype: 'int64', dims: [1], data: BigInt64Array.from([6n]) }],
  });
  const { model, changed, warnings, details } = toFloat16(decode(bytes));
  t.equal(changed, 0);
  t.match(warnings, [/no float32 initializer to convert/]);
  t.same(encodeModel(model), encodeModel(decode(bytes)), 'same bytes');
  t.equal(details.bytesAfter, details.bytesBefore);
});

t.test('magnitude prune 0.5: round(0.5 · n) zeros per weight, biases untouched, same shapes', async (t) => {
  for (const c of CASES) {
    const before = decode(c.bytes);
    const ref = await run(c.bytes, c.feeds);
    const { model, changed, details } = prune(decode(c.bytes), { sparsity: 0.5 });
    const tensors = details.tensors as { name: string; sparsity: number }[];
    t.ok(changed > 0 && changed === tensors.length, `${c.name}: ${changed} weights pruned`);
    let zeros = 0;
    for (const { name } of tensors) {
      const orig = floatData(init(before, name));
      t.equal(orig.filter((x) => x === 0).length, 0, `${c.name}/${name}: no zeros before`);
      const data = floatData(init(model, name));
      const z = data.filter((x) => x === 0).length;
      zeros += z;
      t.equal(z, Math.round(0.5 * data.length), `${c.name}/${name}: ${z} of ${data.length} zeroed`);
      // every survivor is at least as large as every pruned entry
      let maxPruned = 0;
      let minKept = Infinity;
      data.forEach((x, i) => (x === 0 ? (maxPruned = Math.max(maxPruned, Math.abs(orig[i]!))) : (minKept = Math.min(minKept, Math.abs(x)))));
      t.ok(maxPruned <= minKept, `${c.name}/${name}: the smallest |w| went`);
    }
    t.equal(details.zeros, zeros);
    t.match(details.note, /does not|same speed|keeps its size/, 'says the file and speed do not change');
    for (const b of before.graph.initializer.filter((i) => /b(ias)?$|_b$|^b\d/.test(i.name))) {
      t.same(floatData(init(model, b.name)), floatData(b), `${c.name}: bias ${b.name} untouched`);
    }
    const got = await run(encodeModel(model), c.feeds);
    for (const [name, out] of Object.entries(ref)) t.same(got[name]!.dims, out.dims, `${c.name}/${name}: output shape unchanged`);
  }
});

t.test('structured prune 0.5 on MLPs: hidden widths halved, same interface, fewer parameters', async (t) => {
  const mlps: { c: Case; expect: Record<string, number[]> }[] = [
    { c: CASES[0]!, expect: { w0: [64, 64], b0: [64], w1: [64, 32], b1: [32], w2: [32, 10], b2: [10] } },
    // PyTorch Gemms store W as [out, in] (transB=1)
    { c: CASES[1]!, expect: { 'net.0.weight': [100, 1000], 'net.0.bias': [100], 'net.2.weight': [50, 100], 'net.2.bias': [50], 'net.4.weight': [1, 50] } },
    { c: CASES[2]!, expect: { 'net.0.weight': [64, 64], 'net.0.bias': [64], 'net.2.weight': [32, 64], 'net.2.bias': [32], 'net.4.weight': [10, 32] } },
  ];
  for (const { c, expect } of mlps) {
    const ref = await run(c.bytes, c.feeds);
    const { model, changed, warnings, details } = prune(decode(c.bytes), { sparsity: 0.5, structured: true });
    t.equal(changed, 2, `${c.name}: two hidden layers pruned`);
    t.same(warnings, [], `${c.name}: the final layer is no warning`);
    for (const [name, dims] of Object.entries(expect)) t.same(dimsOf(init(model, name)), dims, `${c.name}: ${name} is [${dims}]`);
    const params = model.graph.initializer.reduce((n, i) => n + numel(i.dims), 0);
    t.equal(details.paramsAfter, params, `${c.name}: paramsAfter counts the initializers`);
    t.ok((details.paramsAfter as number) < 0.6 * (details.paramsBefore as number), `${c.name}: ${details.paramsBefore} → ${details.paramsAfter} parameters`);
    const got = await run(encodeModel(model), c.feeds);
    for (const [name, out] of Object.entries(ref)) t.same(got[name]!.dims, out.dims, `${c.name}/${name}: output shape unchanged`);
  }
});

t.test('structured prune on the transformer block: the 3-D MatMul → Add → Relu → MatMul chain halves', async (t) => {
  const bytes = transformerModel();
  const feeds = randomFeeds([2, 5, 32], 15);
  const { model, details, warnings } = prune(decode(bytes), { sparsity: 0.5, structured: true });
  t.same(details.layers, [{ node: 'MatMul_0', hiddenBefore: 128, hiddenAfter: 64 }]);
  t.same([dimsOf(init(model, 'ff1_w')), dimsOf(init(model, 'ff1_b')), dimsOf(init(model, 'ff2_w'))], [[32, 64], [64], [64, 32]]);
  t.match(warnings, [/node "MatMul_6" \(MatMul\): .*not a constant weight/], 'the scores MatMul is named');
  const [ref, got] = [await run(bytes, feeds), await run(encodeModel(model), feeds)];
  t.same(got.output!.dims, ref.output!.dims);
  t.same(got.scores!.data, ref.scores!.data, 'the untouched branch computes the same');
});

t.test('structured prune keeps the units that matter: tiny units go, outputs barely move', async (t) => {
  const [K, H, N] = [16, 32, 8];
  const w1 = seededFloats(K * H, 21, 0.5);
  const b1 = seededFloats(H, 22, 0.1);
  const w2 = seededFloats(H * N, 23, 0.5);
  const tiny = (j: number) => j % 2 === 1; // interleaved, so keeping "the first half" would fail
  for (let j = 0; j < H; j++) {
    if (!tiny(j)) continue;
    for (let k = 0; k < K; k++) w1[k * H + j]! *= 1e-4;
    b1[j]! *= 1e-4;
    for (let n = 0; n < N; n++) w2[j * N + n]! *= 1e-4;
  }
  const bytes = buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', K] }],
    outputs: [{ name: 'output', dtype: 'float32', dims: ['batch', N] }],
    nodes: [
      { op: 'MatMul', inputs: ['input', 'w1'], outputs: ['mm1'] },
      { op: 'Add', inputs: ['mm1', 'b1'], outputs: ['pre'] },
      { op: 'Tanh', inputs: ['pre'], outputs: ['act'] },
      { op: 'MatMul', inputs: ['act', 'w2'], outputs: ['output'] },
    ],
    initializers: [
      { name: 'w1', dtype: 'float32', dims: [K, H], data: w1 },
      { name: 'b1', dtype: 'float32', dims: [H], data: b1 },
      { name: 'w2', dtype: 'float32', dims: [H, N], data: w2 },
    ],
  });
  const model0 = decode(bytes);
  // a stale value_info for the hidden tensor must go with the old width
  model0.graph.valueInfo.push({ ...model0.graph.input[0]!, name: 'act' } as (typeof model0.graph.valueInfo)[number]);
  const { model, details } = prune(model0, { sparsity: 0.5, structured: true });
  t.same(details.layers, [{ node: 'MatMul_0', hiddenBefore: H, hiddenAfter: H / 2 }]);
  t.notOk(model.graph.valueInfo.some((v) => v.name === 'act'), 'stale value_info removed');
  const keptW1 = floatData(init(model, 'w1'));
  const expected = Float32Array.from({ length: K * (H / 2) }, (_, i) => w1[Math.floor(i / (H / 2)) * H + (i % (H / 2)) * 2]!);
  t.same(keptW1, expected, 'exactly the even (large) units kept, in order');
  t.same(floatData(init(model, 'b1')), Float32Array.from({ length: H / 2 }, (_, u) => b1[u * 2]!));
  const feeds = randomFeeds([16, K], 24);
  const [ref, got] = [await run(bytes, feeds), await run(encodeModel(model), feeds)];
  const err = relError(ref.output!.data, got.output!.data);
  t.ok(err < 1e-3, `outputs within ${(err * 100).toFixed(4)} % of the range`);
});

t.test('structured prune leaves what does not fit, naming the node', async (t) => {
  const cnn = smallCnnModel();
  const res = prune(decode(cnn), { sparsity: 0.5, structured: true });
  t.equal(res.changed, 0);
  t.same(encodeModel(res.model), encodeModel(decode(cnn)), 'CNN unchanged');
  t.match(res.warnings, [/node "Conv_0" \(Conv\): .*not Conv/, /node "Conv_3" \(Conv\): .*not Conv/], 'each Conv named; the final Gemm is no warning');

  // the hidden activation is read twice (a second output taps it)
  const bytes = buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 8] }],
    outputs: [
      { name: 'output', dtype: 'float32', dims: ['batch', 4] },
      { name: 'energy', dtype: 'float32', dims: ['batch', 1] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['input', 'w1'], outputs: ['h'] },
      { op: 'Relu', inputs: ['h'], outputs: ['r'] },
      { op: 'MatMul', inputs: ['r', 'w2'], outputs: ['output'] },
      { op: 'ReduceSum', inputs: ['r', 'axes'], outputs: ['energy'] },
    ],
    initializers: [
      { name: 'w1', dtype: 'float32', dims: [8, 16], data: seededFloats(128, 31) },
      { name: 'w2', dtype: 'float32', dims: [16, 4], data: seededFloats(64, 32) },
      { name: 'axes', dtype: 'int64', dims: [1], data: BigInt64Array.from([1n]) },
    ],
  });
  const twice = prune(decode(bytes), { sparsity: 0.5, structured: true });
  t.equal(twice.changed, 0);
  t.match(twice.warnings, [/node "MatMul_0" \(MatMul\): .*"r" is read by 2 nodes/]);
  t.same(dimsOf(init(twice.model, 'w1')), [8, 16], 'w1 keeps its width');
});

t.test('zeroSmallest: round(s · n) entries, halves round up, ties go by position', async (t) => {
  const odd = Float32Array.from([3, -1, 1, 0.5, 2]);
  t.equal(zeroSmallest(odd, 0.5), 3, 'round(2.5) = 3');
  t.same([...odd], [3, 0, 0, 0, 2]);
  const ties = Float32Array.from([1, -1, 1, 1]);
  zeroSmallest(ties, 0.5);
  t.same([...ties], [0, 0, 1, 1], 'equal magnitudes: the first ones go');
  const zeros = Float32Array.from([0, 0, 0, 5]);
  zeroSmallest(zeros, 0.25);
  t.same([...zeros], [0, 0, 0, 5], 'existing zeros count among the smallest');
});

t.test('prune rejects a sparsity outside (0, 1)', async (t) => {
  for (const s of [0, 1, -0.1, 1.5, NaN]) t.throws(() => prune(decode(mlpModel([4, 4, 2])), { sparsity: s }), RangeError, `sparsity ${s}`);
});

t.test('digits: held-out accuracy of fp16, magnitude 0.5 and structured 0.5', async (t) => {
  const feeds = rowsFeeds(DIGITS_SET.inputs);
  const accuracy = async (bytes: Uint8Array) => {
    const { logits } = await run(bytes, feeds);
    let correct = 0;
    DIGITS_SET.labels.forEach((label, r) => {
      const row = logits!.data.subarray(r * 10, r * 10 + 10);
      if (row.indexOf(Math.max(...row)) === label) correct++;
    });
    return correct / DIGITS_SET.labels.length;
  };
  const fp32 = await accuracy(DIGITS);
  const fp16 = await accuracy(encodeModel(toFloat16(decode(DIGITS)).model));
  const magnitude = await accuracy(encodeModel(prune(decode(DIGITS), { sparsity: 0.5 }).model));
  const structured = await accuracy(encodeModel(prune(decode(DIGITS), { sparsity: 0.5, structured: true }).model));
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  t.comment(`digits (${DIGITS_SET.labels.length} rows): fp32 ${pct(fp32)}, fp16 ${pct(fp16)}, magnitude 0.5 ${pct(magnitude)}, structured 0.5 ${pct(structured)}`);
  t.equal(DIGITS_SET.labels.length, 360);
  t.ok(Math.abs(fp16 - fp32) <= 0.01, 'fp16 within 1 point of fp32');
  t.ok(magnitude > 0.1, 'magnitude-pruned model above chance');
  t.ok(structured > 0.1, 'structured-pruned model above chance');
});
