// int8-dynamic and int8-static on real models run by onnxruntime: outputs stay close to fp32,
// the expected ops and int8 weights are there, files shrink, digits keeps its accuracy,
// unsupported patterns are left alone with a warning, and calibration reduces ranges correctly.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import t from 'tap';
import { buildModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import { decodeModel, encodeModel, type ModelProto } from '../../src/compress/onnx-file.js';
import { ELEM } from '../../src/compress/graph.js';
import { quantizeDynamic } from '../../src/compress/quantize-dynamic.js';
import { quantizeStatic, staticCalibrationTensors } from '../../src/compress/quantize-static.js';
import { calibrate } from '../../src/compress/calibrate.js';
import { relError, smallCnnModel, transformerModel } from '../helpers/compress-models.js';

type Feeds = Record<string, ort.Tensor>;

const MODELS = new URL('../../../models/', import.meta.url);
const DIGITS = readFileSync(new URL('digits/model.onnx', MODELS));
const DIGITS_SET = JSON.parse(readFileSync(new URL('digits/test-set.json', MODELS), 'utf8')) as { inputs: number[][]; labels: number[] };

// Max |error| over the output's range on the same inputs. Measured: dynamic ≤ 0.6 % except
// digits' softmax (2.4 %); static ≤ 1.4 % (graph outputs stay float; requantizing them to
// uint8 had put seed-mlp's narrow single output at 4.8 %).
const DYNAMIC_TOLERANCE = 0.03;
const STATIC_TOLERANCE = 0.03;

function randomFeeds(dims: number[], seed: number): Feeds {
  const n = dims.reduce((a, d) => a * d, 1);
  return { input: new ort.Tensor('float32', seededFloats(n, seed), dims) };
}

function rowsFeeds(rows: number[][]): Feeds {
  return { input: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]) };
}

async function run(bytes: Uint8Array, feeds: Feeds, opts: ort.InferenceSession.SessionOptions = {}): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, opts);
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}


function ops(model: ModelProto): Set<string> {
  return new Set(model.graph.node.map((n) => n.opType));
}

function int8Weights(model: ModelProto): string[] {
  return model.graph.initializer.filter((i) => i.dataType === ELEM.INT8 && i.dims.length >= 2).map((i) => i.name);
}

interface Case {
  name: string;
  bytes: Uint8Array;
  dims: number[];
  /** Weight tensors each method must have turned into int8. */
  dynamicWeights: number;
  staticWeights: number;
  /** Largest encoded size allowed, as a fraction of fp32 (undefined: no shrink expected). */
  dynamicSize?: number;
  staticSize: number;
  dynamicWarnings: number;
  calibration?: Feeds[];
}

const CASES: Case[] = [
  { name: 'mlp 64-128-64-10', bytes: mlpModel([64, 128, 64, 10]), dims: [16, 64], dynamicWeights: 3, staticWeights: 3, dynamicSize: 0.3, staticSize: 0.35, dynamicWarnings: 0 },
  // one output per row: 64 rows give the output a range wide enough to measure against
  { name: 'seed-mlp', bytes: readFileSync(new URL('seed-mlp/model.onnx', MODELS)), dims: [64, 1000], dynamicWeights: 3, staticWeights: 3, dynamicSize: 0.3, staticSize: 0.3, dynamicWarnings: 0 },
  { name: 'digits', bytes: DIGITS, dims: [16, 64], dynamicWeights: 3, staticWeights: 3, dynamicSize: 0.35, staticSize: 0.4, dynamicWarnings: 0, calibration: [rowsFeeds(DIGITS_SET.inputs.slice(0, 100))] },
  // Conv-dominated: int8-dynamic only takes the 16×10 Gemm and warns on both Convs, so no shrink
  { name: 'small cnn', bytes: smallCnnModel(), dims: [4, 3, 16, 16], dynamicWeights: 1, staticWeights: 3, staticSize: 0.8, dynamicWarnings: 2 },
  // one warning for the activation × activation "scores" MatMul
  { name: 'transformer', bytes: transformerModel(), dims: [2, 7, 32], dynamicWeights: 2, staticWeights: 2, dynamicSize: 0.35, staticSize: 0.4, dynamicWarnings: 1 },
];

