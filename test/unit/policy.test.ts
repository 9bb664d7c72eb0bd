// Unit tests for the pure batching policy: decide(queue, idleWorkers, now, cfg, estimates) on a
// fake clock (plain numbers), over the real queue data structure. Static rules first (the fixed
// delay, Triton's preferred sizes, deadlines, keys, priorities), then the adaptive bet.
import t from 'tap';
import { mulberry32 } from '../helpers/random.js';
import { decide, type BatchingPolicyConfig, type Decision, type Estimates } from '../../src/batching/policy.js';
import { RequestQueue, type Queued } from '../../src/batching/queue.js';

const cfg = (over: Partial<BatchingPolicyConfig> = {}): BatchingPolicyConfig => ({
  maxBatchSize: 8,
  policy: 'static',
  maxQueueDelayMs: 5,
  preferredBatchSizes: [],
  ...over,
});

/** No measurement yet: the adaptive policy cannot bet, admission admits. */
const UNKNOWN: Estimates = { cost: () => NaN, rowsPerMs: 0, workers: 1 };
/** A model whose run costs fixed + perRow·rows ms, with rows arriving at `rate` per ms. */
const line = (fixed: number, perRow: number, rate: number, workers = 1): Estimates => ({ cost: (rows) => fixed + perRow * rows, rowsPerMs: rate, workers });

interface Req extends Queued {
  id: number;
}
let nextId = 0;
const req = (rows: number, over: Partial<Req> = {}): Req => ({ id: nextId++, rows, key: 'float32[4]', level: 0, enqueuedAt: 0, deadline: 1000, heapAt: -1, ticket: 0, ...over });
const ones = (n: number, at = 0): Req[] => Array.from({ length: n }, () => req(1, { enqueuedAt: at }));

function queueOf(items: Req[], levels = 3): RequestQueue<Req> {
  const q = new RequestQueue<Req>(levels);
  for (const r of items) q.push(r);
  return q;
}

/** What a decision takes out of the queue (ids, in batch order), as the scheduler would. */
function taken(q: RequestQueue<Req>, d: Decision): number[] {
  if (!d.dispatch) return [];
  return q.take(d.dispatch.key, d.dispatch.maxRows, d.dispatch.first as Req | undefined).map((r) => r.id);
}

const ids = (rs: Req[]): number[] => rs.map((r) => r.id);

t.test('empty queue: nothing to do, ask again on the next event', async (t) => {
  t.strictSame(decide(queueOf([]), 1, 0, cfg(), UNKNOWN), { expire: false, waitMs: Infinity, expectRows: 0 });
  t.strictSame(decide(queueOf([]), 0, 5, cfg({ policy: 'adaptive' }), UNKNOWN), { expire: false, waitMs: Infinity, expectRows: 0 });
});

t.test('a full batch dispatches at once; more than full takes the first maxBatchSize rows', async (t) => {
  const rs = ones(11);
  const q = queueOf(rs);
  const d = decide(q, 1, 0, cfg(), UNKNOWN);
  t.equal(d.waitMs, 0);
  t.strictSame(taken(q, d), ids(rs.slice(0, 8)));
  t.equal(q.length, 3, 'the rest stay queued');

  const multi = [req(4), req(2), req(2)];
  const q2 = queueOf(multi);
  t.strictSame(taken(q2, decide(q2, 1, 0, cfg(), UNKNOWN)), ids(multi), 'full by rows with fewer requests');
});

t.test("preferred sizes follow Triton's rule: the largest reached is cut and sent at once", async (t) => {
  const c = cfg({ preferredBatchSizes: [4, 6] });
  const five = ones(5);
  const q5 = queueOf(five);
  const d5 = decide(q5, 1, 0, c, UNKNOWN);
  t.equal(d5.dispatch?.maxRows, 4, '5 rows reach 4: cut at 4');
  t.strictSame(taken(q5, d5), ids(five.slice(0, 4)));
  t.equal(q5.length, 1);

  const seven = ones(7);
  const q7 = queueOf(seven);
  t.strictSame(taken(q7, decide(q7, 1, 0, c, UNKNOWN)), ids(seven.slice(0, 6)), '7 rows reach 6: cut at 6');

  const three = decide(queueOf(ones(3)), 1, 0, c, UNKNOWN);
  t.notOk(three.dispatch, '3 rows reach no preferred size: the static delay applies');
  t.equal(three.waitMs, 5);
});

