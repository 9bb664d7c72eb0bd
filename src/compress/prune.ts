// prune: magnitude pruning of MatMul/Gemm/Conv weights (zeros in dense tensors: same file size,
// same speed) and structured pruning of hidden units between two linear layers (smaller
// matrices: a smaller file and less compute). Neither fine-tunes: the accuracy cost is real
// and is for the report to measure.
import { ELEM, GraphIndex, attrNumber, dimsOf, floatData, numel } from './graph.js';
import { skipped, type MethodResult } from './method.js';
import type { ModelProto, NodeProto, TensorProto } from './onnx-file.js';

export interface PruneOptions {
  /** Fraction to remove, 0 < s < 1: of each weight's entries (magnitude) or of each hidden layer's units (structured). */
  sparsity: number;
  structured?: boolean;
}

export function prune(model: ModelProto, opts: PruneOptions): MethodResult {
  if (!(opts.sparsity > 0 && opts.sparsity < 1)) throw new RangeError(`sparsity ${opts.sparsity}: allowed 0 < sparsity < 1`);
  return opts.structured ? pruneHiddenUnits(model, opts.sparsity) : pruneMagnitude(model, opts.sparsity);
}

// ---------- magnitude (unstructured) ----------

/** Names of the node's constant weight inputs (never the bias): Conv's W, a MatMul/Gemm's constant A or B. */
function weightInputs(node: NodeProto, g: GraphIndex): string[] {
  const candidates = node.opType === 'Conv' ? [node.input[1]] : [node.input[0], node.input[1]];
  return candidates.filter((n): n is string => !!n && g.initializers.has(n));
}

/**
 * Sets the round(sparsity · n) entries of smallest |w| to 0 (Math.round: a half rounds up;
 * equal magnitudes go in order of position), in place, and returns that count.
 * Entries that are already 0 count among the smallest, so the result has max(that, zeros before) zeros.
 */
export function zeroSmallest(data: Float32Array, sparsity: number): number {
  const k = Math.round(sparsity * data.length);
  if (k === 0) return 0;
  const sorted = data.map(Math.abs).sort();
  const threshold = sorted[k - 1]!;
  let below = 0;
  for (const v of data) if (Math.abs(v) < threshold) below++;
  let ties = k - below; // entries equal to the threshold that still have to go
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i]!);
    if (a < threshold) data[i] = 0;
    else if (a === threshold && ties > 0) {
      data[i] = 0;
      ties--;
    }
  }
  return k;
}

function pruneMagnitude(model: ModelProto, sparsity: number): MethodResult {
  const g = new GraphIndex(model.graph);
  const warnings: string[] = [];
  const done = new Set<string>();
  const tensors: { name: string; sparsity: number }[] = [];
  let zeros = 0;
  for (const node of model.graph.node) {
    if (node.domain || !['MatMul', 'Gemm', 'Conv'].includes(node.opType ?? '')) continue;
    const names = weightInputs(node, g);
    if (names.length === 0) warnings.push(skipped(node, 'no constant weight input (activation × activation); nothing to prune'));
    for (const name of names) {
      if (done.has(name)) continue; // a weight shared by several nodes is pruned once
      done.add(name);
      const t = g.initializers.get(name)!;
      if (t.dataType !== ELEM.FLOAT) {
        warnings.push(skipped(node, `weight "${name}" is not float32 (element type ${t.dataType})`));
        continue;
      }
      const data = floatData(t);
      zeroSmallest(data, sparsity);
      setData(t, dimsOf(t), data);
      const z = data.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
      zeros += z;
      tensors.push({ name, sparsity: z / data.length });
    }
  }
  return {
    model,
    changed: tensors.length,
    warnings,
    details: {
      tensors,
      zeros,
      note: 'ONNX stores these weights dense: the file keeps its size (it compresses better, e.g. gzip) and onnxruntime runs at the same speed; only a sparse kernel would profit',
    },
  };
}

// ---------- structured (hidden units) ----------

const ACTIVATIONS = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh']);

/** A MatMul or Gemm with a constant 2-D float weight: where its [K, N] axes live in the stored tensor. */
interface Linear {
  node: NodeProto;
  weight: TensorProto;
  /** Weight stored as [N, K] (Gemm transB=1). */
  transposed: boolean;
  /** Gemm's C input, when it is a constant. */
  bias?: TensorProto;
}

