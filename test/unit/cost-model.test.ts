// The cost model of one model version: a forgetting least-squares line and a table by batch size,
// scored against each other on every serve-time run. Noise comes from a seeded PRNG, so every
// figure here is the same on every run.
import t from 'tap';
import { mulberry32 } from '../helpers/random.js';
import { CostModel, type CostSample } from '../../src/batching/cost-model.js';

const POW = [1, 2, 4, 8, 16, 32, 64];
const samples = (rows: readonly number[], f: (r: number) => number): CostSample[] => rows.map((r) => ({ rows: r, ms: f(r) }));
const relErr = (got: number, want: number): number => Math.abs(got - want) / want;

/** n serve-time runs at rows uniform in 1..maxRows, ms = f(rows) times (1 ± noise). */
function drive(m: CostModel, f: (r: number) => number, n: number, rand: () => number, maxRows = 64, noise = 0): void {
  for (let i = 0; i < n; i++) {
    const r = 1 + Math.floor(rand() * maxRows);
    m.observe(r, f(r) * (1 + noise * (2 * rand() - 1)));
  }
}

/** `cycles` passes over `rows`, observing f exactly. */
function cycle(m: CostModel, rows: readonly number[], f: (r: number) => number, cycles: number): void {
  for (let c = 0; c < cycles; c++) for (const r of rows) m.observe(r, f(r));
}

const step = (r: number): number => (r <= 8 ? 1 : 10);

t.test('before any sample: not ready, NaN, an empty view', async (t) => {
  const m = new CostModel();
  t.equal(m.ready, false);
  t.ok(Number.isNaN(m.predict(4)), 'predict');
  t.ok(Number.isNaN(m.perRow(4)), 'perRow');
  const v = m.view();
  t.equal(v.linear, null);
  t.strictSame(v.table, []);
  t.ok(Number.isNaN(v.error.linear) && Number.isNaN(v.error.table), 'no error before any scored run');
  t.strictSame([v.runs, v.seeded], [0, 0]);
  m.seed([{ rows: 4, ms: 3 }]);
  t.equal(m.ready, true);
  t.equal(m.predict(4), 3, 'one sample predicts itself');
});

t.test('invalid samples are ignored', async (t) => {
  const bad: CostSample[] = [
    { rows: 0, ms: 1 },
    { rows: 0.5, ms: 1 },
    { rows: NaN, ms: 1 },
    { rows: Infinity, ms: 1 },
    { rows: 1, ms: NaN },
    { rows: 1, ms: -1 },
    { rows: 2, ms: Infinity },
  ];
  const m = new CostModel();
  m.seed(bad);
  for (const s of bad) m.observe(s.rows, s.ms);
  t.equal(m.ready, false);
  t.strictSame([m.view().runs, m.view().seeded], [0, 0]);

  m.seed(samples([1, 2, 4], (r) => 1 + r));
  m.observe(3, 4);
  const before = m.view();
  const predictions = [1, 3, 10].map((r) => m.predict(r));
  m.seed(bad);
  for (const s of bad) m.observe(s.rows, s.ms);
  t.strictSame(m.view(), before, 'view unchanged');
  t.strictSame([1, 3, 10].map((r) => m.predict(r)), predictions, 'predictions unchanged');
  t.strictSame([before.runs, before.seeded], [1, 3]);
});

t.test('an exact line is fitted exactly and predicts sizes never seen', async (t) => {
  const f = (r: number) => 2 + 0.5 * r;
  const m = new CostModel();
  m.seed(samples(POW, f));
  const check = (when: string) => {
    const v = m.view();
    t.ok(Math.abs(v.linear!.fixedMs - 2) < 1e-6, `${when}: fixedMs ${v.linear!.fixedMs}`);
    t.ok(Math.abs(v.linear!.perRowMs - 0.5) < 1e-6, `${when}: perRowMs ${v.linear!.perRowMs}`);
    // from predict, which is not rounded for display
    t.ok(Math.abs(m.predict(1001) - m.predict(1000) - 0.5) < 1e-9, `${when}: slope`);
    t.ok(Math.abs(m.predict(1) - 0.5 - 2) < 1e-9, `${when}: intercept`);
    for (const r of [3, 5, 100, 1000, 200_000]) t.ok(relErr(m.predict(r), f(r)) < 1e-9, `${when}: predict(${r}) = ${m.predict(r)}`);
  };
  t.equal(m.view().using, 'linear');
  check('seeded');
  drive(m, f, 300, mulberry32(1));
  check('after 300 runs');
  const v = m.view();
  t.ok(v.error.linear < 1e-9 && v.error.table < 1e-9, `both predictors exact on a line: ${JSON.stringify(v.error)}`);
});

