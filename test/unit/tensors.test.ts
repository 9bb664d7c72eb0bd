// Unit tests for src/tensors/ (dtypes, JSON decode/encode, pack/slice along dimension 0, batch keys)
// and float16.ts. Expected values are derived from the dtype ranges and IEEE 754, not from running the code.
import t, { type Test } from 'tap';
import { DTYPES, elementCount, type DType, type Tensor } from '../../src/tensors/dtypes.js';
import { MAX_RANK, TensorError, checkRectangular, fromDimsData, fromNested, shapeOf } from '../../src/tensors/decode.js';
import { toNested } from '../../src/tensors/encode.js';
import { batchKey, packBatch, sliceBatch } from '../../src/tensors/batch.js';
import { f16ToF32, f32ToF16 } from '../../src/float16.js';
import { thrown } from '../helpers/thrown.js';


/** Asserts fn throws a TensorError with `code` whose message contains every fragment. */
function throwsTensorError(tt: Test, fn: () => unknown, code: TensorError['code'], fragments: string[], msg: string): void {
  const err = thrown(fn);
  if (!(err instanceof TensorError)) {
    tt.fail(`${msg}: expected a TensorError, got ${String(err)}`);
    return;
  }
  tt.equal(err.code, code, `${msg}: code`);
  for (const f of fragments) tt.ok(err.message.includes(f), `${msg}: message ${JSON.stringify(err.message)} mentions ${JSON.stringify(f)}`);
}

const ALL_DTYPES: DType[] = ['float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'];

// 0x2e66 = exponent 11, mantissa 614: (1 + 614/1024) * 2^(11-15)
const F16_OF_0_1 = (1 + 614 / 1024) / 16;

/**
 * Per dtype: six JSON values (a 2x3 input) and what toNested must give back for them;
 * `rowValue(i)` makes valid values for packing tests.
 */
const SAMPLES: Record<DType, { input: unknown[]; output: unknown[]; rowValue: (i: number) => unknown; ctor: unknown }> = {
  float32: { input: [0.5, -1.25, 3, 1024.125, 0.1, -0], output: [0.5, -1.25, 3, 1024.125, Math.fround(0.1), -0], rowValue: (i) => i + 0.5, ctor: Float32Array },
  float64: { input: [0.1, -1e300, 5e-324, 2 ** 60, -3.75, 0], output: [0.1, -1e300, 5e-324, 2 ** 60, -3.75, 0], rowValue: (i) => i / 3, ctor: Float64Array },
  float16: { input: [1, -2, 65504, 2 ** -24, 0.1, 0.5], output: [1, -2, 65504, 2 ** -24, F16_OF_0_1, 0.5], rowValue: (i) => i * 0.25, ctor: Uint16Array },
  int8: { input: [-128, 127, 0, -1, 1, 100], output: [-128, 127, 0, -1, 1, 100], rowValue: (i) => (i % 200) - 100, ctor: Int8Array },
  uint8: { input: [0, 255, 1, 128, 254, 7], output: [0, 255, 1, 128, 254, 7], rowValue: (i) => i % 256, ctor: Uint8Array },
  int16: { input: [-32768, 32767, 0, -1, 256, 1000], output: [-32768, 32767, 0, -1, 256, 1000], rowValue: (i) => i * 100 - 5000, ctor: Int16Array },
  uint16: { input: [0, 65535, 1, 256, 40000, 7], output: [0, 65535, 1, 256, 40000, 7], rowValue: (i) => i * 1000, ctor: Uint16Array },
  int32: { input: [-2147483648, 2147483647, 0, -1, 65536, 7], output: [-2147483648, 2147483647, 0, -1, 65536, 7], rowValue: (i) => i * 100000 - 7, ctor: Int32Array },
  uint32: { input: [0, 4294967295, 1, 65536, 2147483648, 7], output: [0, 4294967295, 1, 65536, 2147483648, 7], rowValue: (i) => i * 100000, ctor: Uint32Array },
  int64: {
    input: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, '9223372036854775807', '-9223372036854775808', '42', '9007199254740993'],
    output: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, '9223372036854775807', '-9223372036854775808', 42, '9007199254740993'],
    rowValue: (i) => i - 3,
    ctor: BigInt64Array,
  },
  uint64: {
    input: [0, '18446744073709551615', Number.MAX_SAFE_INTEGER, '9007199254740992', '1', 5],
    output: [0, '18446744073709551615', Number.MAX_SAFE_INTEGER, '9007199254740992', 1, 5],
    rowValue: (i) => i * 11,
    ctor: BigUint64Array,
  },
  bool: { input: [true, false, 1, 0, true, 0], output: [true, false, true, false, true, false], rowValue: (i) => i % 3 === 0, ctor: Uint8Array },
};

