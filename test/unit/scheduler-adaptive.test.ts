// Unit tests for the scheduler's admission, priorities and adaptive waiting, with a fake worker
// pool and an injected clock. Time moves only when a test moves it: the scheduler's own timers
// (real ones) cannot fire while a test awaits nothing but microtasks (settle), and each test
// empties the queue at the end, which clears them.
import t from 'tap';
import { FakePool, track } from '../helpers/fake-pool.js';
import { Scheduler, type InferenceResult, type RejectReason, type SchedulerConfig } from '../../src/batching/scheduler.js';
import { ServeError } from '../../src/errors.js';
import type { Tensor } from '../../src/tensors/dtypes.js';
import { fromNested } from '../../src/tensors/decode.js';
import { batchKey } from '../../src/tensors/batch.js';


/** Lets the scheduler's .then handlers run: microtasks only, so no timer can fire meanwhile. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}


const isServeError = (e: unknown, code: string, status: number): boolean => e instanceof ServeError && e.code === code && e.status === status;
const retryAfter = (e: unknown): string | undefined => (e instanceof ServeError ? e.headers['retry-after'] : undefined);

/** A request of `rows` rows of width 2 whose first value is `base` (rows base, base+2, …). */
function input(rows: number, base: number): { inputs: Record<string, Tensor>; rows: number; key: string } {
  const x = fromNested(Array.from({ length: rows }, (_, r) => [base + 2 * r, base + 2 * r + 1]), 'float32');
  return { inputs: { x }, rows, key: batchKey(x) };
}

/** What setup needs of a test: somewhere to clean up. */
interface Tap {
  teardown(fn: () => void): void;
}

interface Costed {
  rows: number;
  predictedMs: number;
  measuredMs: number;
}

function setup(t: Tap, over: Partial<SchedulerConfig> = {}, idle = 1) {
  let clock = 1000;
  const pool = new FakePool(idle);
  const rejected: RejectReason[] = [];
  const costed: Costed[] = [];
  const executed: { rows: number; requests: number }[] = [];
  const cfg: SchedulerConfig = { maxBatchSize: 8, policy: 'adaptive', maxQueueDelayMs: 0, preferredBatchSizes: [], maxQueueSize: 64, priorityLevels: 3, ...over };
  const s = new Scheduler(
    cfg,
    pool.asPool(),
    {
      rejected: (r) => rejected.push(r),
      executed: (rows, requests) => executed.push({ rows, requests }),
      costed: (rows, predictedMs, measuredMs) => costed.push({ rows, predictedMs, measuredMs }),
    },
    () => clock,
  );
  // an empty queue and a pump clear the scheduler's timer: nothing keeps the process alive
  t.teardown(() => {
    s.rejectAll(() => new Error('teardown'));
    s.pump();
  });
  return {
    s,
    pool,
    rejected,
    costed,
    executed,
    now: () => clock,
    /** Moves the clock without asking the scheduler anything (as if its timer had not fired yet). */
    setClock(ms: number) {
      clock = ms;
    },
    advance(ms: number) {
      clock += ms;
      s.pump();
    },
    request(rows: number, base: number, opts: { level?: number; timeoutMs?: number; signal?: AbortSignal; onCancel?: (cancel: () => void) => void } = {}) {
      return track<InferenceResult>(s.enqueue({ ...input(rows, base), timeoutMs: 60_000, ...opts }));
    },
  };
}

/** cost(n) = 9 + n ms: 10 for one row, 17 for a full batch of 8 (2.125 ms a row). */
const QUICK = [
  { rows: 1, ms: 10 },
  { rows: 8, ms: 17 },
];
/** A slow model that gains nothing by batching, cost(n) = 100 n ms: the adaptive policy never waits. */
const SLOW = [
  { rows: 1, ms: 100 },
  { rows: 8, ms: 800 },
];
/** Batching pays: cost(n) = 4 + 0.3 n ms. */
const BATCHY = [
  { rows: 1, ms: 4.3 },
  { rows: 8, ms: 6.4 },
];

