// Unit tests for the pure batching policy: decide(queue, idleWorkers, now, cfg) with a fake clock.
// Expectations come from the batching rules in the README ("How it works") and the Decision contract in policy.ts.
import t from 'tap';
import { mulberry32 } from '../helpers/random.js';
import { decide, type BatchingPolicyConfig, type PendingRequest } from '../../src/batching/policy.js';

const cfg = (over: Partial<BatchingPolicyConfig> = {}): BatchingPolicyConfig => ({
  maxBatchSize: 8,
  maxQueueDelayMs: 5,
  preferredBatchSizes: [],
  ...over,
});

const req = (rows: number, over: Partial<PendingRequest> = {}): PendingRequest => ({
  rows,
  key: 'float32[4]',
  enqueuedAt: 0,
  deadline: 1000,
  ...over,
});

/** n one-row requests, all compatible, enqueued at `at`. */
const ones = (n: number, at = 0): PendingRequest[] => Array.from({ length: n }, () => req(1, { enqueuedAt: at }));

t.test('empty queue: nothing to do, ask again on the next event', async (t) => {
  t.strictSame(decide([], 1, 0, cfg()), { expired: [], dispatch: [], waitMs: Infinity });
  t.strictSame(decide([], 0, 123, cfg()), { expired: [], dispatch: [], waitMs: Infinity });
  t.strictSame(decide([], 3, 5, cfg({ maxBatchSize: 0 })), { expired: [], dispatch: [], waitMs: Infinity });
});

t.test('a full batch dispatches at once, before the delay has passed', async (t) => {
  const d = decide(ones(8), 1, 0, cfg());
  t.strictSame(d.dispatch, [0, 1, 2, 3, 4, 5, 6, 7]);
  t.strictSame(d.expired, []);
  t.equal(d.waitMs, 0);

  // full by rows with fewer requests
  const d2 = decide([req(4), req(2), req(2)], 1, 0, cfg());
  t.strictSame(d2.dispatch, [0, 1, 2]);

  // more than full: the first maxBatchSize rows go now, the rest stay queued
  const d3 = decide(ones(11), 1, 1, cfg());
  t.strictSame(d3.dispatch, [0, 1, 2, 3, 4, 5, 6, 7]);
});

t.test('a preferred batch size dispatches at once; a non-preferred partial batch waits', async (t) => {
  const c = cfg({ preferredBatchSizes: [4, 6] });
  t.strictSame(decide(ones(4), 1, 0, c).dispatch, [0, 1, 2, 3], 'at preferred size 4');
  t.strictSame(decide(ones(6), 1, 0, c).dispatch, [0, 1, 2, 3, 4, 5], 'at preferred size 6');

  const three = decide(ones(3), 1, 0, c);
  t.strictSame(three.dispatch, [], '3 rows is not preferred: wait');
  t.equal(three.waitMs, 5, 'waits the whole delay');

  const five = decide(ones(5), 1, 2, c);
  t.strictSame(five.dispatch, [], '5 rows is not preferred: wait');
  t.equal(five.waitMs, 3, 'waits the rest of the delay');

  // preferred sizes count rows: 2 requests making 6 rows
  t.strictSame(decide([req(2), req(4)], 1, 0, c).dispatch, [0, 1]);
});

t.test('delay expiry: wait the remaining delay, then dispatch at/after expiry', async (t) => {
  const q = [req(1, { enqueuedAt: 100 }), req(2, { enqueuedAt: 101 })];
  const c = cfg({ maxQueueDelayMs: 5 });
  const at100 = decide(q, 1, 100, c);
  t.strictSame(at100, { expired: [], dispatch: [], waitMs: 5 });
  const at103 = decide(q, 1, 103, c);
  t.strictSame(at103, { expired: [], dispatch: [], waitMs: 2 }, 'the delay is counted from the oldest request');
  t.strictSame(decide(q, 1, 105, c), { expired: [], dispatch: [0, 1], waitMs: 0 }, 'exactly at expiry');
  t.strictSame(decide(q, 1, 250, c).dispatch, [0, 1], 'long after expiry');

  // a zero delay dispatches whatever is there
  t.strictSame(decide(q, 1, 100, cfg({ maxQueueDelayMs: 0 })).dispatch, [0, 1]);

  // the wait never overshoots the earliest deadline: the policy must be asked again to answer 504 in time
  const tight = [req(1, { enqueuedAt: 100, deadline: 102 })];
  t.equal(decide(tight, 1, 100, c).waitMs, 2);
});

