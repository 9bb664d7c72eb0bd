// Unit tests for the scheduler shell (queue limit, cancellation, deadlines, slicing results back,
// failures and retries, drained()) with a fake worker pool, an injected clock and, where the
// scheduler's own timer must fire, @sinonjs/fake-timers: no test sleeps.
import t from 'tap';
import { FakePool, track } from '../helpers/fake-pool.js';
import FakeTimers from '@sinonjs/fake-timers';
import { Scheduler, type RejectReason, type SchedulerConfig } from '../../src/batching/scheduler.js';
import { VersionStats } from '../../src/batching/stats.js';
import { RunError, WorkerDiedError } from '../../src/pool/pool.js';
import { ServeError } from '../../src/errors.js';
import type { Tensor } from '../../src/tensors/dtypes.js';
import { fromNested } from '../../src/tensors/decode.js';
import { toNested } from '../../src/tensors/encode.js';
import { batchKey } from '../../src/tensors/batch.js';


/** Lets promise callbacks (the scheduler's .then handlers) run. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(over: Partial<SchedulerConfig> = {}, idle = 1) {
  let clock = 1000;
  const pool = new FakePool(idle);
  const rejected: RejectReason[] = [];
  const executed: { rows: number; requests: number }[] = [];
  const unbatched: string[] = [];
  const inputRejected: string[] = [];
  const cfg: SchedulerConfig = { maxBatchSize: 8, policy: 'static', maxQueueDelayMs: 5, preferredBatchSizes: [], maxQueueSize: 16, ...over };
  // the statistics aggregator is the scheduler's observer, as in a model version, and passes events on
  const stats = new VersionStats({
    rejected: (r) => rejected.push(r),
    executed: (rows, requests) => executed.push({ rows, requests }),
    batchingOff: (reason) => unbatched.push(reason),
    inputRejected: (message) => inputRejected.push(message),
  });
  const s = new Scheduler(cfg, pool.asPool(), stats, () => clock);
  return {
    s,
    stats,
    pool,
    rejected,
    executed,
    unbatched,
    inputRejected,
    advance(ms: number) {
      clock += ms;
      s.pump();
    },
  };
}

/** A request of `rows` rows of width 2, values base, base+1, … */
function input(rows: number, base: number): { inputs: Record<string, Tensor>; rows: number; key: string } {
  const x = fromNested(Array.from({ length: rows }, (_, r) => [base + 2 * r, base + 2 * r + 1]), 'float32');
  return { inputs: { x }, rows, key: batchKey(x) };
}


function isServeError(e: unknown, code: string, status: number): boolean {
  return e instanceof ServeError && e.code === code && e.status === status;
}

const other = (rows: number, base: number): { inputs: Record<string, Tensor>; rows: number; key: string } => {
  // width 3 instead of 2: a different batch key
  const x = fromNested(Array.from({ length: rows }, (_, r) => [base + 3 * r, base + 3 * r + 1, base + 3 * r + 2]), 'float32');
  return { inputs: { x }, rows, key: batchKey(x) };
};

t.test('a full batch goes at once, with no timer involved', async (t) => {
  const { s, pool } = setup({}, 1);
  const ps = Array.from({ length: 8 }, (_, i) => track(s.enqueue({ ...input(1, 10 * i), timeoutMs: 50 })));
  t.equal(pool.calls.length, 1, 'dispatched synchronously on the 8th row');
  t.strictSame(pool.calls[0]!.inputs.x!.dims, [8, 2]);
  pool.succeed(0);
  await tick();
  t.ok(ps.every((p) => p.settled() && p.value !== undefined), 'all answered');
});