t.test('static delay: wait the rest of the oldest request\'s delay, then go', async (t) => {
  const a = req(1, { enqueuedAt: 100 });
  const b = req(2, { enqueuedAt: 101 });
  const c = cfg({ maxQueueDelayMs: 5 });
  t.equal(decide(queueOf([a, b]), 1, 100, c, UNKNOWN).waitMs, 5);
  t.equal(decide(queueOf([a, b]), 1, 103, c, UNKNOWN).waitMs, 2, 'counted from the oldest');
  const q = queueOf([a, b]);
  t.strictSame(taken(q, decide(q, 1, 105, c, UNKNOWN)), [a.id, b.id], 'exactly at expiry of the delay');
  const q0 = queueOf([a, b]);
  t.strictSame(taken(q0, decide(q0, 1, 100, cfg({ maxQueueDelayMs: 0 }), UNKNOWN)), [a.id, b.id], 'a zero delay sends what is there');
  // the wait never overshoots the earliest deadline: the policy must be asked again to answer 504 in time
  t.equal(decide(queueOf([req(1, { enqueuedAt: 100, deadline: 102 })]), 1, 100, c, UNKNOWN).waitMs, 2);
});

t.test('no idle worker: nothing goes, even full; wait until the earliest deadline', async (t) => {
  const q = queueOf([req(1, { deadline: 1000 }), req(1, { deadline: 600 }), ...ones(8)]);
  const d = decide(q, 0, 10, cfg(), UNKNOWN);
  t.notOk(d.dispatch);
  t.equal(d.waitMs, 590);
});

t.test('a busy worker with room is sent a batch only when it is full, cannot batch, or holds a request near its deadline', async (t) => {
  for (const policy of ['static', 'adaptive'] as const) {
    const c = cfg({ policy, maxBatchSize: 4 });
    const est = line(4, 0.5, 1);
    const full = queueOf(ones(6));
    const d = decide(full, 0, 0, c, est, 1);
    t.same(taken(full, d).length, 4, `${policy}: a full batch goes to the busy worker's queue`);
    t.notOk(decide(queueOf(ones(3)), 0, 0, c, est, 1).dispatch, `${policy}: 3 of 4 rows wait for the rows that come while the run ends`);
    t.notOk(decide(queueOf(ones(6)), 0, 0, c, est, 0).dispatch, `${policy}: no room: nothing goes`);
    t.ok(decide(queueOf(ones(1)), 0, 0, cfg({ policy, maxBatchSize: 0 }), est, 1).dispatch, `${policy}: a model that does not batch sends its next request`);
    // a low-priority request 3 ms from its deadline (two full runs: 12 ms) jumps ahead
    const near = queueOf([req(1, { level: 0, deadline: 1000 }), req(1, { level: 2, deadline: 3 })]);
    const u = decide(near, 0, 0, c, est, 1);
    t.ok(u.dispatch?.first, `${policy}: a request near its deadline is queued behind the run with its batch`);
  }
});

t.test('deadlines: an expired request is taken out first, never dispatched', async (t) => {
  const late = req(1, { deadline: 50 });
  const q = queueOf([late, req(1, { deadline: 200 })]);
  t.strictSame(decide(q, 1, 100, cfg(), UNKNOWN), { expire: true, waitMs: 0, expectRows: 0 });
  t.equal(q.popExpired(100)?.id, late.id);
  t.equal(q.popExpired(100), undefined, 'only those at or past their deadline');
  t.equal(decide(q, 0, 100, cfg(), UNKNOWN).expire, false);
  t.equal(decide(q, 0, 200, cfg(), UNKNOWN).expire, true, 'deadline <= now expires, with no idle worker too');
});

t.test('keys are never mixed: the head\'s key goes, the others stay', async (t) => {
  const a1 = req(1, { key: 'a', enqueuedAt: 0 });
  const b1 = req(1, { key: 'b', enqueuedAt: 1 });
  const a2 = req(2, { key: 'a', enqueuedAt: 2 });
  const q = queueOf([a1, b1, a2]);
  t.strictSame(taken(q, decide(q, 1, 10, cfg(), UNKNOWN)), [a1.id, a2.id]);
  t.equal(q.length, 1);
  const q2 = queueOf([req(1, { key: 'b', enqueuedAt: 0 }), req(1, { key: 'a', enqueuedAt: 1 })]);
  t.equal(decide(q2, 1, 10, cfg(), UNKNOWN).dispatch?.key, 'b', 'the oldest is b here');
});

