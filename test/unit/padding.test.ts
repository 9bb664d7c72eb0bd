// Unit tests for padding variable-length inputs: the batch key (src/tensors/pad.ts requestKey),
// packing padded to the longest, cutting outputs back per request, and config.json's "padding"
// checked against a signature (src/repository/padding.ts). Expected arrays are written out by hand.
import t from 'tap';
import type { DType, Tensor, TypedArray } from '../../src/tensors/dtypes.js';
import { packBatch } from '../../src/tensors/batch.js';
import { packPadded, requestKey, slicePadded, type PaddingPlan } from '../../src/tensors/pad.js';
import { paddingPlan } from '../../src/repository/padding.js';
import { ModelConfigError } from '../../src/repository/model-config.js';
import type { TensorSignature } from '../../src/signature.js';
import { thrown } from '../helpers/thrown.js';

const i64 = (dims: number[], values: number[]): Tensor => ({ dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
const f32 = (dims: number[], values: number[]): Tensor => ({ dtype: 'float32', dims, data: Float32Array.from(values) });
const plain = (d: TypedArray): (number | bigint)[] => Array.from(d as ArrayLike<number | bigint>);

const SEQ = { dims: [1], value: 0 };
const PLAN: PaddingPlan = {
  inputs: { input_ids: SEQ, attention_mask: SEQ },
  outputs: { hidden: [{ dim: 1, input: 'input_ids', inputDim: 1 }] },
};

t.test('requestKey: padded dims do not part requests; everything else still does', async (t) => {
  const req = (seq: number, extra: Tensor = f32([1, 4], [0, 0, 0, 0])) => ({
    input_ids: i64([1, seq], Array(seq).fill(1)),
    attention_mask: i64([1, seq], Array(seq).fill(1)),
    extra,
  });
  const plan = PLAN;
  t.equal(requestKey(req(8), plan), requestKey(req(64), plan), 'seq 8 and seq 64 share a key');
  t.equal(requestKey({ a: i64([3, 8], Array(24).fill(0)) }, { inputs: { a: SEQ }, outputs: {} }), requestKey({ a: i64([1, 2], [0, 0]) }, { inputs: { a: SEQ }, outputs: {} }), 'rows never part requests');
  t.not(requestKey(req(8), plan), requestKey(req(8, f32([1, 5], [0, 0, 0, 0, 0])), plan), 'an input not padded keeps the exact-shape rule');
  const f = { inputs: { x: { dims: [1], value: 0 } }, outputs: {} };
  t.not(requestKey({ x: f32([1, 3, 4], Array(12).fill(0)) }, f), requestKey({ x: f32([1, 3, 5], Array(15).fill(0)) }, f), 'a dim of a padded input that is not padded still parts');
  t.equal(requestKey({ x: f32([1, 3, 4], Array(12).fill(0)) }, f), requestKey({ x: f32([1, 9, 4], Array(36).fill(0)) }, f));
  t.not(requestKey({ x: f32([1, 3], [0, 0, 0]) }, f), requestKey({ x: i64([1, 3], [0, 0, 0]) }, f), 'dtypes part requests');
});

t.test('packPadded int64: each request padded to the longest along seq, rows in order', async (t) => {
  const packed = packPadded([i64([1, 3], [1, 2, 3]), i64([2, 2], [4, 5, 6, 7]), i64([1, 1], [8])], { dims: [1], value: 0 });
  t.equal(packed.dtype, 'int64');
  t.strictSame(packed.dims, [4, 3]);
  t.ok(packed.data instanceof BigInt64Array);
  t.strictSame(plain(packed.data), [1n, 2n, 3n, 4n, 5n, 0n, 6n, 7n, 0n, 8n, 0n, 0n]);
  t.ok(packed.data.buffer instanceof ArrayBuffer, 'a plain ArrayBuffer, transferable to a worker');
});

t.test('packPadded float32 with two padded dims and a fixed last dim', async (t) => {
  // [batch, h, w, 1]: a 2×3 and a 3×1 image padded to 3×3 with -1
  const a = f32([1, 2, 3, 1], [1, 2, 3, 4, 5, 6]);
  const b = f32([1, 3, 1, 1], [7, 8, 9]);
  const packed = packPadded([a, b], { dims: [1, 2], value: -1 });
  t.strictSame(packed.dims, [2, 3, 3, 1]);
  t.strictSame(plain(packed.data), [1, 2, 3, 4, 5, 6, -1, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1]);
});

t.test('packPadded fills bool and float16 with their own encodings', async (t) => {
  const bool = packPadded([{ dtype: 'bool', dims: [1, 1], data: Uint8Array.from([0]) }, { dtype: 'bool', dims: [1, 2], data: Uint8Array.from([0, 0]) }], { dims: [1], value: 1 });
  t.strictSame(plain(bool.data), [0, 1, 0, 0]);
  const half = packPadded([{ dtype: 'float16', dims: [1, 1], data: Uint16Array.from([0]) }, { dtype: 'float16', dims: [1, 2], data: Uint16Array.from([0, 0]) }], { dims: [1], value: 1 });
  t.strictSame(plain(half.data), [0, 0x3c00, 0, 0], '1.0 as float16 bits');
});

t.test('packPadded of equal lengths is packBatch; a difference outside the padded dims is refused', async (t) => {
  const parts = [f32([1, 2], [1, 2]), f32([2, 2], [3, 4, 5, 6])];
  const packed = packPadded(parts, { dims: [1], value: 9 });
  const plainPack = packBatch(parts);
  t.strictSame(packed.dims, plainPack.dims);
  t.strictSame(plain(packed.data), plain(plainPack.data));
  t.throws(() => packPadded([f32([1, 2, 3], Array(6).fill(0)), f32([1, 2, 4], Array(8).fill(0))], { dims: [1], value: 0 }), /dimension 2, which is not padded/);
  t.throws(() => packPadded([f32([1, 2], [0, 0]), i64([1, 2], [0, 0])], { dims: [1], value: 0 }), /dtype/);
  t.throws(() => packPadded([], { dims: [1], value: 0 }));
});

t.test('slicePadded: an output with the padded dim is cut back to each request, one without is sliced by rows', async (t) => {
  const reqs = [{ input_ids: i64([1, 3], [1, 2, 3]) }, { input_ids: i64([2, 1], [4, 5]) }];
  // hidden [batch, seq, 2] for a batch padded to seq 3
  const hidden = f32([3, 3, 2], [
    1, 1, 2, 2, 3, 3, // request 0, row 0
    4, 4, 0, 0, 0, 0, // request 1, row 0: only position 0 is its own
    5, 5, 0, 0, 0, 0, // request 1, row 1
  ]);
  const [h0, h1] = slicePadded(hidden, [1, 2], PLAN.outputs.hidden!, reqs);
  t.strictSame(h0!.dims, [1, 3, 2]);
  t.strictSame(plain(h0!.data), [1, 1, 2, 2, 3, 3]);
  t.equal(h0!.data.buffer, hidden.data.buffer, 'the longest request needs no cut: a view');
  t.strictSame(h1!.dims, [2, 1, 2]);
  t.strictSame(plain(h1!.data), [4, 4, 5, 5]);
  const pooled = f32([3, 1], [6, 4, 5]);
  const [p0, p1] = slicePadded(pooled, [1, 2], [], reqs);
  t.strictSame([p0!.dims, plain(p0!.data), p1!.dims, plain(p1!.data)], [[1, 1], [6], [2, 1], [4, 5]], 'no padded dim: rows only');
  const stray = f32([3, 2], [1, 2, 3, 4, 5, 6]);
  const [s0, s1] = slicePadded(stray, [1, 2], [{ dim: 1, input: 'input_ids', inputDim: 1 }], reqs);
  t.strictSame([s0!.dims, s1!.dims], [[1, 2], [2, 2]], 'a dim named seq whose size is not the padded length (3) is left whole');
});

t.test('pack then slice with the cuts gives every request its own tensor back, for two padded dims and several dtypes', async (t) => {
  const dtypes: [DType, (dims: number[], v: number[]) => Tensor][] = [
    ['int64', i64],
    ['float32', f32],
    ['int32', (dims, v) => ({ dtype: 'int32', dims, data: Int32Array.from(v) })],
  ];
  const shapes = [[1, 2, 3], [2, 4, 1], [1, 1, 5], [3, 4, 5]];
  for (const [dtype, make] of dtypes) {
    let next = 1;
    const parts = shapes.map((dims) => make(dims, Array.from({ length: dims.reduce((a, b) => a * b) }, () => next++)));
    const packed = packPadded(parts, { dims: [1, 2], value: 0 });
    t.strictSame(packed.dims, [7, 4, 5], `${dtype}: padded to the longest in both dims`);
    const cuts = [{ dim: 1, input: 'x', inputDim: 1 }, { dim: 2, input: 'x', inputDim: 2 }];
    const back = slicePadded(packed, shapes.map((s) => s[0]!), cuts, parts.map((x) => ({ x })));
    back.forEach((b, i) => {
      t.strictSame(b.dims, parts[i]!.dims, `${dtype} request ${i}: dims`);
      t.strictSame(plain(b.data), plain(parts[i]!.data), `${dtype} request ${i}: values`);
      t.equal(b.dtype, dtype);
    });
  }
});

// ---- config.json "padding" against a signature ----

const FILE = 'bert/config.json';
const sig = (inputs: TensorSignature[], outputs: TensorSignature[] = [{ name: 'hidden', dtype: 'float32', dims: ['batch', 'seq', 768] }, { name: 'pooled', dtype: 'float32', dims: ['batch', 768] }]) => ({ inputs, outputs });
const BERT = sig([
  { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'seq'] },
]);

t.test('paddingPlan: the inputs, their symbolic dims and the outputs to cut back', async (t) => {
  t.equal(paddingPlan({}, BERT, FILE), undefined, 'no padding configured: no plan');
  const plan = paddingPlan({ input_ids: 0, attention_mask: 0 }, BERT, FILE);
  t.strictSame(plan, {
    inputs: { input_ids: { dims: [1], value: 0 }, attention_mask: { dims: [1], value: 0 } },
    outputs: { hidden: [{ dim: 1, input: 'input_ids', inputDim: 1 }] },
  }, 'hidden has seq at dimension 1; pooled has no padded dim');
  const boolPlan = paddingPlan({ mask: false, ids: 7 }, sig([{ name: 'ids', dtype: 'int32', dims: ['b', 'len'] }, { name: 'mask', dtype: 'bool', dims: ['b', 'len'] }]), FILE);
  t.equal(boolPlan!.inputs.mask!.value, 0, 'false pads a bool input with 0');
  t.equal(boolPlan!.inputs.ids!.value, 7);
});

t.test('paddingPlan: what it refuses, each a load error naming the file and the key', async (t) => {
  const cases: [Record<string, number | boolean>, ReturnType<typeof sig>, RegExp[]][] = [
    [{ input_ids: 0, tokens: 0 }, BERT, [/"padding\.tokens" names no input of the model/, /"input_ids", "attention_mask"/]],
    [{ x: 0 }, sig([{ name: 'x', dtype: 'float32', dims: ['batch', 4] }]), [/"padding\.x"/, /no variable dimension beyond dimension 0/, /\[batch, 4\]/]],
    [{ input_ids: 0 }, BERT, [/"padding" pads dimension "seq" of input "input_ids" but not input "attention_mask"/, /add "attention_mask"/]],
    [{ input_ids: 1.5, attention_mask: 0 }, BERT, [/"padding\.input_ids" is 1\.5; allowed: an integer/, /int64/]],
    [{ input_ids: true, attention_mask: 0 }, BERT, [/"padding\.input_ids" is true; allowed: a number/]],
    [{ m: 2 }, sig([{ name: 'm', dtype: 'bool', dims: ['batch', 'seq'] }]), [/"padding\.m" is 2; allowed: false, true, 0 or 1/]],
    [{ u: 300 }, sig([{ name: 'u', dtype: 'uint8', dims: ['batch', 'seq'] }]), [/"padding\.u" is 300; allowed: an integer from 0 to 255/]],
    [{ h: 1e6 }, sig([{ name: 'h', dtype: 'float16', dims: ['batch', 'seq'] }]), [/"padding\.h" is 1000000; allowed: a number from -65504 to 65504/]],
  ];
  for (const [padding, signature, patterns] of cases) {
    const err = thrown(() => paddingPlan(padding, signature, FILE));
    const label = JSON.stringify(padding);
    t.ok(err instanceof ModelConfigError, `${label}: a ModelConfigError`);
    const msg = err instanceof Error ? err.message : '';
    t.ok(msg.startsWith(`${FILE}: `), `${label}: names the file (${msg})`);
    for (const p of patterns) t.match(msg, p, `${label}: ${p}`);
  }
});