t.test('results are sliced back per request, in order, each with its own rows', async (t) => {
  const { s, stats, pool, executed, advance } = setup({}, 0);
  const ps = [input(1, 0), input(3, 10), input(2, 100)].map((r) => s.enqueue({ ...r, timeoutMs: 50 }));
  t.equal(s.depth, 3, 'all queued while no worker is idle');
  pool.freeWorker();
  t.equal(pool.calls.length, 0, 'a partial batch (6 of 8 rows) waits for maxQueueDelayMs');
  advance(5);
  t.equal(pool.calls.length, 1, 'past the delay: one execution for the three requests');
  const packed = pool.calls[0]!.inputs.x!;
  t.strictSame(packed.dims, [6, 2], '1 + 3 + 2 rows packed along dimension 0');
  t.strictSame(toNested(packed), [[0, 1], [10, 11], [12, 13], [14, 15], [100, 101], [102, 103]], 'in arrival order');
  pool.succeed(0);
  const results = await Promise.all(ps);
  t.strictSame(toNested(results[0]!.outputs.y!), [[0, 2]], 'request 1 gets its 1 row');
  t.strictSame(toNested(results[1]!.outputs.y!), [[20, 22], [24, 26], [28, 30]], 'request 2 gets its 3 rows');
  t.strictSame(toNested(results[2]!.outputs.y!), [[200, 202], [204, 206]], 'request 3 gets its 2 rows');
  for (const r of results) t.equal(r.batchSize, 6, 'each reports the rows of its execution');
  t.strictSame(executed, [{ rows: 6, requests: 3 }], 'observer sees one execution of 6 rows, 3 requests');
  t.equal(stats.executions, 1);
  t.equal(stats.inferences, 6);
  t.equal(stats.batchSizes.get(6), 1);
  t.equal(s.depth, 0);
});

t.test('incompatible requests go in separate batches', async (t) => {
  const { s, pool, advance } = setup({}, 2);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  const b = track(s.enqueue({ ...other(1, 50), timeoutMs: 50 }));
  const c = track(s.enqueue({ ...input(1, 10), timeoutMs: 50 }));
  advance(5);
  t.equal(pool.calls.length, 2);
  t.strictSame(toNested(pool.calls[0]!.inputs.x!), [[0, 1], [10, 11]], 'the oldest key first');
  t.strictSame(toNested(pool.calls[1]!.inputs.x!), [[50, 51, 52]]);
  pool.succeed(0);
  pool.succeed(1);
  await tick();
  t.strictSame(toNested(a.value!.outputs.y!), [[0, 2]]);
  t.strictSame(toNested(b.value!.outputs.y!), [[100, 102, 104]]);
  t.strictSame(toNested(c.value!.outputs.y!), [[20, 22]]);
});

t.test('a full queue rejects at once with QUEUE_FULL and Retry-After', async (t) => {
  const { s, pool, rejected, advance } = setup({ maxQueueSize: 2 }, 0);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  const b = track(s.enqueue({ ...input(1, 10), timeoutMs: 50 }));
  const c = track(s.enqueue({ ...input(1, 20), timeoutMs: 50 }));
  await Promise.resolve();
  await Promise.resolve();
  t.ok(c.settled(), 'settled within microtasks, no waiting');
  t.ok(isServeError(c.error, 'QUEUE_FULL', 429), 'ServeError QUEUE_FULL, 429');
  const retryAfter = c.error instanceof ServeError ? c.error.headers['retry-after'] : undefined;
  t.ok(retryAfter !== undefined && /^\d+$/.test(retryAfter) && Number(retryAfter) >= 1, `retry-after header in seconds (${retryAfter})`);
  t.strictSame(rejected, ['queue_full']);
  t.equal(s.depth, 2, 'the queued two are untouched');
  t.notOk(a.settled() || b.settled());
  // once the queue empties (requests in flight do not count), new requests are accepted again
  pool.freeWorker();
  advance(5);
  t.equal(s.depth, 0);
  const d = track(s.enqueue({ ...input(1, 30), timeoutMs: 50 }));
  await tick();
  t.notOk(d.settled(), 'accepted');
  t.equal(s.depth, 1);
  s.rejectAll(() => new Error('teardown'));
  pool.succeed(0);
  await tick();
});

