// Triton's classification extension (src/kserve/classification.ts): top N per row in the
// output's dtype, "value:index[:label]", shapes, the parameter's checks and BYTES bytes.
import t from 'tap';
import { bytesTensorData, classesPerRow, classificationCount, classify, topIndices } from '../../src/kserve/classification.js';
import { ServeError } from '../../src/errors.js';
import { f32ToF16 } from '../../src/float16.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof ServeError ? `${err.code} ${err.message}` : String(err);
  }
  return undefined;
};

t.test('topIndices: highest first, ties by the lower index, NaN last', async (t) => {
  t.strictSame(topIndices([1, 5, 10, 4], 0, 4, 2), [2, 1], "the protocol's example");
  t.strictSame(topIndices([1, 5, 10, 4], 0, 4, 4), [2, 1, 3, 0]);
  t.strictSame(topIndices([3, 3, 1, 3], 0, 4, 3), [0, 1, 3]);
  t.strictSame(topIndices([NaN, 1, NaN, 0], 0, 4, 3), [1, 3, 0]);
  t.strictSame(topIndices([9, 9, 0, 7, 8], 2, 3, 2), [2, 1], 'a row inside a larger array');
  t.strictSame(topIndices([-5n, 2n ** 62n, 3n], 0, 3, 2), [1, 2], 'int64 compared as bigints');
  // against a full sort on random data
  const data = Array.from({ length: 500 }, (_, i) => Math.sin(i * 7.3));
  const sorted = data.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
  t.strictSame(topIndices(data, 0, 500, 17), sorted.slice(0, 17));
});

t.test('classify: [rows, n] for a batched model, [n] otherwise; labels when given', async (t) => {
  const out = { dtype: 'float32' as const, dims: [2, 4], data: new Float32Array([1.1, 3.3, 0.5, 2.4, 0, 0, 7, 1]) };
  t.strictSame(classify(out, 2, true, undefined, 'y'), { shape: [2, 2], strings: ['3.3:1', '2.4:3', '7:2', '1:3'] });
  t.strictSame(classify(out, 1, true, ['a', 'b', 'c', 'd'], 'y'), { shape: [2, 1], strings: ['3.3:1:b', '7:2:c'] });
  t.strictSame(classify(out, 2, false, ['a'], 'y').shape, [2], 'unbatched: one row of 8 classes');
  t.strictSame(classify(out, 2, false, ['a'], 'y').strings, ['7:6', '3.3:1'], 'a label only where labels.txt has a line');
  const half = { dtype: 'float16' as const, dims: [1, 3], data: new Uint16Array([f32ToF16(0.5), f32ToF16(2), f32ToF16(-1)]) };
  t.strictSame(classify(half, 1, true, undefined, 'h').strings, ['2:1'], 'float16 compared and printed as numbers');
  const ints = { dtype: 'int64' as const, dims: [3], data: new BigInt64Array([5n, -2n, 9007199254740993n]) };
  t.strictSame(classify(ints, 2, false, undefined, 'i').strings, ['9007199254740993:2', '5:0'], 'int64 in full');
  t.match(code(() => classify(out, 5, true, undefined, 'y')), /^INVALID_INPUT .*classification is 5 but the output has 4 classes per row; send an integer from 1 to 4/);
  t.strictSame(classesPerRow([8, 1, 1000], true), { rows: 8, classes: 1000 });
});

t.test('the parameter: a positive integer, else a 400 saying what to send', async (t) => {
  t.equal(classificationCount(undefined, 'y'), undefined);
  t.equal(classificationCount(3, 'y'), 3);
  for (const bad of [0, -1, 1.5, '2', null, true, [], {}, 2 ** 60]) {
    t.match(code(() => classificationCount(bad, 'y')), /^INVALID_INPUT output "y": parameters.classification is .*; send a positive integer/, JSON.stringify(bad) ?? String(bad));
  }
});

t.test('BYTES bytes: 4-byte little-endian length, then UTF-8', async (t) => {
  const b = bytesTensorData(['ab', '', 'é']);
  t.strictSame([...b], [2, 0, 0, 0, 97, 98, 0, 0, 0, 0, 2, 0, 0, 0, 0xc3, 0xa9]);
});
