// How long one session.run takes for a batch of `rows` rows, learned from measured runs. Two
// predictors side by side, a forgetting least-squares line and a table by batch size, and the one
// that has predicted the recent runs better answers. Pure: no I/O, no timers.

export interface CostSample {
  rows: number;
  ms: number;
}

export interface CostModelView {
  /** The predictor `predict` uses now. */
  using: 'linear' | 'table';
  /** null before any sample. */
  linear: { fixedMs: number; perRowMs: number } | null;
  /** Populated buckets, ascending: upper bound of the bucket, mean rows seen, mean ms, samples. */
  table: { upTo: number; rows: number; ms: number; runs: number }[];
  /** Mean absolute relative error of each predictor over the scored runs (NaN before any). */
  error: { linear: number; table: number };
  /** Serve-time runs observed (scored), and seed samples. */
  runs: number;
  seeded: number;
}

/** Bucket upper bounds 2^0 … 2^16. */
const BUCKETS = 17;
/** Floor of a bucket's step: a busy bucket follows a change within tens of its own runs. */
const TABLE_ALPHA = 0.05;
const SCORE_ALPHA = 0.05;
/** Scored runs before the errors decide: fewer say little. */
const WARM_RUNS = 20;
/** Relative errors of runs near 0 ms would be huge for nothing. */
const MIN_MS = 0.001;

const valid = (rows: number, ms: number): boolean => rows >= 1 && rows < Infinity && ms >= 0 && ms < Infinity;

/** Index of the bucket of `rows` (≥ 1): the smallest power of two ≥ rows, rows past 2^16 in the last. */
function bucketOf(rows: number): number {
  const n = Math.ceil(rows);
  if (n <= 1) return 0;
  if (n > 2 ** (BUCKETS - 1)) return BUCKETS - 1;
  return 32 - Math.clz32(n - 1);
}

const round4 = (x: number): number => (Number.isFinite(x) && x !== 0 ? Number(x.toPrecision(4)) : x);

export class CostModel {
  private readonly decay: number;
  // Weighted mean point and centred co-moments rather than raw sums: at thousands of rows, raw
  // Sxx − Sx²/Sw cancels most of its digits.
  private w = 0;
  private mx = 0;
  private my = 0;
  private cxx = 0;
  private cxy = 0;
  private firstRows = NaN;
  private distinct = false;
  private fixedMs = 0;
  private perRowMs = 0;
  /** The last slope the spread of rows determined, NaN before one did. */
  private lastSlope = NaN;
  // Counts as floats: at thousands of runs a second a 32-bit count wraps within weeks.
  private readonly n = new Float64Array(BUCKETS);
  private readonly rows = new Float64Array(BUCKETS);
  private readonly ms = new Float64Array(BUCKETS);
  // Each bucket's sample count discounted by the line's half-life over all runs, so a rarely hit
  // bucket's old samples fade with time too, not only with its own next samples.
  private readonly weight = new Float64Array(BUCKETS);
  private readonly lastSample = new Float64Array(BUCKETS);
  private samples = 0;
  private errLinear = 0;
  private errTable = 0;
  private scored = 0;
  private runs = 0;
  private seeded = 0;

  /** halfLifeRuns (default 200): after this many runs a sample weighs half as much in the line. */
  constructor(opts: { halfLifeRuns?: number } = {}) {
    const halfLife = opts.halfLifeRuns ?? 200;
    if (!(halfLife > 0) || halfLife === Infinity) throw new RangeError(`halfLifeRuns must be a positive number, got ${halfLife}`);
    this.decay = 2 ** (-1 / halfLife);
  }

  /** Load-time measurements: update both predictors, not scored. Ignores samples with rows < 1 or ms not finite or ms < 0. */
  seed(samples: readonly CostSample[]): void {
    for (const s of samples) {
      if (!valid(s.rows, s.ms)) continue;
      this.seeded++;
      this.update(s.rows, s.ms);
    }
  }

  /** A measured serve-time run: score both predictors on it, then update them. Same validity rules as seed. */
  observe(rows: number, ms: number): void {
    if (!valid(rows, ms)) return;
    this.runs++;
    if (this.ready) {
      const a = Math.max(1 / ++this.scored, SCORE_ALPHA);
      const denom = Math.max(ms, MIN_MS);
      this.errLinear += a * (Math.abs(this.predictLinear(rows) - ms) / denom - this.errLinear);
      this.errTable += a * (Math.abs(this.predictTable(rows) - ms) / denom - this.errTable);
    }
    this.update(rows, ms);
  }