const rows2x3 = (flat: unknown[]): unknown[][] => [flat.slice(0, 3), flat.slice(3, 6)];

t.test('DTYPES lists exactly the served dtypes', async (t) => {
  t.strictSame(Object.keys(DTYPES).sort(), [...ALL_DTYPES].sort());
});

t.test('every dtype: fromNested and fromDimsData round trip through toNested', async (t) => {
  for (const dtype of ALL_DTYPES) {
    const s = SAMPLES[dtype];
    const nested = fromNested(rows2x3(s.input), dtype, 'x');
    t.equal(nested.dtype, dtype, `${dtype}: dtype`);
    t.strictSame(nested.dims, [2, 3], `${dtype}: shape inferred from nesting`);
    t.ok(nested.data instanceof (s.ctor as typeof Float32Array), `${dtype}: stored as ${(s.ctor as { name: string }).name}`);
    t.strictSame(toNested(nested), rows2x3(s.output), `${dtype}: nested round trip`);

    const flat = fromDimsData([3, 2], s.input, dtype, 'x');
    t.strictSame(flat.dims, [3, 2], `${dtype}: dims from {dims,data}`);
    t.strictSame(toNested(flat), [s.output.slice(0, 2), s.output.slice(2, 4), s.output.slice(4, 6)], `${dtype}: {dims,data} round trip`);

    // rank 0 and rank 3
    t.strictSame(toNested(fromNested(s.input[1], dtype)), s.output[1], `${dtype}: scalar`);
    const r3 = fromNested([[[s.input[0]], [s.input[1]]]], dtype);
    t.strictSame(r3.dims, [1, 2, 1], `${dtype}: rank 3 dims`);
    t.strictSame(toNested(r3), [[[s.output[0]], [s.output[1]]]], `${dtype}: rank 3 round trip`);
  }
});

t.test('empty dimensions', async (t) => {
  const e = fromNested([], 'float32');
  t.strictSame(e.dims, [0]);
  t.equal(e.data.length, 0);
  t.strictSame(toNested(e), []);
  const e2 = fromNested([[], []], 'int32');
  t.strictSame(e2.dims, [2, 0]);
  t.strictSame(toNested(e2), [[], []]);
  t.strictSame(fromDimsData([0, 4], [], 'float32').dims, [0, 4]);
});

function isPlainArrayBuffer(b: ArrayBufferLike): boolean {
  return Object.prototype.toString.call(b) === '[object ArrayBuffer]';
}

t.test('every dtype: packBatch of parts with different row counts, then sliceBatch gives views equal to the parts', async (t) => {
  const rowCounts = [1, 3, 2];
  for (const dtype of ALL_DTYPES) {
    const s = SAMPLES[dtype];
    let k = 0;
    const parts: Tensor[] = rowCounts.map((n) => fromDimsData([n, 2], Array.from({ length: n * 2 }, () => s.rowValue(k++)), dtype, 'x'));
    const packed = packBatch(parts);
    t.equal(packed.dtype, dtype, `${dtype}: packed dtype`);
    t.strictSame(packed.dims, [6, 2], `${dtype}: packed dims add up the rows`);
    t.ok(packed.data instanceof (s.ctor as typeof Float32Array), `${dtype}: packed storage type`);
    t.ok(isPlainArrayBuffer(packed.data.buffer), `${dtype}: packed data is backed by a plain ArrayBuffer`);
    t.notOk(typeof SharedArrayBuffer !== 'undefined' && packed.data.buffer instanceof SharedArrayBuffer, `${dtype}: not a SharedArrayBuffer`);
    for (const p of parts) t.not(packed.data.buffer, p.data.buffer, `${dtype}: packed is a fresh allocation, not a part's buffer`);
    t.strictSame(toNested(packed), parts.flatMap((p) => toNested(p) as unknown[]), `${dtype}: rows in part order`);

    const slices = sliceBatch(packed, rowCounts);
    t.equal(slices.length, parts.length, `${dtype}: one slice per part`);
    slices.forEach((sl, i) => {
      const p = parts[i]!;
      t.equal(sl.dtype, dtype, `${dtype}: slice ${i} dtype`);
      t.strictSame(sl.dims, p.dims, `${dtype}: slice ${i} dims`);
      t.strictSame(toNested(sl), toNested(p), `${dtype}: slice ${i} values`);
      t.equal(sl.data.buffer, packed.data.buffer, `${dtype}: slice ${i} is a view of the packed buffer (no copy)`);
    });
  }
});

