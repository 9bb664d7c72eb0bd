// The pure pieces of `npm run soak`: window plan, per-window recording and counts, verdicts, the
// markdown table and report, the chart, and the flags (bench/soak-*.ts).
import t from 'tap';
import { Recorder } from '../../load/runner/recorder.js';
import { LoadError } from '../../load/runner/types.js';
import { parseSoakOptions } from '../../bench/soak-options.js';
import { soakChart, soakMarkdown, soakTable, type SoakRun } from '../../bench/soak-report.js';
import { allPass, cpuShares, failureMessages, verdictLine, verdicts, windowCounts, windowPlan, windowSample, WindowRecorder, type WindowSample } from '../../bench/soak-windows.js';
import { invalidBodies } from '../../bench/fixtures.js';
import { xmlProblems } from '../helpers/xml.js';

t.test('windowPlan: 30 s windows for 10 minutes, at least 5 for short runs, covering the run exactly', async (t) => {
  t.same(windowPlan(10), { windowS: 30, windows: 20, warmupWindows: 4 });
  t.same(windowPlan(1), { windowS: 12, windows: 5, warmupWindows: 1 });
  t.same(windowPlan(0.25), { windowS: 3, windows: 5, warmupWindows: 1 });
  const odd = windowPlan(10.25);
  t.equal(odd.windows, 21);
  t.ok(odd.windowS <= 30);
  t.equal(Math.round(odd.windows * odd.windowS * 1000), 615_000, 'no time left over');
  t.equal(odd.warmupWindows, 4);
});

t.test('WindowRecorder: each take() holds only what ended since the last, the whole run stays on the recorder', async (t) => {
  const rec = new WindowRecorder();
  rec.sent += 3;
  rec.recordOk(200, 5);
  rec.recordOk(200, 7);
  rec.recordStatus(503, 'SERVER_BUSY');
  const w1 = rec.take();
  rec.sent += 2;
  rec.dropped += 1;
  rec.recordOk(200, 100);
  rec.recordTimeout();
  rec.recordFailure('ECONNRESET');
  const w2 = rec.take();
  t.same([w1.sent, w1.ok, w1.errors, w1.timeouts, w1.dropped], [3, 2, 1, 0, 0]);
  t.same([w2.sent, w2.ok, w2.errors, w2.timeouts, w2.dropped], [2, 1, 1, 1, 1]);
  t.equal(w1.latency().max, 7, 'the later 100 ms answer is not in the first window');
  t.equal(w2.latency().p50, 100);
  t.same([rec.sent, rec.ok, rec.errors, rec.timeouts, rec.dropped], [5, 3, 2, 1, 1]);
  t.equal(rec.take().ok, 0, 'a window with nothing in it');
});

function lanes(): { valid: Recorder; invalid: Recorder } {
  const valid = new Recorder();
  for (let i = 0; i < 10; i++) valid.recordOk(200, 10 + i);
  valid.recordStatus(400, 'SHAPE_MISMATCH'); // a valid body refused: wrong
  valid.recordStatus(500, 'INTERNAL');
  valid.recordStatus(429, 'QUEUE_FULL'); // shed: a failure of its own class
  valid.recordFailure('ECONNRESET');
  valid.recordTimeout();
  valid.dropped = 2;
  const invalid = new Recorder();
  for (let i = 0; i < 4; i++) invalid.recordStatus(400, 'INVALID_JSON');
  invalid.recordStatus(404, 'MODEL_NOT_FOUND');
  invalid.recordOk(200, 1); // an invalid body accepted: wrong
  invalid.recordStatus(503, 'SERVER_BUSY');
  invalid.recordFailure('ECONNREFUSED');
  return { valid, invalid };
}