t.test('an aborted request leaves the queue and is never run', async (t) => {
  const { s, pool, rejected, advance } = setup({}, 0);
  const ac = new AbortController();
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50, signal: ac.signal }));
  const b = track(s.enqueue({ ...input(1, 10), timeoutMs: 50 }));
  ac.abort();
  await tick();
  t.ok(a.settled() && a.error instanceof ServeError, 'the aborted request is rejected');
  t.equal((a.error as ServeError).code, 'REQUEST_CANCELLED', 'as cancelled (499), not as bad input');
  t.equal(s.depth, 1, 'removed from the queue');
  t.strictSame(rejected, ['cancelled']);
  pool.freeWorker();
  advance(5);
  t.equal(pool.calls.length, 1);
  t.strictSame(toNested(pool.calls[0]!.inputs.x!), [[10, 11]], 'only the live request runs');
  pool.succeed(0);
  await tick();
  t.strictSame(toNested(b.value!.outputs.y!), [[20, 22]]);

  // a signal that is already aborted: never queued
  const c = track(s.enqueue({ ...input(1, 20), timeoutMs: 50, signal: AbortSignal.abort() }));
  await tick();
  t.ok(c.settled() && c.error instanceof ServeError, 'rejected');
  t.equal((c.error as ServeError).code, 'REQUEST_CANCELLED');
  t.equal(s.depth, 0);
  t.equal(pool.calls.length, 1, 'run was not called for it');
  t.strictSame(rejected, ['cancelled', 'cancelled'], 'and counted as cancelled, like one that left the queue');
});

t.test('deadline expiry (fake clock): QUEUE_TIMEOUT, never run', async (t) => {
  const { s, pool, rejected, advance } = setup({}, 0);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 20 }));
  const b = track(s.enqueue({ ...input(1, 10), timeoutMs: 40 }));
  advance(19);
  await tick();
  t.notOk(a.settled(), 'before its deadline: still queued');
  advance(1);
  await tick();
  t.ok(isServeError(a.error, 'QUEUE_TIMEOUT', 504), 'at its deadline: QUEUE_TIMEOUT, 504');
  t.notOk(b.settled(), 'the other request waits on');
  t.strictSame(rejected, ['timeout']);
  t.equal(s.depth, 1);
  pool.freeWorker();
  t.equal(pool.calls.length, 1);
  t.strictSame(toNested(pool.calls[0]!.inputs.x!), [[10, 11]], 'the expired request is not computed');
  pool.succeed(0);
  await tick();
  t.ok(b.value, 'the live request is answered');
});

/** Fake timers (setTimeout and the clock the scheduler reads), so that its own timer is tested without sleeping. */
function fakeTimers(t: { teardown: (f: () => void) => void }) {
  const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout'], now: 1000 });
  t.teardown(() => clock.uninstall());
  return clock;
}

t.test("deadline expiry (fake timers): the scheduler's own timer answers 504, not before", async (t) => {
  const clock = fakeTimers(t);
  const pool = new FakePool(0);
  const s = new Scheduler({ maxBatchSize: 8, policy: 'static', maxQueueDelayMs: 1, preferredBatchSizes: [], maxQueueSize: 4 }, pool.asPool(), {}, () => clock.now);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 10 }));
  await clock.tickAsync(9);
  t.notOk(a.settled(), 'still queued 1 ms before its deadline');
  await clock.tickAsync(1);
  await tick();
  t.ok(isServeError(a.error, 'QUEUE_TIMEOUT', 504), 'QUEUE_TIMEOUT at the deadline, with no event but the timer');
  t.equal(pool.calls.length, 0, 'never run');
});

t.test('the delay (fake timers): a partial batch goes once maxQueueDelayMs has passed, by the timer', async (t) => {
  const clock = fakeTimers(t);
  const pool = new FakePool(1);
  const s = new Scheduler({ maxBatchSize: 8, policy: 'static', maxQueueDelayMs: 3, preferredBatchSizes: [], maxQueueSize: 4 }, pool.asPool(), {}, () => clock.now);
  const p = s.enqueue({ ...input(2, 0), timeoutMs: 1000 });
  t.equal(pool.calls.length, 0, 'not at once');
  await clock.tickAsync(2);
  t.equal(pool.calls.length, 0, 'not before the delay');
  await clock.tickAsync(1);
  t.equal(pool.calls.length, 1, 'dispatched by the timer at 3 ms');
  pool.succeed(0);
  t.strictSame(toNested((await p).outputs.y!), [[0, 2], [4, 6]]);
});

