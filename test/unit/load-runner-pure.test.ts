// The load runner's pure parts: the open loop's timetable, the knee search, flag parsing, the
// recorder's bookkeeping and the summary.
import t from 'tap';
import { scenarioStages } from '../../load/lib/scenarios.js';
import { RateProfile } from '../../load/runner/profile.js';
import { judgeStep, knee, nextRate } from '../../load/runner/sweep.js';
import { parseLoadOptions } from '../../load/runner/options.js';
import { Recorder } from '../../load/runner/recorder.js';
import { runReport, summaryText, sweepText } from '../../load/runner/report.js';
import { LoadError, type SweepOptions, type SweepStep } from '../../load/runner/types.js';

function schedule(p: RateProfile): number[] {
  const out: number[] = [];
  for (let i = 0; ; i++) {
    const at = p.timeOf(i);
    if (at === undefined) return out;
    out.push(at);
  }
}

t.test('constant rate: request i is due at i / rate, and a run asks for rate × duration requests', async (t) => {
  const p = new RateProfile(scenarioStages('constant', { rate: 200, duration: '3s' }));
  const times = schedule(p);
  t.equal(times.length, 600);
  t.equal(times[0], 0);
  t.ok(Math.abs(times[1]! - 5) < 1e-9);
  t.ok(Math.abs(times[599]! - 2995) < 1e-6);
  t.equal(p.durationMs, 3000);
  t.equal(p.rateAt(1500), 200);
});

t.test('a ramp schedules more densely as the rate grows, and dueBy inverts timeOf', async (t) => {
  const p = new RateProfile(scenarioStages('ramp', { rate: 10, maxRate: 30, duration: '10s' }));
  const times = schedule(p);
  t.equal(times.length, 200); // (10 + 30) / 2 × 10 s
  const gapEarly = times[2]! - times[1]!;
  const gapLate = times[199]! - times[198]!;
  t.ok(gapEarly > 2.5 * gapLate, `early gap ${gapEarly} ms, late gap ${gapLate} ms`);
  for (const i of [1, 17, 100, 199]) t.ok(Math.abs(p.dueBy(times[i]!) - i) < 1e-6, `dueBy(timeOf(${i})) = ${i}`);
  for (let i = 1; i < times.length; i++) if (times[i]! < times[i - 1]!) t.fail(`not increasing at ${i}`);
});

t.test('a spike: the rate rises to rate × factor and falls back; falling segments invert too', async (t) => {
  const scn = scenarioStages('spike', { rate: 20, duration: '10s', spikeFactor: 5, spikeDuration: '2s' });
  const p = new RateProfile(scn);
  const times = schedule(p);
  t.ok(Math.abs(times.length - p.expected) <= 1);
  const inWindow = (a: number, b: number): number => times.filter((x) => x >= a && x < b).length;
  const peak = Math.max(...Array.from({ length: 10 }, (_, s) => inWindow(s * 1000, (s + 1) * 1000)));
  const quiet = inWindow(0, 1000);
  t.ok(peak >= 4 * quiet, `busiest second ${peak} requests, first second ${quiet}`);
  for (let i = 1; i < times.length; i++) {
    if (times[i]! < times[i - 1]!) t.fail(`not increasing at ${i}`);
    if (Math.abs(p.dueBy(times[i]!) - i) > 1e-6) t.fail(`dueBy(timeOf(${i})) = ${p.dueBy(times[i]!)}`);
  }
});

const limits = { p99Ms: 100, maxErrorRate: 0 };
const step = (rate: number, p99Ms: number, extra: Partial<SweepStep> = {}): SweepStep =>
  judgeStep({ rate, p99Ms, errorRate: 0, dropped: 0, achieved: rate, ...extra }, limits);

t.test('a sweep step breaks on p99, errors, drops or answers that fall behind', async (t) => {
  t.ok(step(100, 50).held);
  t.match(step(100, 150).why, /p99 150\.0 ms > 100 ms/);
  t.match(step(100, 50, { errorRate: 0.01 }).why, /errors 1\.00 %/);
  t.match(step(100, 50, { dropped: 3 }).why, /3 requests dropped/);
  t.match(step(100, 50, { achieved: 60 }).why, /answered only 60\.0 req\/s of 100/);
  t.match(step(100, NaN).why, /p99 n\/a/);
});

t.test('the sweep grows geometrically, bisects after the first break, and the knee is the best rate that held', async (t) => {
  const o: SweepOptions = { startRate: 10, factor: 2, maxRate: 100_000, stepMs: 1000, refine: 3, pauseMs: 0 };
  // a server that holds the p99 target up to 1000 req/s
  const steps: SweepStep[] = [];
  for (let r = nextRate(steps, o); r !== undefined; r = nextRate(steps, o)) {
    steps.push(step(r, r <= 1000 ? 20 : 500));
    if (steps.length > 30) break;
  }
  t.same(steps.slice(0, 8).map((s) => s.rate), [10, 20, 40, 80, 160, 320, 640, 1280]);
  t.equal(steps.length, 11, 'three bisection steps after the first break');
  const k = knee(steps)!;
  t.ok(k > 640 && k <= 1000, `knee ${k}`);
  t.equal(nextRate([step(100_000, 1)], o), undefined, 'stops at the max rate');
  t.equal(knee([step(10, 500)]), undefined);
  // the first step already breaks: the sweep steps down
  t.equal(nextRate([step(10, 500)], o), 5);
});

