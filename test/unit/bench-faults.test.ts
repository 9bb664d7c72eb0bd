// The pure part of the bench's faults section (bench/faults-report.ts): counting the SIGTERM
// probe's outcomes, the recovery time, the ListenOverflows counter, and the before/after table's
// verdicts. No server, no onnxruntime run.
import t from 'tap';
import { countShutdown, faultRows, faultsTable, listenOverflows, metText, parseOpenLog, range, recoveryMs, type FaultsResult, type ShutdownOutcome } from '../../bench/faults-report.js';

const answer = (status: number, code?: string, connectionClose = false): ShutdownOutcome => ({ kind: 'answer', status, ...(code ? { code } : {}), connectionClose });

t.test('countShutdown files every outcome once and counts the due-before ones left without an answer', async (t) => {
  const c = countShutdown([
    { outcome: answer(200), beforeSignal: true },
    { outcome: answer(429, 'QUEUE_FULL'), beforeSignal: true },
    { outcome: answer(503, 'SERVER_BUSY'), beforeSignal: false },
    { outcome: answer(503, 'SHUTTING_DOWN', true), beforeSignal: false },
    { outcome: answer(503, 'SHUTTING_DOWN', false), beforeSignal: false },
    { outcome: answer(500, 'INTERNAL'), beforeSignal: true },
    { outcome: { kind: 'no-answer', reason: 'ECONNRESET' }, beforeSignal: true, atMs: -3 },
    { outcome: { kind: 'no-answer', reason: 'closed' }, beforeSignal: false, atMs: 480 },
    { outcome: { kind: 'connect-failed', code: 'ECONNREFUSED' }, beforeSignal: false },
    { outcome: { kind: 'connect-failed', code: 'ETIMEDOUT' }, beforeSignal: true },
    { outcome: { kind: 'not-written' }, beforeSignal: true },
  ]);
  t.equal(c.due, 11);
  t.equal(c.ok, 1);
  t.equal(c.refused, 2, '429 QUEUE_FULL and 503 SERVER_BUSY are refusals, answered');
  t.equal(c.shuttingDown, 1, 'only with Connection: close');
  t.equal(c.other, 2, 'a 503 SHUTTING_DOWN that keeps the connection open, and a 500');
  t.same(c.otherSamples, ['503 SHUTTING_DOWN (no Connection: close)', '500 INTERNAL (no Connection: close)']);
  t.equal(c.resets, 1);
  t.equal(c.unanswered, 1);
  t.equal(c.connectRefused, 1);
  t.equal(c.connectLost, 1);
  t.equal(c.notWritten, 1);
  t.equal(c.dueBefore, 6);
  t.equal(c.dueBeforeNoAnswer, 2, 'the reset and the lost connection; the not-written one is the client\'s own cap');
  t.same(c.noAnswerAtMs, { min: -3, max: 480, count: 2 }, 'when the reset and the unanswered one were sent');
});

t.test('listenOverflows reads TcpExt ListenOverflows by its column', async (t) => {
  const text = 'TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 2831 2900\nIpExt: InNoRoutes\nIpExt: 0\n';
  t.equal(listenOverflows(text), 2831);
  t.equal(listenOverflows('IpExt: InNoRoutes\nIpExt: 0\n'), undefined);
  t.equal(listenOverflows('TcpExt: SyncookiesSent\nTcpExt: 0\n'), undefined);
});

t.test('recoveryMs is the first ok probe within the limit; range of Retry-After values', async (t) => {
  const probes = [
    { atMs: 0, ms: 900, ok: true },
    { atMs: 950, ms: 3, ok: false },
    { atMs: 1010, ms: 4, ok: true },
    { atMs: 1070, ms: 3, ok: true },
  ];
  t.equal(recoveryMs(probes, 5), 1010, 'a fast refusal is not recovery');
  t.equal(recoveryMs(probes, 1), undefined);
  t.same(range([1, 3, 2]), { min: 1, max: 3, count: 3 });
  t.equal(range([]), undefined);
});

t.test('parseOpenLog: h2load\'s per-request log, goodput within the limit, refusals apart', async (t) => {
  const log = ['1700000000000000\t200\t120000', '1700000000000100\t200\t700000', '1700000000000200\t429\t900', '1700000000000300\t503\t1500', '1700000000000400\t-1\t5000', 'garbage', ''].join('\n');
  const p = parseOpenLog(log, 500);
  t.equal(p.logged, 5, 'the malformed and empty lines are skipped');
  t.same([p.ok, p.good, p.s429, p.s503, p.other], [2, 1, 1, 1, 1], 'a 700 ms answer is ok but not good; a failed stream (-1) is other');
  t.equal(p.okP99, 700);
  t.same(p.reject, { count: 2, p50: 0.9, p99: 1.5, max: 1.5 });
});