function asLinear(node: NodeProto, g: GraphIndex): Linear | string {
  if (node.domain || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) return `structured pruning covers MatMul/Gemm chains, not ${node.opType}`;
  if (node.opType === 'Gemm' && attrNumber(node, 'transA', 0) !== 0) return 'Gemm with transA=1 is not supported';
  const [x, w, c] = node.input;
  if (!x || g.initializers.has(x)) return 'input A is a constant; structured pruning needs activation × weight';
  const weight = w ? g.initializers.get(w) : undefined;
  if (!weight) return 'input B is not a constant weight (activation × activation)';
  if (weight.dataType !== ELEM.FLOAT || weight.dims.length !== 2) return `weight "${w}" is not a 2-D float32 tensor`;
  const bias = c ? g.initializers.get(c) : undefined;
  if (c && !bias) return `bias C "${c}" is not a constant`;
  return { node, weight, transposed: node.opType === 'Gemm' && attrNumber(node, 'transB', 0) !== 0, ...(bias ? { bias } : {}) };
}

/** One hidden layer to shrink: first.weight's N columns = second.weight's K rows = hidden units. */
interface Chain {
  first: Linear;
  /** A constant added to the first layer's output ([H], [1, H], … or a single value). */
  addBias?: TensorProto;
  second: Linear;
  /** Tensors carrying the hidden dimension (their value_info becomes stale). */
  hidden: string[];
}

/** The chain starting at `first`, `'final'` when no linear layer lies downstream, or why it does not fit. */
function chainFrom(first: Linear, g: GraphIndex): Chain | 'final' | string {
  const hidden: string[] = [];
  let tensor = first.node.output[0]!;
  let addBias: TensorProto | undefined;
  let stage: 'linear' | 'added' | 'activated' = 'linear';
  for (;;) {
    hidden.push(tensor);
    if (!downstreamHasLinear(tensor, g)) return 'final';
    if (g.isGraphOutput(tensor)) return `hidden tensor "${tensor}" is a graph output`;
    const readers = g.consumers.get(tensor) ?? [];
    if (readers.length !== 1) return `hidden tensor "${tensor}" is read by ${readers.length} nodes`;
    const next = readers[0]!;
    if (stage === 'linear' && next.opType === 'Add' && !next.domain) {
      const other = next.input[0] === tensor ? next.input[1] : next.input[0];
      const t = other ? g.initializers.get(other) : undefined;
      if (!t || t.dataType !== ELEM.FLOAT) return `Add "${next.name}" after it does not add a constant float32 bias`;
      addBias = t;
      tensor = next.output[0]!;
      stage = 'added';
      continue;
    }
    if (stage !== 'activated' && ACTIVATIONS.has(next.opType ?? '') && !next.domain) {
      tensor = next.output[0]!;
      stage = 'activated';
      continue;
    }
    const second = asLinear(next, g);
    if (typeof second === 'string') return `it feeds ${next.opType} "${next.name}", not a linear layer (${second})`;
    if (next.input[0] !== tensor) return `it feeds input B of ${next.opType} "${next.name}"`;
    return { first, ...(addBias ? { addBias } : {}), second, hidden };
  }
}

function downstreamHasLinear(tensor: string, g: GraphIndex): boolean {
  const seen = new Set<string>();
  const stack = [tensor];
  while (stack.length) {
    for (const n of g.consumers.get(stack.pop()!) ?? []) {
      if (['MatMul', 'Gemm', 'Conv'].includes(n.opType ?? '')) return true;
      for (const o of n.output) if (!seen.has(o)) seen.add(o), stack.push(o);
    }
  }
  return false;
}

/** Shape of the weight as [K, N] (rows in, columns out). */
function kn(l: Linear): [number, number] {
  const [a, b] = dimsOf(l.weight) as [number, number];
  return l.transposed ? [b, a] : [a, b];
}

/** Element (k, n) of the weight's logical [K, N] matrix. */
function at(l: Linear, data: Float32Array, k: number, n: number): number {
  const [K, N] = kn(l);
  return l.transposed ? data[n * K + k]! : data[k * N + n]!;
}

function pruneHiddenUnits(model: ModelProto, sparsity: number): MethodResult {
  const g = new GraphIndex(model.graph);
  const paramsBefore = countParams(model);
  const warnings: string[] = [];
  const layers: { node: string; hiddenBefore: number; hiddenAfter: number }[] = [];
  const stale = new Set<string>();
  for (const node of model.graph.node) {
    if (node.domain || !['MatMul', 'Gemm', 'Conv'].includes(node.opType ?? '')) continue;
    const first = asLinear(node, g);
    if (typeof first === 'string') {
      warnings.push(skipped(node, first));
      continue;
    }
    const chain = chainFrom(first, g);
    if (chain === 'final') continue;
    if (typeof chain === 'string') {
      warnings.push(skipped(node, `hidden units after it not pruned: ${chain}`));
      continue;
    }
    const why = sliceChain(chain, sparsity, g, model);
    if (typeof why === 'string') {
      warnings.push(skipped(node, why));
      continue;
    }
    layers.push({ node: node.name || node.output[0]!, ...why });
    for (const h of chain.hidden) stale.add(h);
  }
  // value_info of the hidden tensors records the old width: drop it, onnxruntime infers shapes
  model.graph.valueInfo = model.graph.valueInfo.filter((v) => !stale.has(v.name));
  return { model, changed: layers.length, warnings, details: { layers, paramsBefore, paramsAfter: countParams(model) } };
}

