// The pure pieces of the bench's overload and priority sections (bench/overload.ts).
import t from 'tap';
import { GoodputRecorder, percentile, serverTimingTotal, summarizeTimes, withPriority } from '../../bench/overload.js';

t.test('withPriority puts the field first and keeps the body valid JSON', async (t) => {
  const [b] = withPriority([Buffer.from('{"model":"m","inputs":{"input":[[1,2]]}}')], 3);
  t.same(JSON.parse(b!.toString()), { priority: 3, model: 'm', inputs: { input: [[1, 2]] } });
  t.throws(() => withPriority([Buffer.from('[1]')], 1));
});

t.test('serverTimingTotal reads total;dur and nothing else', async (t) => {
  t.equal(serverTimingTotal('total;dur=0.412'), 0.412);
  t.equal(serverTimingTotal('queue;dur=1.5, total;dur=12'), 12);
  t.equal(serverTimingTotal('queue;dur=1.5, compute;dur=2'), undefined);
  t.equal(serverTimingTotal('subtotal;dur=3'), undefined);
});

t.test('percentile is nearest rank; summarizeTimes of nothing is NaN', async (t) => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(xs, 50), 50);
  t.equal(percentile(xs, 99), 99);
  t.equal(percentile([5], 99), 5);
  const s = summarizeTimes([]);
  t.equal(s.count, 0);
  t.ok(Number.isNaN(s.p99));
  t.same(summarizeTimes([3, 1, 2]), { count: 3, p50: 2, p99: 3, max: 3 });
});

t.test('GoodputRecorder counts ok answers within the limit, and still records them all', async (t) => {
  const rec = new GoodputRecorder(100);
  rec.recordOk(200, 99.9);
  rec.recordOk(200, 100);
  rec.recordOk(200, 150);
  rec.recordStatus(429, 'QUEUE_FULL');
  t.equal(rec.good, 2);
  t.equal(rec.ok, 3);
  t.equal(rec.errors, 1);
});
