// Section faults, the pure part: what each probe counted, the verdicts against the issue's
// targets and the "before and after" table. The before column is the issue's probe on the older
// code (the same kind of machine, heavy MLP, default config); the after column is this run.
import { percentile, summarizeTimes, type TimingSummary } from './overload.js';

/** What happened to one request of the SIGTERM probe. */
export type ShutdownOutcome =
  | { kind: 'answer'; status: number; code?: string; connectionClose: boolean }
  /** Written, then the socket errored ("ECONNRESET"…) or closed cleanly ("closed") without an answer. */
  | { kind: 'no-answer'; reason: string }
  /** A new connection that failed: refused once the listener closed, reset in the kernel's queue, timed out. */
  | { kind: 'connect-failed'; code: string }
  /** Due, but the client had no connection free (its own cap): never sent. */
  | { kind: 'not-written' };

export interface ShutdownCount {
  due: number;
  ok: number;
  /** 503 SHUTTING_DOWN with Connection: close. */
  shuttingDown: number;
  /** 429 / 503 refusals of admission or the body bound: answered, not computed. */
  refused: number;
  /** Any other answer (a 503 SHUTTING_DOWN without Connection: close counts here), a few samples. */
  other: number;
  otherSamples: string[];
  /** Written on an accepted connection, then reset. */
  resets: number;
  /** Written on an accepted connection, closed without an answer. */
  unanswered: number;
  connectRefused: number;
  /** New connections reset or timed out before they were accepted (e.g. the listen backlog overflowed). */
  connectLost: number;
  notWritten: number;
  /** Requests due before the signal that got no HTTP answer (not-written ones aside). */
  dueBeforeNoAnswer: number;
  dueBefore: number;
  /** Send times of the reset and unanswered requests, ms after the signal (negative: before it). */
  noAnswerAtMs?: { min: number; max: number; count: number };
  /** How each written request without an answer ended: the socket's error code or "closed", with counts. */
  noAnswerReasons: Record<string, number>;
}

export function countShutdown(outcomes: readonly { outcome: ShutdownOutcome; beforeSignal: boolean; atMs?: number }[]): ShutdownCount {
  const lost: number[] = [];
  const c: ShutdownCount = { due: 0, ok: 0, shuttingDown: 0, refused: 0, other: 0, otherSamples: [], resets: 0, unanswered: 0, connectRefused: 0, connectLost: 0, notWritten: 0, dueBeforeNoAnswer: 0, dueBefore: 0, noAnswerReasons: {} };
  for (const { outcome: o, beforeSignal, atMs } of outcomes) {
    c.due++;
    if (beforeSignal) c.dueBefore++;
    let answered = false;
    if (o.kind === 'answer') {
      answered = true;
      if (o.status === 200) c.ok++;
      else if (o.status === 503 && o.code === 'SHUTTING_DOWN' && o.connectionClose) c.shuttingDown++;
      else if ((o.status === 429 && o.code === 'QUEUE_FULL') || (o.status === 503 && o.code === 'SERVER_BUSY')) c.refused++;
      else {
        c.other++;
        if (c.otherSamples.length < 5) c.otherSamples.push(`${o.status} ${o.code ?? ''}${o.connectionClose ? '' : ' (no Connection: close)'}`.trim());
      }
    } else if (o.kind === 'no-answer') {
      if (o.reason === 'closed') c.unanswered++;
      else c.resets++;
      if (atMs !== undefined) lost.push(atMs);
      c.noAnswerReasons[o.reason] = (c.noAnswerReasons[o.reason] ?? 0) + 1;
    } else if (o.kind === 'connect-failed') {
      if (o.code === 'ECONNREFUSED') c.connectRefused++;
      else c.connectLost++;
    } else {
      c.notWritten++;
      continue;
    }
    if (beforeSignal && !answered) c.dueBeforeNoAnswer++;
  }
  const when = range(lost);
  if (when) c.noAnswerAtMs = when;
  return c;
}

/** The TcpExt ListenOverflows counter of /proc/net/netstat's text; undefined when absent. */
export function listenOverflows(netstat: string): number | undefined {
  const lines = netstat.split('\n').filter((l) => l.startsWith('TcpExt:'));
  if (lines.length < 2) return undefined;
  const names = lines[0]!.trim().split(/\s+/);
  const values = lines[1]!.trim().split(/\s+/);
  const i = names.indexOf('ListenOverflows');
  return i > 0 && values[i] !== undefined ? Number(values[i]) : undefined;
}