t.test('a request that does not fit ends the batch and is never split', async (t) => {
  const rs = [req(3), req(4), req(2), req(1)];
  const q = queueOf(rs);
  const d = decide(q, 1, 0, cfg(), UNKNOWN);
  t.equal(d.waitMs, 0, '10 rows queued for 8: goes now');
  t.strictSame(taken(q, d), [rs[0]!.id, rs[1]!.id], '3 + 4; the 2-row one does not fit, and nothing is taken past it');
  const big = [req(8), req(1)];
  const q2 = queueOf(big);
  t.strictSame(taken(q2, decide(q2, 1, 0, cfg(), UNKNOWN)), [big[0]!.id]);
});

t.test('maxBatchSize 0: one request at a time, at once', async (t) => {
  const rs = ones(3, 10);
  const q = queueOf(rs);
  const d = decide(q, 3, 10, cfg({ maxBatchSize: 0, maxQueueDelayMs: 50 }), UNKNOWN);
  t.equal(d.waitMs, 0);
  t.strictSame(taken(q, d), [rs[0]!.id], 'one per decision even with several idle workers');
});

t.test('priorities: the most urgent level goes first and fills the batch first', async (t) => {
  const low1 = req(1, { level: 2, enqueuedAt: 0 });
  const low2 = req(1, { level: 2, enqueuedAt: 1 });
  const high = req(1, { level: 0, enqueuedAt: 5 });
  const q = queueOf([low1, low2, high]);
  t.equal(q.head()?.id, high.id, 'a later high request is the head');
  t.strictSame(taken(q, decide(q, 1, 100, cfg({ maxBatchSize: 2 }), UNKNOWN)), [high.id, low1.id], 'high first, then the oldest low');
  t.equal(q.head()?.id, low2.id);
});

t.test('priorities never starve a lower level past its deadline: close to it, it jumps ahead', async (t) => {
  const low = req(1, { level: 2, enqueuedAt: 0, deadline: 20 });
  const highs = Array.from({ length: 8 }, (_, i) => req(1, { level: 0, enqueuedAt: 1 + i, deadline: 1000 }));
  const est = line(1, 0.5, 0); // a full batch of 4 runs 3 ms: urgency window 6 ms
  const c = cfg({ maxBatchSize: 4, maxQueueDelayMs: 0 });
  const far = queueOf([low, ...highs]);
  t.strictSame(taken(far, decide(far, 1, 10, c, est)), ids(highs.slice(0, 4)), '10 ms before its deadline: the high level goes');
  const near = queueOf([req(1, { ...low, id: low.id, heapAt: -1 }), ...highs.map((h) => ({ ...h, heapAt: -1 }))]);
  const d = decide(near, 1, 15, c, est);
  t.equal(d.dispatch?.first && (d.dispatch.first as Req).id, low.id, '5 ms before: the low one must be in this batch');
  const batch = taken(near, d);
  t.equal(batch[0], low.id);
  t.equal(batch.length, 4, 'and the batch is filled from the high level');
});

t.test('adaptive: dispatch at once when no rows are expected, or nothing is measured', async (t) => {
  const c = cfg({ policy: 'adaptive', maxQueueDelayMs: 0 });
  t.ok(decide(queueOf(ones(1)), 1, 0, c, UNKNOWN).dispatch, 'no cost model yet: go');
  t.ok(decide(queueOf(ones(1)), 1, 0, c, line(4, 0.3, 0)).dispatch, 'no arrivals: go');
  // heavy-MLP-like: 4.3 ms + 0.33 ms/row; 0.2 rows/ms (10 % of its capacity) cannot pay a wait
  t.ok(decide(queueOf(ones(1)), 1, 0, c, line(4.3, 0.33, 0.2)).dispatch, 'low load: go');
  // seed-MLP-like: 0.1 ms per run whatever the rows, one row per 0.4 ms: waiting doubles the latency for nothing
  t.ok(decide(queueOf(ones(1)), 1, 0, c, line(0.1, 0.002, 2.5)).dispatch, 'a cheap model at a client\'s pace: go');
});