t.test('the table interpolates between buckets and follows the line past the ends', async (t) => {
  const m = new CostModel();
  m.seed(samples(POW, step));
  cycle(m, POW, step, 20);
  const v = m.view();
  t.equal(v.using, 'table');
  t.ok(v.error.table < v.error.linear / 5, `table error ${v.error.table} vs linear ${v.error.linear}`);
  t.strictSame(
    v.table,
    POW.map((r) => ({ upTo: r, rows: r, ms: step(r), runs: 21 })),
    'one bucket per power of two',
  );
  t.equal(m.predict(12), 5.5, 'halfway between (8, 1) and (16, 10)');
  t.equal(m.predict(3), 1);
  t.equal(m.predict(24), 10);
  t.equal(m.predict(64), 10);
  const slope = v.linear!.perRowMs;
  t.ok(slope > 0);
  t.ok(Math.abs(m.predict(128) - (10 + slope * 64)) < 0.01, `beyond the largest bucket: ${m.predict(128)}, slope ${slope}`);

  const below = new CostModel();
  below.seed(samples([8, 16, 32, 64], step));
  cycle(below, [8, 16, 32, 64], step, 20);
  const bv = below.view();
  t.equal(bv.using, 'table');
  t.ok(Math.abs(below.predict(2) - (1 - bv.linear!.perRowMs * 6)) < 0.01, `below the smallest bucket, along the slope: ${below.predict(2)}`);
  t.ok(below.predict(2) > 0 && below.predict(2) < 1);

  const steep = new CostModel();
  const g = (r: number) => (r <= 32 ? 1 : 60);
  steep.seed(samples([16, 32, 64], g));
  cycle(steep, [16, 32, 64], g, 20);
  t.equal(steep.view().using, 'table');
  t.equal(steep.predict(16), 1);
  t.equal(steep.predict(1), 0, 'the slope would go below 0: clamped');
  t.ok(steep.predict(8) >= 0 && steep.predict(8) < 1);

  const dip = new CostModel();
  const h = (r: number) => ({ 8: 1, 16: 10, 32: 9 })[r]!;
  dip.seed(samples([8, 16, 32], h));
  cycle(dip, [8, 16, 32], h, 20);
  t.equal(dip.view().using, 'table');
  t.strictSame([16, 24, 32].map((r) => dip.predict(r)), [10, 10, 10], 'the dip at 32 rows does not make 32 cheaper than 16');
  t.ok(dip.predict(48) >= 10, `nor beyond it: ${dip.predict(48)}`);
});

t.test('on noisy data the table never predicts a bigger batch cheaper', async (t) => {
  const m = new CostModel();
  const rand = mulberry32(7);
  const f = (r: number) => (r <= 16 ? 1 : 10);
  m.seed(samples([...POW, 128, 256], f));
  drive(m, f, 3000, rand, 256, 0.3);
  const v = m.view();
  t.equal(v.using, 'table');
  const dips = v.table.filter((b, i) => i > 0 && b.ms < v.table[i - 1]!.ms);
  t.ok(dips.length > 0, `some bucket means dip (so the guard is exercised): ${JSON.stringify(v.table.map((b) => b.ms))}`);
  let violation: string | null = null;
  for (let r = 1, prev = m.predict(1); r <= 600 && violation === null; r += 0.25) {
    const p = m.predict(r);
    if (p < prev) violation = `predict(${r}) = ${p} < predict(${r - 0.25}) = ${prev}`;
    prev = p;
  }
  t.equal(violation, null);
});

t.test('a convex curve: the table wins', async (t) => {
  const f = (r: number) => 1 + 0.01 * r * r;
  const m = new CostModel();
  m.seed(samples(POW, f));
  drive(m, f, 1000, mulberry32(3));
  const v = m.view();
  t.equal(v.using, 'table');
  t.ok(v.error.table < v.error.linear / 3, `table error ${v.error.table} vs linear ${v.error.linear}`);
  // a chord between bucket means lies above a convex curve: about 14 % at worst here
  for (const r of [1, 3, 10, 20, 30, 40, 50]) t.ok(relErr(m.predict(r), f(r)) < 0.15, `predict(${r}) = ${m.predict(r)}, true ${f(r)}`);
});

