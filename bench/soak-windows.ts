// The soak's sampling windows and verdicts: how a run splits into windows and a warm-up, a
// Recorder that also files each outcome in the open window's own Recorder, what a window counts
// (valid and invalid traffic apart), and RSS growth and p99 drift after warm-up against their
// targets. Pure: no I/O, no clock.
import { Recorder, type ServerSide } from '../load/runner/recorder.js';

export const TARGET_WINDOW_S = 30;
export const MIN_WINDOWS = 5;
/** The first 20 % of the run (at least one window) is warm-up: not judged. */
export const WARMUP_SHARE = 0.2;
export const RSS_GROWTH_LIMIT = 0.05;
export const P99_DRIFT_LIMIT = 0.1;

export interface WindowPlan {
  windowS: number;
  windows: number;
  warmupWindows: number;
}

/** Equal windows of at most 30 s, at least 5 of them, covering exactly `minutes`. */
export function windowPlan(minutes: number): WindowPlan {
  const totalS = minutes * 60;
  const windows = Math.max(MIN_WINDOWS, Math.ceil(totalS / TARGET_WINDOW_S - 1e-9));
  return { windowS: totalS / windows, windows, warmupWindows: Math.max(1, Math.round(windows * WARMUP_SHARE)) };
}

/** A Recorder over the whole run that also files every outcome in the current window's Recorder. */
export class WindowRecorder extends Recorder {
  private current = new Recorder();
  private sentBefore = 0;
  private droppedBefore = 0;

  override recordOk(status: number, ms: number, server?: ServerSide): void {
    this.current.recordOk(status, ms, server);
    super.recordOk(status, ms, server);
  }

  override recordStatus(status: number, message: string): void {
    this.current.recordStatus(status, message);
    super.recordStatus(status, message);
  }

  override recordFailure(message: string): void {
    this.current.recordFailure(message);
    super.recordFailure(message);
  }

  override recordExpected(status: number): void {
    this.current.recordExpected(status);
    super.recordExpected(status);
  }

  override recordTimeout(): void {
    this.current.recordTimeout();
    super.recordTimeout();
  }

  /** Closes the window: its outcomes, and the requests sent and dropped during it (the engine counts those on this object). */
  take(): Recorder {
    const w = this.current;
    w.sent = this.sent - this.sentBefore;
    w.dropped = this.dropped - this.droppedBefore;
    this.sentBefore = this.sent;
    this.droppedBefore = this.dropped;
    this.current = new Recorder();
    return w;
  }
}

export interface WindowCounts {
  /** Valid requests answered 2xx. */
  ok: number;
  /** Invalid requests answered 4xx, as they must be. */
  rejected: number;
  /** Valid requests the server shed with 429 (its queue was full): a failure at 70 % of capacity. */
  shed: number;
  /** 5xx answers to either kind. */
  http5xx: number;
  /** Connection errors, client timeouts, and requests dropped at the client's in-flight limit. */
  transport: number;
  /** Valid requests answered neither 2xx, 429 nor 5xx; invalid ones answered below 400. */
  unexpected: number;
  /** Every answer, any status. */
  answers: number;
}

function byStatus(rec: Recorder, from: number, to: number): number {
  let n = 0;
  for (const [status, count] of rec.statuses) if (status >= from && status < to) n += count;
  return n;
}

/** Requests that ended without an answer: recordFailure, timeouts and dropped. */
function unanswered(rec: Recorder): number {
  const withStatus = byStatus(rec, 0, 1000);
  const statusErrors = withStatus - rec.ok - rec.expected;
  return rec.errors - statusErrors + rec.timeouts + rec.dropped;
}

export function windowCounts(valid: Recorder, invalid: Recorder): WindowCounts {
  return {
    ok: valid.ok,
    rejected: byStatus(invalid, 400, 500),
    shed: byStatus(valid, 429, 430),
    http5xx: byStatus(valid, 500, 600) + byStatus(invalid, 500, 600),
    transport: unanswered(valid) + unanswered(invalid),
    unexpected: byStatus(valid, 0, 1000) - valid.ok - byStatus(valid, 429, 430) - byStatus(valid, 500, 600) + byStatus(invalid, 0, 400),
    answers: byStatus(valid, 0, 1000) + byStatus(invalid, 0, 1000),
  };
}

/** Error messages that are failures: every one of valid traffic, and of invalid traffic all but its 4xx. */
export function failureMessages(valid: Recorder, invalid: Recorder): Map<string, number> {
  const out = new Map(valid.errorMessages);
  for (const [m, n] of invalid.errorMessages) if (!/^HTTP 4\d\d:/.test(m)) out.set(m, (out.get(m) ?? 0) + n);
  return out;
}

export interface WindowSample extends WindowCounts {
  /** 1-based. */
  index: number;
  warmup: boolean;
  /** Seconds from the start of the open loop to the window's end, and the window's length. */
  endS: number;
  seconds: number;
  /** The server's VmRSS at the window's end, MiB (NaN when unreadable). */
  rssMiB: number;
  /** Valid answers ending in the window, ms from their due time (NaN without any). */
  p50Ms: number;
  p99Ms: number;
  /** Answers per second. */
  achieved: number;
  /** Cores' worth of CPU the server used, and everything else on the machine but the server and the soak itself (NaN without /proc). */
  serverCores: number;
  otherCores: number;
}

