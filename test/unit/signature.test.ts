// Unit tests for decodeInputs: matching a request's JSON inputs to a model's signature.
import t, { type Test } from 'tap';
import { decodeInput, decodeInputs, isNamedDim, type TensorSignature } from '../../src/signature.js';
import { ServeError, type ErrorCode } from '../../src/errors.js';
import { toNested } from '../../src/tensors/encode.js';
import { thrown } from '../helpers/thrown.js';

const SIG: TensorSignature[] = [{ name: 'input', dtype: 'float32', dims: ['batch', 4] }];


function serveError(t: Test, fn: () => unknown, code: ErrorCode, fragments: string[], label: string): void {
  const err = thrown(fn);
  if (!(err instanceof ServeError)) {
    t.fail(`${label}: expected a ServeError, got ${String(err)}`);
    return;
  }
  t.equal(err.code, code, `${label}: ${code}`);
  t.equal(err.status, 400, `${label}: a 400`);
  for (const f of fragments) t.ok(err.message.includes(f), `${label}: message ${JSON.stringify(err.message)} mentions ${JSON.stringify(f)}`);
}

t.test('nested form', async (t) => {
  const d = decodeInputs({ input: [[1, 2, 3, 4], [5, 6, 7, 8]] }, SIG, 8);
  t.equal(d.rows, 2);
  const x = d.tensors.input!;
  t.equal(x.dtype, 'float32', 'dtype from the signature');
  t.strictSame(x.dims, [2, 4]);
  t.strictSame(toNested(x), [[1, 2, 3, 4], [5, 6, 7, 8]]);
  t.strictSame(Object.keys(d.tensors), ['input']);
});

t.test('{dims, data} form', async (t) => {
  const d = decodeInputs({ input: { dims: [3, 4], data: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] } }, SIG, 8);
  t.equal(d.rows, 3);
  t.strictSame(d.tensors.input!.dims, [3, 4]);
  t.strictSame(toNested(d.tensors.input!), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
  const nested = decodeInputs({ input: [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]] }, SIG, 8);
  t.equal(d.key, nested.key, 'both forms give the same batch key');
});

t.test('unknown and missing inputs are INVALID_INPUT', async (t) => {
  serveError(t, () => decodeInputs({ input: [[1, 2, 3, 4]], extra: [1] }, SIG, 8), 'INVALID_INPUT', ['"extra"', 'input'], 'unknown input');
  serveError(t, () => decodeInputs({ inputs: [[1, 2, 3, 4]] }, SIG, 8), 'INVALID_INPUT', ['"inputs"'], 'misspelled input');
  serveError(t, () => decodeInputs({}, SIG, 8), 'INVALID_INPUT', ['"input"'], 'missing input');
  const two: TensorSignature[] = [...SIG, { name: 'mask', dtype: 'bool', dims: ['batch', 4] }];
  serveError(t, () => decodeInputs({ input: [[1, 2, 3, 4]] }, two, 8), 'INVALID_INPUT', ['"mask"'], 'second input missing');
});

t.test('wrong rank or a fixed dim mismatch is SHAPE_MISMATCH naming the expected dims', async (t) => {
  serveError(t, () => decodeInputs({ input: [1, 2, 3, 4] }, SIG, 8), 'SHAPE_MISMATCH', ['"input"', '[batch, 4]'], 'rank 1 for a rank-2 input');
  serveError(t, () => decodeInputs({ input: [[[1, 2, 3, 4]]] }, SIG, 8), 'SHAPE_MISMATCH', ['[batch, 4]'], 'rank 3 for a rank-2 input');
  serveError(t, () => decodeInputs({ input: [[1, 2, 3]] }, SIG, 8), 'SHAPE_MISMATCH', ['"input"', '[batch, 4]'], 'dimension 1 is 3, not 4');
  serveError(t, () => decodeInputs({ input: { dims: [1, 5], data: [1, 2, 3, 4, 5] } }, SIG, 8), 'SHAPE_MISMATCH', ['[batch, 4]'], '{dims,data} with the wrong fixed dim');
  serveError(t, () => decodeInputs({ input: [[1, 2, 3, 4], [1, 2]] }, SIG, 8), 'SHAPE_MISMATCH', ['"input"'], 'ragged');
});

t.test('a value the dtype cannot hold is DTYPE_MISMATCH', async (t) => {
  serveError(t, () => decodeInputs({ input: [[1, 2, 'three', 4]] }, SIG, 8), 'DTYPE_MISMATCH', ['"input"', 'element 2'], 'a string in float32');
});