  /** Predicted ms for a run of `rows` rows (rows < 1 is treated as 1); NaN when nothing was measured yet. */
  predict(rows: number): number {
    if (!this.ready) return NaN;
    const r = rows >= 1 ? rows : 1;
    return this.usesLinear() ? this.predictLinear(r) : this.predictTable(r);
  }

  /** True once at least one sample was seen. */
  get ready(): boolean {
    return this.w > 0;
  }

  /** Predicted ms per row at `rows` (predict(rows)/rows), NaN when not ready. */
  perRow(rows: number): number {
    const r = rows >= 1 ? rows : 1;
    return this.predict(r) / r;
  }

  /** A plain JSON-able snapshot, numbers rounded to 4 significant digits. */
  view(): CostModelView {
    const table: CostModelView['table'] = [];
    for (let i = 0; i < BUCKETS; i++) {
      if (this.n[i]! > 0) table.push({ upTo: 2 ** i, rows: round4(this.rows[i]!), ms: round4(this.ms[i]!), runs: this.n[i]! });
    }
    return {
      using: this.usesLinear() ? 'linear' : 'table',
      linear: this.ready ? { fixedMs: round4(this.fixedMs), perRowMs: round4(this.perRowMs) } : null,
      table,
      error: {
        linear: this.scored > 0 ? round4(this.errLinear) : NaN,
        table: this.scored > 0 ? round4(this.errTable) : NaN,
      },
      runs: this.runs,
      seeded: this.seeded,
    };
  }

  private usesLinear(): boolean {
    if (this.scored < WARM_RUNS) return this.distinct;
    return this.errLinear < this.errTable;
  }

  private update(rows: number, ms: number): void {
    const d = this.decay;
    const w = d * this.w + 1;
    const dx = rows - this.mx;
    this.mx += dx / w;
    this.my += (ms - this.my) / w;
    this.cxx = d * this.cxx + dx * (rows - this.mx);
    this.cxy = d * this.cxy + dx * (ms - this.my);
    this.w = w;
    if (Number.isNaN(this.firstRows)) this.firstRows = rows;
    else if (rows !== this.firstRows) this.distinct = true;
    this.fit();

    const i = bucketOf(rows);
    this.samples++;
    this.n[i]!++;
    const bw = this.weight[i]! * d ** (this.samples - this.lastSample[i]!) + 1;
    this.weight[i] = bw;
    this.lastSample[i] = this.samples;
    const a = Math.max(1 / bw, TABLE_ALPHA);
    this.rows[i]! += a * (rows - this.rows[i]!);
    this.ms[i]! += a * (ms - this.ms[i]!);
  }

  private fit(): void {
    const { mx, my } = this;
    let b: number;
    // Once one row count holds all but a vanishing share of the weight, a fitted slope is noise over
    // noise: keep the last one the data supported, and let the intercept follow.
    if (this.distinct && this.cxx > 1e-6 * this.w * mx * mx) b = this.lastSlope = this.cxy / this.cxx;
    else if (!Number.isNaN(this.lastSlope)) b = this.lastSlope;
    else {
      this.fixedMs = my;
      this.perRowMs = 0;
      return;
    }
    let a = my - b * mx;
    // A run cannot cost less than nothing, nor less for more rows: clamp, still through the mean point.
    if (a < 0) {
      a = 0;
      b = my / mx;
    } else if (b < 0) {
      b = 0;
      a = my;
    }
    this.fixedMs = a;
    this.perRowMs = b;
  }

  private predictLinear(rows: number): number {
    return this.fixedMs + this.perRowMs * rows;
  }

  private predictTable(rows: number): number {
    let lo = -1;
    let hi = -1;
    let first = -1;
    // Highest mean ms at or below `rows`: noise must not make a bigger batch predict cheaper.
    let floor = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.n[i] === 0) continue;
      if (first < 0) first = i;
      if (this.rows[i]! <= rows) {
        lo = i;
        if (this.ms[i]! > floor) floor = this.ms[i]!;
      } else {
        hi = i;
        break;
      }
    }
    if (first < 0) return NaN;
    const slope = this.perRowMs;
    if (lo < 0) return Math.max(0, this.ms[first]! - slope * (this.rows[first]! - rows));
    const x0 = this.rows[lo]!;
    const y0 = this.ms[lo]!;
    if (hi < 0) return Math.max(floor, y0 + slope * (rows - x0));
    const y = y0 + ((this.ms[hi]! - y0) * (rows - x0)) / (this.rows[hi]! - x0);
    return Math.max(floor, y);
  }
}