/** CPU seconds over one window: the machine's busy time, the server's and the soak process's. */
export interface WindowCpu {
  systemS: number | undefined;
  serverS: number | undefined;
  clientS: number;
  wallS: number;
}

export function cpuShares(c: WindowCpu | undefined): { serverCores: number; otherCores: number } {
  if (!c || !(c.wallS > 0) || c.serverS === undefined) return { serverCores: NaN, otherCores: NaN };
  const other = c.systemS === undefined ? NaN : Math.max(0, (c.systemS - c.serverS - c.clientS) / c.wallS);
  return { serverCores: c.serverS / c.wallS, otherCores: other };
}

export function windowSample(index: number, plan: WindowPlan, span: { endS: number; seconds: number }, rssBytes: number | undefined, valid: Recorder, invalid: Recorder, cpu?: WindowCpu): WindowSample {
  const counts = windowCounts(valid, invalid);
  const l = valid.latency();
  return {
    index,
    warmup: index <= plan.warmupWindows,
    ...span,
    rssMiB: rssBytes === undefined ? NaN : rssBytes / 2 ** 20,
    p50Ms: l.p50,
    p99Ms: l.p99,
    ...counts,
    achieved: span.seconds > 0 ? counts.answers / span.seconds : NaN,
    ...cpuShares(cpu),
  };
}

export interface Verdict {
  name: string;
  /** A share (0.031 = 3.1 %) or, for failures, a count; NaN when it could not be measured. */
  value: number;
  limit: number;
  pass: boolean;
  /** How the value came about, in words. */
  detail: string;
  /** What a share is relative to (MiB, ms), when there is one. */
  base?: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** (last − first) / first of the RSS after warm-up; NaN when a reading is missing. */
export function rssGrowth(samples: readonly WindowSample[]): Verdict {
  const post = samples.filter((s) => !s.warmup);
  const first = post[0]?.rssMiB ?? NaN;
  const last = post.at(-1)?.rssMiB ?? NaN;
  const value = post.length >= 2 ? (last - first) / first : NaN;
  const detail = Number.isFinite(value)
    ? `${first.toFixed(1)} MiB at the end of window ${post[0]!.index} (the first after warm-up) → ${last.toFixed(1)} MiB at the end of window ${post.at(-1)!.index}`
    : 'not measured (no RSS reading, or fewer than 2 windows after warm-up)';
  return { name: 'RSS growth after warm-up', value, limit: RSS_GROWTH_LIMIT, pass: value < RSS_GROWTH_LIMIT, detail, base: first };
}

/**
 * Mean p99 of the last third of the windows after warm-up against that of the first third
 * (at least one window each): one slow window moves a third's mean less than it moves a single
 * window. A p99 that falls passes. NaN when a window in either third had no valid answer.
 */
export function p99Drift(samples: readonly WindowSample[]): Verdict {
  const post = samples.filter((s) => !s.warmup);
  const k = Math.max(1, Math.floor(post.length / 3));
  const head = post.slice(0, k);
  const tail = post.slice(-k);
  const first = mean(head.map((s) => s.p99Ms));
  const last = mean(tail.map((s) => s.p99Ms));
  const value = post.length >= 2 ? (last - first) / first : NaN;
  const range = (xs: readonly WindowSample[]): string => (xs.length === 1 ? `window ${xs[0]!.index}` : `windows ${xs[0]!.index}-${xs.at(-1)!.index}`);
  const detail = Number.isFinite(value)
    ? `mean p99 ${first.toFixed(2)} ms over ${range(head)} → ${last.toFixed(2)} ms over ${range(tail)}`
    : 'not measured (a window without valid answers, or fewer than 2 windows after warm-up)';
  return { name: 'p99 drift after warm-up', value, limit: P99_DRIFT_LIMIT, pass: value < P99_DRIFT_LIMIT, detail, base: first };
}

/** Every window, warm-up included: no request may be shed, get a 5xx, go unanswered or get the wrong class of status. */
export function failures(samples: readonly WindowSample[]): Verdict {
  const sum = (f: (s: WindowSample) => number): number => samples.reduce((a, s) => a + f(s), 0);
  const shed = sum((s) => s.shed);
  const http5xx = sum((s) => s.http5xx);
  const transport = sum((s) => s.transport);
  const unexpected = sum((s) => s.unexpected);
  const value = shed + http5xx + transport + unexpected;
  return { name: 'failed requests', value, limit: 0, pass: value === 0, detail: `${shed} valid shed with 429, ${http5xx} 5xx, ${transport} unanswered (connection errors, timeouts, dropped), ${unexpected} with the wrong class of status` };
}

export interface Verdicts {
  rss: Verdict;
  p99: Verdict;
  failures: Verdict;
}

export function verdicts(samples: readonly WindowSample[]): Verdicts {
  return { rss: rssGrowth(samples), p99: p99Drift(samples), failures: failures(samples) };
}

export const allPass = (v: Verdicts): boolean => v.rss.pass && v.p99.pass && v.failures.pass;

/** One line per verdict: PASS/FAIL, value against limit, and how it came about. */
export function verdictLine(v: Verdict): string {
  const isCount = v.name === 'failed requests';
  const value = Number.isNaN(v.value) ? 'n/a' : isCount ? String(v.value) : pct(v.value);
  const limit = isCount ? `${v.limit}` : `< ${pct(v.limit)}`;
  return `${v.pass ? 'PASS' : 'FAIL'} ${v.name}: ${value} (target ${isCount ? '= ' : ''}${limit}); ${v.detail}`;
}
