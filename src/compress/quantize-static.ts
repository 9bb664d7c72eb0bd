// int8-static in QDQ form: around each MatMul/Gemm/Conv with a constant weight, the activation
// input and the output pass through QuantizeLinear → DequantizeLinear (uint8, from calibrated
// ranges) and the weight is an int8 initializer read through a per-channel DequantizeLinear, so
// ORT's QDQ fusions can run QLinearConv / QLinearMatMul / QGemm. Graph tensor names survive.
import { ELEM, GraphIndex, dimsOf, ensureOpset, floatData, makeNode, makeTensor } from './graph.js';
import { skipped, type MethodResult } from './method.js';
import type { ModelProto, NodeProto } from './onnx-file.js';
import { Int8WeightStore, linearLayer, type LinearLayer } from './quantize-dynamic.js';

export interface Range {
  min: number;
  max: number;
}

interface ConvLayer {
  x: string;
  y: string;
  weight: Float32Array;
  dims: number[];
  bias?: Float32Array;
  weightName: string;
}

type Target = { op: 'linear'; layer: LinearLayer } | { op: 'conv'; layer: ConvLayer };

/** What int8-static makes of a node: a target, why it cannot, or undefined for ops it does not look at. */
function staticTarget(node: NodeProto, g: GraphIndex): Target | string | undefined {
  if (node.domain) return undefined;
  if (node.opType === 'MatMul' || node.opType === 'Gemm') {
    const layer = linearLayer(node, g);
    return typeof layer === 'string' ? layer : { op: 'linear', layer };
  }
  if (node.opType !== 'Conv') return undefined;
  const [x, wName, bName] = node.input;
  const y = node.output[0];
  if (!x || !wName || !y) return 'missing inputs or output';
  if (g.initializers.has(x)) return 'input X is a constant';
  const w = g.initializers.get(wName);
  if (!w || w.dataType !== ELEM.FLOAT) return `weight "${wName}" is not a constant float32 tensor`;
  const dims = dimsOf(w);
  const layer: ConvLayer = { x, y, weight: floatData(w), dims, weightName: wName };
  if (bName) {
    const b = g.initializers.get(bName);
    if (!b || b.dataType !== ELEM.FLOAT) return `bias "${bName}" is not a constant float32 tensor`;
    layer.bias = floatData(b);
  }
  return { op: 'conv', layer };
}

/** Tensor names whose value ranges int8-static needs (activation inputs and outputs of the nodes it will quantize). */
export function staticCalibrationTensors(model: ModelProto): string[] {
  const g = new GraphIndex(model.graph);
  const names = new Set<string>();
  for (const node of model.graph.node) {
    const t = staticTarget(node, g);
    if (t && typeof t !== 'string') names.add(t.layer.x).add(t.layer.y);
  }
  return [...names];
}

/** uint8 asymmetric parameters of a range widened to include 0 (so zero padding and ReLU zeros are exact). */
export function activationParams(r: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(r.min, 0);
  const hi = Math.max(r.max, 0);
  const scale = Math.fround(hi > lo ? (hi - lo) / 255 : 1);
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-lo / scale))) };
}

