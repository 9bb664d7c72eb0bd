// Unit tests for the arrival-rate estimate and the wait score (src/batching/arrivals.ts), on
// plain-number clocks.
import t from 'tap';
import { Arrivals } from '../../src/batching/arrivals.js';

const TAU_MS = 100;

/** `rate` rows per ms as arrivals of `rate·every` rows every `every` ms, from `from` for `forMs`; returns the last arrival's time. */
function steady(a: Arrivals, rate: number, every: number, from: number, forMs: number): number {
  let now = from;
  for (; now < from + forMs; now += every) a.arrive(now, rate * every);
  return now - every;
}

t.test('before any arrival the rate is 0', async (t) => {
  const a = new Arrivals();
  t.equal(a.measuredRowsPerMs(1000), 0);
  t.equal(a.rowsPerMs(1000), 0);
  t.equal(a.score(1000), 1, 'no wait scored: the score is 1');
  t.notOk(a.waiting);
});

t.test('steady arrivals converge to their rate (within 10 % after several τ)', async (t) => {
  for (const [rate, every] of [
    [0.5, 2],
    [2, 1],
    [10, 0.5],
    [0.1, 10],
  ] as const) {
    const a = new Arrivals();
    const last = steady(a, rate, every, 1000, 6 * TAU_MS);
    // between arrivals the estimate saws around the rate: check just after one and just before the next
    for (const at of [last, last + every * 0.99]) {
      const got = a.measuredRowsPerMs(at);
      t.ok(Math.abs(got - rate) <= 0.1 * rate, `${rate} rows/ms in ${rate * every} every ${every} ms: ${got.toFixed(4)} at +${(at - last).toFixed(2)} ms`);
    }
    t.equal(a.rowsPerMs(last), a.measuredRowsPerMs(last), 'no waits scored: the policy sees the measured rate');
  }
});

t.test('no rate before τ has passed since the first arrival; then a decayed count, short of the rate at first', async (t) => {
  const a = new Arrivals();
  const last = steady(a, 1, 1, 1000, TAU_MS / 2);
  t.equal(a.measuredRowsPerMs(last), 0, 'half a τ of history: no rate to bet on yet');
  t.equal(a.measuredRowsPerMs(1000 + TAU_MS - 1), 0, 'still none 1 ms before τ');
  const got = a.measuredRowsPerMs(1000 + TAU_MS);
  t.ok(got > 0 && got < 0.5, `at τ, 50 rows in the first half read ${got.toFixed(3)} rows/ms (a decayed count, not a window)`);
  const zero = new Arrivals();
  zero.arrive(0, 5);
  zero.arrive(50, 5);
  t.ok(zero.measuredRowsPerMs(TAU_MS) > 0, 'a clock that starts at 0 is a clock like any other');
});

t.test('the rate changes: the estimate follows the new one', async (t) => {
  const a = new Arrivals();
  const mid = steady(a, 4, 1, 1000, 5 * TAU_MS);
  const last = steady(a, 0.5, 1, mid + 1, 6 * TAU_MS);
  const got = a.measuredRowsPerMs(last);
  t.ok(Math.abs(got - 0.5) <= 0.05, `from 4 to 0.5 rows/ms: ${got.toFixed(4)}`);
});

t.test('when arrivals stop the rate decays, e^(−age/τ)', async (t) => {
  const a = new Arrivals();
  const last = steady(a, 2, 1, 1000, 5 * TAU_MS);
  const r0 = a.measuredRowsPerMs(last);
  const r1 = a.measuredRowsPerMs(last + TAU_MS);
  const r10 = a.measuredRowsPerMs(last + 10 * TAU_MS);
  t.ok(Math.abs(r1 / r0 - Math.exp(-1)) < 1e-9, `after τ: ${(r1 / r0).toFixed(4)} of the rate`);
  t.ok(r10 < r0 * 1e-4, `after 10 τ: about nothing (${r10.toExponential(2)})`);
  let prev = r0;
  let falls = true;
  for (let dt = 1; dt <= 500; dt += 7) {
    const r = a.measuredRowsPerMs(last + dt);
    if (!(r < prev)) falls = false;
    prev = r;
  }
  t.ok(falls, 'falling all the way');
  // reading the rate does not change it: the same answer twice
  t.equal(a.measuredRowsPerMs(last + TAU_MS), r1);
  // a new arrival after the gap starts from the decayed mass, not from scratch
  a.arrive(last + 10 * TAU_MS, 3);
  const after = a.measuredRowsPerMs(last + 10 * TAU_MS);
  t.ok(Math.abs(after - (3 / TAU_MS + r10)) < 1e-9, `3 rows after the gap: ${after.toFixed(5)} rows/ms`);
});