t.test('busy workers let the batch grow; once a worker is idle the larger batch goes', async (t) => {
  const c = cfg({ maxQueueDelayMs: 5 });
  const q = [req(1, { enqueuedAt: 0, deadline: 1000 }), req(1, { enqueuedAt: 1, deadline: 600 })];
  const busy = decide(q, 0, 10, c);
  t.strictSame(busy.dispatch, [], 'no idle worker: nothing goes even past the delay');
  t.strictSame(busy.expired, []);
  t.equal(busy.waitMs, 590, 'wait until the earliest deadline (600 - 10)');

  // even a full batch waits for a worker
  t.strictSame(decide(ones(8), 0, 50, c).dispatch, []);

  // more requests arrive while busy
  q.push(req(3, { enqueuedAt: 4, deadline: 900 }), req(2, { enqueuedAt: 7, deadline: 400 }));
  const stillBusy = decide(q, 0, 20, c);
  t.strictSame(stillBusy.dispatch, []);
  t.equal(stillBusy.waitMs, 380, 'earliest deadline is now 400');

  const idle = decide(q, 1, 20, c);
  t.strictSame(idle.dispatch, [0, 1, 2, 3], 'the grown batch (7 rows) goes as one');
  t.equal(idle.waitMs, 0);
});

t.test('incompatible shapes are never mixed: the oldest key wins, the others stay', async (t) => {
  const a = 'float32[4]';
  const b = 'float32[8]';
  const q = [req(1, { key: a }), req(1, { key: b }), req(2, { key: a }), req(1, { key: b })];
  const d = decide(q, 1, 10, cfg());
  t.strictSame(d.dispatch, [0, 2], 'only requests with the oldest key');
  t.strictSame(d.expired, [], 'the others are neither dispatched nor expired');

  const q2 = [req(1, { key: b, enqueuedAt: 0 }), req(1, { key: a, enqueuedAt: 1 }), req(1, { key: b, enqueuedAt: 2 })];
  t.strictSame(decide(q2, 1, 10, cfg()).dispatch, [0, 2], 'oldest is b here');

  // an incompatible request does not end the batch, and does not count towards its rows
  const q3 = [req(3, { key: a }), req(8, { key: b }), req(4, { key: a })];
  const early = decide(q3, 1, 0, cfg());
  t.strictSame(early.dispatch, [], '7 compatible rows, not full, delay not over: wait');
  t.equal(early.waitMs, 5);
  t.strictSame(decide(q3, 1, 5, cfg()).dispatch, [0, 2]);

  // "the oldest" means the oldest live request: an expired one does not choose the key
  const q4 = [req(1, { key: b, deadline: 3 }), req(1, { key: a }), req(1, { key: b })];
  const d4 = decide(q4, 1, 10, cfg());
  t.strictSame(d4.expired, [0]);
  t.strictSame(d4.dispatch, [1]);
});

t.test('a request that does not fit ends the batch (dispatch now) and is never split', async (t) => {
  const q = [req(3), req(4), req(2), req(1)];
  const d = decide(q, 1, 0, cfg());
  t.strictSame(d.dispatch, [0, 1], '3 + 4 rows; the 2-row request does not fit and is not split');
  t.equal(d.waitMs, 0, 'blocked: goes now even though the delay has not passed');
  t.notOk(d.dispatch.includes(3), 'a later request is not taken past the one that does not fit');

  t.strictSame(decide([req(5), req(4)], 1, 0, cfg()).dispatch, [0]);
  t.strictSame(decide([req(8), req(1)], 1, 0, cfg()).dispatch, [0]);
});