for (const c of CASES) {
  t.test(`int8-dynamic and int8-static on ${c.name}`, async (t) => {
    const eval_ = c.calibration ? rowsFeeds(DIGITS_SET.inputs.slice(100, 164)) : randomFeeds(c.dims, 1234);
    const ref = await run(c.bytes, eval_);

    const dyn = quantizeDynamic(decodeModel(c.bytes, c.name));
    t.equal(dyn.changed, c.dynamicWeights, 'dynamic: nodes rewritten');
    t.equal(dyn.warnings.length, c.dynamicWarnings, `dynamic warnings: ${dyn.warnings.join(' | ')}`);
    t.ok(ops(dyn.model).has('DynamicQuantizeLinear') && ops(dyn.model).has('MatMulInteger'), 'dynamic: DynamicQuantizeLinear + MatMulInteger');
    t.notOk(ops(dyn.model).has('Gemm'), 'dynamic: no float Gemm left');
    t.equal(int8Weights(dyn.model).length, c.dynamicWeights, 'dynamic: int8 weight initializers');
    const dynBytes = encodeModel(dyn.model);
    if (c.dynamicSize !== undefined) t.ok(dynBytes.length <= c.bytes.length * c.dynamicSize, `dynamic size ${dynBytes.length} ≤ ${c.dynamicSize} × ${c.bytes.length}`);
    const dynOut = await run(dynBytes, eval_);
    for (const [k, v] of Object.entries(ref)) {
      const e = relError(v, dynOut[k]!);
      t.ok(e <= DYNAMIC_TOLERANCE, `dynamic ${k}: relative error ${e.toFixed(4)} ≤ ${DYNAMIC_TOLERANCE}`);
    }

    const fp32 = decodeModel(c.bytes, c.name);
    const tensors = staticCalibrationTensors(fp32);
    t.equal(tensors.length > 0, true, 'static: tensors to calibrate');
    const samples = c.calibration ?? [1, 2, 3, 4].map((s) => randomFeeds(c.dims, s));
    const ranges = await calibrate(fp32, tensors, samples);
    t.same([...ranges.keys()].sort(), [...tensors].sort(), 'static: a range for every tensor asked');
    const st = quantizeStatic(decodeModel(c.bytes, c.name), ranges);
    t.equal(st.changed, c.staticWeights, 'static: nodes rewritten');
    t.ok(ops(st.model).has('QuantizeLinear') && ops(st.model).has('DequantizeLinear'), 'static: QDQ nodes');
    const outputProducers = st.model.graph.output.map((o) => st.model.graph.node.find((n) => n.output.includes(o.name))?.opType);
    t.notOk(outputProducers.includes('DequantizeLinear'), `static: graph outputs are not requantized (produced by ${outputProducers.join(', ')})`);
    t.equal(int8Weights(st.model).length, c.staticWeights, 'static: int8 weight initializers');
    t.same(st.model.graph.output.map((o) => o.name), fp32.graph.output.map((o) => o.name), 'static: graph outputs keep their names');
    const stBytes = encodeModel(st.model);
    t.ok(stBytes.length <= c.bytes.length * c.staticSize, `static size ${stBytes.length} ≤ ${c.staticSize} × ${c.bytes.length}`);
    const stOut = await run(stBytes, eval_);
    for (const [k, v] of Object.entries(ref)) {
      const e = relError(v, stOut[k]!);
      t.ok(e <= STATIC_TOLERANCE, `static ${k}: relative error ${e.toFixed(4)} ≤ ${STATIC_TOLERANCE}`);
    }
  });
}