t.test('windowCounts files each outcome in one class', async (t) => {
  const { valid, invalid } = lanes();
  t.same(windowCounts(valid, invalid), { ok: 10, rejected: 5, shed: 1, http5xx: 2, transport: 5, unexpected: 2, answers: 20 });
  const msgs = failureMessages(valid, invalid);
  t.ok(msgs.has('HTTP 503: SERVER_BUSY'), "invalid traffic's 5xx is a failure");
  t.ok(msgs.has('ECONNREFUSED'));
  t.ok(msgs.has('HTTP 400: SHAPE_MISMATCH'), "valid traffic's 4xx is a failure");
  t.notOk(msgs.has('HTTP 400: INVALID_JSON'), "invalid traffic's 4xx is what it should get");
  t.notOk(msgs.has('HTTP 404: MODEL_NOT_FOUND'));
});

t.test('windowSample: latency of valid answers only, answers per second, warm-up from the plan', async (t) => {
  const { valid, invalid } = lanes();
  const plan = windowPlan(1);
  const s = windowSample(1, plan, { endS: 12, seconds: 12.5 }, 300 * 2 ** 20, valid, invalid, { systemS: 20, serverS: 12.5, clientS: 5, wallS: 12.5 });
  t.equal(s.warmup, true);
  t.equal(s.rssMiB, 300);
  t.equal(s.p99Ms, 19, 'the invalid 1 ms answer does not count');
  t.equal(s.serverCores, 1);
  t.equal(s.otherCores, 2.5 / 12.5, "the machine's busy time less the server's and the soak's");
  t.equal(s.achieved, 20 / 12.5);
  const s2 = windowSample(2, plan, { endS: 24, seconds: 12 }, undefined, new Recorder(), new Recorder());
  t.equal(s2.warmup, false);
  t.ok(Number.isNaN(s2.rssMiB) && Number.isNaN(s2.p99Ms) && Number.isNaN(s2.serverCores), 'nothing known is NaN, not 0');
});

/** Windows with the given RSS and p99; the first `warmup` are warm-up; no failures unless given. */
function samples(rss: number[], p99: number[], warmup = 1, extra: Partial<WindowSample> = {}): WindowSample[] {
  return rss.map((r, i) => ({ index: i + 1, warmup: i < warmup, endS: (i + 1) * 30, seconds: 30, rssMiB: r, p50Ms: p99[i]! / 2, p99Ms: p99[i]!, ok: 100, rejected: 10, shed: 0, http5xx: 0, transport: 0, unexpected: 0, answers: 110, achieved: 110 / 30, serverCores: 1.25, otherCores: NaN, ...(i === 0 ? extra : {}) }));
}

t.test('cpuShares: cores over the window; nothing when the server could not be read', async (t) => {
  t.same(cpuShares({ systemS: 3, serverS: 1, clientS: 0.5, wallS: 2 }), { serverCores: 0.5, otherCores: 0.75 });
  t.same(cpuShares({ systemS: 1, serverS: 1, clientS: 0.5, wallS: 2 }), { serverCores: 0.5, otherCores: 0 }, 'never below 0 (counters tick apart)');
  t.ok(Number.isNaN(cpuShares({ systemS: undefined, serverS: 1, clientS: 0, wallS: 1 }).otherCores));
  t.ok(Number.isNaN(cpuShares({ systemS: 1, serverS: undefined, clientS: 0, wallS: 1 }).serverCores));
  t.ok(Number.isNaN(cpuShares(undefined).serverCores));
});

t.test('RSS growth: from the first window after warm-up to the last, warm-up growth ignored', async (t) => {
  const flat = [10, 10, 10, 10, 10, 10, 10];
  const ok = verdicts(samples([100, 400, 401, 405, 410, 415, 419], flat));
  t.ok(Math.abs(ok.rss.value - 19 / 400) < 1e-12);
  t.equal(ok.rss.pass, true);
  t.equal(ok.rss.base, 400);
  const bad = verdicts(samples([400, 400, 401, 405, 410, 415, 421], flat));
  t.ok(Math.abs(bad.rss.value - 0.0525) < 1e-12);
  t.equal(bad.rss.pass, false);
  const unknown = verdicts(samples([400, NaN, 401, 405, 410, 415, 421], flat));
  t.equal(unknown.rss.pass, false, 'an RSS that could not be read does not pass');
  t.match(verdictLine(unknown.rss), /^FAIL RSS growth after warm-up: n\/a .*not measured/);
});

