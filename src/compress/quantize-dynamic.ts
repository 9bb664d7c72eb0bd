// int8-dynamic: what onnxruntime's quantize_dynamic does. Each MatMul/Gemm with a constant
// weight becomes DynamicQuantizeLinear → MatMulInteger → Cast → Mul(x_scale · w_scale) [→ Add
// bias], the pattern ORT fuses into DynamicQuantizeMatMul; weights are stored as int8
// (symmetric, per output column by default), so the file shrinks to about a quarter.
// Also home of the int8 weight math and the "is this a linear layer" test int8-static shares.
import { ELEM, GraphIndex, attrNumber, dimsOf, ensureOpset, floatData, makeNode, makeTensor, numel } from './graph.js';
import { skipped, type MethodResult } from './method.js';
import type { ModelProto, NodeProto, TensorProto } from './onnx-file.js';

export interface Int8Weight {
  q: Int8Array;
  /** One scale per index of the quantized axis, or a single one (per tensor). */
  scales: Float32Array;
}

/** Symmetric int8 (zero point 0, values in ±127) with one scale per index of `axis`, or one for the whole tensor. */
export function quantizeSymmetric(data: Float32Array, dims: readonly number[], axis?: number): Int8Weight {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? data.length : numel(dims.slice(axis + 1));
  const absmax = new Float32Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    const a = Math.abs(data[i]!);
    if (a > absmax[c]!) absmax[c] = a;
  }
  // an all-zero channel still needs a usable scale (its values quantize to 0 either way)
  const scales = absmax.map((m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const s = scales[Math.floor(i / inner) % channels]!;
    q[i] = Math.max(-127, Math.min(127, Math.round(data[i]! / s)));
  }
  return { q, scales };
}

/** A MatMul or Gemm reduced to y = x · W + bias with W a constant [K, N] (Gemm's transB and alpha/beta folded in). */
export interface LinearLayer {
  x: string;
  y: string;
  /** Row-major [k, n]. */
  weight: Float32Array;
  k: number;
  n: number;
  /** [n], already scaled by beta; absent when the node has none. */
  bias?: Float32Array;
  /** Identifies the (transposed, scaled) weight, so nodes sharing one initializer share its int8 copy. */
  weightKey: string;
  weightName: string;
}

function floatInitializer(g: GraphIndex, name: string | undefined): TensorProto | undefined {
  const t = name ? g.initializers.get(name) : undefined;
  return t && (t.dataType === ELEM.FLOAT || t.dataType === ELEM.DOUBLE) ? t : undefined;
}

/** The node as a LinearLayer, or why an int8 method cannot treat it as one. */
export function linearLayer(node: NodeProto, g: GraphIndex): LinearLayer | string {
  const [x, wName, cName] = node.input;
  const y = node.output[0];
  if (!x || !wName || !y) return 'missing inputs or output';
  if (g.initializers.has(x)) return 'input A is a constant; int8 methods quantize a constant weight in input B';
  const w = g.initializers.get(wName);
  if (!w) return `input B "${wName}" is not a constant weight (activation × activation); int8 methods need a constant weight`;
  const wt = floatInitializer(g, wName);
  if (!wt) return `weight "${wName}" is not float32 (element type ${w.dataType})`;
  const dims = dimsOf(wt);
  if (dims.length !== 2) return `weight "${wName}" has rank ${dims.length}; int8 covers 2-D weights`;
  const data = floatData(wt);
  if (node.opType === 'MatMul') return { x, y, weight: data, k: dims[0]!, n: dims[1]!, weightKey: wName, weightName: wName };

  if (attrNumber(node, 'transA', 0) !== 0) return 'transA=1 is not supported';
  const transB = attrNumber(node, 'transB', 0) !== 0;
  const alpha = attrNumber(node, 'alpha', 1);
  const beta = attrNumber(node, 'beta', 1);
  const [k, n] = transB ? [dims[1]!, dims[0]!] : [dims[0]!, dims[1]!];
  let bias: Float32Array | undefined;
  if (cName) {
    const c = floatInitializer(g, cName);
    const cDims = c ? dimsOf(c) : [];
    const cLen = c ? numel(cDims) : 0;
    // [N], [1, N] or a single value broadcast over [M, N]; a per-row bias would need M
    const broadcastable = c && (cLen === 1 || (cLen === n && cDims[cDims.length - 1] === n));
    if (!broadcastable) return `bias C "${cName}"${c ? ` of shape [${cDims.join(', ')}]` : ''} is not a constant broadcastable to [${n}]`;
    const cData = floatData(c);
    bias = Float32Array.from({ length: n }, (_, j) => beta * cData[cLen === 1 ? 0 : j]!);
  }
  let weight = data;
  if (transB || alpha !== 1) {
    weight = new Float32Array(k * n);
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) weight[i * n + j] = alpha * data[transB ? j * k + i : i * n + j]!;
  }
  return { x, y, weight, k, n, ...(bias ? { bias } : {}), weightKey: `${wName}|${transB}|${alpha}`, weightName: wName };
}