t.test('adaptive: a wait is a short share of the run it delays; runs shorter than a timer tick never wait', async (t) => {
  const c = cfg({ policy: 'adaptive', maxQueueDelayMs: 0, maxBatchSize: 32 });
  const heavy = (rate: number) => line(4.3, 0.33, rate); // 2 rows queued: their run 4.96 ms, so a wait of at most 1.98 ms
  const mid = decide(queueOf(ones(2)), 1, 0, c, heavy(1.5));
  t.notOk(mid.dispatch, '1.5 rows/ms: one more row in 0.67 ms pays (3 rows in 5.96 ms against 2 in 4.96)');
  t.ok(mid.waitMs <= 0.4 * 4.96 + 1e-9, `and the wait (${mid.waitMs.toFixed(2)} ms) is at most 0.4 of the run it delays`);
  t.ok(decide(queueOf(ones(2)), 1, 0, c, heavy(0.4)).dispatch, '0.4 rows/ms: the next row is 2.5 ms away, past 1.98: go now');
  t.ok(decide(queueOf(ones(2, 0)), 1, 1.98, c, heavy(1.5)).dispatch, 'the oldest has already waited 0.4 of the run: go');
  // the seed MLP: 0.1 ms a run, a wait could be at most 0.04 ms, which no timer can keep
  t.ok(decide(queueOf(ones(2)), 1, 0, c, line(0.1, 0.002, 50)).dispatch, 'a cheap model never waits, whatever the rate');
  t.ok(decide(queueOf(ones(1)), 1, 0, c, line(2, 0.1, 50)).dispatch, 'a 2.1 ms run would allow 0.84 ms: under a timer tick, go');
});

t.test('adaptive: waits when the rows it expects raise rows per worker-ms, and only that long', async (t) => {
  const c = cfg({ policy: 'adaptive', maxQueueDelayMs: 0, maxBatchSize: 32 });
  const est = line(4.3, 0.33, 4); // 4 rows per ms: far beyond one-at-a-time capacity
  const d = decide(queueOf(ones(2)), 1, 0, c, est);
  t.notOk(d.dispatch, 'waits');
  t.ok(d.expectRows >= 1, `bets on ${d.expectRows} rows`);
  t.ok(Math.abs(d.waitMs - d.expectRows / 4) < 1e-9, `for as long as they take to arrive (${d.waitMs} ms)`);
  const gainNow = 2 / est.cost(2);
  const gainWait = (2 + d.expectRows) / (d.waitMs + est.cost(2 + d.expectRows));
  t.ok(gainWait > gainNow * 1.05, `the bet pays: ${gainWait.toFixed(3)} vs ${gainNow.toFixed(3)} rows/ms`);
  t.ok(d.waitMs <= 0.4 * est.cost(2), 'never longer than 0.4 of the run it delays');
});

t.test('adaptive: never waits past what the earliest deadline allows, nor past its share of the run', async (t) => {
  const c = cfg({ policy: 'adaptive', maxQueueDelayMs: 0, maxBatchSize: 32 });
  const est = line(4.3, 0.33, 4);
  const loose = decide(queueOf([req(1, { deadline: 6 }), req(1, { deadline: 1000 })]), 1, 0, c, est);
  t.notOk(loose.dispatch, 'a wait of one row (0.25 ms) plus the run (5.29 ms) ends before 6 ms: it waits');
  t.ok(loose.waitMs + est.cost(2 + loose.expectRows) <= 6, 'and the run still ends before the deadline');
  const tight = decide(queueOf([req(1, { deadline: 5.3 }), req(1, { deadline: 1000 })]), 1, 0, c, est);
  t.ok(tight.dispatch, 'a wait plus the run would end past the deadline (5.3 ms): go now');
  const waitedLong = decide(queueOf([req(1, { enqueuedAt: 0 }), req(1, { enqueuedAt: 0 })]), 1, 0.4 * est.cost(2), c, est);
  t.ok(waitedLong.dispatch, 'the oldest has waited 0.4 of the run: go');
});

// --- randomized invariants -------------------------------------------------------------

