// Unit tests for admission (src/batching/admission.ts): the predicted wait and drain times of a
// backlog, and admit()'s verdict and Retry-After, with a linear cost whose numbers can be
// worked by hand.
import t from 'tap';
import { admit, predictedDrainMs, predictedFinishMs, predictedWaitMs, type Backlog } from '../../src/batching/admission.js';
import { RequestQueue, type Queued } from '../../src/batching/queue.js';

/** 4 ms fixed + 0.5 ms a row: a full batch of 8 costs 8 ms, 1 ms a row. */
const cost = (n: number): number => 4 + 0.5 * n;
const MAX = 8;
const backlog = (over: Partial<Backlog> = {}): Backlog => ({ rowsAhead: 0, rowsQueued: 0, runningMs: 0, runningBatches: 1, workers: 1, readLagMs: 0, ...over });

t.test('predictedWaitMs: running time plus the rows ahead in full batches, over the workers', async (t) => {
  t.equal(predictedWaitMs(backlog(), MAX, cost), 0, 'nothing ahead: no wait');
  t.equal(predictedWaitMs(backlog({ runningMs: 6 }), MAX, cost), 6, 'only the running batch');
  t.equal(predictedWaitMs(backlog({ rowsAhead: 20 }), MAX, cost), 20, '20 rows at 1 ms a row');
  t.equal(predictedWaitMs(backlog({ runningMs: 6, rowsAhead: 20, workers: 2 }), MAX, cost), 13, '(6 + 20) / 2');
  t.equal(predictedWaitMs(backlog({ runningMs: 6, rowsAhead: 20, rowsQueued: 500 }), MAX, cost), 26, 'rows queued behind it do not count');
  t.equal(predictedWaitMs(backlog({ runningMs: 6, rowsAhead: 20, workers: 0 }), MAX, cost), 26, 'no live worker counts as one');
  t.equal(predictedWaitMs(backlog({ rowsAhead: 16 }), 16, cost), 16 * (12 / 16), 'a larger batch is cheaper per row: 0.75 ms');
});

t.test('predictedDrainMs: running time plus every queued row', async (t) => {
  t.equal(predictedDrainMs(backlog({ runningMs: 6, rowsAhead: 20, rowsQueued: 30, workers: 2 }), MAX, cost), 18, '(6 + 30) / 2');
  t.equal(predictedDrainMs(backlog({ rowsQueued: 30 }), MAX, cost), 30);
  // a model that does not batch (maxBatchSize 0): a row at a time, cost(1) each
  t.equal(predictedDrainMs(backlog({ rowsQueued: 10 }), 0, cost), 45, '10 × 4.5 ms');
});

t.test('more workers shorten the wait and the drain', async (t) => {
  const waits = [1, 2, 4].map((workers) => predictedWaitMs(backlog({ runningMs: 12, rowsAhead: 40, workers }), MAX, cost));
  t.strictSame(waits, [52, 26, 13]);
  const drains = [1, 2, 4].map((workers) => predictedDrainMs(backlog({ runningMs: 12, rowsQueued: 40, workers }), MAX, cost));
  t.strictSame(drains, [52, 26, 13]);
});

t.test('admit: when the wait plus its own batch fits in the budget, at the edge too', async (t) => {
  // wait (6 + 20) / 2 = 13, its batch is full (20 rows ahead): cost(8) = 8, 21 ms in all
  const b = backlog({ runningMs: 6, rowsAhead: 20, rowsQueued: 30, workers: 2 });
  t.strictSame(admit(b, 2, 21, MAX, cost), { admit: true }, 'exactly the budget: admitted');
  t.strictSame(admit(b, 2, 1000, MAX, cost), { admit: true });
  t.strictSame(admit(b, 2, 20.9, MAX, cost), { admit: false, bound: 'deadline', predictedMs: 21, limitMs: 20.9, retryAfterS: 1 }, 'just short: refused, Retry-After 1 (18 ms drain)');
});

