// The worker pool on real onnxruntime: a busy worker holds one batch queued behind its run, so it
// starts the next as soon as it ends; the queued batch reports how long it waited; a worker that
// dies takes both with it, each failing as a dead worker's run (which the scheduler retries).
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerPool, WorkerDiedError, type RunResult } from '../../src/pool/pool.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';
import type { Tensor } from '../../src/tensors/dtypes.js';
import { DEFAULT_SESSION_SETTINGS } from '../../src/pool/session-options.js';

const batch = (rows: number, seed: number): Record<string, Tensor> => ({ input: { dtype: 'float32', dims: [rows, 64], data: seededFloats(64 * rows, seed) } });

async function poolOf(t: { teardown(fn: () => unknown): void }, faultHooks = false): Promise<WorkerPool> {
  const dir = await mkdtemp(join(tmpdir(), 'pool-queue-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'model.onnx');
  // wide enough that a 256-row run takes milliseconds, so a second batch really queues behind it
  await writeFile(path, mlpModel([64, 1024, 1024, 10], 3));
  const pool = new WorkerPool({ modelPath: path, instances: 1, intraOpThreads: 1, session: DEFAULT_SESSION_SETTINGS, faultHooks });
  await pool.start();
  t.teardown(() => pool.close());
  return pool;
}

t.test('a busy worker queues one batch behind its run, and no more', async (t) => {
  const pool = await poolOf(t);
  const alone = await pool.run(batch(256, 2));
  t.ok(alone.waitedMs < 50, `an idle worker starts at once: its wait is the message's hop (${alone.waitedMs.toFixed(3)} ms)`);
  t.ok(alone.busyMs >= alone.computeMs, 'its busy time holds its session.run');
  t.equal(pool.idleCount(), 1);
  t.equal(pool.queueableCount(), 0, 'an idle worker is not counted as queueable');

  const [inA, inB] = [batch(256, 1), batch(256, 2)];
  const postedA = performance.now();
  const first = pool.run(inA);
  t.equal(pool.idleCount(), 0, 'running: not idle');
  t.equal(pool.queueableCount(), 1, 'but it can hold one more');
  const second = pool.run(inB);
  const betweenPosts = performance.now() - postedA;
  t.equal(pool.queueableCount(), 0, 'two held: full');
  await t.rejects(pool.run(batch(1, 3)), /no worker can take a batch/, 'a third is refused, not queued');
  const [a, b] = (await Promise.all([first, second])) as [RunResult, RunResult];
  t.ok(a.waitedMs < 50, 'the first ran at once');
  t.ok(b.waitedMs > 0, `the second waited behind it (${b.waitedMs.toFixed(2)} ms)`);
  t.ok(b.waitedMs < 10_000, 'for a bounded time');
  // it could start only when the first ended: its wait covers the first's run less the time between the two posts
  t.ok(b.waitedMs >= a.waitedMs + a.busyMs - betweenPosts - 0.5, `it waited for the first's run (${b.waitedMs.toFixed(2)} ms; the first waited ${a.waitedMs.toFixed(2)}, ran ${a.busyMs.toFixed(2)}, posted ${betweenPosts.toFixed(2)} ms apart)`);
  t.strictSame([...b.outputs.output!.data], [...alone.outputs.output!.data], 'and computed what it computes alone');
  t.equal(pool.idleCount(), 1, 'idle again');
});

t.test("a main thread that reads the answers late does not shorten the queued batch's run", async (t) => {
  const pool = await poolOf(t);
  await pool.run(batch(256, 2));
  const first = pool.run(batch(256, 1));
  const second = pool.run(batch(256, 2));
  // the main thread is busy (as with HTTP under load) while the worker runs both
  const until = performance.now() + 300;
  while (performance.now() < until) {
    /* spin */
  }
  const [a, b] = (await Promise.all([first, second])) as [RunResult, RunResult];
  // read late on this thread, a busy time taken here would be shorter than the run it covers; the upper bound is only a sanity check
  t.ok(b.computeMs > 0 && b.busyMs >= b.computeMs && b.busyMs < 10_000, `its busy time is its own run (${b.busyMs.toFixed(2)} ms, its compute ${b.computeMs.toFixed(2)} ms, the first's busy time ${a.busyMs.toFixed(2)} ms)`);
  t.ok(b.waitedMs < 300, `its wait ended when the first run did, not when the answers were read (${b.waitedMs.toFixed(2)} ms)`);
});

t.test("a worker that dies takes its queued batch with it: both fail as a dead worker's runs", async (t) => {
  const pool = await poolOf(t, true);
  pool.injectFault({ kind: 'exit-on-next-run' });
  const results = await Promise.allSettled([pool.run(batch(8, 1)), pool.run(batch(8, 2))]);
  t.strictSame(results.map((r) => r.status), ['rejected', 'rejected']);
  for (const r of results) t.ok(r.status === 'rejected' && r.reason instanceof WorkerDiedError, 'WorkerDiedError');
  // the replacement loads in the background; bounded wait
  for (let i = 0; i < 600 && pool.liveCount() < 1; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(pool.liveCount(), 1, 'replaced');
  const after = await pool.run(batch(8, 2));
  t.equal(after.outputs.output!.dims[0], 8, 'and the replacement runs');
});