t.test('a failed run fails only its own batch with INFERENCE_FAILED', async (t) => {
  const { s, pool, advance } = setup({}, 2);
  const a1 = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  const a2 = track(s.enqueue({ ...input(2, 10), timeoutMs: 50 }));
  const b = track(s.enqueue({ ...other(1, 50), timeoutMs: 50 }));
  advance(5);
  t.equal(pool.calls.length, 2, 'two batches (different keys)');
  pool.failRun(0, new Error('boom: bad node'));
  pool.succeed(1);
  await tick();
  for (const [name, p] of [['a1', a1], ['a2', a2]] as const) {
    t.ok(isServeError(p.error, 'INFERENCE_FAILED', 500), `${name}: INFERENCE_FAILED, 500`);
    t.ok(p.error instanceof Error && p.error.message.includes('boom: bad node'), `${name}: the cause is in the message`);
  }
  t.strictSame(toNested(b.value!.outputs.y!), [[100, 102, 104]], 'the other batch is answered');
  // and the scheduler keeps serving
  const c = track(s.enqueue({ ...input(1, 7), timeoutMs: 50 }));
  advance(5);
  pool.succeed(2);
  await tick();
  t.strictSame(toNested(c.value!.outputs.y!), [[14, 16]]);
});

t.test('a dead worker: its batch is bisected until the request that ends a worker alone is found', async (t) => {
  t.test('one death: each half reruns on its own and is answered', async (t) => {
    const { s, pool, advance } = setup({}, 1);
    const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
    const b = track(s.enqueue({ ...input(2, 10), timeoutMs: 50 }));
    advance(5);
    t.equal(pool.calls.length, 1);
    pool.failRun(0, new WorkerDiedError('worker thread exited with code 1 during the run'), true);
    await tick();
    t.notOk(a.settled() || b.settled(), 'not answered: waiting for a worker to rerun');
    t.equal(s.depth, 2, 'both back in the queue');
    pool.freeWorker(); // the replacement is ready
    t.equal(pool.calls.length, 2, 'rerun');
    t.strictSame(toNested(pool.calls[1]!.inputs.x!), [[0, 1]], 'the first half alone');
    pool.succeed(1);
    await tick();
    t.strictSame(toNested(a.value!.outputs.y!), [[0, 2]]);
    pool.freeWorker();
    t.strictSame(toNested(pool.calls[2]!.inputs.x!), [[10, 11], [12, 13]], 'then the second');
    pool.succeed(2);
    await tick();
    t.strictSame(toNested(b.value!.outputs.y!), [[20, 22], [24, 26]]);
  });
  t.test('the request whose half ends its worker again: INPUT_REJECTED, its batch-mate answered', async (t) => {
    const { s, pool, advance, rejected } = setup({}, 1);
    const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
    const b = track(s.enqueue({ ...input(2, 10), timeoutMs: 50 }));
    advance(5);
    pool.failRun(0, new WorkerDiedError('worker process ended by SIGSEGV during the run'), true);
    await tick();
    pool.freeWorker();
    pool.succeed(1);
    await tick();
    t.ok(a.value, 'a, run alone, answered');
    pool.freeWorker();
    t.equal(pool.rows(2), 2, 'b alone');
    pool.failRun(2, new WorkerDiedError('worker process ended by SIGSEGV during the run'), true);
    await tick();
    t.ok(isServeError(b.error, 'INPUT_REJECTED', 422), 'b: INPUT_REJECTED, 422');
    t.match((b.error as Error).message, /crashed the model's runtime \(worker process ended by SIGSEGV during the run\), run alone and in 1 run before/);
    t.strictSame(rejected, ['input_rejected']);
    t.equal(s.depth, 0, 'not queued again');
    pool.freeWorker();
    t.equal(pool.calls.length, 3, 'no further run');
  });
  t.test('a lone request is retried once, then INPUT_REJECTED', async (t) => {
    const { s, pool, advance } = setup({}, 1);
    const a = track(s.enqueue({ ...input(2, 0), timeoutMs: 50 }));
    advance(5);
    pool.failRun(0, new WorkerDiedError('died'), true);
    await tick();
    t.notOk(a.settled(), 'a worker may die of its own: retried');
    pool.freeWorker();
    t.equal(pool.calls.length, 2);
    pool.failRun(1, new WorkerDiedError('died'), true);
    await tick();
    t.ok(isServeError(a.error, 'INPUT_REJECTED', 422), 'INPUT_REJECTED after its second death');
  });
  t.test('a batch queued behind the run that ended its worker goes back as it was', async (t) => {
    const { s, pool, advance } = setup({}, 1);
    track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
    track(s.enqueue({ ...input(2, 10), timeoutMs: 50 }));
    advance(5);
    pool.failRun(0, new WorkerDiedError('worker thread exited with code 1 before the run', false), true);
    await tick();
    pool.freeWorker();
    t.equal(pool.rows(1), 3, 'one batch of both again: nothing split, nothing counted');
  });
});

t.test('observer.queued: each request once, at its first dispatch (a retry is not heard again)', async (t) => {
  const pool = new FakePool(0);
  const queued: number[] = [];
  const cfg: SchedulerConfig = { maxBatchSize: 8, policy: 'static', maxQueueDelayMs: 0, preferredBatchSizes: [], maxQueueSize: 16 };
  const clock = fakeTimers(t);
  const s = new Scheduler(cfg, pool.asPool(), { queued: (ms) => queued.push(ms) }, () => clock.now);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 1000 }));
  const b = track(s.enqueue({ ...input(2, 10), timeoutMs: 1000 }));
  await clock.tickAsync(5);
  t.equal(queued.length, 0, 'nothing heard while queued');
  pool.freeWorker();
  t.equal(pool.calls.length, 1, 'one batch of both');
  t.strictSame(queued, [5, 5], 'one queue time per request: the 5 ms they waited');
  pool.failRun(0, new WorkerDiedError('died'), true);
  await tick();
  pool.freeWorker();
  t.equal(pool.calls.length, 2, 'rerun: the first half');
  pool.succeed(1);
  await tick();
  pool.freeWorker();
  t.equal(pool.calls.length, 3, 'the second half');
  t.equal(queued.length, 2, 'a rerun is not a second queue time');
  pool.succeed(2);
  await tick();
  t.ok(a.value && b.value, 'both answered');
});