t.test('deadline expiry: expired indices are reported and never dispatched', async (t) => {
  const q = [req(1, { deadline: 50 }), req(1, { deadline: 100 }), req(1, { deadline: 200 }), req(1, { deadline: 101 })];
  const d = decide(q, 1, 100, cfg());
  t.strictSame(d.expired, [0, 1], 'deadline <= now is expired (100 <= 100)');
  t.strictSame(d.dispatch, [2, 3], 'the live ones, past their delay, go');

  const busy = decide(q, 0, 100, cfg());
  t.strictSame(busy.expired, [0, 1], 'expiry is reported with no idle worker too');
  t.strictSame(busy.dispatch, []);
  t.equal(busy.waitMs, 1, 'until the next deadline (101)');

  const all = decide(q, 1, 500, cfg());
  t.strictSame(all, { expired: [0, 1, 2, 3], dispatch: [], waitMs: Infinity });
});

t.test('maxBatchSize 0: exactly one request at a time, immediately', async (t) => {
  const c = cfg({ maxBatchSize: 0, maxQueueDelayMs: 50 });
  const q = [req(1, { enqueuedAt: 10 }), req(1, { enqueuedAt: 10 }), req(1, { enqueuedAt: 10 })];
  t.strictSame(decide(q, 1, 10, c), { expired: [], dispatch: [0], waitMs: 0 }, 'no delay, one request');
  t.strictSame(decide(q, 3, 10, c).dispatch, [0], 'one per decision even with several idle workers');
  t.strictSame(decide(q, 0, 10, c).dispatch, [], 'no idle worker: nothing');
  const d = decide([req(1, { deadline: 5 }), ...q], 1, 10, c);
  t.strictSame(d.expired, [0]);
  t.strictSame(d.dispatch, [1]);
});

t.test('multi-row requests count rows, not requests', async (t) => {
  t.strictSame(decide([req(4), req(4)], 1, 0, cfg()).dispatch, [0, 1], '2 requests, 8 rows: full');
  const two = decide([req(2), req(2)], 1, 0, cfg({ preferredBatchSizes: [2] }));
  t.strictSame(two.dispatch, [], '2 requests make 4 rows, not the preferred 2');
  t.strictSame(decide([req(2)], 1, 0, cfg({ preferredBatchSizes: [2] })).dispatch, [0], 'one request of 2 rows is preferred');
  t.strictSame(decide([req(6), req(3)], 1, 0, cfg()).dispatch, [0], '6 + 3 > 8');
});

// --- randomized invariants -------------------------------------------------------------

const prng = mulberry32;

