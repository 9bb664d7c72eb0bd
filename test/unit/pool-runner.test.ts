// The pool's pure parts for worker deaths: how an end reads, and the backoff of replacements.
import t from 'tap';
import { describeEnd } from '../../src/pool/runner.js';
import { backoffMs, CRASH_LOOP_DEATHS } from '../../src/pool/pool.js';

t.test('a worker end reads as a thread exit or a process signal', async (t) => {
  t.equal(describeEnd('thread', { code: 70, signal: null }), 'worker thread exited with code 70');
  t.equal(describeEnd('process', { code: 1, signal: null }), 'worker process exited with code 1');
  t.equal(describeEnd('process', { code: null, signal: 'SIGSEGV' }), 'worker process ended by SIGSEGV');
});

t.test('replacements back off doubling from 1 s, at most 30 s', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7, 20].map(backoffMs), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  t.ok(CRASH_LOOP_DEATHS >= 8, 'a bisection of a 64-request batch (7 deaths at worst) is not a crash loop');
});