t.test('slices alias the packed buffer: a write through the batch is visible in the slice', async (t) => {
  const packed = packBatch([fromNested([[1, 2]], 'float32'), fromNested([[3, 4], [5, 6]], 'float32')]);
  const [, second] = sliceBatch(packed, [1, 2]);
  (packed.data as Float32Array)[2] = 42;
  t.strictSame(toNested(second!), [[42, 4], [5, 6]]);
});

t.test('packBatch over SharedArrayBuffer-backed parts still yields a plain ArrayBuffer', async (t) => {
  const shared = new Float32Array(new SharedArrayBuffer(4 * 4));
  shared.set([1, 2, 3, 4]);
  const part: Tensor = { dtype: 'float32', dims: [2, 2], data: shared };
  const packed = packBatch([part, fromNested([[5, 6]], 'float32')]);
  t.ok(isPlainArrayBuffer(packed.data.buffer));
  t.strictSame(toNested(packed), [[1, 2], [3, 4], [5, 6]]);
});

t.test('packBatch and sliceBatch reject inconsistent input', async (t) => {
  t.throws(() => packBatch([]));
  t.throws(() => packBatch([fromNested([[1, 2]], 'float32'), fromNested([[1, 2]], 'float64')]), 'dtypes differ');
  t.throws(() => packBatch([fromNested([[1, 2]], 'float32'), fromNested([[1, 2, 3]], 'float32')]), 'non-batch dims differ');
  const packed = packBatch([fromNested([[1], [2], [3]], 'int32')]);
  t.throws(() => sliceBatch(packed, [1, 1]), 'row counts must add up to the batch');
  t.throws(() => sliceBatch(packed, [2, 2]), 'row counts must add up to the batch');
});

t.test('values a dtype cannot hold raise DTYPE_MISMATCH naming the element', async (t) => {
  const bad: Record<DType, unknown[]> = {
    float32: ['1', null, true, {}],
    float64: ['0.5', null, false],
    float16: ['1', null, true],
    int8: [128, -129, 1.5, '1', null, true],
    uint8: [256, -1, 0.5, '7'],
    int16: [32768, -32769, 2.5],
    uint16: [65536, -1, 1.01],
    int32: [2147483648, -2147483649, 0.1],
    uint32: [4294967296, -1, 3.5],
    int64: [2 ** 53, -(2 ** 53), 1.5, '9223372036854775808', '-9223372036854775809', '1.0', '1e3', 'abc', '', ' 1', true, null],
    uint64: [-1, '-1', '18446744073709551616', 0.5, 'x'],
    bool: [2, -1, 0.5, 'true', 'false', null, '1'],
  };
  for (const dtype of ALL_DTYPES) {
    const ok = SAMPLES[dtype].input[0];
    for (const v of bad[dtype]) {
      throwsTensorError(t, () => fromNested([ok, v], dtype, 'feat'), 'DTYPE_MISMATCH', ['"feat"', 'element 1', JSON.stringify(v) ?? String(v), dtype], `${dtype} rejects ${JSON.stringify(v)}`);
      throwsTensorError(t, () => fromDimsData([2], [ok, v], dtype, 'feat'), 'DTYPE_MISMATCH', ['element 1'], `${dtype} rejects ${JSON.stringify(v)} in {dims,data}`);
    }
  }
  // the element is named by its flat (row-major) position
  throwsTensorError(t, () => fromNested([[1, 2], [3, 300]], 'uint8', 'pixels'), 'DTYPE_MISMATCH', ['"pixels"', 'element 3', '300'], 'nested position');
});

