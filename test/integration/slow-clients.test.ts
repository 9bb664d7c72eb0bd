// Slow and broken clients over raw sockets against the real server: a slowloris client and a
// stalled body are cut with 408 within the timeouts and their bytes freed; requests pipelined
// before a malformed one are all answered before its 400.
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeRepo, startServer, waitUntil, type Asserts } from '../helpers/server.js';
import { RawConnection, NoAnswer, rawPost, type RawAnswer } from '../helpers/raw-http.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TIMEOUTS = ['--request-timeout-ms', '1000', '--headers-timeout-ms', '1000'];

async function setup(t: Asserts, args: string[] = TIMEOUTS) {
  const repo = await makeRepo(t, { mlp: { onnx: mlpModel([8, 16, 2], 3), config: { maxBatchSize: 16 } } });
  const served = await startServer(t, repo, args);
  const port = Number(new URL(served.url).port);
  return { served, port };
}

const settle = (p: Promise<RawAnswer>) => p.then((a) => a, (e: NoAnswer) => e);

t.test('a slowloris client (headers trickled) is cut with 408 within the headers timeout', async (t) => {
  const { port } = await setup(t);
  const c = await RawConnection.open(port);
  const started = Date.now();
  const [answer] = c.send('POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  // one header byte every 100 ms: never a whole header block
  const trickle = setInterval(() => !c.closed && c.socket.write('X'), 100);
  t.teardown(() => clearInterval(trickle));
  const a = await settle(answer!);
  clearInterval(trickle);
  const ms = Date.now() - started;
  t.equal((a as RawAnswer).status, 408, `answered 408 (${a instanceof NoAnswer ? a.message : ''})`);
  t.ok(ms >= 900 && ms < 5000, `cut after ${ms} ms (headers timeout 1000 ms, checked every 500 ms)`);
  await waitUntil(() => c.closed, 'the socket is closed', 5000);
  t.equal(c.error, undefined, 'closed cleanly, not reset');
});

t.test('a body shorter than its Content-Length is cut with 408 within the request timeout', async (t) => {
  const { port } = await setup(t);
  const c = await RawConnection.open(port);
  const started = Date.now();
  const [answer] = c.send('POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model": "mlp", "inputs"');
  const a = await settle(answer!);
  const ms = Date.now() - started;
  t.equal((a as RawAnswer).status, 408, `answered 408 (${a instanceof NoAnswer ? a.message : ''})`);
  t.ok(ms >= 900 && ms < 5000, `cut after ${ms} ms (request timeout 1000 ms)`);
  await waitUntil(() => c.closed, 'the socket is closed', 5000);
  t.equal(c.error, undefined, 'closed cleanly, not reset');
});

t.test('40 stalled bodies of 7.9 MB of a declared 8 MB: those within the in-flight bound cut with 408, the rest refused 503 at once, sockets closed, memory freed', async (t) => {
  // a longer request timeout: 316 MB must reach the server before the stall, on a loaded machine too
  const { served, port } = await setup(t, ['--request-timeout-ms', '4000', '--headers-timeout-ms', '1000']);
  gc();
  const base = process.memoryUsage();
  const chunk = Buffer.alloc(7_900_000, 0x31); // "1111…": one buffer written to every socket
  const head = 'POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 8000000\r\n\r\n';
  const conns = await Promise.all(Array.from({ length: 40 }, () => RawConnection.open(port)));
  const answers = conns.map((c) => {
    const [a] = c.send(head);
    c.socket.write(chunk);
    return settle(a!);
  });
  // the server holds the bodies while they stall
  let held = 0;
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    held = Math.max(held, m.heapUsed + m.external - base.heapUsed - base.external);
  }, 50);
  const all = await Promise.all(answers);
  clearInterval(sample);
  const statuses = all.map((a) => (a as RawAnswer).status);
  // the default --max-body-bytes-in-flight, 256 MiB, holds 33 declared 8 MB bodies
  const admitted = Math.floor((256 * 1024 ** 2) / 8_000_000);
  t.equal(statuses.filter((s) => s === 408).length, admitted, `the ${admitted} within the bound answered 408 at the request timeout`);
  t.equal(statuses.filter((s) => s === 503).length, 40 - admitted, `the other ${40 - admitted} refused 503 SERVER_BUSY before their bodies were read`);
  await waitUntil(() => conns.every((c) => c.closed), 'every socket is closed', 10_000);
  const open = await new Promise<number>((r) => served.app.server.getConnections((_e, n) => r(n)));
  t.equal(open, 0, 'the server holds no connection');
  // fastify lets go of an aborted request over a few turns of the loop: collect until it has
  let kept = Infinity;
  for (let i = 0; i < 50 && kept >= 64 * 1024 ** 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    gc();
    const after = process.memoryUsage();
    kept = after.heapUsed + after.external - base.heapUsed - base.external;
  }
  t.ok(kept < 64 * 1024 ** 2, `after the cut the heap and buffers hold ${(kept / 1024 ** 2).toFixed(0)} MiB more than before (${(held / 1024 ** 2).toFixed(0)} MiB while stalled; 40 × 7.9 MB = 301 MiB)`);
});

t.test('100 pipelined requests with a malformed one at 50: the 49 before it answered 200, then 400, then close', async (t) => {
  const { port } = await setup(t);
  const c = await RawConnection.open(port);
  const valid = (i: number) => rawPost('/v1/predict', { model: 'mlp', inputs: { input: [Array.from(seededFloats(8, i))] } });
  const bytes = [...Array.from({ length: 49 }, (_, i) => valid(i)), 'GARBAGE\r\n\r\n', ...Array.from({ length: 50 }, (_, i) => valid(50 + i))].join('');
  const started = Date.now();
  const answers = await Promise.all(c.send(bytes, 100).map(settle));
  t.comment(`all answered in ${Date.now() - started} ms`);
  const statuses = answers.map((a) => (a instanceof NoAnswer ? 0 : a.status));
  t.same(statuses.slice(0, 49), Array(49).fill(200), 'the 49 requests before the malformed one answered 200, in order');
  const bad = answers[49] as RawAnswer;
  t.equal(bad.status, 400, 'the malformed one answered 400');
  t.match(JSON.parse(bad.body), { error: { code: 'INVALID_INPUT' } }, 'in the catalogue');
  t.match(bad.headers.connection, /close/, 'with Connection: close');
  t.same(statuses.slice(50), Array(50).fill(0), 'nothing after it (the framing is lost)');
  await waitUntil(() => c.closed, 'the socket is closed', 5000);
  t.equal(c.error, undefined, 'closed cleanly, not reset');
});
