// The Node load runner end to end: against a real onnx-serve (every protocol, open and closed
// loop), against stub servers that stall once (coordinated omission: the open loop shows the
// stall, the closed loop hides it), fail, hang or run at capacity (the sweep finds the knee), and
// the CLI's one-line errors, exit codes and JSON report.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, SHIPPED_MODELS, freePort, startServer } from '../helpers/server.js';
import { startStub } from '../helpers/stub-server.js';
import { parseLoadOptions } from '../../load/runner/options.js';
import { prepare, runOnce, runSweep } from '../../load/runner/run.js';
import type { RunReport } from '../../load/runner/report.js';

const CLI = join(ROOT, 'dist', 'load', 'runner', 'cli.js');

function options(url: string, model: string, flags: string[]) {
  return parseLoadOptions(['--url', url, '--model', model, '--quiet', ...flags])!;
}

async function run(url: string, model: string, flags: string[]): Promise<RunReport> {
  const o = options(url, model, flags);
  return runOnce(o, await prepare(o));
}

function checkReport(t: Test, r: RunReport): void {
  const q = r.requests;
  t.equal(q.sent, q.ok + q.errors + q.timeouts, `sent ${q.sent} = ok ${q.ok} + errors ${q.errors} + timeouts ${q.timeouts}`);
  const l = r.latencyMs;
  t.ok(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, `ordered: ${JSON.stringify(l)}`);
  t.ok(l.min > 0, 'latencies are positive');
  for (const key of ['tool', 'startedAt', 'target', 'mode', 'sendingS', 'elapsedS', 'requests', 'rate', 'latencyMs', 'statusCodes', 'errors', 'thresholds']) t.ok(key in r, `report has ${key}`);
  for (const key of ['min', 'mean', 'p50', 'p90', 'p99', 'p999', 'max']) t.type(l[key as keyof typeof l], 'number', `latencyMs.${key}`);
  t.ok(r.rate.offered > 0 && r.rate.achieved > 0);
}

t.test('against a real onnx-serve: every protocol, open and closed loop, counts add up', async (t) => {
  const served = await startServer(t, SHIPPED_MODELS);
  for (const protocol of ['v1', 'v2-json', 'v2-binary']) {
    const r = await run(served.url, 'digits', ['--rate', '100', '--duration', '1.5s', '--protocol', protocol]);
    checkReport(t, r);
    t.equal(r.mode, 'open');
    t.equal(r.requests.sent, 150, `${protocol}: 100 req/s for 1.5 s`);
    t.equal(r.requests.ok, 150, `${protocol}: all answered`);
    t.same(r.statusCodes, { '200': 150 });
    t.ok(Math.abs(r.rate.offered - 100) < 5, `offered ${r.rate.offered}`);
  }
  const closed = await run(served.url, 'seed-mlp', ['--concurrency', '4', '--duration', '1.5s', '--batch', '2']);
  checkReport(t, closed);
  t.equal(closed.mode, 'closed');
  t.equal(closed.concurrency, 4);
  t.equal(closed.requests.errors, 0);
  t.ok(closed.requests.ok > 20, `${closed.requests.ok} answers`);
  const variant = await run(served.url, 'digits', ['--rate', '50', '--duration', '1s', '--variant', 'int8', '--protocol', 'v2-json']);
  t.equal(variant.requests.ok, 50, 'a variant is loaded through the same runner');
  t.equal(variant.target.variant, 'int8');
  const capped = await run(served.url, 'digits', ['--rate', '200', '--duration', '5s', '--max-requests', '40']);
  t.equal(capped.requests.sent, 40, 'bounded in count');
  t.ok(capped.sendingS < 1, `the schedule stopped at the cap (${capped.sendingS.toFixed(2)} s)`);
});

t.test('coordinated omission: a 200 ms stall shows in the open loop p99 and hides in the closed loop', async (t) => {
  const open = await startStub({ stallAtRequest: 150, stallMs: 200 });
  t.teardown(open.close);
  const o = await run(open.url, 'stub', ['--rate', '200', '--duration', '3s']);
  checkReport(t, o);
  t.ok(o.latencyMs.max >= 180, `open loop max ${o.latencyMs.max} ms`);
  t.ok(o.latencyMs.p99 >= 120, `open loop p99 ${o.latencyMs.p99} ms shows the stall (about 40 requests were due during it)`);

  const closedStub = await startStub({ stallAtRequest: 150, stallMs: 200 });
  t.teardown(closedStub.close);
  const c = await run(closedStub.url, 'stub', ['--concurrency', '2', '--duration', '3s', '--max-requests', '5000']);
  checkReport(t, c);
  t.ok(c.latencyMs.max >= 180, `closed loop max ${c.latencyMs.max} ms: the stall happened`);
  t.ok(c.latencyMs.p99 < 50, `closed loop p99 ${c.latencyMs.p99} ms hides it (2 samples of ${c.requests.ok})`);
});