t.test('drained() resolves once the queue is empty and nothing runs', async (t) => {
  const { s, pool, advance } = setup({}, 1);
  const empty = track(s.drained());
  await tick();
  t.ok(empty.settled(), 'at once when idle');

  const p = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  const d = track(s.drained());
  await tick();
  t.notOk(d.settled(), 'a request is queued');
  advance(5);
  await tick();
  t.equal(pool.calls.length, 1);
  t.notOk(d.settled(), 'a batch is running');
  pool.succeed(0);
  await tick();
  t.ok(p.settled(), 'the request is answered');
  t.ok(d.settled(), 'drained');

  // emptied by expiry
  const { s: s2, advance: advance2 } = setup({}, 0);
  const q = track(s2.enqueue({ ...input(1, 0), timeoutMs: 10 }));
  const d2 = track(s2.drained());
  advance2(10);
  await tick();
  t.ok(q.settled() && isServeError(q.error, 'QUEUE_TIMEOUT', 504));
  t.ok(d2.settled(), 'drained after the last request expired');
});

t.test('maxBatchSize 0: one request per execution, outputs not sliced', async (t) => {
  const { s, pool } = setup({ maxBatchSize: 0, maxQueueDelayMs: 50 }, 2);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  const b = track(s.enqueue({ ...input(1, 10), timeoutMs: 50 }));
  t.equal(pool.calls.length, 2, 'both go at once, separately');
  t.strictSame(toNested(pool.calls[0]!.inputs.x!), [[0, 1]]);
  t.strictSame(toNested(pool.calls[1]!.inputs.x!), [[10, 11]]);
  pool.succeed(0);
  pool.succeed(1);
  await tick();
  t.strictSame(toNested(a.value!.outputs.y!), [[0, 2]]);
  t.strictSame(toNested(b.value!.outputs.y!), [[20, 22]]);
  t.equal(a.value!.batchSize, 1);
});

t.test('flush(): partial batches go without waiting for the delay', async (t) => {
  const { s, pool } = setup({ maxQueueDelayMs: 1000 }, 1);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  t.equal(pool.calls.length, 0);
  s.flush();
  t.equal(pool.calls.length, 1);
  pool.succeed(0);
  await tick();
  t.ok(a.value);
});

