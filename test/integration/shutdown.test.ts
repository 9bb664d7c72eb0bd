// Graceful shutdown of the real CLI process: SIGTERM with 100 requests in flight answers all
// 100 with 200, refuses new connections, ends the workers and exits 0; under an open loop at
// twice capacity it resets nothing and leaves no request written without an answer.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { once } from 'node:events';
import { Agent, request } from 'undici';
import { makeRepo, postJson, getJson, ROOT, type Asserts } from '../helpers/server.js';
import { RawConnection, NoAnswer, rawPost, type RawAnswer } from '../helpers/raw-http.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';

t.test('SIGTERM with 100 requests in flight: all answered 200, exit code 0', async (t) => {
  // requests wait up to 5 s for rows, so all 100 are surely queued when the signal lands (even on a
  // loaded CI machine); the drain flushes the queue at once, so the test does not wait that long
  const repo = await makeRepo(t, {
    mlp: { onnx: mlpModel([32, 64, 4], 9), config: { instances: 2, maxBatchSize: 128, dynamicBatching: { maxQueueDelayMs: 5000 } } },
  });
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--models', repo, '--port', '0', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const deadline = Date.now() + 30_000;
  while (!/listening on (http:\S+)/.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  const url = /listening on (http:\S+)/.exec(stdout)?.[1];
  t.ok(url, `server printed its URL (stderr: ${stderr.slice(0, 200)})`);
  if (!url) return;

  const dispatcher = new Agent({ connections: 128 });
  t.teardown(() => dispatcher.close());
  const inputs = Array.from({ length: 100 }, (_, i) => [Array.from(seededFloats(32, i))]);
  const inflight = inputs.map((input) =>
    request(`${url}/v1/predict`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mlp', inputs: { input } }) }).then(
      async (r) => ({ status: r.statusCode, body: (await r.body.json()) as { outputs?: { output?: number[][] } } }),
      (e: Error) => ({ status: 0, body: { error: e.message } as never }),
    ),
  );
  let depth = 0;
  for (let i = 0; i < 300 && depth < 100; i++) {
    const models = (await getJson(`${url}/v1/models`)).body.models;
    depth = models[0].versions[0].stats.queueDepth;
    if (depth < 100) await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(depth, 100, 'all 100 requests are queued before the signal');

  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 30));
  const refused = await postJson(`${url}/v1/predict`, { model: 'mlp', inputs: { input: inputs[0] } }).then(
    (r) => `answered ${r.status}`,
    (e: Error & { code?: string }) => e.code ?? e.message,
  );
  t.match(refused, /ECONNREFUSED|SHUTTING_DOWN|answered 503/, `a new request after SIGTERM is refused (${refused})`);

  const answers = await Promise.all(inflight);
  t.same(answers.map((a) => a.status), Array(100).fill(200), 'all 100 in-flight requests answered 200');
  t.ok(answers.every((a) => a.body.outputs?.output?.[0]?.length === 4), 'each with its output');
  const [code, signal] = (await exited) as [number | null, string | null];
  t.equal(code, 0, `exit code 0 (signal ${signal}, stderr: ${stderr.slice(-300)})`);
  t.notMatch(stderr, /Napi::Error|terminate called|Aborted/, 'no native abort at exit');
});

interface Spawned {
  child: ReturnType<typeof spawn>;
  port: number;
  stderr(): string;
}

/** The real CLI on an ephemeral port; undefined (and a failed assertion) if it never listens. */
async function spawnServer(t: Asserts, repo: string): Promise<Spawned | undefined> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--models', repo, '--port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const deadline = Date.now() + 30_000;
  while (!/listening on http:\S+:(\d+)/.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  const port = /listening on http:\S+:(\d+)/.exec(stdout)?.[1];
  t.ok(port, `server printed its URL (stderr: ${stderr.slice(0, 200)})`);
  return port ? { child, port: Number(port), stderr: () => stderr } : undefined;
}

/** What happened to each request written on an accepted connection. */
interface Outcome {
  ok: number;
  shuttingDown: number;
  /** 503 SHUTTING_DOWN without Connection: close, or any other answer. */
  other: string[];
  resets: number;
  unanswered: number;
  writtenAfterSignal: number;
}

function tally(o: Outcome, p: Promise<RawAnswer>): Promise<void> {
  return p.then(
    (a) => {
      const code = a.status === 503 ? (JSON.parse(a.body) as { error?: { code?: string } }).error?.code : undefined;
      if (a.status === 200) o.ok++;
      else if (code === 'SHUTTING_DOWN' && /close/i.test(a.headers.connection ?? '')) o.shuttingDown++;
      else o.other.push(`${a.status} ${a.body.slice(0, 100)}`);
    },
    (e: NoAnswer) => {
      if (e.reason === 'closed') o.unanswered++;
      else o.resets++;
    },
  );
}

