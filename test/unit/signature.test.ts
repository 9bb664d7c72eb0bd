// Unit tests for decodeInputs: matching a request's JSON inputs to a model's signature.
import t, { type Test } from 'tap';
import { decodeInputs } from '../../src/signature.js';
import { ServeError, type ErrorCode } from '../../src/errors.js';
import { toNested } from '../../src/tensors.js';
import type { TensorSignature } from '../../src/pool/protocol.js';
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