t.test('a lone request takes its outputs whole, whatever their first dimension', async (t) => {
  const { s, pool, advance, unbatched } = setup({}, 1);
  const a = track(s.enqueue({ ...input(2, 0), timeoutMs: 50 }));
  advance(5);
  t.equal(pool.calls.length, 1);
  pool.calls[0]!.resolve({ outputs: { y: fromNested([[1, 2, 3]], 'float32') }, computeMs: 1, busyMs: 1, waitedMs: 0, readLagMs: 0 }); // 1 row for a 2-row request
  pool.freeWorker();
  await tick();
  t.strictSame(toNested(a.value!.outputs.y!), [[1, 2, 3]], 'answered with the output as it came');
  t.strictSame(unbatched, [], 'one request says nothing about batching');
});

t.test('a batch whose outputs do not follow its rows is rerun one request at a time, and batching is off from then on', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  const { s, pool, advance, unbatched } = setup({}, 1);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  const b = track(s.enqueue({ ...input(2, 10), timeoutMs: 50 }));
  advance(5);
  t.equal(pool.calls.length, 1, 'one batch of both');
  t.strictSame(pool.calls[0]!.inputs.x!.dims, [3, 2]);
  // e.g. a count of detections: dimension 0 is symbolic but is not the batch
  pool.calls[0]!.resolve({ outputs: { y: fromNested([[7, 7]], 'float32') }, computeMs: 1, busyMs: 1, waitedMs: 0, readLagMs: 0 });
  pool.freeWorker();
  await tick();
  t.notOk(a.settled() || b.settled(), 'not answered from the stray batch');
  t.equal(unbatched.length, 1, 'batching off, reported once');
  t.match(unbatched[0], /output "y" has dimension 0 of 1 for a batch of 3 rows/, 'the reason names the output and the sizes');
  t.equal(pool.calls.length, 2, 'the first request runs again, alone');
  t.strictSame(pool.calls[1]!.inputs.x!.dims, [1, 2]);
  pool.succeed(1);
  await tick();
  t.equal(pool.calls.length, 3, 'then the second, alone');
  t.strictSame(pool.calls[2]!.inputs.x!.dims, [2, 2]);
  pool.succeed(2);
  await tick();
  t.strictSame(toNested(a.value!.outputs.y!), [[0, 2]], 'each request gets its own outputs');
  t.strictSame(toNested(b.value!.outputs.y!), [[20, 22], [24, 26]]);
  // from now on, one request per execution
  const c = track(s.enqueue({ ...input(1, 1), timeoutMs: 50 }));
  const d = track(s.enqueue({ ...input(1, 2), timeoutMs: 50 }));
  advance(5);
  t.equal(pool.calls.length, 4);
  t.strictSame(pool.calls[3]!.inputs.x!.dims, [1, 2], 'no batch of two');
  pool.succeed(3);
  await tick();
  pool.succeed(4);
  await tick();
  t.ok(c.value && d.value, 'both answered');
  t.strictSame(unhandled, [], 'no unhandled rejection');
});

