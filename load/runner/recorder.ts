// What a load run saw, request by request: every sent request ends as exactly one of ok, error,
// timeout or expected (so sent = ok + errors + timeouts + expected), latencies of ok answers go into an HDR histogram
// (microsecond resolution, 3 significant digits, up to an hour), plus status codes, error
// messages, what the server said about ok answers (Server-Timing, x-batch-size), and a second histogram reset at each progress tick for the live line.
import * as hdr from 'hdr-histogram-js';

const HIGHEST_US = 3_600_000_000;

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
}

export interface LatencySummary {
  /** Milliseconds. */
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** What the server said about one answer: Server-Timing queue;dur and compute;dur, and x-batch-size. */
export interface ServerSide {
  queueMs?: number;
  computeMs?: number;
  batchSize: number;
}

export class Recorder {
  sent = 0;
  ok = 0;
  errors = 0;
  timeouts = 0;
  /** Answers with a status some bodies were meant to get (EngineOptions' expectedStatus): neither ok nor errors. */
  expected = 0;
  /** Due but not sent: the in-flight limit was reached (k6's dropped_iterations). */
  dropped = 0;
  readonly statuses = new Map<number, number>();
  readonly errorMessages = new Map<string, number>();
  private readonly all = histogram();
  private readonly recent = histogram();
  private recentDone = 0;
  private queueSum = 0;
  private computeSum = 0;
  private timed = 0;
  private batchSum = 0;

  /** An answer with a 2xx status, `ms` after the request was due (open loop) or sent (closed loop). */
  recordOk(status: number, ms: number, server?: ServerSide): void {
    this.ok++;
    this.count(status);
    if (server?.queueMs !== undefined && server.computeMs !== undefined) {
      this.queueSum += server.queueMs;
      this.computeSum += server.computeMs;
      this.timed++;
    }
    this.batchSum += server?.batchSize ?? 1;
    const us = Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000)));
    this.all.recordValue(us);
    this.recent.recordValue(us);
    this.recentDone++;
  }

  /** An answer with another status: an error, counted by status and by message. */
  recordStatus(status: number, message: string): void {
    this.errors++;
    this.count(status);
    this.noteError(`HTTP ${status}: ${message}`);
    this.recentDone++;
  }

  /** No answer: a connection error. */
  recordFailure(message: string): void {
    this.errors++;
    this.noteError(message);
    this.recentDone++;
  }

  recordExpected(status: number): void {
    this.expected++;
    this.count(status);
    this.recentDone++;
  }

  recordTimeout(): void {
    this.timeouts++;
    this.recentDone++;
  }

  latency(): LatencySummary {
    return summarize(this.all);
  }

  /** Means over the ok answers: Server-Timing queue and compute (NaN when absent) and x-batch-size (request-weighted). */
  serverSide(): { queueMs: number; computeMs: number; batchSeenMean: number } {
    return {
      queueMs: this.timed ? this.queueSum / this.timed : NaN,
      computeMs: this.timed ? this.computeSum / this.timed : NaN,
      batchSeenMean: this.ok ? this.batchSum / this.ok : NaN,
    };
  }

  /** Completions and latencies since the last call (for the progress line). */
  takeRecent(): { done: number; p99: number } {
    const out = { done: this.recentDone, p99: this.recent.totalCount ? this.recent.getValueAtPercentile(99) / 1000 : NaN };
    this.recent.reset();
    this.recentDone = 0;
    return out;
  }

  private count(status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  private noteError(message: string): void {
    // keep the catalogue small: at most 20 distinct messages, the rest counted as "other"
    const key = this.errorMessages.has(message) || this.errorMessages.size < 20 ? message : 'other errors';
    this.errorMessages.set(key, (this.errorMessages.get(key) ?? 0) + 1);
  }
}

function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { min: NaN, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
  const ms = (us: number): number => us / 1000;
  // HDR reports the top of a value's bucket, which can lie above the largest value recorded
  const at = (q: number): number => ms(Math.min(h.maxValue, h.getValueAtPercentile(q)));
  return {
    min: ms(h.minNonZeroValue),
    mean: ms(h.mean),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: ms(h.maxValue),
  };
}