t.test('a true line with noise: the line wins or ties', async (t) => {
  const f = (r: number) => 2 + 0.5 * r;
  const m = new CostModel();
  m.seed(samples(POW, f));
  drive(m, f, 3000, mulberry32(5), 64, 0.1);
  const v = m.view();
  // each bucket sees a share of the runs, so its mean is noisier than the line's fit
  t.ok(v.error.linear <= v.error.table * 1.02, JSON.stringify(v.error));
  t.ok(v.error.linear < 0.07, `linear error ${v.error.linear}: about the noise (±10 %, mean 5 %)`);
  for (const r of [1, 10, 33, 64, 500]) t.ok(relErr(m.predict(r), f(r)) < 0.03, `predict(${r}) = ${m.predict(r)}`);
});

t.test('forgetting: after the cost doubles, predictions follow the new line', async (t) => {
  const oldCost = (r: number) => 1 + 0.1 * r;
  const newCost = (r: number) => 2 + 0.2 * r;
  const m = new CostModel();
  const rand = mulberry32(11);
  m.seed(samples(POW, oldCost));
  drive(m, oldCost, 1000, rand);
  const sizes = [1, 2, 4, 16, 40, 64];
  // 500 runs is 2.5 half-lives: 18 % of the weight is still on the old cost, so about 9 % off is expected
  drive(m, newCost, 500, rand);
  for (const r of sizes) t.ok(relErr(m.predict(r), newCost(r)) < 0.15, `after 500: predict(${r}) = ${m.predict(r)}, new ${newCost(r)}`);
  const slope = m.view().linear!.perRowMs;
  t.ok(Math.abs(slope - 0.2) < Math.abs(slope - 0.1), `the line leans to the new slope: ${slope}`);
  // the 1- and 2-row buckets get 1/64 of the runs each: they too must have forgotten
  drive(m, newCost, 500, rand);
  for (const r of sizes) t.ok(relErr(m.predict(r), newCost(r)) < 0.05, `after 1000: predict(${r}) = ${m.predict(r)}, new ${newCost(r)}`);

  // A shorter half-life forgets sooner.
  const quick = new CostModel({ halfLifeRuns: 10 });
  const slow = new CostModel();
  for (const c of [quick, slow]) {
    const rand = mulberry32(12);
    drive(c, oldCost, 1000, rand);
    drive(c, newCost, 100, rand);
  }
  t.ok(relErr(quick.view().linear!.perRowMs, 0.2) < 0.01, `half-life 10: ${quick.view().linear!.perRowMs}`);
  t.ok(slow.view().linear!.perRowMs < 0.19, `half-life 200: ${slow.view().linear!.perRowMs}`);
});

t.test('one batch size for a long time: the line keeps the slope the spread of sizes gave it', async (t) => {
  const f = (r: number) => 2 + 0.5 * r;
  const m = new CostModel();
  const rand = mulberry32(9);
  drive(m, f, 2000, rand);
  // 100 half-lives at 8 rows only, with noise: the other sizes' weight fades to nothing
  for (let i = 0; i < 20_000; i++) m.observe(8, f(8) * (1 + 0.2 * (2 * rand() - 1)));
  const v = m.view();
  t.ok(relErr(v.linear!.perRowMs, 0.5) < 0.02, `slope ${v.linear!.perRowMs}`);
  t.ok(relErr(m.predict(8), f(8)) < 0.02, `predict(8) = ${m.predict(8)}`);
  t.ok(relErr(m.predict(64), f(64)) < 0.05, `more rows still cost more: predict(64) = ${m.predict(64)}`);
});

t.test('clamping: a negative intercept or slope', async (t) => {
  const f = (r: number) => 0.5 * r - 0.4;
  const m = new CostModel();
  m.seed(samples(POW, f));
  const v = m.view();
  t.equal(v.using, 'linear');
  t.equal(v.linear!.fixedMs, 0, 'the fit would cross at -0.4 ms');
  t.ok(v.linear!.perRowMs > 0.45 && v.linear!.perRowMs < 0.5, `refitted slope ${v.linear!.perRowMs}`);
  for (const r of [8, 16, 32, 64]) t.ok(relErr(m.predict(r), f(r)) < 0.1, `predict(${r}) = ${m.predict(r)}, observed ${f(r)}`);
  for (const r of [1, 2, 4]) t.ok(Math.abs(m.predict(r) - f(r)) < 0.5, `predict(${r}) = ${m.predict(r)}, observed ${f(r)}`);

  const g = (r: number) => 10 - 0.1 * r;
  const falling = new CostModel();
  falling.seed(samples(POW, g));
  const fv = falling.view();
  t.equal(fv.linear!.perRowMs, 0, 'more rows never cost less');
  const mean = POW.reduce((s, r) => s + g(r), 0) / POW.length;
  t.ok(relErr(fv.linear!.fixedMs, mean) < 0.01, `flat at the mean: ${fv.linear!.fixedMs} vs ${mean}`);
  t.equal(falling.predict(1), falling.predict(64));
});