t.test('per-tensor weights, and MatMulInteger with per-column zero points unfused', async (t) => {
  const bytes = mlpModel([64, 128, 64, 10]);
  const feeds = randomFeeds([8, 64], 5);
  const ref = (await run(bytes, feeds)).output!;
  const perTensor = quantizeDynamic(decodeModel(bytes, 'mlp'), { perChannel: false });
  const scales = perTensor.model.graph.initializer.filter((i) => i.name.endsWith('_scale'));
  t.ok(scales.length === 3 && scales.every((s) => s.dims.length === 0), 'per tensor: one scalar scale per weight');
  t.ok(relError(ref, (await run(encodeModel(perTensor.model), feeds)).output!) <= DYNAMIC_TOLERANCE, 'per tensor: close to fp32');
  // ORT fuses the pattern into DynamicQuantizeMatMul; without optimizations the plain CPU kernels run
  const perColumn = encodeModel(quantizeDynamic(decodeModel(bytes, 'mlp')).model);
  const raw = (await run(perColumn, feeds, { graphOptimizationLevel: 'disabled' })).output!;
  t.ok(relError(ref, raw) <= DYNAMIC_TOLERANCE, 'per column: MatMulInteger (uint8 × int8, zero points [N]) runs unfused');
  const st = quantizeStatic(decodeModel(bytes, 'mlp'), await calibrate(decodeModel(bytes, 'mlp'), staticCalibrationTensors(decodeModel(bytes, 'mlp')), [feeds]), { perChannel: false });
  t.ok(relError(ref, (await run(encodeModel(st.model), feeds, { graphOptimizationLevel: 'disabled' })).output!) <= STATIC_TOLERANCE, 'static per tensor, unfused QDQ: close to fp32');
});

t.test('Gemm transB=1 with alpha and beta folded into the weight and bias', async (t) => {
  const bytes = buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 16] }],
    outputs: [{ name: 'output', dtype: 'float32', dims: ['batch', 8] }],
    nodes: [{ op: 'Gemm', inputs: ['input', 'w', 'c'], outputs: ['output'], attributes: { transB: 1, alpha: 0.5, beta: 2.5 } }],
    initializers: [
      { name: 'w', dtype: 'float32', dims: [8, 16], data: seededFloats(128, 3) },
      { name: 'c', dtype: 'float32', dims: [1, 8], data: seededFloats(8, 4) },
    ],
  });
  const feeds = randomFeeds([32, 16], 6);
  const ref = (await run(bytes, feeds)).output!;
  const dyn = quantizeDynamic(decodeModel(bytes, 'gemm'));
  t.equal(dyn.changed, 1);
  t.ok(relError(ref, (await run(encodeModel(dyn.model), feeds)).output!) <= DYNAMIC_TOLERANCE, 'dynamic close to fp32');
  const model = decodeModel(bytes, 'gemm');
  const st = quantizeStatic(model, await calibrate(model, staticCalibrationTensors(model), [feeds]));
  t.equal(st.changed, 1);
  t.ok(relError(ref, (await run(encodeModel(st.model), feeds)).output!) <= STATIC_TOLERANCE, 'static close to fp32');
});

t.test('digits keeps its accuracy within 1 point under int8', async (t) => {
  const all = rowsFeeds(DIGITS_SET.inputs);
  const accuracy = (out: Float32Array) => {
    let correct = 0;
    DIGITS_SET.labels.forEach((label, r) => {
      const row = out.subarray(r * 10, r * 10 + 10);
      if (row.indexOf(Math.max(...row)) === label) correct++;
    });
    return correct / DIGITS_SET.labels.length;
  };
  const fp32 = accuracy((await run(DIGITS, all)).logits!);
  const dyn = accuracy((await run(encodeModel(quantizeDynamic(decodeModel(DIGITS, 'digits')).model), all)).logits!);
  const model = decodeModel(DIGITS, 'digits');
  const ranges = await calibrate(model, staticCalibrationTensors(model), [rowsFeeds(DIGITS_SET.inputs.slice(0, 100))]);
  const st = accuracy((await run(encodeModel(quantizeStatic(model, ranges).model), all)).logits!);
  t.comment(`digits accuracy on ${DIGITS_SET.labels.length} rows: fp32 ${(fp32 * 100).toFixed(2)} %, int8-dynamic ${(dyn * 100).toFixed(2)} %, int8-static ${(st * 100).toFixed(2)} %`);
  t.ok(fp32 > 0.9, 'fp32 model is a real classifier');
  t.ok(Math.abs(dyn - fp32) <= 0.01, 'int8-dynamic within 1 point');
  t.ok(Math.abs(st - fp32) <= 0.01, 'int8-static within 1 point');
});