t.test("admit: its own batch holds what is ahead of it and itself, up to a full batch", async (t) => {
  // empty queue: its batch is only itself, cost(3) = 5.5
  t.strictSame(admit(backlog(), 3, 5.5, MAX, cost), { admit: true });
  t.strictSame(admit(backlog(), 3, 5.4, MAX, cost), { admit: false, bound: 'deadline', predictedMs: 5.5, limitMs: 5.4, retryAfterS: 1 });
  // 2 rows ahead: wait 2, its batch of 5 rows cost(5) = 6.5, 8.5 ms
  t.match(admit(backlog({ rowsAhead: 2, rowsQueued: 2 }), 3, 8, MAX, cost), { admit: false, predictedMs: 8.5 });
  t.strictSame(admit(backlog({ rowsAhead: 2, rowsQueued: 2 }), 3, 8.5, MAX, cost), { admit: true });
  // maxBatchSize 0: its run is cost(rows)
  t.match(admit(backlog(), 3, 1, 0, cost), { admit: false, predictedMs: 5.5 });
});

t.test("admit: the queue's wait limit, never less than two full batches' runs", async (t) => {
  // wait (6 + 20) / 2 = 13 ms, finish 21 ms: a long deadline, so only the wait limit can refuse
  const b = backlog({ runningMs: 6, rowsAhead: 20, rowsQueued: 30, workers: 2 });
  t.strictSame(admit(b, 2, 10_000, MAX, cost, 20), { admit: true }, 'a wait of 13 ms within a limit of 20');
  t.strictSame(admit(b, 2, 10_000, MAX, cost, 13), { admit: true }, 'at the limit');
  // a limit under two full runs (2 × cost(8) = 16 ms) is raised to them: 13 ms fits
  t.strictSame(admit(b, 2, 10_000, MAX, cost, 5), { admit: true }, 'a 5 ms limit counts as 16 (two full runs)');
  const long = backlog({ runningMs: 6, rowsAhead: 60, rowsQueued: 60, workers: 2 }); // wait 33 ms
  t.strictSame(admit(long, 2, 10_000, MAX, cost, 20), { admit: false, bound: 'queue-wait', predictedMs: 33, limitMs: 20, retryAfterS: 1 }, 'a wait of 33 ms over a limit of 20');
  t.strictSame(admit(long, 2, 10_000, MAX, cost, 5), { admit: false, bound: 'queue-wait', predictedMs: 33, limitMs: 16, retryAfterS: 1 }, 'over two full runs');
  t.match(admit(long, 2, 30, MAX, cost, 20), { admit: false, bound: 'deadline' }, 'both broken: the deadline is named');
  t.strictSame(admit(backlog({ runningBatches: 0 }), 2, 10_000, MAX, cost, 1), { admit: true }, 'idle: admitted whatever the limit');
  t.strictSame(admit(long, 2, 10_000, MAX, () => NaN, 1), { admit: true }, 'an unmeasured cost model admits');
  // a main thread 10 ms behind: the 13 ms wait is 23 ms of waiting, over a 20 ms limit
  t.strictSame(admit({ ...b, readLagMs: 10 }, 2, 10_000, MAX, cost, 20), { admit: false, bound: 'queue-wait', predictedMs: 23, limitMs: 20, retryAfterS: 1 }, "the main thread's lag counts as waiting");
});

t.test('Retry-After: the predicted drain in whole seconds, rounded up, at least 1', async (t) => {
  const refuse = (b: Backlog): number => {
    const v = admit(b, 1, 0, MAX, cost);
    return v.admit ? NaN : v.retryAfterS;
  };
  t.equal(refuse(backlog({ rowsQueued: 0 })), 1, 'nothing to drain: still 1');
  t.equal(refuse(backlog({ rowsQueued: 999 })), 1, '999 ms: 1 s');
  t.equal(refuse(backlog({ rowsQueued: 1000 })), 1, 'exactly 1 s: 1, not 2');
  t.equal(refuse(backlog({ rowsQueued: 1001 })), 2, '1.001 s: 2');
  t.equal(refuse(backlog({ rowsQueued: 4000, workers: 2 })), 2, '4000 rows over two workers: 2 s');
  t.equal(refuse(backlog({ runningMs: 500, rowsQueued: 6000 })), 7, '6.5 s: 7');
  t.ok(refuse(backlog({ rowsQueued: 20000 })) > refuse(backlog({ rowsQueued: 2000 })), 'a longer queue: a longer Retry-After');
  // the drain counts every queued row, not only those ahead of the refused request
  t.equal(refuse(backlog({ rowsAhead: 10, rowsQueued: 3000 })), 3);
});