t.test('flags: defaults, open and closed loop, sweep, and one-line errors with exit code 2', async (t) => {
  const o = parseLoadOptions(['--model', 'digits'])!;
  t.match(o, { url: 'http://127.0.0.1:8080', protocol: 'v1', mode: 'open', rate: 50, durationMs: 30_000, timeoutMs: 10_000, maxErrorRate: 0.01, batch: 1 });
  t.match(parseLoadOptions(['--model', 'm', '--concurrency', '8', '--duration', '2s', '--protocol', 'v2-binary'])!, { mode: 'closed', concurrency: 8, durationMs: 2000, protocol: 'v2-binary' });
  const s = parseLoadOptions(['--model', 'm', '--sweep', '--step-duration', '3s', '--p99', '50'])!;
  t.match(s, { maxErrorRate: 0, p99Ms: 50, sweep: { stepMs: 3000, factor: 2, startRate: 10 } });
  t.equal(parseLoadOptions(['--help']), undefined);
  t.match(parseLoadOptions(['--model', 'm', '--scenario', 'ramp', '--rate', '20'])!, { scenario: 'ramp', maxRate: 200 }, 'a ramp ends at 10 × the rate, as in the k6 scripts');
  const bad: [string[], RegExp][] = [
    [['--rate', '5'], /--model is required/],
    [['--model', 'm', '--rate', '5', '--concurrency', '2'], /exclude each other/],
    [['--model', 'm', '--protocol', 'grpc'], /--protocol "grpc" is not allowed; use one of v1, v2-json, v2-binary/],
    [['--model', 'm', '--duration', 'soon'], /--duration: duration "soon" is not valid/],
    [['--model', 'm', '--rate=-1'], /--rate "-1" is not allowed/],
    [['--model', 'm', '--batch', '1.5'], /--batch "1.5" is not allowed; use an integer/],
    [['--model', 'm', '--scenario', 'surge'], /--scenario "surge" is not allowed; use one of constant, ramp, spike/],
    [['--model', 'm', '--concurrency', '4', '--sweep'], /need the open loop/],
    [['--model', 'm', '--nope'], /Unknown option '--nope'/],
  ];
  for (const [argv, re] of bad) {
    try {
      parseLoadOptions(argv);
      t.fail(`accepted ${argv.join(' ')}`);
    } catch (err) {
      t.ok(err instanceof LoadError && err.exitCode === 2, argv.join(' '));
      t.match((err as Error).message, re);
      t.notMatch((err as Error).message, /\n/, 'one line');
    }
  }
});

t.test('the recorder files every request once and the summary and report show the same counts', async (t) => {
  const rec = new Recorder();
  for (let i = 1; i <= 100; i++) {
    rec.sent++;
    rec.recordOk(200, i); // 1..100 ms
  }
  rec.sent += 3;
  rec.recordStatus(429, 'QUEUE_FULL');
  rec.recordFailure('ECONNRESET');
  rec.recordTimeout();
  rec.dropped = 2;
  const r = runReport({ startedAt: 'now', target: { url: 'http://127.0.0.1:1', model: 'm', protocol: 'v1', batch: 1 }, mode: 'open', scenario: scenarioStages('constant', { rate: 50, duration: '2s' }) }, rec, { sendingMs: 2000, elapsedMs: 2100 }, { p99Ms: 50, maxErrorRate: 0.01 });
  t.same(r.requests, { sent: 103, ok: 100, errors: 2, timeouts: 1, dropped: 2 });
  t.equal(r.requests.sent, r.requests.ok + r.requests.errors + r.requests.timeouts);
  t.same(r.statusCodes, { '200': 100, '429': 1 });
  t.same(r.errors, { 'HTTP 429: QUEUE_FULL': 1, ECONNRESET: 1 });
  const l = r.latencyMs;
  t.ok(Math.abs(l.p50 - 50) < 0.1 && Math.abs(l.p99 - 99) < 0.1 && Math.abs(l.max - 100) < 0.1, JSON.stringify(l));
  t.ok(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
  t.same(r.thresholds.map((x) => x.ok), [false, false], 'p99 99 ms > 50 ms, 3 failures of 103 > 1 %');
  const text = summaryText(r);
  t.match(text, /103 sent = 100 ok \+ 2 errors \+ 1 timeouts; 2 dropped/);
  t.match(text, /p99=99\.\d+ms/);
  t.match(text, /200: 100, 429: 1/);
  t.match(text, /✗ p99 < 50ms/);
  t.match(sweepText({ tool: 'onnx-serve load --sweep', startedAt: 'now', target: r.target, limits: { p99Ms: 50, maxErrorRate: 0 }, stepS: 2, steps: [{ ...step(50, 10), report: r }], knee: 50, ended: 'done' }), /knee: 50 req\/s/);
  t.same(rec.takeRecent().done, 103);
  t.same(rec.takeRecent().done, 0, 'the live window resets');
});