t.test('finite numbers that overflow a float dtype are rejected, not stored as Infinity', async (t) => {
  // A value the dtype cannot hold is DTYPE_MISMATCH (errors.ts catalogue; fromJsonValues: "rejecting values the dtype cannot hold").
  throwsTensorError(t, () => fromNested([1, 1e39], 'float32'), 'DTYPE_MISMATCH', ['element 1'], 'float32 1e39');
  throwsTensorError(t, () => fromNested([1, -1e39], 'float32'), 'DTYPE_MISMATCH', ['element 1'], 'float32 -1e39');
  throwsTensorError(t, () => fromNested([1, 1e5], 'float16'), 'DTYPE_MISMATCH', ['element 1'], 'float16 100000');
});

t.test('ragged arrays raise SHAPE_MISMATCH', async (t) => {
  const ragged: unknown[] = [
    [[1, 2], [3]],
    [[1, 2], 3],
    [1, [2]],
    [[[1]], [2]],
    [[1], [[2]]],
    [[], [1]],
    [[1, 2], [3, 4], [5, 6, 7]],
  ];
  for (const v of ragged) {
    throwsTensorError(t, () => fromNested(v, 'float32', 'x'), 'SHAPE_MISMATCH', ['"x"'], `ragged ${JSON.stringify(v)}`);
  }
  throwsTensorError(t, () => fromDimsData([2, 3], [1, 2, 3, 4, 5], 'float32', 'x'), 'SHAPE_MISMATCH', ['"x"'], '{dims,data} with too few values');
  throwsTensorError(t, () => fromDimsData([2], [1, 2, 3], 'float32', 'x'), 'SHAPE_MISMATCH', ['"x"'], '{dims,data} with too many values');
});

t.test('int64/uint64: safe JSON numbers and decimal strings in; numbers out when exact, else strings', async (t) => {
  const i64 = fromNested([0, -5, '-9007199254740991', '9007199254740991', '9007199254740992', '-9007199254740992', '123456789012345678'], 'int64');
  t.strictSame(Array.from(i64.data as BigInt64Array), [0n, -5n, -9007199254740991n, 9007199254740991n, 9007199254740992n, -9007199254740992n, 123456789012345678n], 'stored exactly');
  t.strictSame(toNested(i64), [0, -5, -9007199254740991, 9007199254740991, '9007199254740992', '-9007199254740992', '123456789012345678']);
  const out = toNested(i64) as unknown[];
  t.equal(typeof out[3], 'number', 'MAX_SAFE_INTEGER is a number');
  t.equal(typeof out[4], 'string', 'MAX_SAFE_INTEGER + 1 is a string');
  const u64 = fromNested(['18446744073709551615'], 'uint64');
  t.equal((u64.data as BigUint64Array)[0], 18446744073709551615n);
  t.strictSame(toNested(u64), ['18446744073709551615']);
});

t.test('bool accepts true/false/1/0 and answers booleans', async (t) => {
  const b = fromNested([true, false, 1, 0], 'bool');
  t.strictSame(Array.from(b.data as Uint8Array), [1, 0, 1, 0]);
  t.strictSame(toNested(b), [true, false, true, false]);
});

