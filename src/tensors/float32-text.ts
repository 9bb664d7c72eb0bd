// The shortest JSON text of float32 values: the fewest significant digits s for which
// Math.fround(Number(s)) gives the value back, the closest such s to the value (a tie goes to
// the even last digit), laid out as Number.prototype.toString lays out numbers (exponent
// notation from 1e21 up and below 1e-6). 0.1f is "0.1", not the double's 0.10000000149011612.
// Non-finite values are "null" and -0 is "0", as JSON.stringify writes them. Pure.
//
// Double arithmetic finds the digits: a float32's rounding interval is ~2^-24 of its value wide
// and a product in doubles is off by ~2^-52, so a candidate decides by a clear margin except
// when it sits within 2^-44 of a boundary or of a tie. Those (mostly values with few mantissa
// bits, such as large integers, whose boundaries and midpoints are short decimals) are decided
// again carefully: the round trip itself judges a candidate at a boundary, exact arithmetic a tie.

/** P10[j + P10_OFF]: the double nearest 10^j. */
const P10_OFF = 64;
const P10 = Float64Array.from({ length: 2 * P10_OFF + 1 }, (_, i) => Number(`1e${i - P10_OFF}`));

/** POW2[k + POW2_OFF] = 2^k, exact. */
const POW2_OFF = 200;
const POW2 = Float64Array.from({ length: 2 * POW2_OFF + 1 }, (_, i) => 2 ** (i - POW2_OFF));

/** 5^0 … 5^22, exact. */
const POW5 = Float64Array.from({ length: 23 }, (_, i) => 5 ** i);

const LOG10_2 = 0.3010299956639812;
/** Relative margin within which a double comparison does not decide (250 times the error of two roundings). */
const TOL = 2 ** -44;
const NONE = -1;
const UNSURE = -2;

/**
 * The candidate of scale j (v ≈ x / 10^j) closest to v inside (lo, hi), NONE if there is none,
 * UNSURE if a boundary or a tie is too close to call. By convexity only floor(x) and
 * floor(x) + 1 need looking at: any valid candidate further out implies one of them is valid.
 */
function probe(v: number, lo: number, hi: number, j: number): number {
  const p = P10[j + P10_OFF]!;
  const x = v * p;
  const tol = x * TOL;
  const k0 = Math.floor(x);
  const d0 = k0 - lo * p;
  const d1 = hi * p - (k0 + 1);
  if ((d0 <= tol && d0 >= -tol) || (d1 <= tol && d1 >= -tol)) return UNSURE;
  const ok0 = d0 > tol;
  const ok1 = d1 > tol;
  if (ok0 && ok1) {
    const f = x - k0 - 0.5;
    if (f <= tol && f >= -tol) return UNSURE;
    return f < 0 ? k0 : k0 + 1;
  }
  return ok0 ? k0 : ok1 ? k0 + 1 : NONE;
}

function roundTrips(c: number, j: number, v: number): boolean {
  return Math.fround(Number(`${c}e${-j}`)) === v;
}

/** probe's answer where it was UNSURE, decided exactly; v = m × 2^q. */
function carefulProbe(v: number, lo: number, hi: number, j: number, m: number, q: number): number {
  const p = P10[j + P10_OFF]!;
  const x = v * p;
  const tol = x * TOL;
  const k0 = Math.floor(x);
  const a = lo * p;
  const b = hi * p;
  const ok0 = k0 > 0 && (k0 - a <= tol && k0 - a >= -tol ? roundTrips(k0, j, v) : k0 > a);
  const ok1 = b - (k0 + 1) <= tol && b - (k0 + 1) >= -tol ? roundTrips(k0 + 1, j, v) : k0 + 1 < b;
  if (!ok0 || !ok1) return ok0 ? k0 : ok1 ? k0 + 1 : NONE;
  const f = x - k0 - 0.5;
  if (f > tol) return k0 + 1;
  if (f < -tol) return k0;
  const side = tieSide(m, q, j, 2 * k0 + 1);
  return side < 0 ? k0 : side > 0 ? k0 + 1 : k0 % 2 === 0 ? k0 : k0 + 1;
}

