// toJsonText must produce what JSON.stringify(toNested(t)) produces, only faster; float32 values
// as their shortest text (float32-text.test.ts checks those texts), so they read back as the same float32.
import t from 'tap';
import type { Tensor, DType } from '../../src/tensors/dtypes.js';
import { toJsonText, toNested } from '../../src/tensors/encode.js';
import { seededFloats } from '../../tools/onnx-builder.js';

const shapes = [[0], [3], [2, 3], [2, 0], [1, 1], [2, 3, 4], []];
for (const dtype of ['float32', 'float64'] as DType[]) {
  t.test(`${dtype} tensors of every rank`, async (t) => {
    for (const dims of shapes) {
      const n = dims.reduce((a, b) => a * b, 1);
      const data = dtype === 'float32' ? seededFloats(n, n + 1, 1000) : Float64Array.from(seededFloats(n, n + 2, 1e-3), (x) => x / 3);
      const tensor: Tensor = { dtype, dims, data };
      if (dtype === 'float64') {
        t.equal(toJsonText(tensor), JSON.stringify(toNested(tensor)), `dims ${JSON.stringify(dims)}`);
        t.same(JSON.parse(toJsonText(tensor)), toNested(tensor), `dims ${JSON.stringify(dims)} parses back`);
      } else {
        const asFloat32 = (v: unknown): unknown => (Array.isArray(v) ? v.map(asFloat32) : Math.fround(v as number));
        const text = toJsonText(tensor);
        t.equal(text.replace(/[-.e+\d]+/g, '#'), JSON.stringify(toNested(tensor)).replace(/[-.e+\d]+/g, '#'), `dims ${JSON.stringify(dims)}: the same nesting`);
        t.strictSame(asFloat32(JSON.parse(text)), toNested(tensor), `dims ${JSON.stringify(dims)} parses back to the same float32 values`);
        if (n > 0) t.ok(text.length < JSON.stringify(toNested(tensor)).length, `dims ${JSON.stringify(dims)}: shorter than the doubles' text`);
      }
    }
  });
}

t.test('non-finite values become null, as JSON.stringify does', async (t) => {
  const tensor: Tensor = { dtype: 'float32', dims: [1, 3], data: Float32Array.of(1, NaN, -Infinity) };
  t.equal(toJsonText(tensor), '[[1,null,null]]');
});

t.test('a view in the middle of a larger buffer encodes only its own rows', async (t) => {
  const whole = Float32Array.of(1, 2, 3, 4, 5, 6);
  t.equal(toJsonText({ dtype: 'float32', dims: [1, 2], data: whole.subarray(2, 4) }), '[[3,4]]');
});

t.test('other dtypes fall back to the nested form', async (t) => {
  const tensor: Tensor = { dtype: 'int64', dims: [2], data: BigInt64Array.of(5n, 2n ** 62n) };
  t.equal(toJsonText(tensor), `[5,"${2n ** 62n}"]`);
  const bools: Tensor = { dtype: 'bool', dims: [2], data: Uint8Array.of(1, 0) };
  t.equal(toJsonText(bools), '[true,false]');
});