t.test('an unmeasured cost (NaN) admits everything', async (t) => {
  const unknown = (): number => NaN;
  t.strictSame(admit(backlog({ runningMs: 0, rowsAhead: 1e6, rowsQueued: 1e6 }), 8, 0, MAX, unknown), { admit: true });
  t.strictSame(admit(backlog({ runningMs: 50, rowsAhead: 10 }), 1, 1, MAX, unknown), { admit: true });
  t.ok(Number.isNaN(predictedWaitMs(backlog({ rowsAhead: 1 }), MAX, unknown)), 'the wait is NaN');
});

t.test('priorities: a high-priority request is admitted where a low one is refused, same queue', async (t) => {
  interface Req extends Queued {
    id: number;
  }
  const q = new RequestQueue<Req>(3);
  let id = 0;
  const push = (rows: number, level: number): void => q.push({ id: id++, rows, key: 'k', level, enqueuedAt: 0, deadline: 1e9, heapAt: -1, ticket: 0 });
  for (let i = 0; i < 5; i++) push(8, 2); // 40 low rows
  push(4, 0); // 4 high rows
  push(4, 1);
  const ahead = (level: number): Backlog => backlog({ runningMs: 6, rowsAhead: q.rowsAtOrAbove(level), rowsQueued: q.rows });
  // level 0: wait 6 + 4 = 10, its batch (4 + 1 rows) cost(5) = 6.5: 16.5 ms
  t.equal(predictedWaitMs(ahead(0), MAX, cost), 10);
  t.strictSame(admit(ahead(0), 1, 20, MAX, cost), { admit: true }, 'high: admitted in 20 ms');
  // level 1: 6 + 8 = 14, then a full batch cost(8) = 8: 22 ms
  t.match(admit(ahead(1), 1, 20, MAX, cost), { admit: false, predictedMs: 22 }, 'middle: refused');
  // level 2: 6 + 48 = 54, + 8: 62 ms
  const low = admit(ahead(2), 1, 20, MAX, cost);
  t.match(low, { admit: false, predictedMs: 62, retryAfterS: 1 }, 'low: refused');
  t.ok(predictedWaitMs(ahead(2), MAX, cost) > predictedWaitMs(ahead(1), MAX, cost), 'each less urgent level waits longer');
  t.equal(predictedDrainMs(ahead(0), MAX, cost), predictedDrainMs(ahead(2), MAX, cost), 'the drain is the same for every level');
});

t.test('an idle server (nothing ahead, nothing running) admits whatever the cost model predicts', async (t) => {
  const idle = backlog({ runningBatches: 0 });
  t.strictSame(admit(idle, 3, 1, MAX, cost), { admit: true }, 'cost(3) = 5.5 ms against 1 ms: still admitted, so a run can correct the model');
  t.match(admit(backlog({ runningBatches: 0, rowsAhead: 1, rowsQueued: 1 }), 3, 1, MAX, cost), { admit: false }, 'one row ahead: the prediction counts');
  t.match(admit(backlog({ runningBatches: 1 }), 3, 1, MAX, cost), { admit: false }, 'a batch running past its prediction (runningMs 0): the prediction counts');
});

t.test('predictedFinishMs: the wait plus its own batch, what admit compares with the budget', async (t) => {
  const b = backlog({ runningMs: 6, rowsAhead: 20, rowsQueued: 30, workers: 2 });
  t.equal(predictedFinishMs(b, 2, MAX, cost), 21, '13 ms wait + a full batch of 8 ms');
  t.equal(predictedFinishMs(backlog(), 3, MAX, cost), 5.5, 'alone: cost(3)');
  t.equal(predictedFinishMs({ ...b, readLagMs: 7 }, 2, MAX, cost), 28, 'a main thread that reads answers 7 ms late: 7 ms more');
  t.equal(admit({ ...b, readLagMs: 7 }, 2, 25, MAX, cost).admit, false, 'which can tip the verdict (21 fits in 25, 28 does not)');
  t.equal(admit(b, 2, 25, MAX, cost).admit, true);
});