export interface Probe {
  /** ms from the end of the offered load to the probe's send. */
  atMs: number;
  ms: number;
  ok: boolean;
}

/** When latency was back: the send time of the first ok probe within limitMs; undefined if none. */
export function recoveryMs(probes: readonly Probe[], limitMs: number): number | undefined {
  return probes.find((p) => p.ok && p.ms <= limitMs)?.atMs;
}

/** Min and max of the Retry-After values seen (seconds); undefined for none. */
export function range(values: readonly number[]): { min: number; max: number; count: number } | undefined {
  if (!values.length) return undefined;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max, count: values.length };
}

/** The 3× open loop driven by h2load instead: many connections, each at a low --rps. */
export interface H2loadOpen {
  clients: number;
  rpsPerClient: number;
  rate: number;
  seconds: number;
  /** Requests in h2load's log (the rest were never sent: a client still waiting for its last answer sends late or not at all). */
  logged: number;
  ok: number;
  good: number;
  s429: number;
  s503: number;
  /** Other statuses and failed streams (status -1). */
  other: number;
  /** ms from h2load's send to the end of the answer (h2load has no due time). */
  okP50: number;
  okP99: number;
  reject: TimingSummary;
  clientCpu?: number;
}

/** h2load's --log-file (start µs, status, µs to the end of the answer, per line) summed up; goodput within goodMs. */
export function parseOpenLog(log: string, goodMs: number): Omit<H2loadOpen, 'clients' | 'rpsPerClient' | 'rate' | 'seconds' | 'clientCpu'> {
  const okMs: number[] = [];
  const rejectMs: number[] = [];
  let logged = 0;
  let s429 = 0;
  let s503 = 0;
  let other = 0;
  for (const line of log.split('\n')) {
    const [start, status, us] = line.split('\t');
    if (start === undefined || status === undefined || us === undefined) continue;
    logged++;
    const ms = Number(us) / 1000;
    if (status === '200') okMs.push(ms);
    else if (status === '429' || status === '503') {
      if (status === '429') s429++;
      else s503++;
      rejectMs.push(ms);
    } else other++;
  }
  return { logged, ok: okMs.length, good: okMs.filter((x) => x <= goodMs).length, s429, s503, other, okP50: percentile(okMs, 50), okP99: percentile(okMs, 99), reject: summarizeTimes(rejectMs) };
}

export interface ShutdownRow {
  mode: 'pre-opened' | 'new connections';
  /** Kept-alive connections opened before the load (0 for new connections). */
  connections: number;
  rate: number;
  sendS: number;
  signalAtS: number;
  count: ShutdownCount;
  /** Growth of the machine's TcpExt ListenOverflows over the row; undefined without /proc. */
  listenOverflows?: number;
  exitCode: number | null;
  /** ms from the signal to the server's exit (undefined: not within the bound). */
  exitAfterMs?: number;
}

export interface FaultsResult {
  model: string;
  capacity: number;
  noLoadP50Ms: number;
  /** The same 3× open loop through h2load, when it is installed. */
  h2load?: H2loadOpen;
  overload?: {
    multiple: number;
    rate: number;
    stepS: number;
    due: number;
    ok: number;
    rejected429: number;
    busy503: number;
    /** Timeouts, dropped (client in-flight cap), connection errors, other statuses. */
    otherFailures: number;
    goodMs: number;
    good: number;
    okP50: number;
    okP99: number;
    /** Client side: from undici's request to the refusal's headers, ms (429 and 503). */
    rejectClient: TimingSummary;
    /** Server-Timing total of the 429 answers, ms. */
    rejectServer: TimingSummary;
    retryAfter?: { min: number; max: number; count: number };
    rssBeforeBytes?: number;
    rssPeakBytes?: number;
    recoveryMs?: number;
    recoveryLimitMs: number;
    recoveryBoundMs: number;
    probes: number;
    /** Header-only requests sent during the load: how many were refused before their body was sent. */
    headerProbes: { sent: number; refusedBeforeBody: number };
    /** Shares of one core over the load. */
    clientCpu?: number;
    serverMainCpu?: number;
    serverOtherCpu?: number;
    clientLagP99Ms: number;
    /** Other processes' CPU over the load, in cores (the machine's busy time minus the server's and the bench's). */
    otherCores?: number;
    /** A few messages of the other failures (not 429/503). */
    otherSamples: string[];
    /** Of the other failures: client timeouts (10 s from the due time), and requests due past the in-flight cap (never sent). */
    timeouts: number;
    dropped: number;
  };
  shutdown: ShutdownRow[];
  requestTimeoutMs: number;
  /** A body shorter than its Content-Length: the server's answer (status, or how the socket ended) and when. */
  shortBody?: { answer: string; ms: number };
  stalled?: {
    connections: number;
    declaredBytes: number;
    sentBytes: number;
    s408: number;
    s503: number;
    other: number;
    /** ms from the first byte until every socket was answered or closed. */
    allCutMs: number;
    rssBeforeBytes?: number;
    rssPeakBytes?: number;
    rssAfterBytes?: number;
    /** The server's main-thread heap used + external memory (its /metrics), before and after the cut. */
    heapBeforeBytes?: number;
    heapAfterBytes?: number;
    /** When heapAfterBytes was read: the first read within HEAP_LEFT_MAX of before, or the last (10 s). */
    heapAfterMs?: number;
  };
  pipelining?: { valid: number; answered200: number; badStatus: string; after: number };
}