t.test('errors and timeouts are counted once each, by status and by message', async (t) => {
  const stub = await startStub({ failEvery: 10, hangEvery: 25 });
  t.teardown(stub.close);
  const r = await run(stub.url, 'stub', ['--rate', '100', '--duration', '2s', '--timeout', '300ms']);
  checkReport(t, r);
  // the probe before the run was request 1; the run's requests are 2..sent+1
  let hang = 0;
  let fail = 0;
  for (let i = 2; i <= r.requests.sent + 1; i++) {
    if (i % 25 === 0) hang++;
    else if (i % 10 === 0) fail++;
  }
  t.equal(r.requests.sent, 200);
  t.equal(r.requests.timeouts, hang);
  t.equal(r.requests.errors, fail);
  t.same(r.statusCodes, { '200': r.requests.ok, '500': fail });
  t.same(r.errors, { 'HTTP 500: INTERNAL': fail });
  t.notOk(r.thresholds.every((x) => x.ok), 'the error-rate threshold is crossed');
  t.ok(r.elapsedS < 2 + 0.3 + 1, `the run ended one timeout after the schedule (${r.elapsedS.toFixed(2)} s)`);
});

t.test('the closed loop times out a hung request through the pool and counts it once', async (t) => {
  const stub = await startStub({ hangEvery: 10 });
  t.teardown(stub.close);
  const r = await run(stub.url, 'stub', ['--concurrency', '2', '--duration', '1s', '--timeout', '300ms']);
  checkReport(t, r);
  t.ok(r.requests.timeouts >= 2, `${r.requests.timeouts} timeouts: every 10th request hangs`);
  t.equal(r.requests.errors, 0, 'a timeout is not also an error');
  t.equal(r.requests.ok, r.requests.sent - r.requests.timeouts);
  t.ok(r.elapsedS < 1 + 0.3 + 1, `the run ended about one timeout after its duration (${r.elapsedS.toFixed(2)} s)`);
});

t.test('--sweep finds the knee of a server with a known capacity', async (t) => {
  const stub = await startStub({ capacityPerS: 150 });
  t.teardown(stub.close);
  const o = options(stub.url, 'stub', ['--sweep', '--sweep-start', '25', '--step-duration', '1s', '--refine', '2', '--p99', '200']);
  o.sweep!.pauseMs = 1100; // the stub's capacity window is one second
  const s = await runSweep(o, await prepare(o));
  t.same(s.steps.slice(0, 4).map((x) => x.rate), [25, 50, 100, 200]);
  t.ok(s.steps[2]!.held && !s.steps[3]!.held, 'held at 100, broke at 200');
  t.match(s.steps[3]!.why, /errors/);
  t.ok(s.knee !== undefined && s.knee >= 100 && s.knee <= 150, `knee ${s.knee} req/s for a capacity of 150`);
  t.equal(s.steps.length, 6, 'two bisection steps');
});

/** Runs the CLI as a child; asynchronously, since the stub it talks to lives in this process. */
async function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number | null>((r) => child.on('close', r));
  return { status, stdout, stderr };
}


t.test('the CLI: one clear line and an exit code for every problem', async (t) => {
  const stub = await startStub();
  t.teardown(stub.close);
  const cases: [string[], number, RegExp][] = [
    [['--model', 'stub', '--url', stub.url, '--frobnicate'], 2, /Unknown option '--frobnicate'/],
    [['--url', stub.url], 2, /--model is required/],
    [['--model', 'stub', '--url', stub.url, '--duration', 'forever'], 2, /duration "forever" is not valid/],
    [['--model', 'stub', '--url', 'http://192.0.2.10:8080'], 2, /not a loopback address.*--allow-remote/],
    [['--model', 'nope', '--url', stub.url], 1, /model "nope" is not served at .*available: stub/],
    [['--model', 'stub', '--url', `http://127.0.0.1:${await freePort()}`], 1, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is the server running\?/],
  ];
  for (const [args, code, re] of cases) {
    const r = await cli(args);
    t.equal(r.status, code, `${args.join(' ')} → exit ${code}`);
    t.match(r.stderr, re);
    t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr.trim()}`);
    t.match(r.stderr, /^onnx-serve load: /);
  }
  const help = await cli(['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /usage: npm run load -- --model NAME/);
});

t.test('the CLI: a k6-like summary and a JSON report with the same fields; exit 99 when a threshold is crossed', async (t) => {
  const stub = await startStub({ failEvery: 5 });
  t.teardown(stub.close);
  const dir = await mkdtemp(join(tmpdir(), 'onnx-serve-load-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'report.json');
  const { status: code, stdout } = await cli(['--url', stub.url, '--model', 'stub', '--rate', '50', '--duration', '1s', '--out', out]);
  t.equal(code, 99, 'a crossed threshold (20 % errors) exits 99, as k6 does');
  const report = JSON.parse(await readFile(out, 'utf8')) as RunReport;
  checkReport(t, report);
  t.equal(report.requests.sent, 50);
  t.match(stdout, new RegExp(`${report.requests.sent} sent = ${report.requests.ok} ok \\+ ${report.requests.errors} errors`));
  t.match(stdout, /p50=.*p90=.*p99=.*p99\.9=.*max=/);
  t.match(stdout, /✗ error rate <= 1\.00%/);
  t.match(stdout, /✓ p99 < 500ms/);
});