t.test('rows beyond maxBatchSize are BATCH_TOO_LARGE', async (t) => {
  const rows = (n: number): number[][] => Array.from({ length: n }, () => [1, 2, 3, 4]);
  t.equal(decodeInputs({ input: rows(8) }, SIG, 8).rows, 8, 'exactly maxBatchSize is fine');
  serveError(t, () => decodeInputs({ input: rows(9) }, SIG, 8), 'BATCH_TOO_LARGE', ['9', '8'], '9 rows, max 8');
});

t.test('zero rows are rejected for a batching model', async (t) => {
  const err = thrown(() => decodeInputs({ input: { dims: [0, 4], data: [] } }, SIG, 8));
  t.ok(err instanceof ServeError && err.status === 400, 'a 400');
});

t.test('two inputs disagreeing on rows is SHAPE_MISMATCH', async (t) => {
  const two: TensorSignature[] = [
    { name: 'a', dtype: 'float32', dims: ['batch', 2] },
    { name: 'b', dtype: 'int64', dims: ['batch'] },
  ];
  const ok = decodeInputs({ a: [[1, 2], [3, 4]], b: [7, 8] }, two, 8);
  t.equal(ok.rows, 2);
  t.strictSame(Object.keys(ok.tensors).sort(), ['a', 'b']);
  serveError(t, () => decodeInputs({ a: [[1, 2], [3, 4]], b: [7, 8, 9] }, two, 8), 'SHAPE_MISMATCH', ['3', '2'], 'rows 2 vs 3');
});

t.test('maxBatchSize 0: rows is 1 and every fixed dim is checked', async (t) => {
  const fixed: TensorSignature[] = [{ name: 'image', dtype: 'uint8', dims: [1, 3, 2] }];
  const img = [[[1, 2], [3, 4], [5, 6]]];
  const d = decodeInputs({ image: img }, fixed, 0);
  t.equal(d.rows, 1, 'one request is one execution');
  t.strictSame(d.tensors.image!.dims, [1, 3, 2]);
  serveError(t, () => decodeInputs({ image: [img[0], img[0]] }, fixed, 0), 'SHAPE_MISMATCH', ['[1, 3, 2]'], 'dimension 0 is fixed at 1');
  serveError(t, () => decodeInputs({ image: [[[1, 2], [3, 4]]] }, fixed, 0), 'SHAPE_MISMATCH', ['[1, 3, 2]'], 'dimension 1 is fixed at 3');
  // a scalar-input model that does not batch
  const scalar: TensorSignature[] = [{ name: 's', dtype: 'float64', dims: [] }];
  t.equal(decodeInputs({ s: 2.5 }, scalar, 0).rows, 1, 'rank-0 input');
});

t.test('batch keys: symbolic non-batch dims make keys differ by shape', async (t) => {
  const seq: TensorSignature[] = [{ name: 'tokens', dtype: 'int64', dims: ['batch', 'seq'] }];
  const k3a = decodeInputs({ tokens: [[1, 2, 3]] }, seq, 8).key;
  const k3b = decodeInputs({ tokens: [[4, 5, 6], [7, 8, 9]] }, seq, 8).key;
  const k5 = decodeInputs({ tokens: [[1, 2, 3, 4, 5]] }, seq, 8).key;
  t.equal(k3a, k3b, 'same seq length, different rows: same key');
  t.not(k3a, k5, 'different seq length: different key');

  const two: TensorSignature[] = [
    { name: 'a', dtype: 'float32', dims: ['batch', 'n'] },
    { name: 'b', dtype: 'float32', dims: ['batch', 'm'] },
  ];
  const ab = (n: number, m: number): string => decodeInputs({ a: [Array(n).fill(0)], b: [Array(m).fill(0)] }, two, 8).key;
  t.equal(ab(2, 3), ab(2, 3));
  t.not(ab(2, 3), ab(3, 2), 'each input contributes its own dims');
  t.not(ab(2, 3), ab(2, 4));
});

// ---- shared dimension names, zero-size dims, deep and bombastic arrays (the fuzzer's findings) ----

const PAIR: TensorSignature[] = [
  { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'seq'] },
];

/** The body that killed the server with SIGFPE: empty sequences on a [batch, seq] pair (model "seq_pair"). */
const SIGFPE_BODY = '{"model":"seq_pair","inputs":{"input_ids":[[]],"attention_mask":[[]]}}';

/** `depth` nested arrays around one number, as text (JSON.parse copes; recursive walks do not). */
const deepText = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

/** An outer array of n numbers whose first element is an array of n numbers: it claims n × n. */
function shapeBomb(n: number): unknown[] {
  const outer: unknown[] = new Array(n).fill(1);
  outer[0] = new Array(n).fill(1);
  return outer;
}