function sliceChain(c: Chain, sparsity: number, g: GraphIndex, model: ModelProto): { hiddenBefore: number; hiddenAfter: number } | string {
  const [K, H] = kn(c.first);
  const [H2, N] = kn(c.second);
  if (H !== H2) return `hidden widths disagree: ${H} columns in "${c.first.weight.name}", ${H2} rows in "${c.second.weight.name}"`;
  const biases = [c.first.bias, c.addBias].filter((b): b is TensorProto => !!b);
  for (const b of biases) {
    const d = dimsOf(b);
    if (numel(d) !== 1 && !(d[d.length - 1] === H && numel(d) === H)) return `bias "${b.name}" of shape [${d.join(', ')}] is not [${H}] or a single value`;
  }
  const inputs = new Set(model.graph.input.map((v) => v.name));
  for (const t of [c.first.weight, c.second.weight, ...biases]) {
    if ((g.consumers.get(t.name)?.length ?? 0) > 1) return `initializer "${t.name}" is shared with other nodes`;
    if (inputs.has(t.name)) return `initializer "${t.name}" is also a graph input`;
  }
  const keep = Math.max(1, Math.round((1 - sparsity) * H));
  if (keep >= H) return `its ${H} hidden unit(s) round to ${keep} kept at sparsity ${sparsity}; nothing to remove`;

  // Score of hidden unit j: ‖W1[:, j]‖₂ · ‖W2[j, :]‖₂, the norm of what flows into the unit
  // times the norm of what it passes on (a unit with either tiny scarcely moves the output).
  const w1 = floatData(c.first.weight);
  const w2 = floatData(c.second.weight);
  const score = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    let a = 0;
    let b = 0;
    for (let k = 0; k < K; k++) a += at(c.first, w1, k, j) ** 2;
    for (let n = 0; n < N; n++) b += at(c.second, w2, j, n) ** 2;
    score[j] = Math.sqrt(a) * Math.sqrt(b);
  }
  const kept = [...score.keys()].sort((x, y) => score[y]! - score[x]! || x - y).slice(0, keep).sort((x, y) => x - y);

  setData(c.first.weight, c.first.transposed ? [keep, K] : [K, keep], gather(c.first, w1, K, kept, 'n'));
  setData(c.second.weight, c.second.transposed ? [N, keep] : [keep, N], gather(c.second, w2, N, kept, 'k'));
  for (const b of biases) {
    const d = dimsOf(b);
    if (numel(d) === 1) continue; // a single value broadcasts over any width
    const data = floatData(b);
    setData(b, [...d.slice(0, -1), keep], Float32Array.from(kept, (j) => data[j]!));
  }
  return { hiddenBefore: H, hiddenAfter: keep };
}

/** The weight with only the hidden units `kept` along its N axis (first layer) or K axis (second), in its stored layout. */
function gather(l: Linear, data: Float32Array, other: number, kept: number[], axis: 'k' | 'n'): Float32Array {
  const out = new Float32Array(kept.length * other);
  const h = kept.length;
  for (let u = 0; u < h; u++) {
    const j = kept[u]!;
    for (let o = 0; o < other; o++) {
      const v = axis === 'n' ? at(l, data, o, j) : at(l, data, j, o);
      // stored layout: first layer [K, h] or [h, K]; second layer [h, N] or [N, h]
      const stored = (axis === 'n') !== l.transposed ? o * h + u : u * other + o;
      out[stored] = v;
    }
  }
  return out;
}

function setData(t: TensorProto, dims: number[], data: Float32Array): void {
  t.dims = dims;
  t.rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  t.floatData = [];
}

function countParams(model: ModelProto): number {
  return model.graph.initializer.filter((t) => t.dataType === ELEM.FLOAT || t.dataType === ELEM.FLOAT16 || t.dataType === ELEM.DOUBLE).reduce((n, t) => n + numel(t.dims), 0);
}