// A small MLP one request at a time (maxBatchSize 1): its capacity is measured closed loop, then an
// open loop at twice that runs for 0.8 s with SIGTERM at 0.4 s (by then at most 0.4 s of arrivals
// are in flight: some of the 512 pre-opened connections are idle, and race the signal). The loop
// ends before DRAIN_IDLE_MS (0.5 s) after the signal: a connection still idle then is ended, and a
// request written on it just as it ends gets no answer (as at any keep-alive timeout; see README). Every request written on a
// connection the server accepted must get an HTTP answer: 200, or 503 SHUTTING_DOWN with
// Connection: close; never a reset, never a socket closed without one. A connection refused
// after the listener has closed is fine.
for (const preopened of [true, false]) {
  t.test(`SIGTERM under an open loop at 2× capacity, ${preopened ? 'on 512 pre-opened kept-alive connections' : 'one new connection per request'}: nothing reset or unanswered`, async (t) => {
    // one request at a time on one thread, about 11 M multiply-adds: the model, not the main thread, limits
    // a queue that holds the whole backlog (no wait limit): what is tested is the drain, not admission
      const repo = await makeRepo(t, { mlp: { onnx: mlpModel([512, 3072, 3072, 8], 5), config: { instances: 1, intraOpThreads: 1, maxBatchSize: 1, dynamicBatching: { maxQueueWaitMs: 60_000 } } } });
    const s = await spawnServer(t, repo);
    if (!s) return;
    const body = (i: number) => rawPost('/v1/predict', { model: 'mlp', inputs: { input: [Array.from(seededFloats(512, i))] } });

    // capacity: 8 connections closed loop for 0.6 s
    const probe = await Promise.all(Array.from({ length: 8 }, () => RawConnection.open(s.port)));
    let done = 0;
    const probeEnd = Date.now() + 600;
    await Promise.all(probe.map(async (c) => {
      while (Date.now() < probeEnd) if ((await c.send(body(done))[0]!).status === 200) done++;
      c.close();
    }));
    const rate = Math.max(200, Math.min(4000, (2 * done) / 0.6));
    t.comment(`capacity ${(done / 0.6).toFixed(0)} req/s; open loop at ${rate.toFixed(0)} req/s`);

    const pool = preopened ? await Promise.all(Array.from({ length: 512 }, () => RawConnection.open(s.port))) : [];
    const o: Outcome = { ok: 0, shuttingDown: 0, other: [], resets: 0, unanswered: 0, writtenAfterSignal: 0 };
    const settled: Promise<void>[] = [];
    let refused = 0;
    const connectFailed: string[] = [];
    let notWritten = 0;
    let open = 0;
    let signalled = false;
    const exited = once(s.child, 'exit');
    const start = Date.now();
    let sent = 0;
    const fire = (i: number): void => {
      if (preopened) {
        const c = pool.find((x) => !x.busy && !x.closed && !x.closeAnnounced);
        if (!c) return void notWritten++;
        if (signalled) o.writtenAfterSignal++;
        settled.push(tally(o, c.send(body(i))[0]!));
        return;
      }
      if (open >= 256) return void notWritten++;
      open++;
      settled.push(
        RawConnection.open(s.port).then(
          async (c) => {
            if (signalled) o.writtenAfterSignal++;
            await tally(o, c.send(body(i))[0]!);
            c.close();
            open--;
          },
          (e: NodeJS.ErrnoException) => {
            open--;
            if (e.code === 'ECONNREFUSED') refused++;
            else connectFailed.push(e.code ?? e.message); // not a request written on an accepted connection, but say so
          },
        ),
      );
    };
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const elapsed = Date.now() - start;
        if (!signalled && elapsed >= 400) {
          signalled = true;
          s.child.kill('SIGTERM');
        }
        const due = Math.floor((Math.min(elapsed, 800) / 1000) * rate);
        while (sent < due) fire(sent++);
        if (elapsed >= 800) {
          clearInterval(tick);
          resolve();
        }
      }, 2);
    });
    await Promise.all(settled);
    for (const c of pool) c.close();
    t.comment(`${sent} due: ${o.ok} × 200, ${o.shuttingDown} × 503 SHUTTING_DOWN, ${refused} refused, ${notWritten} not written (no connection free); ${o.writtenAfterSignal} written after SIGTERM`);
    const written = o.ok + o.shuttingDown + o.other.length + o.resets + o.unanswered;
    if (preopened) t.equal(o.resets, 0, 'no request reset');
    // New connections: the kernel resets those still in its accept queue when the listener
    // closes, before the server has seen them; the listener waits (up to 5 s) for the queue to
    // be empty, so only a connection completed between that look and the close can be reset.
    // Measured 0 of 580 here; bounded at 1 % for a loaded machine.
    else t.ok(o.resets <= Math.ceil(written / 100), `${o.resets} of ${written} requests on new connections reset (completed in the kernel just as the listener closed)`);
    // a connection reset before its 'connect' event is the same kernel queue, seen earlier
    t.same(connectFailed.filter((c) => c !== 'ECONNRESET'), [], `no connection failed but refused or reset (${connectFailed.length} reset while connecting)`);
    t.equal(o.unanswered, 0, 'no request left without an answer');
    t.same(o.other, [], 'every answer is 200 or 503 SHUTTING_DOWN with Connection: close');
    t.ok(o.ok > 0, 'requests were computed');
    if (preopened) t.ok(o.shuttingDown > 0, 'requests that arrived on kept-alive connections after SIGTERM were answered 503');
    const refusedAfter = await RawConnection.open(s.port).then((c) => (c.close(), 'connected'), (e: NodeJS.ErrnoException) => e.code);
    t.equal(refusedAfter, 'ECONNREFUSED', 'new connections are refused');
    const [code] = (await exited) as [number | null];
    t.equal(code, 0, `exit code 0 (stderr: ${s.stderr().slice(-300)})`);
  });
}