t.test('batchKey is equal iff dtype and non-batch dims are equal', async (t) => {
  const tensor = (dtype: DType, dims: number[]): Tensor => ({ dtype, dims, data: new Float32Array(0) });
  t.equal(batchKey(tensor('float32', [1, 4])), batchKey(tensor('float32', [7, 4])), 'batch dimension ignored');
  t.equal(batchKey(tensor('int64', [3])), batchKey(tensor('int64', [9])), 'rank 1');
  t.not(batchKey(tensor('float32', [1, 4])), batchKey(tensor('float32', [1, 5])), 'dim 1 differs');
  t.not(batchKey(tensor('float32', [1, 4])), batchKey(tensor('float64', [1, 4])), 'dtype differs');
  t.not(batchKey(tensor('float32', [2, 12, 3])), batchKey(tensor('float32', [2, 1, 23])), 'no ambiguity joining dims');
  t.not(batchKey(tensor('float32', [2, 3, 4])), batchKey(tensor('float32', [2, 34])), 'rank differs');
  t.not(batchKey(tensor('float32', [2])), batchKey(tensor('float32', [2, 1])), 'rank 1 vs rank 2');
  t.not(batchKey(tensor('uint8', [2, 3])), batchKey(tensor('bool', [2, 3])), 'same storage, different dtype');

  // exhaustive over small shapes: key equality must coincide with (dtype, dims[1..]) equality
  const dtypes: DType[] = ['float32', 'int8', 'bool'];
  const shapes: number[][] = [[1], [2], [1, 1], [2, 1], [1, 11], [1, 1, 1], [3, 1, 11], [3, 11, 1], [1, 111], [4, 0], [4, 0, 1], [2, 10, 1]];
  const mismatches: string[] = [];
  for (const da of dtypes) for (const a of shapes) for (const db of dtypes) for (const b of shapes) {
    const same = da === db && JSON.stringify(a.slice(1)) === JSON.stringify(b.slice(1));
    if ((batchKey(tensor(da, a)) === batchKey(tensor(db, b))) !== same) mismatches.push(`${da}${JSON.stringify(a)} vs ${db}${JSON.stringify(b)}`);
  }
  t.strictSame(mismatches, []);
});

t.test('float16: known conversions', async (t) => {
  t.equal(f32ToF16(1), 0x3c00, '1');
  t.equal(f32ToF16(-2), 0xc000, '-2');
  t.equal(f32ToF16(65504), 0x7bff, 'largest finite');
  t.equal(f32ToF16(Infinity), 0x7c00, '+Infinity');
  t.equal(f32ToF16(-Infinity), 0xfc00, '-Infinity');
  t.equal(f32ToF16(2 ** -24), 0x0001, 'smallest subnormal');
  t.equal(f32ToF16(2 ** -14), 0x0400, 'smallest normal');
  t.equal(f32ToF16(0.1), 0x2e66, '0.1 rounds to 0x2e66');
  t.equal(f32ToF16(0), 0x0000, '+0');
  t.equal(f32ToF16(-0), 0x8000, '-0 keeps its sign');
  t.equal(f32ToF16(65519), 0x7bff, 'just below the rounding boundary to Infinity');
  t.equal(f32ToF16(65520), 0x7c00, '65520 rounds to Infinity');
  t.equal(f32ToF16(1e10), 0x7c00, 'overflow is Infinity');
  t.equal(f32ToF16(2 ** -25), 0x0000, 'half the smallest subnormal: tie to even (0)');
  t.equal(f32ToF16(3 * 2 ** -25), 0x0002, '1.5 subnormal units: tie to even (2)');
  t.equal(f32ToF16(1 + 2 ** -11), 0x3c00, 'tie between 1 and 1+2^-10 goes to even (1)');
  t.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02, 'tie between 0x3c01 and 0x3c02 goes to even');
  t.equal(f32ToF16(2 ** -14 - 2 ** -25), 0x0400, 'subnormal rounding up carries into the smallest normal');
  t.equal(f32ToF16(1e-10), 0x0000, 'underflow is zero');
  t.equal(f32ToF16(-1e-10), 0x8000, 'negative underflow is -0');

  const nanBits = f32ToF16(NaN);
  t.equal(nanBits & 0x7c00, 0x7c00, 'NaN: exponent all ones');
  t.not(nanBits & 0x03ff, 0, 'NaN: mantissa non-zero');
  t.ok(Number.isNaN(f16ToF32(nanBits)), 'NaN is NaN');
  t.ok(Number.isNaN(f16ToF32(0x7e00)), '0x7e00 is NaN');

  t.equal(f16ToF32(0x3c00), 1);
  t.equal(f16ToF32(0xc000), -2);
  t.equal(f16ToF32(0x7bff), 65504);
  t.equal(f16ToF32(0x0001), 2 ** -24);
  t.equal(f16ToF32(0x03ff), 1023 * 2 ** -24, 'largest subnormal');
  t.equal(f16ToF32(0x0400), 2 ** -14);
  t.equal(f16ToF32(0x7c00), Infinity);
  t.equal(f16ToF32(0xfc00), -Infinity);
  t.ok(Object.is(f16ToF32(0x8000), -0), '0x8000 is -0');
  t.equal(f16ToF32(0x2e66), F16_OF_0_1);
});

