// The statistics aggregator: counts each scheduler event once and passes every event on to the
// next observer (Prometheus), so that no event is counted in two places.
import t from 'tap';
import { VersionStats } from '../../src/batching/stats.js';

t.test('counts executions, answers and failures, and forwards each event', async (t) => {
  const seen: string[] = [];
  const stats = new VersionStats({
    rejected: (r) => seen.push(`rejected ${r}`),
    queued: (ms) => seen.push(`queued ${ms}`),
    executed: (rows, requests, ms, busy) => seen.push(`executed ${rows} ${requests} ${ms} ${busy}`),
    answered: (total, queue, compute) => seen.push(`answered ${total} ${queue} ${compute}`),
    failed: (total) => seen.push(`failed ${total}`),
    split: (runs) => seen.push(`split ${runs}`),
    batchingOff: (reason) => seen.push(`off ${reason}`),
    inputRejected: (m) => seen.push(`input ${m}`),
  });
  stats.queued(1);
  stats.executed(4, 2, 3, 4);
  stats.executed(4, 1, 5, 6);
  stats.executed(1, 1, 1, 1.5);
  stats.answered(10, 2, 3);
  stats.failed(7);
  stats.rejected('timeout');
  stats.split(2);
  stats.batchingOff('why');
  stats.inputRejected('bad id');
  t.equal(stats.executions, 3);
  t.equal(stats.inferences, 9, 'rows');
  t.strictSame(Object.fromEntries(stats.batchSizes), { 1: 1, 4: 2 });
  t.equal(stats.batchComputeNs.get(4), 8e6, 'compute ns by batch size');
  t.strictSame([stats.successCount, stats.successNs, stats.queueNs, stats.computeNs], [1, 10e6, 2e6, 3e6]);
  t.strictSame([stats.failCount, stats.failNs], [1, 7e6]);
  t.equal(stats.workerBusyNs, 11.5e6, "the workers' busy time");
  t.equal(stats.bisectionRuns, 2);
  t.ok(stats.lastInferenceMs > 0, 'the time of the last execution');
  t.strictSame(seen, ['queued 1', 'executed 4 2 3 4', 'executed 4 1 5 6', 'executed 1 1 1 1.5', 'answered 10 2 3', 'failed 7', 'rejected timeout', 'split 2', 'off why', 'input bad id'], 'every event passed on, once, in order');
  t.doesNotThrow(() => new VersionStats().executed(1, 1, 1, 1), 'no next observer: fine');
});

t.test('phases: input and output time per request and per batch size, passed on', async (t) => {
  const seen: string[] = [];
  const stats = new VersionStats({ phases: (rows, requests, i, o) => seen.push(`phases ${rows} ${requests} ${i} ${o}`) });
  stats.phases(4, 2, 0.5, 1);
  stats.phases(4, 1, 0.25, 0.5);
  stats.phases(1, 1, 1, 2);
  t.equal(stats.phaseCount, 4, 'requests');
  t.equal(stats.inputNs, (0.5 * 2 + 0.25 + 1) * 1e6, "each request counts its execution's input time");
  t.equal(stats.outputNs, (1 * 2 + 0.5 + 2) * 1e6);
  t.strictSame(stats.batchPhaseNs.get(4), { count: 2, inputNs: 0.75e6, outputNs: 1.5e6 }, 'per execution by batch size');
  t.strictSame(seen, ['phases 4 2 0.5 1', 'phases 4 1 0.25 0.5', 'phases 1 1 1 2']);
});
