// Sections overload and priority: the runner's open loop (load/runner/engine.ts) past the knee,
// one or several lanes at once against one server, each lane its own Recorder. A lane counts its
// answers within a latency limit (goodput); the Server-Timing `total;dur` of error answers is read
// from undici's diagnostics channel, since the runner's Recorder keeps no headers of error answers.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpuBetween, sampleCpu, type CpuUse } from './procstat.js';
import { runOpenLoop, type EngineTiming, type RequestSpec } from '../load/runner/engine.js';
import { RateProfile } from '../load/runner/profile.js';
import { Recorder, type LatencySummary, type ServerSide } from '../load/runner/recorder.js';
import { scenarioStages } from '../load/lib/scenarios.js';

/** A Recorder that also counts ok answers at or under `goodMs` (from the due time). */
export class GoodputRecorder extends Recorder {
  good = 0;
  constructor(private readonly goodMs: number) {
    super();
  }

  override recordOk(status: number, ms: number, server?: ServerSide): void {
    if (ms <= this.goodMs) this.good++;
    super.recordOk(status, ms, server);
  }
}

/** `{"priority":p,…}`: the same /v1 bodies with a priority field first. */
export function withPriority(bodies: readonly Buffer[], priority: number): Buffer[] {
  return bodies.map((b) => {
    if (b[0] !== 0x7b) throw new Error('a /v1 body must be a JSON object');
    return Buffer.concat([Buffer.from(`{"priority":${priority},`), b.subarray(1)]);
  });
}

const TOTAL_RE = /(?:^|[,\s])total;dur=([\d.]+)/;

/** The `total;dur` of a Server-Timing value, ms; undefined when it has none. */
export function serverTimingTotal(value: string): number | undefined {
  const m = TOTAL_RE.exec(value);
  return m ? Number(m[1]) : undefined;
}

/** p-th percentile (0..100) of values, nearest rank; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface TimingSummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarizeTimes(values: readonly number[]): TimingSummary {
  return { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: values.length ? Math.max(...values) : NaN };
}

/** Most error-answer times kept per run (a 3 × knee step sends tens of thousands). */
const MAX_TIMES = 500_000;

interface HeadersEvent {
  request: { origin?: unknown };
  response: { statusCode: number; headers: (Buffer | string)[] };
}

/**
 * Collects the Server-Timing total of every answer with `status` from `origin` until stopped.
 * undici publishes each answer's raw headers on 'undici:request:headers' to subscribers only.
 */
export function watchServerTiming(origin: string, status: number): { stop(): number[] } {
  const times: number[] = [];
  const onHeaders = (msg: unknown): void => {
    const { request, response } = msg as HeadersEvent;
    if (response.statusCode !== status || times.length >= MAX_TIMES || !String(request.origin).startsWith(origin)) return;
    const h = response.headers;
    for (let i = 0; i + 1 < h.length; i += 2) {
      if (String(h[i]).toLowerCase() !== 'server-timing') continue;
      const ms = serverTimingTotal(String(h[i + 1]));
      if (ms !== undefined) times.push(ms);
    }
  };
  subscribe('undici:request:headers', onHeaders);
  return {
    stop: () => {
      unsubscribe('undici:request:headers', onHeaders); // a second call finds nothing to remove
      return times;
    },
  };
}

export interface LaneSpec {
  name: string;
  /** Offered req/s, constant. */
  rate: number;
  requests: readonly RequestSpec[];
}

export interface LaneResult {
  name: string;
  rate: number;
  stepS: number;
  /** Due requests: sent + dropped. */
  due: number;
  ok: number;
  /** ok answers within goodMs of their due time. */
  good: number;
  goodMs: number;
  /** 429 QUEUE_FULL answers (admission refused them). */
  rejected: number;
  /** 504 QUEUE_TIMEOUT answers (admitted, expired in the queue). */
  expired: number;
  /** Other error answers, connection errors, client timeouts and dropped requests. */
  otherFailures: number;
  /** Of those: client timeouts, and requests due beyond maxInFlight (never sent). Absent in older results. */
  timeouts?: number;
  dropped?: number;
  /** ok answers only, ms from the due time. */
  latency: LatencySummary;
  /** Means over the ok answers of their Server-Timing queue and compute, ms. */
  queueMs: number;
  computeMs: number;
  statuses: Record<string, number>;
  errorSamples: string[];
}