t.test('admission: a request whose timeout cannot be met is refused at once with QUEUE_FULL; one that fits is queued', async (t) => {
  const { s, pool, rejected, request, advance } = setup(t);
  s.cost.seed(QUICK);
  const a = request(1, 0);
  t.equal(pool.calls.length, 1, 'the first request goes at once (the rate is low)');
  const b = request(8, 100);
  const c = request(8, 200);
  t.equal(s.depth, 2, 'two full batches wait behind the running one');
  // ahead: the running batch's 10 ms, then 16 rows at 17/8 ms: 44 ms; its own full batch 17: 61 ms
  t.equal(s.predictedDrainMs(), 44);
  const late = request(1, 900, { timeoutMs: 60 });
  await settle();
  t.ok(late.settled(), 'answered within microtasks');
  t.ok(isServeError(late.error, 'QUEUE_FULL', 429), 'QUEUE_FULL, 429');
  t.equal(retryAfter(late.error), '1', 'Retry-After: 44 ms drain, in whole seconds, at least 1');
  t.match((late.error as Error).message, /predicted to take 61 ms, more than the 60 ms left before this request's deadline/);
  t.strictSame(rejected, ['queue_full'], 'the observer heard one queue_full');
  t.equal(s.depth, 2, 'not queued');
  const fits = request(1, 950, { timeoutMs: 61 });
  await settle();
  t.notOk(fits.settled(), 'a timeout of exactly the prediction is admitted');
  t.equal(s.depth, 3);
  // each run takes what the cost model predicts, so the model stays as seeded
  for (let i = 0; i < 4; i++) {
    advance(s.cost.predict(pool.rows(i)));
    pool.succeed(i);
    await settle();
  }
  t.equal(pool.calls.length, 4, 'four runs: a, b, c, fits');
  t.ok(a.value && b.value && c.value && fits.value, 'all the admitted ones answered');
  t.notOk(pool.calls.some((_, i) => pool.firsts(i).includes(900)), 'the refused request never reached the pool');
  t.strictSame(rejected, ['queue_full']);
});

t.test('admission: an idle scheduler admits a request its cost model says cannot make it, and the run corrects the model', async (t) => {
  const { s, pool, request, advance } = setup(t);
  s.cost.seed([{ rows: 1, ms: 500 }, { rows: 8, ms: 600 }]); // spoilt: a cold burst measured 500 ms a run
  const r = request(1, 0, { timeoutMs: 50 });
  await settle();
  t.notOk(r.settled(), 'nothing queued, nothing running: admitted although 500 ms > 50 ms');
  t.equal(pool.calls.length, 1, 'and dispatched');
  const behind = request(1, 10, { timeoutMs: 50 });
  await settle();
  t.ok(isServeError(behind.error, 'QUEUE_FULL', 429), 'with a run in progress the prediction counts again');
  advance(5);
  pool.succeed(0);
  await settle();
  t.ok(r.value, 'answered');
  t.ok(s.cost.predict(1) < 500, `the 5 ms run pulled the model down (${s.cost.predict(1).toFixed(1)} ms)`);
});

t.test('a full batch goes to a busy worker that can hold it; the cost model counts its run from its start', async (t) => {
  const { s, pool, request, advance, costed } = setup(t);
  s.cost.seed(QUICK);
  const a = request(1, 0);
  t.equal(pool.calls.length, 1, 'the first goes to the idle worker');
  pool.queueable = 1; // the real pool: a busy worker holds one batch behind its run
  const waiting = Array.from({ length: 8 }, (_, i) => request(1, 100 + i));
  t.equal(pool.calls.length, 2, 'the eighth row filled a batch: it was queued behind the run');
  t.equal(pool.rows(1), 8);
  const partial = request(1, 900);
  t.equal(pool.calls.length, 2, 'a partial batch waits (no room left, and it is not full)');
  advance(10);
  pool.succeed(0);
  await settle();
  t.ok(a.value, 'the first answered');
  // the queued batch waited 10 ms behind the first and ran 17 by its worker's clock; the main
  // thread, busy elsewhere, reads its answer 40 ms after the first's
  advance(40);
  pool.succeed(1, 10, 17);
  await settle();
  t.ok(waiting.every((w) => w.value), 'the queued batch answered');
  t.equal(waiting[0]!.value!.queueMs, 10, 'its queue time runs to when its worker could start it');
  t.same(costed.map((c) => c.measuredMs), [10, 17], "the cost model saw the worker's 17 ms, not the 50 since its dispatch nor the 40 since the first's answer");
  t.notOk(partial.settled(), 'the partial one is still unanswered');
});

t.test('a main thread that reads answers late queues no batch behind a run, and admission counts the lag', async (t) => {
  const { s, pool, request, advance } = setup(t);
  s.cost.seed(QUICK);
  request(1, 0);
  // 10 ms left of the run ahead + its own 10 ms run = 20 ms: fits in 23
  const control = request(1, 10, { timeoutMs: 23 });
  t.notOk(control.settled(), 'admitted without a lag');
  advance(10);
  pool.succeed(0);
  await settle();
  t.equal(pool.calls.length, 2, 'and sent when the worker came back');
  pool.readLagMs = 30; // from now on every answer is read 30 ms after its worker sent it
  advance(10);
  pool.succeed(1);
  await settle();
  t.ok(control.value, 'answered');
  request(1, 20);
  const tight = request(1, 30, { timeoutMs: 23 });
  await settle();
  t.ok(isServeError(tight.error, 'QUEUE_FULL', 429), 'the same request is refused: 20 ms plus the lag learnt from one late answer (6 ms) is past 23');
  pool.queueable = 1;
  const waiting = Array.from({ length: 8 }, (_, i) => request(1, 100 + i));
  t.equal(pool.calls.length, 3, 'a full batch is not queued behind the run while answers are read late');
  advance(10);
  pool.succeed(2);
  await settle();
  t.equal(pool.calls.length, 4, 'it goes when the worker is idle');
  advance(17);
  pool.succeed(3);
  await settle();
  t.ok(waiting.every((w) => w.value), 'and is answered');
});

t.test('admission: an unmeasured cost model admits whatever the backlog', async (t) => {
  const { s, pool, rejected, request } = setup(t);
  request(1, 0);
  for (let i = 0; i < 20; i++) request(8, 100 * (i + 1));
  const tight = request(1, 5000, { timeoutMs: 1 });
  await settle();
  t.notOk(tight.settled(), 'queued: nothing predicts it will be late');
  t.equal(s.depth, 21);
  t.strictSame(rejected, []);
  t.ok(Number.isNaN(s.predictedDrainMs()), 'no prediction');
  t.equal(pool.calls.length, 1);
});

t.test('Retry-After grows with the backlog', async (t) => {
  t.test('a short queue: 1 s', async (t) => {
    const { s, request } = setup(t);
    s.cost.seed(SLOW);
    request(1, 0); // running: 100 ms predicted
    request(1, 10); // 100 ms queued
    const r = request(1, 20, { timeoutMs: 1 });
    await settle();
    t.ok(isServeError(r.error, 'QUEUE_FULL', 429));
    t.ok(Math.abs(s.predictedDrainMs() - 200) < 1e-6, `drain ${s.predictedDrainMs()} ms`);
    t.equal(retryAfter(r.error), '1');
  });
  t.test('60 rows queued on a slow model: 7 s', async (t) => {
    const { s, request } = setup(t);
    s.cost.seed(SLOW);
    request(1, 0);
    for (let i = 1; i <= 60; i++) request(1, 10 * i);
    t.equal(s.depth, 60);
    // 100 ms running + 60 rows × 100 ms = 6.1 s
    t.ok(Math.abs(s.predictedDrainMs() - 6100) < 1e-6, `drain ${s.predictedDrainMs()} ms`);
    const r = request(1, 9999, { timeoutMs: 1000 });
    await settle();
    t.ok(isServeError(r.error, 'QUEUE_FULL', 429));
    t.equal(retryAfter(r.error), '7');
    // the count limit answers with the same drain-based Retry-After
    for (let i = 61; i <= 64; i++) request(1, 10 * i);
    t.equal(s.depth, 64);
    const full = request(1, 8888);
    await settle();
    t.ok(isServeError(full.error, 'QUEUE_FULL', 429));
    t.match((full.error as Error).message, /maxQueueSize/);
    t.equal(retryAfter(full.error), '7', '100 ms + 64 × 100 ms = 6.5 s');
  });
});

t.test('admission per level: a high-priority request is admitted where a low one is refused', async (t) => {
  const { s, request, rejected } = setup(t);
  s.cost.seed(SLOW);
  request(1, 0);
  for (let i = 1; i <= 4; i++) request(8, 100 * i, { level: 2 }); // 32 low rows: 3.2 s
  // high: 100 ms running, nothing ahead at its level, its batch 100 ms: 200 ms
  const high = request(1, 5000, { level: 0, timeoutMs: 1000 });
  // low: 100 ms running, 33 rows ahead (the high one too), then a full batch: 100 + 3300 + 800 = 4.2 s
  const low = request(1, 6000, { level: 2, timeoutMs: 1000 });
  await settle();
  t.notOk(high.settled(), 'high: queued');
  t.ok(isServeError(low.error, 'QUEUE_FULL', 429), 'low: refused');
  t.equal(retryAfter(low.error), '4', 'drain 100 + 33 rows × 100 ms = 3.4 s: 4');
  t.strictSame(rejected, ['queue_full']);
});

t.test('priorities: the high ones run first when the worker frees', async (t) => {
  const { s, pool, request, advance } = setup(t);
  s.cost.seed(SLOW);
  const a = request(1, 0);
  const names = new Map<number, string>([[0, 'a']]);
  const all = [a];
  for (const [name, base, level] of [
    ['low1', 100, 2],
    ['low2', 200, 2],
    ['mid', 300, 1],
    ['high1', 400, 0],
    ['high2', 500, 0],
  ] as const) {
    names.set(base, name);
    all.push(request(8, base, { level }));
  }
  t.equal(s.depth, 5);
  for (let i = 0; i < 6; i++) {
    advance(s.cost.predict(pool.rows(i)));
    pool.succeed(i);
    await settle();
  }
  t.strictSame(
    pool.calls.map((_, i) => names.get(pool.firsts(i)[0]!)),
    ['a', 'high1', 'high2', 'mid', 'low1', 'low2'],
    'by level, then arrival',
  );
  t.ok(all.every((p) => p.value), 'all answered');
});

t.test('priorities: requests of several levels share a batch, the urgent first', async (t) => {
  const { s, pool, request, advance } = setup(t);
  s.cost.seed(SLOW);
  request(1, 0);
  request(2, 100, { level: 2 });
  request(3, 200, { level: 1 });
  request(2, 300, { level: 0 });
  request(4, 400, { level: 0 });
  advance(100);
  pool.succeed(0);
  await settle();
  t.strictSame(pool.firsts(1), [300, 302, 400, 402, 404, 406], 'level 0 (2 + 4 rows); the 3-row level-1 request does not fit beside them');
  t.equal(s.depth, 2, 'and the low one, which would fit, does not pass it');
  advance(600);
  pool.succeed(1);
  await settle();
  t.strictSame(pool.firsts(2), [200, 202, 204, 100, 102], 'then level 1 and level 2 together');
});

t.test('a low request whose deadline comes close runs before further high ones', async (t) => {
  const { s, pool, request, advance } = setup(t);
  s.cost.seed(SLOW); // urgency window: two full-batch runs, 1600 ms
  request(1, 0);
  const low = request(8, 100, { level: 2, timeoutMs: 3000 }); // deadline 4000
  const highs = [request(8, 200), request(8, 300), request(8, 400)];
  advance(100); // 1100: 2900 ms left, outside the window
  pool.succeed(0);
  await settle();
  t.strictSame(pool.firsts(1), [200, 202, 204, 206, 208, 210, 212, 214], 'a high one first');
  advance(800); // 1900: 2100 ms left
  pool.succeed(1);
  await settle();
  t.equal(pool.firsts(2)[0], 300, 'another high one: the low one still has time');
  advance(800); // 2700: 1300 ms left, inside the window
  pool.succeed(2);
  await settle();
  t.equal(pool.firsts(3)[0], 100, 'now the low one, ahead of the third high one');
  t.equal(pool.rows(3), 8, 'alone: the high one does not fit beside it');
  advance(800);
  pool.succeed(3);
  await settle();
  t.equal(pool.firsts(4)[0], 400, 'then the last high one');
  advance(800);
  pool.succeed(4);
  await settle();
  t.ok(low.value, 'the low one answered in time, not expired');
  t.ok(highs.every((h) => h.value));
  t.equal(s.depth, 0);
});

t.test('a low request kept queued past its deadline is answered QUEUE_TIMEOUT (504)', async (t) => {
  t.test('the clock passes its deadline while every worker is busy', async (t) => {
    const { s, pool, rejected, request, advance } = setup(t);
    s.cost.seed(SLOW);
    request(1, 0);
    const low = request(1, 100, { level: 2, timeoutMs: 3000 });
    const high = request(1, 200, { level: 0 });
    advance(2999);
    await settle();
    t.notOk(low.settled(), 'before its deadline: queued');
    advance(1);
    await settle();
    t.ok(isServeError(low.error, 'QUEUE_TIMEOUT', 504), 'at its deadline: QUEUE_TIMEOUT, 504');
    t.strictSame(rejected, ['timeout']);
    t.equal(s.depth, 1);
    pool.succeed(0);
    await settle();
    t.equal(pool.calls.length, 2);
    t.strictSame(pool.firsts(1), [200], 'the high one runs; the expired one never');
    pool.succeed(1);
    await settle();
    t.ok(high.value);
  });
  t.test('a worker frees after its deadline, before anything asked: expired first, not run', async (t) => {
    const { s, pool, rejected, request, setClock } = setup(t);
    s.cost.seed(SLOW);
    request(1, 0);
    const low = request(1, 100, { level: 2, timeoutMs: 3000 });
    const high = request(1, 200, { level: 0 });
    setClock(5000);
    t.notOk(low.settled(), 'nothing asked yet');
    pool.succeed(0);
    await settle();
    t.ok(isServeError(low.error, 'QUEUE_TIMEOUT', 504));
    t.strictSame(rejected, ['timeout']);
    t.strictSame(pool.firsts(1), [200]);
    pool.succeed(1);
    await settle();
    t.ok(high.value);
    t.equal(s.depth, 0);
  });
});

t.test('cancellation with priorities: a cancelled high request does not block the low ones', async (t) => {
  const { s, pool, rejected, request } = setup(t);
  s.cost.seed(SLOW);
  request(1, 0);
  const low = request(1, 100, { level: 2 });
  let cancelHigh: (() => void) | undefined;
  const high = request(1, 200, { level: 0, onCancel: (c) => (cancelHigh = c) });
  const ac = new AbortController();
  const mid = request(1, 300, { level: 1, signal: ac.signal });
  t.equal(s.depth, 3);
  cancelHigh!();
  await settle();
  t.ok(isServeError(high.error, 'REQUEST_CANCELLED', 499), 'onCancel: REQUEST_CANCELLED, 499');
  t.equal(s.depth, 2);
  ac.abort();
  await settle();
  t.ok(isServeError(mid.error, 'REQUEST_CANCELLED', 499), 'AbortSignal: REQUEST_CANCELLED, 499');
  t.equal(s.depth, 1);
  t.strictSame(rejected, ['cancelled', 'cancelled']);
  cancelHigh!(); // twice: already gone, nothing more
  t.strictSame(rejected, ['cancelled', 'cancelled'], 'a second cancel is not counted');
  pool.succeed(0);
  await settle();
  t.equal(pool.calls.length, 2);
  t.strictSame(pool.firsts(1), [100], 'the low one runs, alone');
  pool.succeed(1);
  await settle();
  t.ok(low.value, 'and is answered');
  t.equal(s.depth, 0);
  // a request cancelled while running is not taken back: its run finishes, its answer goes nowhere
  let cancelRunning: (() => void) | undefined;
  const running = request(1, 400, { onCancel: (c) => (cancelRunning = c) });
  t.equal(pool.calls.length, 3, 'dispatched');
  cancelRunning!();
  t.strictSame(rejected, ['cancelled', 'cancelled'], 'not counted as cancelled');
  pool.succeed(2);
  await settle();
  t.ok(running.value, 'answered');
});

t.test('the cost model: one observation per run, and costed() hears the prediction', async (t) => {
  const { s, pool, costed, request, advance } = setup(t);
  s.cost.seed(BATCHY);
  t.equal(s.cost.view().runs, 0);
  const predicted = s.cost.predict(3);
  const a = request(3, 0);
  t.equal(pool.calls.length, 1);
  advance(7);
  pool.succeed(0);
  await settle();
  t.equal(s.cost.view().runs, 1, 'one run observed');
  t.equal(costed.length, 1);
  t.equal(costed[0]!.rows, 3);
  t.ok(Math.abs(costed[0]!.predictedMs - 4.9) < 1e-9, `predicted 4.9 ms (${costed[0]!.predictedMs})`);
  t.equal(costed[0]!.predictedMs, predicted, 'the prediction made at dispatch');
  t.equal(costed[0]!.measuredMs, 7, 'measured on the scheduler clock');
  t.ok(s.cost.predict(3) > predicted, 'a slower run than predicted raises the prediction');
  t.ok(a.value);
  const b = request(2, 10);
  advance(5);
  pool.succeed(1);
  await settle();
  t.equal(s.cost.view().runs, 2);
  t.strictSame(costed.map((c) => c.rows), [3, 2]);
  t.ok(b.value, 'answered');
});

t.test('the cost model: before any measurement a run is observed but not costed', async (t) => {
  const { s, pool, costed, request, advance } = setup(t);
  request(2, 0);
  advance(3);
  pool.succeed(0);
  await settle();
  t.equal(s.cost.view().runs, 1);
  t.strictSame(costed, [], 'no prediction to compare');
  t.equal(s.cost.predict(2), 3, 'the first measurement predicts');
});

t.test('adaptive: arrivals while the worker is busy go as full batches, not one at a time', async (t) => {
  const { s, pool, executed, request, advance } = setup(t);
  s.cost.seed(BATCHY);
  const first = request(1, 0);
  const rest = Array.from({ length: 24 }, (_, i) => {
    advance(0.2);
    return request(1, 10 * (i + 1));
  });
  t.equal(pool.calls.length, 1, 'queued while busy');
  t.equal(s.depth, 24);
  for (let i = 0; i < 4; i++) {
    advance(s.cost.predict(pool.rows(i)));
    pool.succeed(i);
    await settle();
  }
  t.strictSame(executed.map((e) => e.rows), [1, 8, 8, 8], 'three full batches');
  t.ok(first.value && rest.every((r) => r.value), 'all answered');
});

/**
 * Arrivals of one row every `gapMs` for `forMs`, on `workers` workers whose runs take
 * 4 + 0.3·rows ms (what BATCHY seeds). The scheduler is asked on every arrival and every
 * finished run, as in service, and every 0.25 ms in between, standing in for its timer.
 */
async function simulate(t: Tap, policy: 'adaptive' | 'static', gapMs: number, workers: number, forMs = 600) {
  const { s, pool, request, setClock, now } = setup(t, { policy }, workers);
  s.cost.seed(BATCHY);
  const runs: { i: number; endsAt: number }[] = [];
  let started = 0;
  const answers: ReturnType<typeof request>[] = [];
  let waitsOnIdle = 0;
  let nextArrival = 1000;
  const finishDue = async (): Promise<void> => {
    for (const r of runs.filter((r) => now() >= r.endsAt - 1e-9)) {
      runs.splice(runs.indexOf(r), 1);
      pool.succeed(r.i);
      await settle();
    }
  };
  const noteStarted = (): void => {
    for (; started < pool.calls.length; started++) runs.push({ i: started, endsAt: now() + 4 + 0.3 * pool.rows(started) });
  };
  for (let step = 0; step * 0.25 <= forMs; step++) {
    setClock(1000 + step * 0.25);
    await finishDue();
    noteStarted();
    if (now() >= nextArrival - 1e-9 && now() < 1000 + forMs) {
      const idle = pool.idle > 0;
      const before = pool.calls.length;
      answers.push(request(1, answers.length, { timeoutMs: 5000 }));
      // a worker was free and the request did not go: the policy bet on company
      if (idle && pool.calls.length === before) waitsOnIdle++;
      nextArrival += gapMs;
    }
    s.pump();
    noteStarted();
  }
  // then run out what is running and queued, so every request is answered
  for (let guard = 0; guard < 4000 && (runs.length || s.depth); guard++) {
    setClock(now() + 0.25);
    await finishDue();
    s.pump();
    noteStarted();
  }
  const sizes = pool.calls.map((_, i) => pool.rows(i));
  return { s, sizes, mean: sizes.reduce((a, b) => a + b, 0) / sizes.length, waitsOnIdle, answered: answers.filter((a) => a.value).length, requests: answers.length };
}

t.test('adaptive: below capacity it never waits with a worker free, and batches exactly as static 0 does', async (t) => {
  // 0.5 rows/ms on two workers (capacity in full batches of 8: 2 × 8 / 6.4 ms = 2.5 rows/ms):
  // dispatching at once keeps up, so a wait would only add latency
  const adaptive = await simulate(t, 'adaptive', 2, 2);
  const stat = await simulate(t, 'static', 2, 2);
  t.equal(adaptive.answered, adaptive.requests, `adaptive: all ${adaptive.requests} answered`);
  t.equal(stat.answered, stat.requests, `static: all ${stat.requests} answered`);
  t.equal(adaptive.waitsOnIdle, 0, 'adaptive: no request waited with a worker free');
  t.strictSame(adaptive.sizes, stat.sizes, `the same runs as static 0 (${stat.sizes.length} runs, mean ${stat.mean.toFixed(2)} rows)`);
  t.equal(adaptive.s.cost.view().runs, adaptive.sizes.length, 'the cost model observed every run');
});

t.test('adaptive: at a low rate every request is dispatched at once', async (t) => {
  const { s, pool, executed, request, advance } = setup(t);
  s.cost.seed(BATCHY);
  const answers = [];
  for (let i = 0; i < 10; i++) {
    advance(1000);
    answers.push(request(1, 10 * i));
    t.equal(pool.calls.length, i + 1, `request ${i + 1}: run on enqueue`);
    advance(4.3);
    pool.succeed(i);
    await settle();
  }
  t.strictSame(executed.map((e) => e.rows), Array.from({ length: 10 }, () => 1), 'one row per run');
  t.ok(answers.every((a) => a.value), 'all answered');
  t.notOk(s.arrivals.waiting, 'no wait was ever begun');
  // the same through the simulation, at one row every 50 ms
  const slow = await simulate(t, 'adaptive', 50, 1);
  t.equal(slow.waitsOnIdle, 0, 'no request waited');
  t.ok(slow.sizes.every((n) => n === 1), `${slow.sizes.length} runs of one row`);
  t.equal(slow.answered, slow.requests);
});