t.test('unsupported patterns are left unchanged with a warning naming the node', async (t) => {
  const actAct = buildModel({
    inputs: [{ name: 'a', dtype: 'float32', dims: [2, 3] }, { name: 'b', dtype: 'float32', dims: [3, 4] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [2, 4] }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
  });
  const transA = buildModel({
    inputs: [{ name: 'x', dtype: 'float32', dims: [8, 'batch'] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 4] }],
    nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'c'], outputs: ['y'], attributes: { transA: 1 } }],
    initializers: [
      { name: 'w', dtype: 'float32', dims: [8, 4], data: seededFloats(32, 1) },
      { name: 'c', dtype: 'float32', dims: [4], data: seededFloats(4, 2) },
    ],
  });
  for (const [label, bytes, why] of [['activation × activation', actAct, 'not a constant weight'], ['Gemm transA=1', transA, 'transA=1']] as const) {
    const before = decodeModel(bytes, label).graph.node.map((n) => `${n.name}:${n.opType}`);
    t.same(staticCalibrationTensors(decodeModel(bytes, label)), [], `${label}: nothing to calibrate`);
    const results = { dynamic: quantizeDynamic(decodeModel(bytes, label)), static: quantizeStatic(decodeModel(bytes, label), new Map()) };
    for (const [method, r] of Object.entries(results)) {
      t.equal(r.changed, 0, `${label}, ${method}: nothing changed`);
      t.same(r.model.graph.node.map((n) => `${n.name}:${n.opType}`), before, `${label}, ${method}: same nodes`);
      t.equal(r.warnings.length, 1, `${label}, ${method}: one warning`);
      t.match(r.warnings[0], new RegExp(`^node "${before[0]!.split(':')[0]}" .*${why}`), `${label}, ${method}: warning names the node and why`);
    }
  }
  // a range that calibration did not produce: the node is skipped, not quantized with a guess
  const mlp = decodeModel(mlpModel([4, 3]), 'mlp');
  const r = quantizeStatic(mlp, new Map([['input', { min: -1, max: 1 }]]));
  t.equal(r.changed, 0, 'missing output range: unchanged');
  t.match(r.warnings[0], /no calibrated range for "output"/);
});

t.test('calibrate: exact min/max, percentile clips an outlier, progress per sample', async (t) => {
  const n = 100_000;
  const bytes = buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', n] }],
    outputs: [{ name: 'out', dtype: 'float32', dims: ['batch', n] }],
    nodes: [
      { op: 'Mul', inputs: ['input', 'two'], outputs: ['doubled'] },
      { op: 'Relu', inputs: ['doubled'], outputs: ['out'] },
    ],
    initializers: [{ name: 'two', dtype: 'float32', dims: [], data: Float32Array.of(2) }],
  });
  const a = seededFloats(n, 11); // in [-1, 1)
  const b = seededFloats(2 * n, 12, 4); // a batch of 2 rows, in [-4, 4)
  b[777] = 1000; // one outlier in 300 000 values
  const samples = [{ input: new ort.Tensor('float32', a, [1, n]) }, { input: new ort.Tensor('float32', b, [2, n]) }];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of [...a, ...b]) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const progress: string[] = [];
  const model = decodeModel(bytes, 'calib');
  const minmax = await calibrate(model, ['input', 'doubled'], samples, { onProgress: (d, total) => progress.push(`${d}/${total}`) });
  t.same(progress, ['1/2', '2/2'], 'progress after each sample');
  t.same(minmax.get('input'), { min: lo, max: hi }, 'minmax of a graph input');
  t.same(minmax.get('doubled'), { min: 2 * lo, max: 2 * hi }, 'minmax of an intermediate tensor');
  t.equal(model.graph.output.length, 1, 'the caller’s model is not modified');

  const pct = await calibrate(model, ['doubled'], samples, { method: 'percentile', percentile: 99.99 });
  const r = pct.get('doubled')!;
  t.ok(r.max < 2 * 4 * 1.1 && r.max > 2 * 4 * 0.9, `percentile max ${r.max} near 8, outlier (2000) clipped`);
  t.ok(r.min > -8 * 1.1 && r.min < -8 * 0.9, `percentile min ${r.min} near -8`);
});