/** Offers one lane its constant rate for stepS (open loop), filing every outcome in `rec`. */
export function runConstantLane(origin: string, lane: LaneSpec, o: { stepS: number; timeoutMs: number; maxInFlight: number }, rec: Recorder): Promise<EngineTiming> {
  const profile = new RateProfile(scenarioStages('constant', { rate: lane.rate, duration: `${Math.round(o.stepS * 1000)}ms` }));
  return runOpenLoop(profile, { origin, requests: lane.requests, timeoutMs: o.timeoutMs, maxRequests: Math.ceil(profile.expected) + 10, maxInFlight: o.maxInFlight }, rec);
}

/**
 * Offers every lane its constant rate for stepS at once (open loop, latency from each request's
 * due time) and returns one result per lane, plus the server time of the 429 answers of all lanes.
 */
export interface LanesRun {
  lanes: LaneResult[];
  rejectTimes: number[];
  /** CPU over the run: the server's (given its pid) and the bench process's. */
  serverCpu?: CpuUse;
  clientCpu?: CpuUse;
  /** p99 and max of the bench's event-loop delay over the run, ms: how late the client could send. */
  clientLagMs: { p99: number; max: number };
}

/** What a lanes run says about the machine beside the lanes' answers. */
export type RunSide = Omit<LanesRun, 'lanes' | 'rejectTimes'>;

export function sideOf(run: LanesRun): RunSide {
  const { lanes: _l, rejectTimes: _r, ...side } = run;
  return side;
}

export async function runLanes(origin: string, lanes: readonly LaneSpec[], o: { stepS: number; goodMs: number; timeoutMs: number; maxInFlight: number; serverPid?: number }): Promise<LanesRun> {
  const watch = watchServerTiming(origin, 429);
  const lag = monitorEventLoopDelay({ resolution: 5 });
  const server0 = o.serverPid === undefined ? undefined : sampleCpu(o.serverPid, true);
  const client0 = sampleCpu(process.pid);
  lag.enable();
  try {
    const results = await Promise.all(
      lanes.map(async (lane): Promise<LaneResult> => {
        const rec = new GoodputRecorder(o.goodMs);
        await runConstantLane(origin, lane, o, rec);
        const rejected = rec.statuses.get(429) ?? 0;
        const expired = rec.statuses.get(504) ?? 0;
        return {
          name: lane.name,
          rate: lane.rate,
          stepS: o.stepS,
          due: rec.sent + rec.dropped,
          ok: rec.ok,
          good: rec.good,
          goodMs: o.goodMs,
          rejected,
          expired,
          otherFailures: rec.errors - rejected - expired + rec.timeouts + rec.dropped,
          timeouts: rec.timeouts,
          dropped: rec.dropped,
          latency: rec.latency(),
          ...(({ queueMs, computeMs }) => ({ queueMs, computeMs }))(rec.serverSide()),
          statuses: Object.fromEntries([...rec.statuses].sort((a, b) => a[0] - b[0]).map(([k, n]) => [String(k), n])),
          errorSamples: [...rec.errorMessages.keys()].slice(0, 5),
        };
      }),
    );
    lag.disable();
    const serverCpu = o.serverPid === undefined ? undefined : cpuBetween(server0, sampleCpu(o.serverPid, true));
    const clientCpu = cpuBetween(client0, sampleCpu(process.pid));
    return {
      lanes: results,
      rejectTimes: watch.stop(),
      ...(serverCpu ? { serverCpu } : {}),
      ...(clientCpu ? { clientCpu } : {}),
      clientLagMs: { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
    };
  } finally {
    lag.disable();
    watch.stop(); // a failed run leaves no subscriber behind
  }
}

/** Share of a lane's due requests refused with 429. */
export const rejectedShare = (l: LaneResult): number => (l.due ? l.rejected / l.due : NaN);
/** Answers within the limit per second of offered time. */
export const goodput = (l: LaneResult): number => l.good / l.stepS;
