// float32Text / toJsonText against a brute-force reference: for 1, 2, … 9 digits, the decimals
// next to the value (toExponential) judged by the round trip itself, Math.fround(Number(s)),
// the closest by exact BigInt arithmetic, laid out by String(Number(s)). Edge cases, a seeded
// sample of a million bit patterns, and a cheaper shortness check over two million more.
import t from 'tap';
import { float32Text } from '../../src/tensors/float32-text.js';
import { toJsonText } from '../../src/tensors/encode.js';
import { mulberry32 } from '../helpers/random.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (b: number): number => {
  u32[0] = b >>> 0;
  return f32[0]!;
};
const bitsOf = (x: number): number => {
  f32[0] = x;
  return u32[0]!;
};

/** |c × 10^exp − x| compared exactly for two candidates: negative when a is the closer. */
function compareDistance(a: { c: number; exp: number }, b: { c: number; exp: number }, x: number): number {
  const bits = bitsOf(x);
  const ex = (bits >>> 23) & 0xff;
  const m = BigInt(ex === 0 ? bits & 0x7fffff : (bits & 0x7fffff) | 0x800000);
  const q = ex === 0 ? -149 : ex - 150;
  // everything times 2^Q × 10^E, with Q and E large enough to make every term an integer
  const Q = BigInt(Math.max(0, -q));
  const E = Math.max(0, -a.exp, -b.exp);
  const scaled = (c: number, exp: number): bigint => BigInt(c) * 10n ** BigInt(exp + E) << Q;
  const xs = (m << (BigInt(q) + Q)) * 10n ** BigInt(E);
  const da = scaled(a.c, a.exp) - xs;
  const db = scaled(b.c, b.exp) - xs;
  const abs = (v: bigint): bigint => (v < 0n ? -v : v);
  return abs(da) < abs(db) ? -1 : abs(da) > abs(db) ? 1 : 0;
}

function reference(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (x === 0) return '0';
  const a = Math.abs(x);
  for (let p = 1; p <= 9; p++) {
    const [mant, e] = a.toExponential(p - 1).split('e') as [string, string];
    const n = Number(mant.replace('.', ''));
    const exp = Number(e) - (p - 1);
    const candidates = [{ c: n - 1, exp }, { c: n, exp }, { c: n + 1, exp }];
    if (n === 10 ** (p - 1)) candidates.push({ c: 10 ** p - 1, exp: exp - 1 }); // just below a power of ten
    const valid = candidates.filter(({ c, exp }) => c > 0 && Math.fround(Number(`${c}e${exp}`)) === a);
    if (valid.length === 0) continue;
    let best = valid[0]!;
    for (const v of valid.slice(1)) {
      const cmp = compareDistance(v, best, a);
      // a tie goes to the even last digit, counted at the finer of the two scales
      const fine = Math.min(v.exp, best.exp);
      if (cmp < 0 || (cmp === 0 && (v.c * 10 ** (v.exp - fine)) % 2 === 0)) best = v;
    }
    return (x < 0 ? '-' : '') + String(Number(`${best.c}e${best.exp}`));
  }
  throw new Error(`reference found no text for ${x}`);
}

/** Checks every bit pattern: the text matches the reference and reads back as the same float32. */
function checkAll(bitPatterns: Iterable<number>): string[] {
  const bad: string[] = [];
  for (const b of bitPatterns) {
    const x = fromBits(b);
    const got = float32Text(x);
    const want = reference(x);
    if (got !== want) bad.push(`bits 0x${(b >>> 0).toString(16)} (${x}): ${got}, expected ${want}`);
    if (bad.length >= 10) break;
  }
  return bad;
}

function* around(center: number, radius: number): Generator<number> {
  for (let d = -radius; d <= radius; d++) {
    const b = center + d;
    if (b >= 0 && b <= 0x7f7fffff) {
      yield b;
      yield (b | 0x80000000) >>> 0;
    }
  }
}