t.test('p99 drift: mean of the last third against the first third after warm-up', async (t) => {
  const rss = Array(10).fill(100) as number[];
  // warm-up 1, then 9 windows: thirds of 3
  const rising = verdicts(samples(rss, [500, 10, 11, 12, 30, 30, 30, 12, 12, 12]));
  t.ok(Math.abs(rising.p99.value - (12 - 11) / 11) < 1e-12, 'the middle third and the warm-up do not count');
  t.equal(rising.p99.pass, true);
  t.equal(rising.p99.base, 11);
  t.match(rising.p99.detail, /windows 2-4 .* windows 8-10/);
  const drifting = verdicts(samples(rss, [10, 10, 10, 10, 10, 10, 10, 11, 11, 12]));
  t.ok(Math.abs(drifting.p99.value - (34 / 3 - 10) / 10) < 1e-12);
  t.equal(drifting.p99.pass, false);
  t.equal(verdicts(samples(rss, [10, 20, 20, 20, 10, 10, 10, 10, 10, 10])).p99.pass, true, 'a falling p99 passes');
  t.equal(verdicts(samples(rss, [10, NaN, 10, 10, 10, 10, 10, 10, 10, 10])).p99.pass, false, 'a window without answers does not pass');
  t.equal(verdicts(samples([100, 100], [10, 10])).p99.pass, false, 'one judged window is not enough');
});

t.test('failed requests count every window, warm-up included', async (t) => {
  const clean = verdicts(samples([100, 100, 100], [10, 10, 10]));
  t.equal(clean.failures.pass, true);
  t.equal(allPass(clean), true);
  const dirty = verdicts(samples([100, 100, 100], [10, 10, 10], 1, { http5xx: 1, transport: 2, shed: 4 }));
  t.equal(dirty.failures.value, 7);
  t.equal(dirty.failures.pass, false);
  t.equal(allPass(dirty), false);
  t.match(verdictLine(dirty.failures), /^FAIL failed requests: 7 \(target = 0\); 4 valid shed with 429, 1 5xx, 2 unanswered/);
});

function run(s: WindowSample[]): SoakRun {
  return {
    command: 'npm run soak -- --minutes 1',
    startedAt: new Date('2026-12-01T23:00:00Z'),
    machine: 'cores: 2',
    backgroundCores: 0.5,
    model: 'heavy-mlp (1024→4096→4096→1000)',
    rate: 1200,
    rateFrom: '70 % of 1714.3 req/s',
    invalidShare: 0.1,
    invalidKinds: [{ kind: 'empty body', answer: '400 INVALID_JSON' }],
    plan: { windowS: 30, windows: s.length, warmupWindows: 1 },
    samples: s,
    verdicts: verdicts(s),
    failureMessages: [['HTTP 500: INTERNAL <x>', 2]],
    svgFile: 'soak.svg',
  };
}

t.test('soakTable: a header, an alignment row and one row per window; unknowns read n/a', async (t) => {
  const s = samples([100, 101, NaN, 103, 104], [10, 10, 10, 10, 10]);
  const lines = soakTable(s).split('\n');
  t.equal(lines.length, 2 + 5);
  t.match(lines[0]!, /^\| window \| end \(min\) \| phase \| RSS \(MiB\) \| p50 \(ms\) \| p99 \(ms\) \|/);
  t.match(lines[2]!, /^\| 1 \| 0\.50 \| warm-up \| 100\.0 \| 5\.00 \| 10\.00 \| 100 \| 10 \| 0 \| 0 \| 0 \| 0 \| 3\.7 \| 1\.25 \| n\/a \|$/);
  t.match(lines[3]!, /\| judged \|/);
  t.match(lines[4]!, /\| judged \| n\/a \|/);
  for (const l of lines) t.equal(l.split('|').length, lines[0]!.split('|').length, 'same column count');
});