function result(): FaultsResult {
  const times = (max: number) => ({ count: 100, p50: 0.5, p99: max / 2, max });
  const count = countShutdown([{ outcome: answer(200), beforeSignal: true }, { outcome: answer(503, 'SHUTTING_DOWN', true), beforeSignal: false }]);
  return {
    model: 'heavy-mlp',
    capacity: 1600,
    noLoadP50Ms: 4,
    overload: {
      multiple: 3, rate: 4800, stepS: 10, due: 48_000, ok: 14_000, rejected429: 34_000, busy503: 0, otherFailures: 0, goodMs: 500, good: 13_000, okP50: 40, okP99: 300,
      rejectClient: times(12), rejectServer: times(0.8), retryAfter: { min: 1, max: 2, count: 34_000 }, rssBeforeBytes: 200 * 2 ** 20, rssPeakBytes: 320 * 2 ** 20,
      recoveryMs: 60, recoveryLimitMs: 8, recoveryBoundMs: 10_000, probes: 2, headerProbes: { sent: 10, refusedBeforeBody: 7 }, clientLagP99Ms: 10, otherSamples: [], timeouts: 0, dropped: 0,
    },
    shutdown: [
      { mode: 'pre-opened', connections: 1024, rate: 3200, sendS: 3.5, signalAtS: 3, count, exitCode: 0 },
      { mode: 'new connections', connections: 0, rate: 3200, sendS: 3.5, signalAtS: 3, count: { ...count, resets: 2 }, listenOverflows: 0, exitCode: 0 },
    ],
    requestTimeoutMs: 30_000,
    shortBody: { answer: '408', ms: 30_400 },
    stalled: { connections: 40, declaredBytes: 8e6, sentBytes: 7.9e6, s408: 33, s503: 7, other: 0, allCutMs: 30_500, rssBeforeBytes: 1, rssPeakBytes: 2, rssAfterBytes: 1, heapBeforeBytes: 50 * 2 ** 20, heapAfterBytes: 130 * 2 ** 20 },
    pipelining: { valid: 49, answered200: 49, badStatus: '400', after: 0 },
  };
}

t.test('faultRows: each verdict follows its target', async (t) => {
  const rows = faultRows(result());
  const met = (re: RegExp) => rows.find((r) => re.test(r.figure))?.met;
  t.equal(met(/^goodput/), true, '1300/s of 1600 is 81 %');
  t.equal(met(/^accepted p50/), true);
  t.equal(met(/client side/), false, 'a 12 ms client-side refusal misses < 5 ms');
  t.equal(met(/server side/), true);
});

t.test('faultRows: the RSS, SIGTERM, slow-client and pipelining verdicts', async (t) => {
  const f = result();
  const rows = faultRows(f);
  const row = (re: RegExp) => rows.find((r) => re.test(r.figure));
  t.equal(row(/^server RSS/)?.met, false, '320 / 200 MiB = 1.6× > 1.5×');
  t.match(row(/^server RSS/)?.after, '200 MiB → 320 MiB (1.60×)');
  t.equal(row(/^recovery/)?.met, true);
  const resets = rows.filter((r) => /reset \/ written and never answered/.test(r.figure));
  t.same(resets.map((r) => r.met), [true, false], 'pre-opened 0 / 0; new connections 2 resets');
  t.equal(row(/requests due before SIGTERM/)?.met, true);
  t.equal(row(/shorter than its Content-Length/)?.met, true, '408 at 30.4 s, within the 30 s timeout and its check interval');
  t.equal(row(/then stalling/)?.met, true);
  t.equal(row(/stalled bodies: server RSS/)?.met, false, '80 MiB of heap left is over 64 MiB');
  t.equal(row(/pipelined/)?.met, true);
  t.equal(row(/Retry-After/)?.met, undefined, 'no target: informational');

  f.shortBody = { answer: 'closed', ms: 1000 };
  f.pipelining = { valid: 49, answered200: 38, badStatus: 'no answer', after: 0 };
  delete f.overload!.recoveryMs;
  const again = faultRows(f);
  t.equal(again.find((r) => /shorter/.test(r.figure))?.met, false, 'closed without a 408');
  t.equal(again.find((r) => /pipelined/.test(r.figure))?.met, false);
  t.equal(again.find((r) => /^recovery/.test(r.figure))?.met, false, 'no recovery within the bound');
  t.match(again.find((r) => /^recovery/.test(r.figure))?.after, /not within 10 s/);
});

t.test('faultsTable: five columns, one row per figure, verdicts as yes / **no** / –', async (t) => {
  const f = result();
  const table = (head: string[], rows: string[][]) => [head.join('|'), ...rows.map((r) => r.join('|'))].join('\n');
  const lines = faultsTable(f, table).split('\n');
  t.equal(lines[0], "figure|before (the issue's probe)|after (this run)|target|met?");
  t.equal(lines.length, 1 + faultRows(f).length);
  t.ok(lines.every((l) => l.split('|').length === 5));
  t.same([metText(true), metText(false), metText(undefined)], ['yes', '**no**', '–']);
  t.match(lines.find((l) => l.startsWith('goodput')), /41\/s \(2\.5 %\)\|1300\/s \(81\.3 %\)\|≥ 80 % of capacity\|yes/);
});