t.test('chosen values have exact texts', async (t) => {
  const cases: [number, string][] = [
    [0.1, '0.1'],
    [1 / 3, '0.33333334'],
    [0.3, '0.3'],
    [1, '1'],
    [-1, '-1'],
    [0.5, '0.5'],
    [-2.75, '-2.75'],
    [Math.PI, '3.1415927'],
    [2 ** -149, '1e-45'],
    [2 ** -148, '3e-45'],
    [2 ** -126, '1.1754944e-38'],
    [2 ** -24, '5.9604645e-8'],
    [fromBits(0x7f7fffff), '3.4028235e+38'],
    [-fromBits(0x7f7fffff), '-3.4028235e+38'],
    [2 ** 24, '16777216'],
    [2 ** 24 + 2, '16777218'],
    [123456789, '123456790'],
    [1e10, '10000000000'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [1e38, '1e+38'],
    [1e-6, '0.000001'],
    [1.5e-6, '0.0000015'],
    [1e-7, '1e-7'],
    [9.5e-7, '9.5e-7'],
    [0, '0'],
    [-0, '0'],
    [NaN, 'null'],
    [Infinity, 'null'],
    [-Infinity, 'null'],
  ];
  for (const [x, want] of cases) t.equal(float32Text(x), want, `${x}`);
  for (const [x, want] of cases) t.equal(reference(Math.fround(x)), want, `the reference agrees on ${x}`);
});

t.test('every text reads back as the same float32 and is valid JSON', async (t) => {
  const rand = mulberry32(7);
  const bad: string[] = [];
  for (let i = 0; i < 200_000 && bad.length < 10; i++) {
    const b = Math.floor(rand() * 2 ** 32);
    if ((b & 0x7f800000) === 0x7f800000) continue;
    const x = fromBits(b);
    const s = float32Text(x);
    const back = JSON.parse(s) as number;
    if (bitsOf(back) !== b && !(x === 0 && back === 0)) bad.push(`0x${b.toString(16)}: ${s} reads back as ${back}`);
  }
  t.strictSame(bad, []);
});

t.test('edge cases match the reference', async (t) => {
  const patterns: number[] = [];
  for (let b = 1; b <= 3000; b++) patterns.push(b); // the smallest subnormals
  patterns.push(...around(0x007fffff, 2000)); // largest subnormals, smallest normals
  patterns.push(...around(0x7f7fffff, 2000)); // the largest float32
  for (let ex = 1; ex <= 254; ex++) patterns.push(...around(ex << 23, 3)); // powers of two
  for (let k = -45; k <= 38; k++) patterns.push(...around(bitsOf(10 ** k), 50)); // powers of ten
  for (const x of [1e-7, 1e-6, 1e20, 1e21]) patterns.push(...around(bitsOf(x), 3000)); // where the notation switches
  for (let i = 0; i <= 20_000; i++) patterns.push(bitsOf(i), bitsOf(2 ** 24 + i * 7)); // integers
  for (let k = -45; k <= 38; k++) for (let d = 1; d < 1000; d += 7) patterns.push(bitsOf(d * 10 ** k)); // short decimals
  t.strictSame(checkAll(patterns), [], `${patterns.length} bit patterns`);
});

t.test('400,000 seeded random bit patterns match the reference', async (t) => {
  const rand = mulberry32(0xf32);
  function* random(): Generator<number> {
    for (let i = 0; i < 400_000; ) {
      const b = Math.floor(rand() * 2 ** 32);
      if ((b & 0x7f800000) === 0x7f800000) continue; // NaN and Infinity: pinned above
      i++;
      yield b;
    }
  }
  t.strictSame(checkAll(random()), []);
});

t.test('two million more: round trip, and one digit fewer never reads back', async (t) => {
  const rand = mulberry32(0x5407);
  const bad: string[] = [];
  for (let i = 0; i < 2_000_000 && bad.length < 10; i++) {
    const b = Math.floor(rand() * 0x7f800000); // positive finite
    const x = fromBits(b);
    const s = float32Text(x);
    if (Math.fround(Number(s)) !== x) bad.push(`${x}: ${s} does not read back`);
    const digits = s.replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
    if (digits > 1) {
      // the decimals of digits - 1 digits on either side of x (and below a power of ten)
      const [mant, e] = x.toExponential(digits - 2).split('e') as [string, string];
      const n = Number(mant.replace('.', ''));
      const exp = Number(e) - (digits - 2);
      for (const [c, ce] of [[n - 1, exp], [n, exp], [n + 1, exp], [10 ** (digits - 1) - 1, exp - 1]] as [number, number][]) {
        if (c > 0 && Math.fround(Number(`${c}e${ce}`)) === x) bad.push(`${x}: ${s}, but ${c}e${ce} is shorter`);
      }
    }
  }
  t.strictSame(bad, []);
});

t.test('toJsonText writes float32 tensors with these texts', async (t) => {
  const data = Float32Array.of(0.1, -0, NaN, 1e21, 2 ** -149, -Infinity);
  t.equal(toJsonText({ dtype: 'float32', dims: [2, 3], data }), '[[0.1,0,null],[1e+21,1e-45,null]]');
  t.equal(toJsonText({ dtype: 'float32', dims: [], data: Float32Array.of(1 / 3) }), '0.33333334', 'a scalar');
  t.equal(toJsonText({ dtype: 'float32', dims: [2, 0], data: new Float32Array(0) }), '[[],[]]');
  t.equal(toJsonText({ dtype: 'float32', dims: [0, 3], data: new Float32Array(0) }), '[]');
  const rand = mulberry32(3);
  const big = Float32Array.from({ length: 4 * 5 * 1000 }, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 20 - 10));
  const text = toJsonText({ dtype: 'float32', dims: [4, 5, 1000], data: big });
  const back = Float32Array.from((JSON.parse(text) as number[][][]).flat(2));
  t.strictSame(new Uint32Array(back.buffer), new Uint32Array(big.buffer), '20,000 values read back bit for bit');
  let k = 0;
  const rows = (n: number, inner: () => string): string => `[${Array.from({ length: n }, inner).join(',')}]`;
  t.equal(text, rows(4, () => rows(5, () => rows(1000, () => float32Text(big[k++]!)))), 'the nesting of the dims, one float32Text per value');
});