export function quantizeStatic(model: ModelProto, ranges: ReadonlyMap<string, Range>, opts: { perChannel?: boolean } = {}): MethodResult {
  const perChannel = opts.perChannel ?? true;
  const g = new GraphIndex(model.graph);
  const weights = new Int8WeightStore(g, perChannel);
  const weightDq = new Map<string, string>();
  // float tensor → its quantization (scale value, initializer names) and the tensor to read instead
  const act = new Map<string, { scale: number; scaleName: string; zpName: string; dq?: string }>();
  const warnings: string[] = [];
  const nodes: NodeProto[] = [];
  let changed = 0;

  // a tensor only a Relu reads can be quantized over [0, max]: quantization clamps what Relu
  // would, so the negative half of the range does not waste resolution (and ORT drops the Relu)
  const outputRange = (name: string): Range => {
    const r = ranges.get(name)!;
    const readers = g.consumers.get(name) ?? [];
    const reluOnly = readers.length === 1 && readers[0]!.opType === 'Relu' && !readers[0]!.domain && !g.isGraphOutput(name);
    return reluOnly ? { min: Math.max(0, r.min), max: Math.max(0, r.max) } : r;
  };
  const params = (name: string) => {
    let p = act.get(name);
    if (!p) {
      const { scale, zeroPoint } = activationParams(outputRange(name));
      p = { scale, scaleName: g.fresh(`${name}_scale`), zpName: g.fresh(`${name}_zero_point`) };
      g.addInitializer(makeTensor(p.scaleName, [], Float32Array.of(scale)));
      g.addInitializer(makeTensor(p.zpName, [], Uint8Array.of(zeroPoint)));
      act.set(name, p);
    }
    return p;
  };
  /** QuantizeLinear → DequantizeLinear from `from` into `to`. */
  const qdq = (from: string, to: string, p: { scaleName: string; zpName: string }, base: string) => {
    const q = g.fresh(`${base}_quantized`);
    nodes.push(makeNode('QuantizeLinear', [from, p.scaleName, p.zpName], [q], g.fresh(`${base}_QuantizeLinear`)));
    nodes.push(makeNode('DequantizeLinear', [q, p.scaleName, p.zpName], [to], g.fresh(`${base}_DequantizeLinear`)));
  };
  const input = (x: string) => {
    const p = params(x);
    if (!p.dq) {
      p.dq = g.fresh(`${x}_dequantized`);
      qdq(x, p.dq, p, x);
    }
    return { name: p.dq, scale: p.scale };
  };
  const weight = (key: string, base: string, data: Float32Array, dims: number[], axis: number) => {
    const w = weights.get(key, base, data, dims, axis);
    let dq = weightDq.get(key);
    if (!dq) {
      dq = g.fresh(`${base}_dequantized`);
      nodes.push(makeNode('DequantizeLinear', [w.q, w.scale, w.zeroPoint], [dq], g.fresh(`${base}_DequantizeLinear`), perChannel ? { axis } : {}));
      weightDq.set(key, dq);
    }
    return { name: dq, scales: w.scales };
  };
  /** int32 bias with scale x_scale · w_scale (zero point 0), what ORT's QDQ Conv/Gemm selectors expect. */
  const bias = (base: string, b: Float32Array, xScale: number, wScales: Float32Array) => {
    const scales = wScales.map((s) => xScale * s);
    const q = Int32Array.from(b, (v, i) => Math.max(-2147483647, Math.min(2147483647, Math.round(v / scales[scales.length === 1 ? 0 : i]!))));
    const sDims = scales.length === 1 ? [] : [scales.length];
    const [qName, sName, dq] = [g.fresh(`${base}_quantized`), g.fresh(`${base}_scale`), g.fresh(`${base}_dequantized`)];
    g.addInitializer(makeTensor(qName, [b.length], q));
    g.addInitializer(makeTensor(sName, sDims, scales));
    // no zero point: it defaults to 0, and an int32 one would cost as much as the bias itself
    nodes.push(makeNode('DequantizeLinear', [qName, sName], [dq], g.fresh(`${base}_DequantizeLinear`), sDims.length ? { axis: 0 } : {}));
    return dq;
  };

  for (const node of model.graph.node) {
    const target = staticTarget(node, g);
    if (target === undefined) {
      nodes.push(node);
      continue;
    }
    if (typeof target === 'string') {
      warnings.push(skipped(node, target));
      nodes.push(node);
      continue;
    }
    const { x, y } = target.layer;
    const missing = [x, y].filter((t) => {
      const r = ranges.get(t);
      return !r || !Number.isFinite(r.min) || !Number.isFinite(r.max);
    });
    if (missing.length) {
      warnings.push(skipped(node, `no calibrated range for ${missing.map((m) => `"${m}"`).join(', ')}`));
      nodes.push(node);
      continue;
    }
    const base = node.name || y;
    const xin = input(x);
    // a graph output stays float: requantizing the model's answer to 256 levels only loses
    // precision the client sees (and ties the top classes of a wide classifier)
    const finalOutput = g.isGraphOutput(y);
    const yFloat = finalOutput ? y : g.fresh(`${y}_float`);
    if (target.op === 'conv') {
      const { layer } = target;
      const w = weight(`${layer.weightName}|conv`, layer.weightName, layer.weight, layer.dims, 0);
      const inputs = [xin.name, w.name];
      if (layer.bias) inputs.push(bias(`${base}_bias`, layer.bias, xin.scale, w.scales));
      node.input = inputs;
      node.output = [yFloat];
      nodes.push(node);
    } else {
      const { layer } = target;
      const w = weight(layer.weightKey, layer.weightName, layer.weight, [layer.k, layer.n], 1);
      if (layer.bias) {
        const b = bias(`${base}_bias`, layer.bias, xin.scale, w.scales);
        nodes.push(makeNode('Gemm', [xin.name, w.name, b], [yFloat], node.name || g.fresh(y)));
      } else {
        nodes.push(makeNode('MatMul', [xin.name, w.name], [yFloat], node.name || g.fresh(y)));
      }
    }
    // the output pair lets ORT fuse the requantization; the DequantizeLinear writes the original name
    if (!finalOutput) {
      const p = params(y);
      qdq(yFloat, y, p, y);
      p.dq = y;
    }
    changed++;
  }
  model.graph.node = nodes;
  g.removeUnusedInitializers();
  if (changed) ensureOpset(model, perChannel ? 13 : 10); // DequantizeLinear's axis needs 13
  return {
    model,
    changed,
    warnings,
    details: {
      quantizedWeights: weights.count,
      quantizedActivations: act.size,
      perChannel,
      weightBytesBefore: weights.bytesBefore,
      weightBytesAfter: weights.bytesAfter,
    },
  };
}