t.test('dims that share a name agree across inputs: SHAPE_MISMATCH names both inputs, the dim and both sizes', async (t) => {
  const ok = decodeInputs({ input_ids: [[1, 2, 3]], attention_mask: [[1, 1, 0]] }, PAIR, 8);
  t.strictSame(ok.tensors.attention_mask!.dims, [1, 3], 'equal sizes decode');
  const forms: [string, Record<string, unknown>][] = [
    ['nested', { input_ids: [[1, 2, 3]], attention_mask: [[1, 1]] }],
    ['{dims, data}', { input_ids: { dims: [1, 3], data: [1, 2, 3] }, attention_mask: { dims: [1, 2], data: [1, 1] } }],
  ];
  for (const [label, inputs] of forms) {
    serveError(t, () => decodeInputs(inputs, PAIR, 8), 'SHAPE_MISMATCH', ['"input_ids"', '"attention_mask"', '"seq"', '3', '2'], label);
  }
  // dimension 0 of a batching model keeps its own message
  serveError(t, () => decodeInputs({ input_ids: [[1, 2], [3, 4]], attention_mask: [[1, 1]] }, PAIR, 8), 'SHAPE_MISMATCH', ['batch dimension', '"attention_mask" has 1 rows', 'has 2'], 'rows disagree');
  // a model that does not batch: dimension 0 is a named dim like any other
  serveError(t, () => decodeInputs({ input_ids: [[1, 2], [3, 4]], attention_mask: [[1, 1]] }, PAIR, 0), 'SHAPE_MISMATCH', ['"input_ids"', '"attention_mask"', '"batch"', 'dimension 0'], 'maxBatchSize 0: dim 0 by name');
  // the same name twice in one input
  const square: TensorSignature[] = [{ name: 'm', dtype: 'float32', dims: ['n', 'n'] }];
  t.strictSame(decodeInputs({ m: [[1, 2], [3, 4]] }, square, 0).tensors.m!.dims, [2, 2], 'a square matrix decodes');
  serveError(t, () => decodeInputs({ m: [[1, 2, 3], [4, 5, 6]] }, square, 0), 'SHAPE_MISMATCH', ['"m"', '"n"', '2', '3', 'dimension 0', 'dimension 1'], 'within one input');
});

t.test('unnamed variable dims ("", "-1", "?", "unk__N") are never shared', async (t) => {
  for (const d of ['', '-1', '-7', '?', 'unk__12']) {
    t.notOk(isNamedDim(d), `${JSON.stringify(d)} is not a name`);
    const sig: TensorSignature[] = [
      { name: 'a', dtype: 'float32', dims: ['batch', d] },
      { name: 'b', dtype: 'float32', dims: ['batch', d] },
    ];
    const res = decodeInputs({ a: [[1, 2, 3]], b: [[1, 2]] }, sig, 8);
    t.strictSame([res.tensors.a!.dims, res.tensors.b!.dims], [[1, 3], [1, 2]], `dims ${JSON.stringify(d)} may differ`);
  }
  for (const d of ['seq', 'batch', 'sequence_length', 'n']) t.ok(isNamedDim(d), `${d} is a name`);
  t.notOk(isNamedDim(4), 'a fixed dim is not a name');
});

t.test('the 70-byte SIGFPE body, and every other zero-size dim, is SHAPE_MISMATCH', async (t) => {
  t.equal(Buffer.byteLength(SIGFPE_BODY), 70, 'the exact body the fuzzer found');
  const body = JSON.parse(SIGFPE_BODY) as { inputs: Record<string, unknown> };
  serveError(t, () => decodeInputs(body.inputs, PAIR, 8), 'SHAPE_MISMATCH', ['"input_ids"', 'dimension 1', '"seq"', 'at least 1'], 'the 70-byte body');
  serveError(t, () => decodeInputs(body.inputs, PAIR, 0), 'SHAPE_MISMATCH', ['"input_ids"', 'dimension 1', 'at least 1'], 'the same without batching');
  const zeros: [string, Record<string, unknown>, number, string[]][] = [
    ['{dims: [1, 0]}', { input_ids: { dims: [1, 0], data: [] }, attention_mask: { dims: [1, 0], data: [] } }, 8, ['dimension 1', 'at least 1']],
    ['0 rows, batching', { input_ids: { dims: [0, 3], data: [] }, attention_mask: { dims: [0, 3], data: [] } }, 8, ['0 rows']],
    ['0 rows, not batching', { input_ids: { dims: [0, 3], data: [] }, attention_mask: { dims: [0, 3], data: [] } }, 0, ['dimension 0', 'at least 1']],
  ];
  for (const [label, inputs, max, fragments] of zeros) serveError(t, () => decodeInputs(inputs, PAIR, max), 'SHAPE_MISMATCH', ['"input_ids"', ...fragments], label);
  const img: TensorSignature[] = [{ name: 'x', dtype: 'float32', dims: ['batch', 'h', 2] }];
  serveError(t, () => decodeInputs({ x: [[], []] }, img, 8), 'SHAPE_MISMATCH', ['"x"'], 'an empty inner row');
  // 0-d scalars have no dims to be empty
  const scalar: TensorSignature[] = [{ name: 's', dtype: 'float32', dims: [] }];
  t.strictSame(decodeInputs({ s: 0 }, scalar, 0).tensors.s!.dims, [], 'a 0-d input decodes');
  t.strictSame(decodeInputs({ s: { dims: [], data: [3] } }, scalar, 0).tensors.s!.dims, [], 'a 0-d input as {dims: [], data}');
});