/** The int8 initializers of a [K, N] weight, made once per distinct weight and recorded for the report. */
export class Int8WeightStore {
  private readonly made = new Map<string, { q: string; scale: string; zeroPoint: string; scales: Float32Array }>();
  bytesBefore = 0;
  bytesAfter = 0;

  constructor(
    private readonly g: GraphIndex,
    private readonly perChannel: boolean,
  ) {}

  get count(): number {
    return this.made.size;
  }

  /** `axis` is the output-channel axis of `dims` (used when per channel). */
  get(key: string, base: string, data: Float32Array, dims: number[], axis: number): { q: string; scale: string; zeroPoint: string; scales: Float32Array } {
    const hit = this.made.get(key);
    if (hit) return hit;
    const { q, scales } = quantizeSymmetric(data, dims, this.perChannel ? axis : undefined);
    const sDims = this.perChannel ? [scales.length] : [];
    const names = {
      q: this.g.fresh(`${base}_quantized`),
      scale: this.g.fresh(`${base}_scale`),
      zeroPoint: this.g.fresh(`${base}_zero_point`),
      scales,
    };
    this.g.addInitializer(makeTensor(names.q, dims, q));
    this.g.addInitializer(makeTensor(names.scale, sDims, scales));
    this.g.addInitializer(makeTensor(names.zeroPoint, sDims, new Int8Array(scales.length)));
    this.made.set(key, names);
    this.bytesBefore += data.length * 4;
    this.bytesAfter += q.length + scales.length * 5;
    return names;
  }
}

export function quantizeDynamic(model: ModelProto, opts: { perChannel?: boolean } = {}): MethodResult {
  const perChannel = opts.perChannel ?? true;
  const g = new GraphIndex(model.graph);
  const weights = new Int8WeightStore(g, perChannel);
  const warnings: string[] = [];
  const nodes: NodeProto[] = [];
  let changed = 0;
  for (const node of model.graph.node) {
    if (node.domain || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) {
      if (node.opType === 'Conv' && !node.domain) warnings.push(skipped(node, 'int8-dynamic covers MatMul/Gemm; use int8-static for Conv'));
      nodes.push(node);
      continue;
    }
    const layer = linearLayer(node, g);
    if (typeof layer === 'string') {
      warnings.push(skipped(node, layer));
      nodes.push(node);
      continue;
    }
    nodes.push(...dynamicNodes(node, layer, g, weights));
    changed++;
  }
  model.graph.node = nodes;
  g.removeUnusedInitializers();
  // DynamicQuantizeLinear needs opset 11; going no higher keeps older models' other ops valid
  if (changed) ensureOpset(model, 11);
  return {
    model,
    changed,
    warnings,
    details: { quantizedWeights: weights.count, perChannel, weightBytesBefore: weights.bytesBefore, weightBytesAfter: weights.bytesAfter },
  };
}

function dynamicNodes(node: NodeProto, layer: LinearLayer, g: GraphIndex, weights: Int8WeightStore): NodeProto[] {
  const { x, y, k, n } = layer;
  const base = node.name || y;
  const w = weights.get(layer.weightKey, layer.weightName, layer.weight, [k, n], 1);
  const t = (suffix: string) => g.fresh(`${y}_${suffix}`);
  const [xq, xs, xzp, acc, accF, scale] = [t('x_quantized'), t('x_scale'), t('x_zero_point'), t('int32'), t('float'), t('scale')];
  const product = layer.bias ? t('matmul') : y;
  const out = [
    makeNode('DynamicQuantizeLinear', [x], [xq, xs, xzp], g.fresh(`${base}_quant`)),
    makeNode('MatMulInteger', [xq, w.q, xzp, w.zeroPoint], [acc], g.fresh(`${base}_MatMulInteger`)),
    makeNode('Cast', [acc], [accF], g.fresh(`${base}_cast`), { to: ELEM.FLOAT }),
    makeNode('Mul', [xs, w.scale], [scale], g.fresh(`${base}_scales_mul`)),
    makeNode('Mul', [accF, scale], [product], g.fresh(`${base}_output_mul`)),
  ];
  if (layer.bias) {
    const bias = g.fresh(`${layer.weightName}_bias`);
    g.addInitializer(makeTensor(bias, [n], layer.bias));
    out.push(makeNode('Add', [product, bias], [y], g.fresh(`${base}_bias_add`)));
  }
  return out;
}