t.test('scoring: seeds are not scored, each run is scored before it updates, plain mean at first', async (t) => {
  const m = new CostModel();
  m.seed([
    { rows: 1, ms: 1 },
    { rows: 2, ms: 2 },
    { rows: 4, ms: 8 },
  ]);
  let v = m.view();
  t.ok(Number.isNaN(v.error.linear) && Number.isNaN(v.error.table), 'seeds are not scored');
  t.strictSame([v.runs, v.seeded], [0, 3]);
  const linearBefore = m.predict(3);
  t.equal(v.using, 'linear');
  m.observe(3, 5);
  v = m.view();
  t.equal(v.runs, 1);
  t.equal(v.error.table, 0, 'the table interpolated (2, 2)-(4, 8) to 5 at 3 rows');
  t.ok(relErr(v.error.linear, Math.abs(linearBefore - 5) / 5) < 1e-3, `linear error ${v.error.linear}, predicted ${linearBefore}`);
  const b4 = v.table[2]!;
  t.strictSame([b4.upTo, b4.runs], [4, 2], 'then the run went into its bucket');
  t.ok(Math.abs(b4.rows - 3.5) < 0.01 && Math.abs(b4.ms - 6.5) < 0.01, `about the plain mean at first: ${JSON.stringify(b4)}`);
  m.observe(3, 10);
  // (2, 2), (3, 5) and (4, 8) are on one line, so the table says 5 again: error 0.5, mean of 0 and 0.5
  t.equal(m.view().error.table, 0.25);

  const tiny = new CostModel();
  tiny.seed([{ rows: 1, ms: 0 }]);
  tiny.observe(1, 0.0005);
  t.equal(tiny.view().error.linear, 0.5, 'ms near 0 counts as 0.001 ms');
});

t.test('the choice: the line before 20 scored runs once two sizes were seen, then the lower error, the table on a tie', async (t) => {
  const one = new CostModel();
  one.seed(samples([4, 4], () => 3));
  t.equal(one.view().using, 'table', 'one row count: the line knows no slope');

  const m = new CostModel();
  m.seed(samples(POW, step));
  for (let i = 0; i < 19; i++) m.observe(POW[i % POW.length]!, step(POW[i % POW.length]!));
  let v = m.view();
  t.ok(v.error.table < v.error.linear, 'the table is ahead already');
  t.equal(v.using, 'linear', '19 scored runs');
  t.ok(relErr(m.predict(12), v.linear!.fixedMs + 12 * v.linear!.perRowMs) < 1e-3, `the line answers: ${m.predict(12)}`);
  t.not(m.predict(12), 5.5, 'not the table');
  m.observe(1, 1);
  v = m.view();
  t.equal(v.using, 'table', '20 scored runs');
  t.equal(m.predict(12), 5.5);

  const flat = new CostModel();
  flat.seed(samples([4, 8], () => 3));
  for (let i = 0; i < 19; i++) flat.observe(i % 2 ? 4 : 8, 3);
  t.equal(flat.view().using, 'linear');
  flat.observe(4, 3);
  const fv = flat.view();
  t.strictSame(fv.error, { linear: 0, table: 0 });
  t.equal(fv.using, 'table', 'a tie goes to the table');
});

t.test('buckets: the smallest power of two at or above the rows, past 2^16 in the last; rows < 1 count as 1', async (t) => {
  const m = new CostModel();
  m.seed(samples([1, 1.5, 3, 5, 100, 65_536, 70_000], (r) => 1 + r));
  t.strictSame(
    m.view().table.map((b) => [b.upTo, b.runs]),
    [
      [1, 1],
      [2, 1],
      [4, 1],
      [8, 1],
      [128, 1],
      [65_536, 2],
    ],
  );
  t.equal(m.view().table[5]!.rows, 67_770);
  t.equal(m.predict(0), m.predict(1));
  t.equal(m.predict(-5), m.predict(1));
  t.equal(m.perRow(10), m.predict(10) / 10);
  t.equal(m.perRow(0), m.predict(1));
});

t.test('halfLifeRuns must be a positive number', async (t) => {
  for (const h of [0, -1, NaN, Infinity]) t.throws(() => new CostModel({ halfLifeRuns: h }), RangeError, String(h));
  t.doesNotThrow(() => new CostModel({ halfLifeRuns: 0.5 }));
});