t.test('a 20,000-deep array is a 400, never a stack overflow', async (t) => {
  const deep = JSON.parse(deepText(20_000)) as unknown;
  serveError(t, () => decodeInputs({ input: deep }, SIG, 8), 'SHAPE_MISMATCH', ['"input"', 'nested more than 3', 'rank 2', '[batch, 4]'], 'nested input');
  serveError(t, () => decodeInputs({ input: { dims: [1, 4], data: deep } }, SIG, 8), 'SHAPE_MISMATCH', ['"input"', 'nested more than'], 'deep data under good dims');
  serveError(t, () => decodeInputs({ input: { dims: [deep], data: [1] } }, SIG, 8), 'INVALID_INPUT', ['"input"', 'non-negative integers'], 'a deep array among the dims');
  serveError(t, () => decodeInputs({ input: [[1, 2, 3, deep]] }, SIG, 8), 'SHAPE_MISMATCH', ['"input"', 'ragged'], 'deep where a number belongs');
  serveError(t, () => decodeInputs({ input: [[1, 2, 3, { a: deep }]] }, SIG, 8), 'DTYPE_MISMATCH', ['element 3', '{…}'], 'a deep object where a number belongs (the message never stringifies it)');
  // decodeInput without a signature check (compress reads single rows with it) is bounded too
  const err = thrown(() => decodeInput(deep, SIG[0]!));
  t.ok(err instanceof ServeError && err.code === 'SHAPE_MISMATCH', `unchecked decode: SHAPE_MISMATCH, got ${String(err)}`);
  // one level too deep keeps the plain rank message
  serveError(t, () => decodeInputs({ input: [[[1, 2, 3, 4]]] }, SIG, 8), 'SHAPE_MISMATCH', ['has rank 3', '[batch, 4]'], 'rank 3');
});

t.test('shape bombs are 400s: nothing is allocated from a claimed shape before the body backs it', async (t) => {
  const bomb = shapeBomb(70_000); // claims 70,000 × 70,000 = 4.9e9 elements
  serveError(t, () => decodeInputs({ input_ids: bomb, attention_mask: bomb }, PAIR, 8), 'SHAPE_MISMATCH', ['"input_ids"', 'ragged', 'depth 1'], 'int64 nested');
  const floats: TensorSignature[] = [{ name: 'x', dtype: 'float32', dims: ['batch', 'n'] }];
  serveError(t, () => decodeInputs({ x: bomb }, floats, 0), 'SHAPE_MISMATCH', ['"x"', 'ragged'], 'float32 (the fast path)');
  serveError(t, () => decodeInputs({ x: { dims: [70_000, 70_000], data: [1, 2, 3] } }, floats, 0), 'SHAPE_MISMATCH', ['3 values', '4900000000'], '{dims, data} claiming 4.9e9');
  serveError(t, () => decodeInputs({ x: { dims: [2 ** 53, 2 ** 53], data: [1] } }, floats, 0), 'SHAPE_MISMATCH', ['1 values'], 'dims whose product is not a safe integer');
  serveError(t, () => decodeInputs({ x: { dims: [1, 4.9e9], data: bomb } }, floats, 0), 'SHAPE_MISMATCH', ['ragged'], 'nested data that is a bomb');
  for (const dims of [[1, 1e400], [1, -1], [1, 1.5], [1, '2'], [1, null]]) {
    serveError(t, () => decodeInputs({ x: { dims, data: [1] } }, floats, 0), 'INVALID_INPUT', ['non-negative integers'], `dims ${String(dims)}`);
  }
  // the rows bound still applies to dims that claim many rows
  serveError(t, () => decodeInputs({ input: { dims: [1e6, 4], data: [1, 2, 3, 4] } }, SIG, 8), 'SHAPE_MISMATCH', ['need 4000000'], '{dims, data} claiming a million rows');
});