t.test('waits that bring nothing lower the score towards 0, and the rate the policy sees with it', async (t) => {
  const a = new Arrivals();
  const now = steady(a, 1, 1, 1000, 5 * TAU_MS);
  const measured = a.measuredRowsPerMs(now);
  let prev = 1;
  for (let i = 1; i <= 10; i++) {
    a.waitBegan(now - 10, 1, 0.4); // 10 ms at 0.4 rows/ms: 4 rows promised
    t.ok(a.waiting, `wait ${i} is on`);
    a.waitEnded(now, 1); // the same rows as when it began: nothing came
    t.notOk(a.waiting, `wait ${i} is over`);
    const s = a.score(now);
    t.ok(Math.abs(s - 0.8 ** i) < 1e-12, `after ${i} empty waits: ${s.toFixed(4)} (0.8^${i})`);
    t.ok(s < prev, 'lower each time');
    prev = s;
  }
  t.ok(a.score(now) < 0.11, 'near 0 after ten');
  t.ok(Math.abs(a.rowsPerMs(now) - measured * a.score(now)) < 1e-12, 'rowsPerMs is the measured rate times the score');
  t.equal(a.measuredRowsPerMs(now), measured, 'the measured rate itself is untouched');
});

t.test('waits that bring what the rate promised for their length keep the score at 1', async (t) => {
  const a = new Arrivals();
  for (let i = 0; i < 10; i++) {
    a.waitBegan(1000, 2, 0.3);
    a.waitEnded(1010, 5); // 3 rows in 10 ms at 0.3 rows/ms
  }
  t.equal(a.score(1010), 1);
  a.waitBegan(1010, 0, 0.1);
  a.waitEnded(1020, 8);
  t.equal(a.score(1020), 1, 'more than promised counts as all of it, not more');
  // a wait the policy ends early, when the rows it waited for came sooner, is no miss
  a.waitBegan(1020, 1, 1);
  a.waitEnded(1022, 3); // 2 ms at 1 row/ms: 2 rows promised by then, 2 came
  t.equal(a.score(1022), 1, 'scored against the rows promised for the time it lasted');
});

t.test('a partial payoff: half the promised rows scores 0.5 of a wait; a wait too short to tell is not scored', async (t) => {
  const a = new Arrivals();
  a.waitBegan(1000, 1, 0.4);
  a.waitEnded(1010, 3);
  t.ok(Math.abs(a.score(1010) - (0.8 + 0.5 * 0.2)) < 1e-12, `one half-paid wait: ${a.score(1010)}`);
  // fewer rows at the end than at the start (others left) scores as nothing, not as negative
  const b = new Arrivals();
  b.waitBegan(1000, 5, 0.4);
  b.waitEnded(1010, 2);
  t.ok(Math.abs(b.score(1010) - 0.8) < 1e-12, `rows fell during the wait: ${b.score(1010)}`);
  const c = new Arrivals();
  c.waitBegan(1000, 1, 0.01);
  c.waitEnded(1010, 1); // 0.1 rows promised: too few to call it a miss
  t.equal(c.score(1010), 1, 'not scored');
  t.notOk(c.waiting, 'but over');
});

t.test('the score recovers towards 1 without waits, half the distance per second', async (t) => {
  const a = new Arrivals();
  for (let i = 0; i < 5; i++) {
    a.waitBegan(1990, 1, 0.2);
    a.waitEnded(2000, 1);
  }
  const low = a.score(2000);
  t.ok(Math.abs(low - 0.8 ** 5) < 1e-12);
  const half = a.score(3000);
  t.ok(Math.abs(1 - half - (1 - low) / 2) < 1e-12, `1 s later: ${half.toFixed(4)}, half-way back from ${low.toFixed(4)}`);
  t.ok(Math.abs(1 - a.score(4000) - (1 - low) / 4) < 1e-12, '2 s later: three quarters of the way');
  t.ok(a.score(12000) > 0.999, 'after 10 s: about 1');
  t.equal(a.score(1500), low, 'a time before the last score counts as no time passed');
  a.waitBegan(2990, 1, 0.2);
  a.waitEnded(3000, 1);
  t.ok(Math.abs(a.score(3000) - half * 0.8) < 1e-12, `an empty wait 1 s later starts from the recovered score: ${a.score(3000).toFixed(4)}`);
});

t.test('a wait begun twice (extended) is scored once, from its start', async (t) => {
  const a = new Arrivals();
  a.waitBegan(1000, 2, 0.4);
  a.waitBegan(1005, 5, 10); // extended: neither its start, rows nor rate replace the first
  a.waitEnded(1010, 6);
  t.equal(a.score(1010), 1, '4 rows came since the start, as promised at the start');
  t.notOk(a.waiting);
  a.waitEnded(1010, 0);
  t.equal(a.score(1010), 1, 'ending a wait that is not on scores nothing');
  a.waitBegan(1000, 3, 0.2);
  a.waitBegan(1000, 3, 0.2);
  a.waitEnded(1010, 3);
  t.ok(Math.abs(a.score(1010) - 0.8) < 1e-12, `scored once: ${a.score(1010)}`);
});