export interface FaultRow {
  figure: string;
  before: string;
  after: string;
  target: string;
  /** undefined: no target, or nothing measured. */
  met?: boolean;
}

const MiB = 1024 ** 2;
const mib = (b: number | undefined): string => (b === undefined ? '?' : `${(b / MiB).toFixed(0)} MiB`);
const ms = (x: number | undefined, d = 1): string => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(d)} ms`);
const n = (x: number): string => x.toLocaleString('en-US');

/** Targets of the issue. */
export const GOOD_MS = 500;
export const GOODPUT_SHARE = 0.8;
export const ACCEPTED_P99_MS = 500;
export const REJECT_MAX_MS = 5;
export const RSS_RATIO = 1.5;
export const RECOVERY_MS = 1000;
/** Past the request timeout: the server's timer checks every 500 ms, and the bench's clock. */
const TIMEOUT_SLACK_MS = 2000;
/** Heap + external the stalled bodies may leave behind once cut. */
export const HEAP_LEFT_MAX = 64 * MiB;

export function faultRows(f: FaultsResult): FaultRow[] {
  const rows: FaultRow[] = [];
  const o = f.overload;
  if (o) {
    const at = `open loop 3× (${n(o.rate)} req/s for ${o.stepS} s; capacity ${n(Math.round(f.capacity))} req/s)`;
    const goodPerS = o.good / o.stepS;
    rows.push({ figure: `${at}: ok / 429 / 503 / other`, before: '10,942 / 62,033 / – / –', after: `${n(o.ok)} / ${n(o.rejected429)} / ${n(o.busy503)} / ${n(o.otherFailures)}${o.otherFailures ? ` (${n(o.timeouts)} client timeouts at 10 s, ${n(o.dropped)} never sent: past the client's 3000 in flight${o.otherSamples.length ? `; ${o.otherSamples.join(', ')}` : ''})` : ''}`, target: '–' });
    rows.push({ figure: `goodput: answers within ${o.goodMs} ms per s (of capacity)`, before: '41/s (2.5 %)', after: `${goodPerS.toFixed(0)}/s (${((goodPerS / f.capacity) * 100).toFixed(1)} %)`, target: `≥ ${GOODPUT_SHARE * 100} % of capacity`, met: goodPerS >= GOODPUT_SHARE * f.capacity });
    rows.push({ figure: 'accepted p50 / p99 (from due time)', before: '1.33 s / 7.2 s', after: `${ms(o.okP50)} / ${ms(o.okP99)}`, target: `p99 ≤ ${ACCEPTED_P99_MS} ms`, met: o.ok > 0 ? o.okP99 <= ACCEPTED_P99_MS : undefined });
    const rc = o.rejectClient;
    rows.push({ figure: 'rejection time, client side p50 / p99 / max', before: '–', after: rc.count ? `${ms(rc.p50, 2)} / ${ms(rc.p99, 2)} / ${ms(rc.max, 2)} (${n(rc.count)})` : '– (none)', target: `every one < ${REJECT_MAX_MS} ms`, met: rc.count ? rc.max < REJECT_MAX_MS : undefined });
    const rs = o.rejectServer;
    rows.push({ figure: 'rejection time, server side (Server-Timing total of the 429s) p50 / p99 / max', before: '–', after: rs.count ? `${ms(rs.p50, 3)} / ${ms(rs.p99, 3)} / ${ms(rs.max, 3)} (${n(rs.count)})` : '– (none)', target: `every one < ${REJECT_MAX_MS} ms`, met: rs.count ? rs.max < REJECT_MAX_MS : undefined });
    const h = o.headerProbes;
    rows.push({ figure: 'refused before the body: header-only requests sent during the load, refused without their body', before: 'none (a 429 only after the whole body was parsed)', after: `${h.refusedBeforeBody} of ${h.sent}`, target: '–' });
    const ratio = o.rssBeforeBytes && o.rssPeakBytes ? o.rssPeakBytes / o.rssBeforeBytes : undefined;
    rows.push({ figure: 'server RSS: no load → peak during the load', before: '222 → 467 MiB (2.1×)', after: `${mib(o.rssBeforeBytes)} → ${mib(o.rssPeakBytes)}${ratio ? ` (${ratio.toFixed(2)}×)` : ''}`, target: `≤ ${RSS_RATIO}×`, met: ratio === undefined ? undefined : ratio <= RSS_RATIO });
    rows.push({
      figure: `recovery: from the end of the load until a single request is answered within 2× the no-load p50 (${ms(f.noLoadP50Ms)})`,
      before: '0.65–6.2 s',
      after: o.recoveryMs === undefined ? `not within ${o.recoveryBoundMs / 1000} s (${o.probes} probes)` : `${ms(o.recoveryMs, 0)} (probe ${o.probes})`,
      target: `≤ ${RECOVERY_MS} ms`,
      met: o.recoveryMs !== undefined && o.recoveryMs <= RECOVERY_MS,
    });
    const h2 = f.h2load;
    if (h2) {
      const at2 = `the same through h2load (${n(h2.clients)} connections × ${h2.rpsPerClient} req/s = ${n(h2.rate)} req/s for ${h2.seconds} s, --h1)`;
      const g2 = h2.good / h2.seconds;
      rows.push({ figure: `${at2}: sent / ok / 429 / 503 / other`, before: '–', after: `${n(h2.logged)} / ${n(h2.ok)} / ${n(h2.s429)} / ${n(h2.s503)} / ${n(h2.other)}`, target: '–' });
      rows.push({ figure: `h2load: goodput within ${o.goodMs} ms per s (of capacity)`, before: '41/s (2.5 %)', after: `${g2.toFixed(0)}/s (${((g2 / f.capacity) * 100).toFixed(1)} %)`, target: `≥ ${GOODPUT_SHARE * 100} % of capacity`, met: g2 >= GOODPUT_SHARE * f.capacity });
      rows.push({ figure: 'h2load: accepted p50 / p99 (from the send)', before: '1.33 s / 7.2 s', after: `${ms(h2.okP50)} / ${ms(h2.okP99)}`, target: `p99 ≤ ${ACCEPTED_P99_MS} ms`, met: h2.ok > 0 ? h2.okP99 <= ACCEPTED_P99_MS : undefined });
      const r2 = h2.reject;
      rows.push({ figure: 'h2load: rejection time p50 / p99 / max', before: '–', after: r2.count ? `${ms(r2.p50, 2)} / ${ms(r2.p99, 2)} / ${ms(r2.max, 2)} (${n(r2.count)})` : '– (none)', target: `every one < ${REJECT_MAX_MS} ms`, met: r2.count ? r2.max < REJECT_MAX_MS : undefined });
    }
    rows.push({ figure: 'Retry-After seen (s): min / max', before: 'always 1', after: o.retryAfter ? `${o.retryAfter.min} / ${o.retryAfter.max} (${n(o.retryAfter.count)} refusals)` : '– (none)', target: '–' });
  }
  for (const s of f.shutdown) {
    const c = s.count;
    const pre = s.mode === 'pre-opened';
    const at = `SIGTERM at 2× (${n(s.rate)} req/s), ${pre ? `${s.connections} pre-opened kept-alive connections` : 'a new connection per request'}`;
    rows.push({
      figure: `${at}: 200 / 503 SHUTTING_DOWN / 429-503 refused / other answers`,
      before: '–',
      after: `${n(c.ok)} / ${n(c.shuttingDown)} / ${n(c.refused)} / ${n(c.other)}${c.otherSamples.length ? ` (${c.otherSamples.join(', ')})` : ''}`,
      target: '–',
    });
    rows.push({
      figure: `${at}: reset / written and never answered`,
      before: pre ? '54 reset (written 2–20 ms after SIGTERM)' : '–',
      after: `${n(c.resets)} / ${n(c.unanswered)}${c.noAnswerAtMs ? ` (sent ${c.noAnswerAtMs.min.toFixed(0)} to ${c.noAnswerAtMs.max.toFixed(0)} ms after SIGTERM; ${Object.entries(c.noAnswerReasons).map(([k, v]) => `${k} ${n(v)}`).join(', ')})` : ''}; exit code ${s.exitCode ?? '?'}${s.exitAfterMs === undefined ? '' : `, ${(s.exitAfterMs / 1000).toFixed(1)} s after SIGTERM`}`,
      target: '0 / 0',
      met: c.resets === 0 && c.unanswered === 0,
    });
    if (!pre) {
      rows.push({
        figure: `${at}: connections refused after the listener closed / lost before accepted (reset, timed out) / listen-queue overflows`,
        before: `– / – / 2,831 (backlog 511)`,
        after: `${n(c.connectRefused)} / ${n(c.connectLost)} / ${s.listenOverflows === undefined ? '?' : n(s.listenOverflows)}`,
        target: '– / 0 / 0',
        met: c.connectLost === 0 && (s.listenOverflows === undefined || s.listenOverflows === 0),
      });
      rows.push({
        figure: `${at}: requests due before SIGTERM without an HTTP answer`,
        before: '851 of 13,620',
        after: `${n(c.dueBeforeNoAnswer)} of ${n(c.dueBefore)}${c.notWritten ? ` (${n(c.notWritten)} due not sent: the client's cap on open connections)` : ''}`,
        target: '0',
        met: c.dueBeforeNoAnswer === 0,
      });
    }
  }
  const limit = f.requestTimeoutMs + TIMEOUT_SLACK_MS;
  if (f.shortBody) {
    rows.push({ figure: `a body shorter than its Content-Length (request timeout ${f.requestTimeoutMs} ms)`, before: 'still open after 130 s', after: `${f.shortBody.answer} after ${ms(f.shortBody.ms, 0)}`, target: '408 within the request timeout', met: f.shortBody.answer === '408' && f.shortBody.ms <= limit });
  }
  const st = f.stalled;
  if (st) {
    rows.push({
      figure: `${st.connections} connections sending ${(st.sentBytes / 1e6).toFixed(1)} MB of a declared ${(st.declaredBytes / 1e6).toFixed(0)} MB, then stalling: 408 / 503 SERVER_BUSY / other, all cut after`,
      before: 'held indefinitely',
      after: `${st.s408} / ${st.s503} / ${st.other}, ${ms(st.allCutMs, 0)}`,
      target: 'cut within the request timeout',
      met: st.other === 0 && st.allCutMs <= limit,
    });
    const left = st.heapBeforeBytes !== undefined && st.heapAfterBytes !== undefined ? st.heapAfterBytes - st.heapBeforeBytes : undefined;
    rows.push({
      figure: 'stalled bodies: server RSS before → peak → after the cut (heap + external before → after, and when)',
      before: '+300 MiB, held',
      after: `${mib(st.rssBeforeBytes)} → ${mib(st.rssPeakBytes)} → ${mib(st.rssAfterBytes)} (${mib(st.heapBeforeBytes)} → ${mib(st.heapAfterBytes)}${st.heapAfterMs === undefined ? '' : ` ${(st.heapAfterMs / 1000).toFixed(1)} s after the cut`})`,
      target: `bytes freed (heap + external within ${HEAP_LEFT_MAX / MiB} MiB of before)`,
      met: left === undefined ? undefined : left <= HEAP_LEFT_MAX,
    });
  }
  const p = f.pipelining;
  if (p) {
    rows.push({ figure: '100 pipelined requests, garbage at position 50: valid ones before it answered (then the garbage)', before: '4–38 of 49', after: `${p.answered200} of ${p.valid} (then ${p.badStatus}, ${p.after} answers after it)`, target: `all ${p.valid}`, met: p.answered200 === p.valid });
  }
  return rows;
}

export const metText = (m: boolean | undefined): string => (m === undefined ? '–' : m ? 'yes' : '**no**');

/** The table as markdown rows, given the report's table renderer. */
export function faultsTable(f: FaultsResult, table: (head: string[], rows: string[][]) => string): string {
  return table(['figure', 'before (the issue\'s probe)', 'after (this run)', 'target', 'met?'], faultRows(f).map((r) => [r.figure, r.before, r.after, r.target, metText(r.met)]));
}