t.test('a batch onnxruntime refuses is split until the request that breaks it fails alone; the rest are answered', async (t) => {
  const { s, stats, pool, advance, rejected, inputRejected } = setup({}, 1);
  const good = [track(s.enqueue({ ...input(1, 0), timeoutMs: 500 })), track(s.enqueue({ ...input(2, 10), timeoutMs: 500 })), track(s.enqueue({ ...input(1, 20), timeoutMs: 500 }))];
  const poison = track(s.enqueue({ ...input(1, 30), timeoutMs: 500 }));
  advance(5);
  t.equal(pool.calls.length, 1, 'one batch of four requests');
  const boom = new RunError("Non-zero status code returned while running Gather node. Name:'Gather_0' Status Message: indices element out of data bounds, idx=100");
  pool.failRun(0, boom);
  await tick();
  t.equal(pool.calls.length, 2, 'the first half runs');
  t.strictSame(pool.calls[1]!.inputs.x!.dims, [3, 2], 'requests 1 and 2 (3 rows)');
  pool.succeed(1);
  await tick();
  t.strictSame(pool.calls[2]!.inputs.x!.dims, [2, 2], 'the second half: requests 3 and 4');
  pool.failRun(2, boom);
  await tick();
  t.strictSame(pool.calls[3]!.inputs.x!.dims, [1, 2], 'request 3 alone');
  pool.succeed(3);
  await tick();
  t.strictSame(pool.calls[4]!.inputs.x!.dims, [1, 2], 'request 4 alone');
  pool.failRun(4, boom);
  await tick();
  t.strictSame(good.map((g) => toNested(g.value!.outputs.y!)), [[[0, 2]], [[20, 22], [24, 26]], [[40, 42]]], 'every other request answered with its own outputs');
  t.ok(isServeError(poison.error, 'INPUT_REJECTED', 422), 'the one that breaks the batch: INPUT_REJECTED, 422');
  t.match((poison.error as Error).message, /indices element out of data bounds/, "onnxruntime's message");
  t.strictSame(rejected, ['input_rejected'], 'counted once as input_rejected');
  t.equal(inputRejected.length, 1, 'reported once');
  t.equal(stats.bisectionRuns, 4, 'four extra runs: two halves, then two quarters');
  t.equal(s.depth, 0);
});

t.test('a halved batch does not take in newcomers: each half runs on its own', async (t) => {
  const { s, pool, advance } = setup({}, 1);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 500 }));
  const b = track(s.enqueue({ ...input(1, 10), timeoutMs: 500 }));
  advance(5);
  const late = track(s.enqueue({ ...input(1, 20), timeoutMs: 500 }));
  pool.failRun(0, new RunError('refused'));
  await tick();
  t.strictSame(pool.calls[1]!.inputs.x!.dims, [1, 2], 'the first half alone, not with the newcomer');
  pool.succeed(1);
  await tick();
  t.strictSame(pool.calls[2]!.inputs.x!.dims, [1, 2], 'the second half alone');
  pool.failRun(2, new RunError('refused'));
  await tick();
  advance(5);
  pool.succeed(3);
  await tick();
  t.ok(a.value, 'a answered');
  t.ok(isServeError(b.error, 'INPUT_REJECTED', 422), 'b rejected');
  t.ok(late.value, 'the newcomer answered in its own batch');
});

t.test('a test fault (a failure that is not the request) fails its batch with INFERENCE_FAILED, unsplit', async (t) => {
  const { s, pool, advance, rejected } = setup({}, 1);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  const b = track(s.enqueue({ ...input(1, 10), timeoutMs: 50 }));
  advance(5);
  pool.failRun(0, new RunError('injected fault: run failed', true));
  await tick();
  t.equal(pool.calls.length, 1, 'no rerun');
  t.ok(isServeError(a.error, 'INFERENCE_FAILED', 500) && isServeError(b.error, 'INFERENCE_FAILED', 500), 'both INFERENCE_FAILED');
  t.strictSame(rejected, [], 'not an input rejection');
});

t.test("each answered batch reports its input and output phases: packing, and the worker's copy out plus slicing", async (t) => {
  const { s, pool, advance, stats } = setup({}, 1);
  const a = track(s.enqueue({ ...input(1, 0), timeoutMs: 50 }));
  const b = track(s.enqueue({ ...input(2, 10), timeoutMs: 50 }));
  advance(5);
  t.equal(pool.calls.length, 1);
  pool.calls[0]!.resolve({ outputs: { y: fromNested([[1], [2], [3]], 'float32') }, computeMs: 1, outputMs: 0.25, busyMs: 1.5, waitedMs: 0, readLagMs: 0 });
  pool.freeWorker();
  await tick();
  t.ok(a.value && b.value, 'both answered');
  t.equal(stats.phaseCount, 2, 'one phase record per request of the batch');
  // the injected clock does not move during packing and slicing: only the worker's copy counts
  t.equal(stats.inputNs, 0);
  t.equal(stats.outputNs, 2 * 0.25e6, "the worker's copy out, counted for each request");
  t.strictSame(stats.batchPhaseNs.get(3), { count: 1, inputNs: 0, outputNs: 0.25e6 }, 'by batch size (rows), per execution');
});