t.test('float16: every non-NaN bit pattern survives f16 -> number -> f16', async (t) => {
  const bad: number[] = [];
  let nans = 0;
  for (let b = 0; b < 0x10000; b++) {
    const isNaNPattern = (b & 0x7c00) === 0x7c00 && (b & 0x03ff) !== 0;
    if (isNaNPattern) {
      if (Number.isNaN(f16ToF32(b))) nans++;
      else bad.push(b);
      continue;
    }
    if (f32ToF16(f16ToF32(b)) !== b) bad.push(b);
  }
  t.strictSame(bad.slice(0, 10), [], 'no bit pattern changes');
  t.equal(nans, 2 * 1023, 'all 2046 NaN patterns decode to NaN');
});

t.test('float16: a JS number is rounded once, to the nearest float16 (no double rounding through float32)', async (t) => {
  // 1 + 2^-11 is the exact midpoint between 0x3c00 (1) and 0x3c01 (1 + 2^-10); a number just above
  // it is nearer to 0x3c01. Rounding to float32 first lands exactly on the midpoint, which then ties to even.
  t.equal(f32ToF16(1 + 2 ** -11 + 2 ** -40), 0x3c01, 'just above a midpoint rounds up');
  t.equal(f32ToF16(1 + 2 ** -11 - 2 ** -40), 0x3c00, 'just below a midpoint rounds down');
  // the same in the subnormal range: just above half the smallest subnormal is nearer to 2^-24 than to 0
  t.equal(f32ToF16(2 ** -25 + 2 ** -50), 0x0001, 'just above half the smallest subnormal');
  t.strictSame(toNested(fromNested([1 + 2 ** -11 + 2 ** -40], 'float16')), [1 + 2 ** -10], 'through the JSON decoder');
});

// ---- bounded walks: deep arrays, shape bombs, counts compared before allocating ----

/** An outer array of n numbers whose first element is an array of n numbers: it claims n × n. */
function shapeBomb(n: number): unknown[] {
  const outer: unknown[] = new Array(n).fill(1);
  outer[0] = new Array(n).fill(1);
  return outer;
}

t.test('shapeOf reads the claimed shape iteratively, at most limit + 1 dims', async (t) => {
  const deep = JSON.parse(`${'['.repeat(20_000)}1${']'.repeat(20_000)}`) as unknown;
  t.equal(shapeOf(deep).length, MAX_RANK + 1, 'the default limit: one past MAX_RANK');
  t.strictSame(shapeOf(deep, 2), [1, 1, 1], 'limit 2: three dims');
  t.strictSame(shapeOf([[1, 2, 3], [4]]), [2, 3], 'only the first elements are read');
  t.strictSame(shapeOf([[], [1]]), [2, 0]);
  t.strictSame(shapeOf(5), []);
});

t.test('checkRectangular checks every inner array and never reads a leaf', async (t) => {
  const row = [1, 2, 3];
  // a leaf that throws when read: the check must not touch it
  Object.defineProperty(row, 1, { get: () => { throw new Error('a leaf was read'); } });
  t.doesNotThrow(() => checkRectangular([row, [4, 5, 6]], [2, 3], 'x'), 'leaves are not read');
  t.doesNotThrow(() => checkRectangular([[{}, 'a'], [null, [7]]], [2, 2], 'x'), 'whatever the leaves are');
  t.doesNotThrow(() => checkRectangular(7, [], 'x'), 'rank 0');
  for (const [v, dims] of [
    [[[1, 2], [3]], [2, 2]],
    [[[1, 2], 3], [2, 2]],
    [[1, 2], [3]],
    [[[1], [2]], [2, 2]],
    [shapeBomb(1000), [1000, 1000]],
  ] as [unknown, number[]][]) {
    throwsTensorError(t, () => checkRectangular(v, dims, 'x'), 'SHAPE_MISMATCH', ['"x"', 'ragged'], `${dims}: ragged`);
  }
});