t.test('soakMarkdown: command, rate, verdicts, failures, table and the chart link', async (t) => {
  const md = soakMarkdown(run(samples([100, 100, 101, 102, 103], [10, 10, 10, 10, 10])));
  t.match(md, /`npm run soak -- --minutes 1`, started 2026-12-01 23:00 UTC; cores: 2\. Other processes used 0\.50 cores when the soak started/);
  t.match(md, /warm-up, not judged: window 1 \(0\.50 min\)/);
  t.match(md, /1\.2k req\/s in open loop/);
  t.match(md, /1\.08k req\/s of valid .* 120 req\/s \(10 %\) of invalid/);
  t.match(md, /- PASS RSS growth after warm-up: 3\.0 % \(target < 5\.0 %\)/);
  t.match(md, /- PASS p99 drift after warm-up: 0\.0 %/);
  t.match(md, /- 2 × HTTP 500: INTERNAL <x>/);
  t.match(md, /empty body → 400 INVALID_JSON/);
  t.match(md, /!\[server RSS and latency over the soak\]\(soak\.svg\)/);
  t.equal(md.split('\n').filter((l) => /^\| \d+ \|/.test(l)).length, 5);
});

t.test('soakChart: one well-formed file with the RSS chart above the latency chart and their limits', async (t) => {
  const svg = soakChart(run(samples([100, 200, 201, 202, 203], [50, 10, 11, 12, 13])));
  t.same(xmlProblems(svg), []);
  t.notMatch(svg, /NaN|Infinity|undefined/);
  t.equal(svg.split('<path ').length - 1, 3, 'RSS, p99 and p50');
  t.match(svg, /Soak: server RSS[\s\S]*Soak: latency/, 'RSS first');
  t.match(svg, /<g transform="translate\(0 320\)">/, 'the latency chart sits below the 320 px RSS chart');
  t.match(svg, /height="680"/);
  t.match(svg, /\+5 % of the first judged window/);
  t.match(svg, /\+10 % of the first third&apos;s mean p99/);
  t.match(svg, /server RSS: 1, 200</, 'points at minutes, MiB');
});

t.test('parseSoakOptions: defaults, fractional minutes, and one clear line per bad flag', async (t) => {
  t.same(parseSoakOptions([]), { minutes: 10, model: 'heavy', invalidShare: 0.1 });
  t.same(parseSoakOptions(['--minutes', '1.5', '--model', 'seed', '--rate', '300', '--invalid-share', '0', '--out', '/tmp/x']), { minutes: 1.5, model: 'seed', rate: 300, invalidShare: 0, out: '/tmp/x' });
  t.equal(parseSoakOptions(['--help']), undefined);
  for (const [argv, re] of [
    [['--minutes', '0'], /--minutes "0" is not allowed/],
    [['--minutes', 'ten'], /--minutes "ten"/],
    [['--model', 'huge'], /--model "huge" is not allowed; use one of heavy, seed/],
    [['--invalid-share', '1'], /--invalid-share "1" is not allowed/],
    [['--rate', '0'], /--rate "0" is not allowed/],
    [['--concurrency', '4'], /Unknown option '--concurrency'/],
  ] as const) {
    let err: unknown;
    try {
      parseSoakOptions(argv);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof LoadError && err.exitCode === 2, `${argv.join(' ')}: a usage error`);
    t.match((err as Error | undefined)?.message ?? '', re);
  }
});

t.test('invalidBodies: one body per kind, none of them a well-formed request for the model', async (t) => {
  const bodies = invalidBodies('m', 4);
  t.same(bodies.map((b) => b.kind), ['malformed JSON', 'wrong input shape', 'unknown model', 'non-number values', 'empty body']);
  const [malformed, shape, unknown, words, empty] = bodies.map((b) => b.body.toString());
  t.throws(() => JSON.parse(malformed!));
  t.equal((JSON.parse(shape!) as { inputs: { input: number[][] } }).inputs.input[0]!.length, 3);
  t.equal((JSON.parse(unknown!) as { model: string }).model, 'no-such-model');
  t.same((JSON.parse(words!) as { inputs: { input: unknown[][] } }).inputs.input[0], ['x', 'x', 'x', 'x']);
  t.equal(empty, '');
});
