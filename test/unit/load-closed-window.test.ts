// The runner's closed loop with a measured window (what the bench uses): warm-up answers are not
// recorded, the window closes at maxRecorded, hooks run at open and close, the first ok body is
// checked, the expected status is counted apart, and Server-Timing / x-batch-size are averaged.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { runClosedLoop } from '../../load/runner/engine.js';
import { Recorder } from '../../load/runner/recorder.js';

t.test('closed loop with a warm-up and a window bounded in count', async (t) => {
  let served = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      served++;
      if (req.url === '/bad') {
        res.writeHead(422).end('{"code":"BAD"}');
        return;
      }
      res.writeHead(200, { 'server-timing': 'queue;dur=1.5, compute;dur=0.5', 'x-batch-size': '4' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = { 'content-type': 'application/json' };
  const rec = new Recorder();
  const hooks: string[] = [];
  const timing = await runClosedLoop(
    {
      origin,
      requests: [{ path: '/ok', body: '{}', headers }, { path: '/ok', body: '{}', headers }, { path: '/bad', body: '{}', headers }],
      concurrency: 2,
      durationMs: 5000,
      timeoutMs: 2000,
      maxRequests: 10_000,
      maxInFlight: 2,
      window: { warmupMs: 100, maxRecorded: 50, onOpen: () => hooks.push('open'), onClose: () => hooks.push('close') },
      check: (b) => (b.toString() === '{"ok":true}' ? 'first body seen' : undefined),
      expectedStatus: 422,
    },
    rec,
  );
  t.same(hooks, ['open', 'close']);
  t.ok(timing.capped, 'closed at maxRecorded');
  t.equal(rec.ok, 50);
  t.equal(rec.errors + rec.timeouts, 0);
  t.ok(rec.expected > 0, `${rec.expected} expected 422s`);
  t.ok(served > rec.ok + rec.expected, `${served} served, warm-up not recorded`);
  t.equal(timing.checkProblem, 'first body seen');
  t.ok(timing.windowMs > 0 && timing.windowMs < 5000, `window ${timing.windowMs} ms`);
  t.same(rec.serverSide(), { queueMs: 1.5, computeMs: 0.5, batchSeenMean: 4 });
  t.ok(rec.latency().p50 > 0);
});