/** The sign of 2v × 10^j − n, exactly (v = m × 2^q): in doubles while the products stay below 2^53. */
function tieSide(m: number, q: number, j: number, n: number): number {
  const t = q + 1 + j;
  if (j >= 0 && j <= 22 && m * POW5[j]! < 2 ** 53) {
    const lhs = m * POW5[j]! * POW2[t + POW2_OFF]!; // 2v × 10^j = m × 5^j × 2^(q+1+j)
    return lhs < n ? -1 : lhs > n ? 1 : 0;
  }
  if (j < 0 && -j <= 22 && n * POW5[-j]! < 2 ** 53) {
    const lhs = m * POW2[t + POW2_OFF]!; // both sides divided by 2^-j: m × 2^(q+1+j) against n × 5^-j
    const rhs = n * POW5[-j]!;
    return lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
  }
  let num = BigInt(m);
  let den = 1n;
  if (j >= 0) num *= 10n ** BigInt(j);
  else den *= 10n ** BigInt(-j);
  if (q + 1 >= 0) num <<= BigInt(q + 1);
  else den <<= BigInt(-(q + 1));
  const d = num - BigInt(n) * den;
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** Set by digitsOf: the value is digitsOf(...) × 10^-resultScale. */
let resultScale = 0;

/** The shortest digits of a positive finite float32 `v` whose bits (sign cleared) are `bits`. */
function digitsOf(v: number, bits: number): number {
  const ex = bits >>> 23;
  const mant = bits & 0x7fffff;
  const m = ex === 0 ? mant : mant | 0x800000;
  const q = ex === 0 ? -149 : ex - 150;
  const half = POW2[q - 1 + POW2_OFF]!;
  const lo = mant === 0 && ex > 1 ? v - half / 2 : v - half; // a power of two has a closer neighbour below
  const hi = v + half;
  const e2 = ex === 0 ? 31 - Math.clz32(mant) - 149 : ex - 127;
  let e = Math.floor(e2 * LOG10_2);
  if (v >= P10[e + 1 + P10_OFF]!) e++;
  // most float32 values need 8 or 9 digits: try 8 first, then 9 or fewer
  let j = 7 - e;
  let c = probe(v, lo, hi, j);
  if (c === UNSURE) c = carefulProbe(v, lo, hi, j, m, q);
  if (c === NONE) {
    j = 8 - e;
    c = probe(v, lo, hi, j);
    if (c === UNSURE) c = carefulProbe(v, lo, hi, j, m, q);
    if (c === NONE) throw new Error(`no 9-digit decimal reads back as float32 ${v}`); // 9 digits always do
    resultScale = j;
    return c;
  }
  let scale = j;
  for (j = 6 - e; j >= -e; j--) {
    let fewer = probe(v, lo, hi, j);
    if (fewer === UNSURE) fewer = carefulProbe(v, lo, hi, j, m, q);
    if (fewer === NONE) break;
    c = fewer;
    scale = j;
  }
  resultScale = scale;
  return c;
}

const ZERO = 48;

/** QUADS[n] for n < 10^4: its four digits as the bytes of a little-endian uint32 ("0042" for 42). */
const QUADS = Uint32Array.from({ length: 10000 }, (_, n) => {
  const d = [Math.floor(n / 1000), Math.floor(n / 100) % 10, Math.floor(n / 10) % 10, n % 10];
  return (ZERO + d[0]!) | ((ZERO + d[1]!) << 8) | ((ZERO + d[2]!) << 16) | ((ZERO + d[3]!) << 24);
});

/**
 * Writes n (< 10^len, len 1…9) as exactly len digits, leading zeros kept, four at a time (one
 * division per four digits, not per digit); returns the end. Each store is four bytes wide and
 * may scribble up to 3 bytes past the end: the writes that follow overwrite them, and the
 * caller cuts the text at the last end.
 */
function putDigits(view: DataView, pos: number, n: number, len: number): number {
  if (len > 8) {
    const top = (n / 100000000) | 0;
    view.setUint8(pos++, ZERO + top);
    n -= top * 100000000;
    len = 8;
  }
  if (len > 4) {
    const high = (n / 10000) | 0;
    view.setUint32(pos, QUADS[high]! >>> (8 * (8 - len)), true);
    pos += len - 4;
    n -= high * 10000;
    len = 4;
  }
  view.setUint32(pos, QUADS[n]! >>> (8 * (4 - len)), true);
  return pos + len;
}

/** Bytes writeFloat32 may scribble past the end of what it writes. */
export const FLOAT32_TEXT_SPILL = 3;

/**
 * Writes the JSON text of one float32 (`x` its value, `bits` its IEEE bits) at out[pos], `view`
 * being a DataView of out's bytes; returns the end. Needs FLOAT32_TEXT_MAX + FLOAT32_TEXT_SPILL bytes.
 */
export function writeFloat32(x: number, bits: number, out: Uint8Array, view: DataView, pos: number): number {
  if ((bits & 0x7f800000) === 0x7f800000) {
    view.setUint32(pos, 0x6c6c756e, true); // "null"
    return pos + 4;
  }
  const abs = bits & 0x7fffffff;
  if (abs === 0) {
    out[pos] = ZERO;
    return pos + 1;
  }
  if (abs !== bits) out[pos++] = 45; // '-'
  // int32 arithmetic from here (c <= 10^9): a double's % and floor cost more than the search
  let c = digitsOf(x < 0 ? -x : x, abs) | 0;
  let j = resultScale;
  while (c % 10 === 0) {
    c = (c / 10) | 0;
    j--;
  }
  const nd = digitCount(c);
  const exp = nd - 1 - j; // the decimal exponent of the first digit
  if (exp >= 21 || exp < -6) {
    const first = (c / P10[nd - 1 + P10_OFF]!) | 0;
    out[pos++] = ZERO + first;
    if (nd > 1) {
      out[pos++] = 46; // '.'
      pos = putDigits(view, pos, c - first * P10[nd - 1 + P10_OFF]!, nd - 1);
    }
    out[pos++] = 101; // 'e'
    out[pos++] = exp < 0 ? 45 : 43;
    const a = exp < 0 ? -exp : exp;
    if (a >= 10) out[pos++] = ZERO + ((a / 10) | 0);
    out[pos++] = ZERO + (a % 10);
    return pos;
  }
  if (exp >= nd - 1) {
    pos = putDigits(view, pos, c, nd);
    for (let i = nd - 1; i < exp; i++) out[pos++] = ZERO; // an integer's trailing zeros
    return pos;
  }
  if (exp >= 0) {
    const fraction = nd - 1 - exp; // digits after the point
    const whole = (c / P10[fraction + P10_OFF]!) | 0;
    pos = putDigits(view, pos, whole, exp + 1);
    out[pos++] = 46; // '.'
    return putDigits(view, pos, c - whole * P10[fraction + P10_OFF]!, fraction);
  }
  out[pos++] = ZERO;
  out[pos++] = 46;
  for (let i = -1; i > exp; i--) out[pos++] = ZERO;
  return putDigits(view, pos, c, nd);
}

function digitCount(c: number): number {
  if (c < 10000) return c < 100 ? (c < 10 ? 1 : 2) : c < 1000 ? 3 : 4;
  if (c < 10000000) return c < 100000 ? 5 : c < 1000000 ? 6 : 7;
  return c < 100000000 ? 8 : 9;
}

/** Longest text writeFloat32 writes: "-123456789000000000000" (the sign and 21 digits). */
export const FLOAT32_TEXT_MAX = 22;

const one = new Float32Array(1);
const oneBits = new Uint32Array(one.buffer);
const oneOut = Buffer.alloc(FLOAT32_TEXT_MAX + FLOAT32_TEXT_SPILL); // a Buffer, as toJsonText writes into: one kind of array for writeFloat32
const oneView = new DataView(oneOut.buffer, oneOut.byteOffset, oneOut.byteLength);

/** The JSON text of Math.fround(x). */
export function float32Text(x: number): string {
  one[0] = x;
  return oneOut.toString('latin1', 0, writeFloat32(one[0]!, oneBits[0]!, oneOut, oneView, 0));
}