t.test('fromNested: a 20,000-deep array and a shape bomb are TensorErrors, not RangeErrors', async (t) => {
  const deep = JSON.parse(`${'['.repeat(20_000)}1${']'.repeat(20_000)}`) as unknown;
  for (const dtype of ['float32', 'int64', 'uint8'] as DType[]) {
    throwsTensorError(t, () => fromNested(deep, dtype, 'x'), 'SHAPE_MISMATCH', ['"x"', `more than ${MAX_RANK}`], `${dtype}: deep`);
    // 70,000 × 70,000 would be 4.9e9 elements: a RangeError (or 39 GB) if allocated from the claim
    throwsTensorError(t, () => fromNested(shapeBomb(70_000), dtype, 'x'), 'SHAPE_MISMATCH', ['"x"', 'ragged', 'depth 1'], `${dtype}: shape bomb`);
  }
  const ok = JSON.parse(`${'['.repeat(MAX_RANK)}1${']'.repeat(MAX_RANK)}`) as unknown;
  t.equal(fromNested(ok, 'float32').dims.length, MAX_RANK, 'MAX_RANK deep still decodes');
});

t.test('fromDimsData compares counts before allocating; nested data is checked rectangular first', async (t) => {
  throwsTensorError(t, () => fromDimsData([70_000, 70_000], [1, 2, 3], 'float32', 'x'), 'SHAPE_MISMATCH', ['3 values', '4900000000'], 'dims claiming 4.9e9');
  throwsTensorError(t, () => fromDimsData([2 ** 53, 2 ** 53, 2 ** 53], [1], 'int64', 'x'), 'SHAPE_MISMATCH', ['1 values'], 'a product past 2^53');
  throwsTensorError(t, () => fromDimsData([70_000, 70_000], shapeBomb(70_000), 'float32', 'x'), 'SHAPE_MISMATCH', ['ragged'], 'nested data that claims 4.9e9');
  const deep = JSON.parse(`${'['.repeat(20_000)}1${']'.repeat(20_000)}`) as unknown[];
  throwsTensorError(t, () => fromDimsData([1], deep, 'float32', 'x'), 'SHAPE_MISMATCH', [`more than ${MAX_RANK}`], 'deep data');
  throwsTensorError(t, () => fromDimsData([deep as unknown as number], [1], 'float32', 'x'), 'INVALID_INPUT', ['non-negative integers', '[[…]]'], 'a deep dim, previewed');
  t.strictSame(toNested(fromDimsData([2, 2], [[1, 2], [3, 4]], 'float32', 'x')), [[1, 2], [3, 4]], 'nested data as before');
  t.strictSame(toNested(fromDimsData([4], [[1, 2], [3, 4]], 'int32', 'x')), [1, 2, 3, 4], 'nested data of another shape, same count');
});

t.test('elementCount: 0 wins over overflow; the product may pass 2^53 (callers compare, never allocate)', async (t) => {
  t.equal(elementCount([]), 1);
  t.equal(elementCount([3, 4]), 12);
  t.equal(elementCount([2 ** 53, 2 ** 53, 2 ** 53, 2 ** 53, 2 ** 53, 2 ** 53, 0]), 0, 'not NaN (Infinity × 0)');
  t.equal(elementCount(Array(30).fill(2 ** 52)), Infinity);
  t.notOk(Number.isSafeInteger(elementCount([70_000, 70_000, 70_000, 70_000])));
});

// ---- the one-pass fill and the checked path it falls back to ----

