// Builds small ONNX models in memory for tests and benchmarks: a graph of nodes over named,
// typed tensors, serialized with onnx-proto. No onnxruntime here. Not shipped: src/ never
// imports tools/ (package.json "files" and the image hold dist/src only).
import onnxProto from 'onnx-proto';
import type { DType, TypedArray } from '../src/tensors/dtypes.js';
import { makeAttribute } from '../src/compress/graph.js';
import { ONNX_ELEM_TYPE } from '../src/compress/elem-types.js';

const { onnx } = onnxProto;

export interface ValueSpec {
  name: string;
  dtype: DType;
  /** Numbers are fixed; strings are symbolic (e.g. "batch"). */
  dims: (number | string)[];
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[] | string>;
}

export interface InitializerSpec {
  name: string;
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

export interface GraphSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
  opset?: number;
  name?: string;
}

function valueInfo(v: ValueSpec) {
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: ONNX_ELEM_TYPE[v.dtype],
        shape: onnx.TensorShapeProto.create({
          dim: v.dims.map((d) => onnx.TensorShapeProto.Dimension.create(typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        }),
      }),
    }),
  });
}

export function buildModel(spec: GraphSpec): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: spec.name ?? 'graph',
    input: spec.inputs.map(valueInfo),
    output: spec.outputs.map(valueInfo),
    node: spec.nodes.map((n, i) =>
      onnx.NodeProto.create({
        name: `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => makeAttribute(k, v)),
      }),
    ),
    initializer: (spec.initializers ?? []).map((t) =>
      onnx.TensorProto.create({
        name: t.name,
        dataType: ONNX_ELEM_TYPE[t.dtype],
        dims: t.dims,
        rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      }),
    ),
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'onnx-serve',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: spec.opset ?? 17 })],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Deterministic pseudo-random numbers in [-scale, scale) (mulberry32), for reproducible weights. */
export function seededFloats(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** An MLP of Gemm layers with ReLU between them: sizes [in, h1, …, out], input "input", output "output". */
export function mlpModel(sizes: number[], seed = 1): Uint8Array {
  const nodes: NodeSpec[] = [];
  const initializers: InitializerSpec[] = [];
  let prev = 'input';
  for (let l = 0; l < sizes.length - 1; l++) {
    const [fin, fout] = [sizes[l]!, sizes[l + 1]!];
    const scale = 1 / Math.sqrt(fin);
    initializers.push({ name: `w${l}`, dtype: 'float32', dims: [fin, fout], data: seededFloats(fin * fout, seed + l * 2, scale) });
    initializers.push({ name: `b${l}`, dtype: 'float32', dims: [fout], data: seededFloats(fout, seed + l * 2 + 1, scale) });
    const last = l === sizes.length - 2;
    const out = last ? 'output' : `h${l}`;
    nodes.push({ op: 'Gemm', inputs: [prev, `w${l}`, `b${l}`], outputs: [last ? out : `${out}_pre`] });
    if (!last) nodes.push({ op: 'Relu', inputs: [`${out}_pre`], outputs: [out] });
    prev = out;
  }
  return buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', sizes[0]!] }],
    outputs: [{ name: 'output', dtype: 'float32', dims: ['batch', sizes[sizes.length - 1]!] }],
    nodes,
    initializers,
    name: 'mlp',
  });
}

/** A model that passes each input through Identity: one per dtype, for round-trip tests. */
export function identityModel(values: { name: string; dtype: DType; dims: (number | string)[] }[]): Uint8Array {
  return buildModel({
    inputs: values,
    outputs: values.map((v) => ({ ...v, name: `${v.name}_out` })),
    nodes: values.map((v) => ({ op: 'Identity', inputs: [v.name], outputs: [`${v.name}_out`] })),
  });
}

/**
 * A small image CNN for benchmarks: input "input" [batch, 3, 224, 224] float32 →
 * Conv 3→8 (3×3, stride 2, pad 1) + Relu → Conv 8→16 (3×3, stride 2, pad 1) + Relu →
 * GlobalAveragePool → Flatten → Gemm 16→10 → output "output" [batch, 10]. Seeded weights.
 */
export function cnnModel(seed = 1): Uint8Array {
  const conv = (cin: number, cout: number, k: number, i: number): InitializerSpec[] => {
    const scale = 1 / Math.sqrt(cin * k * k);
    return [
      { name: `conv${i}_w`, dtype: 'float32', dims: [cout, cin, k, k], data: seededFloats(cout * cin * k * k, seed + i * 2, scale) },
      { name: `conv${i}_b`, dtype: 'float32', dims: [cout], data: seededFloats(cout, seed + i * 2 + 1, scale) },
    ];
  };
  const convAttrs = { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
  return buildModel({
    inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 3, 224, 224] }],
    outputs: [{ name: 'output', dtype: 'float32', dims: ['batch', 10] }],
    nodes: [
      { op: 'Conv', inputs: ['input', 'conv0_w', 'conv0_b'], outputs: ['c0'], attributes: convAttrs },
      { op: 'Relu', inputs: ['c0'], outputs: ['r0'] },
      { op: 'Conv', inputs: ['r0', 'conv1_w', 'conv1_b'], outputs: ['c1'], attributes: convAttrs },
      { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      { op: 'GlobalAveragePool', inputs: ['r1'], outputs: ['gap'] },
      { op: 'Flatten', inputs: ['gap'], outputs: ['flat'], attributes: { axis: 1 } },
      { op: 'Gemm', inputs: ['flat', 'fc_w', 'fc_b'], outputs: ['output'] },
    ],
    initializers: [
      ...conv(3, 8, 3, 0),
      ...conv(8, 16, 3, 1),
      { name: 'fc_w', dtype: 'float32', dims: [16, 10], data: seededFloats(160, seed + 100, 0.25) },
      { name: 'fc_b', dtype: 'float32', dims: [10], data: seededFloats(10, seed + 101, 0.25) },
    ],
    opset: 17,
    name: 'cnn',
  });
}

/**
 * A BERT-like model whose answer depends only on unmasked positions, for padding tests:
 * input_ids and attention_mask [batch, seq] int64 → "masked" [batch, seq] float32 =
 * Cast(input_ids) · Cast(attention_mask), and "pooled" [batch, 1] = its sum over seq.
 */
export function maskedSequenceModel(): Uint8Array {
  const FLOAT = 1; // TensorProto.FLOAT
  return buildModel({
    inputs: [
      { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
      { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'seq'] },
    ],
    outputs: [
      { name: 'masked', dtype: 'float32', dims: ['batch', 'seq'] },
      { name: 'pooled', dtype: 'float32', dims: ['batch', 1] },
    ],
    nodes: [
      { op: 'Cast', inputs: ['input_ids'], outputs: ['ids_f'], attributes: { to: FLOAT } },
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask_f'], attributes: { to: FLOAT } },
      { op: 'Mul', inputs: ['ids_f', 'mask_f'], outputs: ['masked'] },
      { op: 'ReduceSum', inputs: ['masked', 'seq_axis'], outputs: ['pooled'], attributes: { keepdims: 1 } },
    ],
    initializers: [{ name: 'seq_axis', dtype: 'int64', dims: [1], data: new BigInt64Array([1n]) }],
    opset: 17,
    name: 'masked_sequence',
  });
}

/**
 * A BERT-style classifier for the padding benchmark and tests: input_ids and attention_mask
 * [batch, seq] int64 → Gather from an embedding table [vocab, width] → two per-token dense layers
 * (MatMul + Add + Relu, width → hidden → width) → masked mean pooling (sum over seq of h · mask /
 * sum of mask) → a classifier head of two wide Gemm + Relu layers (width → head → head) and a
 * Gemm to "logits" [batch, 2]; and "token_scores" [batch, seq] = each token's summed features ×
 * its mask (an output the server must cut back to each request's length). The head's weights
 * (≈ 17 MB at the defaults) make a lone request's run weight-bound, as a transformer's are: run
 * alone a request costs well over its HTTP round trip, and a batch of many costs little more
 * than one, which is what padding buys. Padded positions (mask 0) add exact zeros to every sum,
 * so the answers do not depend on padding beyond float rounding.
 */
export function bertStyleModel(seed = 1, sizes: { vocab: number; width: number; hidden: number; head: number } = { vocab: 1000, width: 64, hidden: 128, head: 2048 }): Uint8Array {
  const { vocab, width, hidden, head } = sizes;
  const FLOAT = 1; // TensorProto.FLOAT
  const dense = (name: string, fin: number, fout: number, s: number): InitializerSpec[] => [
    { name: `${name}_w`, dtype: 'float32', dims: [fin, fout], data: seededFloats(fin * fout, s, 1 / Math.sqrt(fin)) },
    { name: `${name}_b`, dtype: 'float32', dims: [fout], data: seededFloats(fout, s + 1, 0.1) },
  ];
  return buildModel({
    inputs: [
      { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
      { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'seq'] },
    ],
    outputs: [
      { name: 'logits', dtype: 'float32', dims: ['batch', 2] },
      { name: 'token_scores', dtype: 'float32', dims: ['batch', 'seq'] },
    ],
    nodes: [
      { op: 'Gather', inputs: ['embedding', 'input_ids'], outputs: ['emb'], attributes: { axis: 0 } },
      { op: 'MatMul', inputs: ['emb', 'ff1_w'], outputs: ['ff1_mm'] },
      { op: 'Add', inputs: ['ff1_mm', 'ff1_b'], outputs: ['ff1_pre'] },
      { op: 'Relu', inputs: ['ff1_pre'], outputs: ['ff1'] },
      { op: 'MatMul', inputs: ['ff1', 'ff2_w'], outputs: ['ff2_mm'] },
      { op: 'Add', inputs: ['ff2_mm', 'ff2_b'], outputs: ['ff2_pre'] },
      { op: 'Relu', inputs: ['ff2_pre'], outputs: ['h'] },
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask_f'], attributes: { to: FLOAT } },
      { op: 'Unsqueeze', inputs: ['mask_f', 'last_axis'], outputs: ['mask3'] },
      { op: 'Mul', inputs: ['h', 'mask3'], outputs: ['h_masked'] },
      { op: 'ReduceSum', inputs: ['h_masked', 'seq_axis'], outputs: ['h_sum'], attributes: { keepdims: 0 } },
      { op: 'ReduceSum', inputs: ['mask3', 'seq_axis'], outputs: ['count'], attributes: { keepdims: 0 } },
      { op: 'Div', inputs: ['h_sum', 'count'], outputs: ['pooled'] },
      { op: 'Gemm', inputs: ['pooled', 'head1_w', 'head1_b'], outputs: ['head1_pre'] },
      { op: 'Relu', inputs: ['head1_pre'], outputs: ['head1'] },
      { op: 'Gemm', inputs: ['head1', 'head2_w', 'head2_b'], outputs: ['head2_pre'] },
      { op: 'Relu', inputs: ['head2_pre'], outputs: ['head2'] },
      { op: 'Gemm', inputs: ['head2', 'cls_w', 'cls_b'], outputs: ['logits'] },
      { op: 'ReduceSum', inputs: ['h_masked', 'last_axis'], outputs: ['token_scores'], attributes: { keepdims: 0 } },
    ],
    initializers: [
      { name: 'embedding', dtype: 'float32', dims: [vocab, width], data: seededFloats(vocab * width, seed, 1) },
      ...dense('ff1', width, hidden, seed + 10),
      ...dense('ff2', hidden, width, seed + 20),
      ...dense('head1', width, head, seed + 30),
      ...dense('head2', head, head, seed + 40),
      ...dense('cls', head, 2, seed + 50),
      { name: 'seq_axis', dtype: 'int64', dims: [1], data: new BigInt64Array([1n]) },
      { name: 'last_axis', dtype: 'int64', dims: [1], data: new BigInt64Array([2n]) },
    ],
    opset: 17,
    name: 'bert_style',
  });
}