t.test('randomized invariants (seeded)', async (t) => {
  const rnd = prng(0xc0ffee);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const keys = ['a', 'b', 'c'];
  const failures: string[] = [];
  let dispatchedSome = 0;
  let expiredSome = 0;
  let waited = 0;
  const ITER = 500;
  for (let it = 0; it < ITER; it++) {
    const maxBatchSize = int(0, 3) === 0 ? 0 : int(1, 16);
    const maxQueueDelayMs = int(0, 10);
    const preferredBatchSizes = maxBatchSize > 0 ? [...new Set(Array.from({ length: int(0, 3) }, () => int(1, maxBatchSize)))].sort((x, y) => x - y) : [];
    const c: BatchingPolicyConfig = { maxBatchSize, maxQueueDelayMs, preferredBatchSizes };
    const n = int(0, 10);
    const smallRows = rnd() < 0.5; // mostly small requests, so batches also wait and grow
    const queue: PendingRequest[] = [];
    let at = int(0, 10);
    for (let i = 0; i < n; i++) {
      at += int(0, 5);
      queue.push({ rows: maxBatchSize > 0 ? int(1, smallRows ? Math.min(2, maxBatchSize) : maxBatchSize) : 1, key: keys[int(0, keys.length - 1)]!, enqueuedAt: at, deadline: at + int(1, 60) });
    }
    // now lands near the queue's arrival times, so waiting, dispatching and expiring all occur
    const now = (queue[0]?.enqueuedAt ?? 0) + int(0, 15);
    const idle = int(0, 2);
    const d = decide(queue, idle, now, c);
    const ctx = `iteration ${it}: ${JSON.stringify({ c, queue, now, idle, d })}`;
    const fail = (why: string): void => {
      failures.push(`${why} — ${ctx}`);
    };

    const wantExpired = queue.flatMap((r, i) => (r.deadline <= now ? [i] : []));
    if (JSON.stringify(d.expired) !== JSON.stringify(wantExpired)) fail('expired must be exactly those with deadline <= now, ascending');
    const live = queue.flatMap((r, i) => (r.deadline > now ? [i] : []));

    for (let k = 1; k < d.dispatch.length; k++) if (d.dispatch[k]! <= d.dispatch[k - 1]!) fail('dispatch must be strictly ascending');
    if (d.dispatch.some((i) => d.expired.includes(i))) fail('dispatch and expired must be disjoint');
    if (d.dispatch.some((i) => !Number.isInteger(i) || i < 0 || i >= queue.length)) fail('dispatch indices must be queue indices');

    const rows = d.dispatch.reduce((s, i) => s + queue[i]!.rows, 0);
    if (maxBatchSize > 0 && rows > maxBatchSize) fail('dispatched rows exceed maxBatchSize');
    if (maxBatchSize === 0 && d.dispatch.length > 1) fail('maxBatchSize 0 dispatches at most one request');
    if (idle === 0 && d.dispatch.length) fail('nothing may be dispatched without an idle worker');

    if (d.dispatch.length) {
      dispatchedSome++;
      const oldest = queue[live[0]!]!;
      if (d.dispatch[0] !== live[0]) fail('a batch starts with the oldest live request');
      if (d.dispatch.some((i) => queue[i]!.key !== oldest.key)) fail('all dispatched requests share the oldest live key');
      if (maxBatchSize > 0) {
        // greedy prefix of the compatible live requests while the rows fit; never split, never skip
        const compatible = live.filter((i) => queue[i]!.key === oldest.key);
        const want: number[] = [];
        let sum = 0;
        for (const i of compatible) {
          if (sum + queue[i]!.rows > maxBatchSize) break;
          want.push(i);
          sum += queue[i]!.rows;
        }
        if (JSON.stringify(d.dispatch) !== JSON.stringify(want)) fail(`dispatch should be the fitting prefix ${JSON.stringify(want)}`);
      }
    } else if (live.length && idle > 0) {
      waited++;
      // nothing went although a worker is idle: the policy must wait a positive time, no longer
      // than the rest of the oldest's delay and no later than the earliest deadline
      const oldest = queue[live[0]!]!;
      const minDeadline = Math.min(...live.map((i) => queue[i]!.deadline));
      if (!(d.waitMs > 0)) fail('waiting with an idle worker needs a positive waitMs');
      if (d.waitMs > oldest.enqueuedAt + maxQueueDelayMs - now) fail('waitMs beyond the oldest request\'s delay');
      if (now + d.waitMs > minDeadline) fail('waitMs beyond the earliest deadline');
      if (now - oldest.enqueuedAt >= maxQueueDelayMs) fail('the oldest has waited its delay: it must go');
    }
    if (!live.length && (d.dispatch.length || d.waitMs !== Infinity)) fail('no live request: no dispatch, waitMs Infinity');
    if (d.expired.length) expiredSome++;
  }
  t.strictSame(failures.slice(0, 5), [], `invariants hold over ${ITER} random queues`);
  // the generator exercises every branch (guards against a vacuous property test)
  t.ok(dispatchedSome > 50, `dispatched in ${dispatchedSome} cases`);
  t.ok(expiredSome > 50, `expired in ${expiredSome} cases`);
  t.ok(waited > 10, `waited in ${waited} cases`);
});