t.test('randomized invariants (seeded)', async (t) => {
  const rnd = mulberry32(0xc0ffee);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const keys = ['a', 'b', 'c'];
  const failures: string[] = [];
  const seen = { dispatched: 0, expired: 0, waited: 0, adaptiveWaits: 0 };
  const ITER = 800;
  for (let it = 0; it < ITER; it++) {
    const maxBatchSize = int(0, 3) === 0 ? 0 : int(1, 16);
    const adaptive = rnd() < 0.5;
    const c: BatchingPolicyConfig = {
      maxBatchSize,
      policy: adaptive ? 'adaptive' : 'static',
      maxQueueDelayMs: adaptive ? 0 : int(0, 10),
      preferredBatchSizes: maxBatchSize > 0 ? [...new Set(Array.from({ length: int(0, 3) }, () => int(1, maxBatchSize)))].sort((x, y) => x - y) : [],
    };
    const est = rnd() < 0.2 ? UNKNOWN : line(rnd() * 20, rnd(), rnd() * 8);
    const items: Req[] = [];
    let at = int(0, 10);
    for (let i = 0, n = int(0, 10); i < n; i++) {
      at += int(0, 5);
      items.push(req(maxBatchSize > 0 ? int(1, Math.min(2, maxBatchSize)) : 1, { key: keys[int(0, 2)]!, level: int(0, 2), enqueuedAt: at, deadline: at + int(1, 60) }));
    }
    const q = queueOf(items);
    const now = (items[0]?.enqueuedAt ?? 0) + int(0, 15);
    const idle = int(0, 2);
    const d = decide(q, idle, now, c, est);
    const fail = (why: string): void => void failures.push(`${why} — iteration ${it}: ${JSON.stringify({ c, items, now, idle, d })}`);
    const live = items.filter((r) => r.deadline > now);
    if (d.expire !== live.length < items.length) fail('expire exactly when some deadline has passed');
    if (d.expire) {
      seen.expired++;
      continue;
    }
    if (d.dispatch) {
      seen.dispatched++;
      if (idle === 0) fail('nothing may be dispatched without an idle worker');
      const batch = q.take(d.dispatch.key, d.dispatch.maxRows, d.dispatch.first as Req | undefined);
      const rows = batch.reduce((s, r) => s + r.rows, 0);
      if (batch.some((r) => r.key !== d.dispatch!.key)) fail('one key per batch');
      if (maxBatchSize > 0 && batch.length > 1 && rows > maxBatchSize) fail('rows exceed maxBatchSize');
      if (maxBatchSize === 0 && batch.length !== 1) fail('maxBatchSize 0 dispatches exactly one request');
      if (q.length !== items.length - batch.length) fail('take removes exactly the batch');
    } else if (live.length && idle > 0) {
      seen.waited++;
      if (d.expectRows > 0) seen.adaptiveWaits++;
      const minDeadline = Math.min(...live.map((r) => r.deadline));
      if (!(d.waitMs > 0)) fail('waiting with an idle worker needs a positive waitMs');
      if (now + d.waitMs > minDeadline) fail('waitMs beyond the earliest deadline');
      if (!adaptive) {
        const head = q.head()!;
        const oldest = q.oldestOf(head.key);
        if (d.waitMs > oldest + c.maxQueueDelayMs - now + 1e-9) fail("waitMs beyond the oldest request's delay");
      } else {
        if (!(d.expectRows > 0)) fail('an adaptive wait is a bet on rows');
        const head = q.head()!;
        const room = 0.4 * est.cost(q.keyRows(head.key)) - (now - q.oldestOf(head.key));
        if (d.waitMs > room + 1e-9) fail('an adaptive wait beyond 0.4 of the queued run');
        if (room < 1 - 1e-9) fail('an adaptive wait where the room left is under a timer tick');
      }
    } else if (!live.length && d.waitMs !== Infinity) fail('no live request: waitMs Infinity');
  }
  t.strictSame(failures.slice(0, 5), [], `invariants hold over ${ITER} random queues`);
  t.ok(seen.dispatched > 50, `dispatched in ${seen.dispatched} cases`);
  t.ok(seen.expired > 50, `expired in ${seen.expired} cases`);
  t.ok(seen.waited > 10, `waited in ${seen.waited} cases`);
  t.ok(seen.adaptiveWaits > 5, `adaptive waits in ${seen.adaptiveWaits} cases`);
});