t.test('every dtype: the one-pass fill gives exactly what the checked path gives', async (t) => {
  for (const dtype of ALL_DTYPES) {
    const flat = Array.from({ length: 24 }, (_, i) => SAMPLES[dtype].input[i % 6]);
    const direct = fromDimsData([4, 6], flat, dtype, 'x'); // flat data of the right count: one pass
    // the same values nested under dims of the same count: 4 rows, not 24 values, so the checked path
    const rows = [0, 6, 12, 18].flatMap((at) => rows2x3(flat.slice(at, at + 6))); // 8 rows of 3
    const checked = fromDimsData([4, 6], rows, dtype, 'x');
    t.strictSame(direct.dims, [4, 6], `${dtype}: dims`);
    t.ok(direct.data instanceof (SAMPLES[dtype].ctor as typeof Float32Array), `${dtype}: storage`);
    t.strictSame(Array.from(direct.data as ArrayLike<unknown>), Array.from(checked.data as ArrayLike<unknown>), `${dtype}: same elements`);
    t.strictSame(toNested(fromNested([flat.slice(0, 12), flat.slice(12)], dtype)), [flat.slice(0, 12), flat.slice(12)].map((r) => r.map((_, i) => SAMPLES[dtype].output[i % 6])), `${dtype}: nested, one pass`);
  }
});

t.test('a bad value anywhere falls back to the checked path and its error, for every dtype', async (t) => {
  const bad: Record<DType, unknown> = { float32: 'x', float64: null, float16: 1e6, int8: 200, uint8: -1, int16: 1.5, uint16: '1', int32: 2 ** 31, uint32: -0.5, int64: '1.5', uint64: -1, bool: 2 };
  for (const dtype of ALL_DTYPES) {
    const ok = SAMPLES[dtype].input[0];
    for (const at of [0, 5, 11]) {
      const flat = Array.from({ length: 12 }, (_, i) => (i === at ? bad[dtype] : ok));
      throwsTensorError(t, () => fromDimsData([3, 4], flat, dtype, 'v'), 'DTYPE_MISMATCH', ['"v"', `element ${at}`, dtype], `${dtype}: {dims,data} element ${at}`);
      throwsTensorError(t, () => fromNested([flat.slice(0, 6), flat.slice(6)], dtype, 'v'), 'DTYPE_MISMATCH', ['"v"', `element ${at}`, dtype], `${dtype}: nested element ${at}`);
    }
  }
});

t.test('the checked path still decides what the one-pass fill refuses', async (t) => {
  // a leaf that is an array is ragged (SHAPE_MISMATCH), even after a bad value earlier in the row
  throwsTensorError(t, () => fromNested([['a', [1]]], 'float32', 'x'), 'SHAPE_MISMATCH', ['"x"', 'ragged'], 'an array where a leaf should be');
  throwsTensorError(t, () => fromDimsData([2], ['a', [1]], 'float32', 'x'), 'SHAPE_MISMATCH', ['"x"', 'ragged'], 'the same in flat data of the right count');
  // nested data whose count matches dims decodes on the checked path
  t.strictSame(Array.from(fromDimsData([2, 1], [[1], [2]], 'int32', 'x').data as Int32Array), [1, 2], 'nested data, as many rows as values');
  // JSON.parse reads 1e400 as Infinity: refused as too large for either float dtype
  const inf = JSON.parse('[1, 1e400]') as number[];
  throwsTensorError(t, () => fromDimsData([2], inf, 'float64', 'x'), 'DTYPE_MISMATCH', ['element 1', 'too large'], 'float64 1e400');
  throwsTensorError(t, () => fromNested([inf], 'float32', 'x'), 'DTYPE_MISMATCH', ['element 1', 'too large'], 'float32 1e400');
  // the largest float32 and the value just below the rounding boundary decode; the boundary itself does not
  const f32max = 3.4028234663852886e38;
  t.strictSame(Array.from(fromDimsData([2], [f32max, 3.4028235677973362e38], 'float32', 'x').data as Float32Array), [f32max, f32max], 'below the boundary rounds to the largest float32');
  throwsTensorError(t, () => fromDimsData([1], [3.4028235677973366e38], 'float32', 'x'), 'DTYPE_MISMATCH', ['element 0', 'too large'], 'the boundary rounds to Infinity');
  t.equal(fromDimsData([0], [], 'float32', 'x').data.length, 0, 'no values');
});
