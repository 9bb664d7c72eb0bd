// One measurement against a running server: the runner's closed loop (load/runner/engine.ts) with
// a warm-up and a measured window, plus what the server says about
// itself over the same window — batch sizes it formed (GET /v1/models stats), request duration
// (GET /metrics, if the server has it) — and CPU time per thread of the server and the client.
import { request } from 'undici';
import { runClosedLoop, type MeasuredWindow } from '../load/runner/engine.js';
import { Recorder } from '../load/runner/recorder.js';
import { cpuBetween, sampleCpu, sampleSystemBusy, type CpuSample, type CpuUse } from './procstat.js';
import type { ChildServer } from './servers.js';
import type { SizingView } from './results.js';

export interface LoadResult {
  concurrency: number;
  /** Successful answers completed inside the window. */
  requests: number;
  /** Failed requests in the window: error statuses, connection errors, timeouts. */
  errors: number;
  /** Up to 5 distinct error messages, from the window or outside it. */
  errorSamples: string[];
  /** Answers in the window with MeasureOptions.expectedStatus (not in requests, reqPerS or latency). */
  expected: number;
  windowS: number;
  reqPerS: number;
  /** Milliseconds, client-observed (send to last byte of the answer); from an HDR histogram (3 significant digits). */
  latency: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** Means over the window from the Server-Timing header (NaN when absent). */
  queueMs: number;
  computeMs: number;
  /** Request-weighted mean of x-batch-size (what an average request saw). */
  batchSeenMean: number;
  capped: boolean;
  checkProblem?: string;
  /** The CPU of a client that runs as its own process (h2load), in place of the bench process's. */
  clientCpu?: CpuUse;
}

const JSON_HEADERS: Record<string, string> = { 'content-type': 'application/json' };

/** The closed loop over the measured window, in the shape the report reads. */
async function closedLoop(origin: string, o: MeasureOptions, window: MeasuredWindow): Promise<LoadResult> {
  const rec = new Recorder();
  const path = o.path ?? '/v1/predict';
  const t = await runClosedLoop(
    {
      origin,
      requests: o.bodies.map((body, i) => ({ path, body, headers: o.headers?.[i] ?? JSON_HEADERS })),
      concurrency: o.concurrency,
      durationMs: o.durationMs,
      timeoutMs: 60_000,
      maxRequests: o.maxRequests * 4 + o.concurrency, // warm-up included, so the whole run is bounded in count
      maxInFlight: o.concurrency,
      failPauseMs: 5,
      window,
      ...(o.check ? { check: o.check } : {}),
      ...(o.expectedStatus ? { expectedStatus: o.expectedStatus } : {}),
    },
    rec,
  );
  const windowS = Math.max(1e-9, t.windowMs / 1000);
  const { min: _min, p999: _p999, ...latency } = rec.latency();
  return {
    concurrency: o.concurrency,
    requests: rec.ok,
    errors: rec.errors + rec.timeouts,
    errorSamples: [...new Set([...rec.errorMessages.keys(), ...t.otherErrors])].slice(0, 5),
    expected: rec.expected,
    windowS,
    reqPerS: rec.ok / windowS,
    latency,
    ...rec.serverSide(),
    capped: t.capped,
    ...(t.checkProblem !== undefined ? { checkProblem: t.checkProblem } : {}),
  };
}

export interface BatchStats {
  executions: number;
  inferences: number;
  /** Rows per execution (execution-weighted mean). */
  mean: number;
  /** The batch size that carried the most rows, and its share of all rows. */
  dominant: number;
  dominantShare: number;
  sizes: Record<string, number>;
}

export interface ServerInfo {
  instances: number;
  intraOpThreads: number;
  maxBatchSize: number;
  maxQueueDelayMs: number;
}

export interface Measurement {
  model: string;
  mode: string;
  load: LoadResult;
  info?: ServerInfo;
  batch?: BatchStats;
  /** Mean server-side request duration over the window (ms), from /metrics when available. */
  serverSideMs?: number;
  serverCpu?: CpuUse;
  clientCpu?: CpuUse;
  /** Which round of an interleaved comparison this row is (0-based); absent for single rows. */
  round?: number;
  /** The workers' busy time over the window ÷ (window × instances): 1 = never idle. */
  workerBusyShare?: number;
  /** Cores' worth of CPU used by everything else on the machine during the window (other processes, kernel). */
  otherCores?: number;
}

interface VersionView {
  instances: number;
  intraOpThreads: number;
  batching: { maxBatchSize: number; maxQueueDelayMs: number } | null;
  stats: { executions: number; inferences: number; batchSizes: Record<string, number> } | null;
  /** How instances and threads were chosen (absent on servers before sizing was shown). */
  sizing?: SizingView;
}

async function getJson(url: string): Promise<unknown> {
  const res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  if (res.statusCode !== 200) {
    await res.body.dump();
    return undefined;
  }
  return res.body.json();
}

export async function modelView(origin: string, model: string): Promise<VersionView | undefined> {
  const body = (await getJson(`${origin}/v1/models`)) as { models: { name: string; versions: VersionView[] }[] } | undefined;
  return body?.models.find((m) => m.name === model)?.versions.at(-1);
}

interface MetricTotals {
  sum: number;
  count: number;
  /** onnx_serve_worker_busy_seconds_total over every model (seconds). */
  busyS: number;
}

/** Sum and count of onnx_serve_request_duration_seconds and the workers' busy time, or undefined when the server has no such metric. */
async function durationTotals(origin: string): Promise<MetricTotals | undefined> {
  const res = await request(`${origin}/metrics`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  if (res.statusCode !== 200) return undefined;
  let sum = 0;
  let count = 0;
  let busyS = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const busy = /^onnx_serve_worker_busy_seconds_total(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (busy) busyS += Number(busy[1]);
    const m = /^onnx_serve_request_duration_seconds_(sum|count)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    seen = true;
    if (m[1] === 'sum') sum += Number(m[2]);
    else count += Number(m[2]);
  }
  return seen ? { sum, count, busyS } : undefined;
}

export function batchDelta(a: VersionView['stats'], b: VersionView['stats']): BatchStats | undefined {
  if (!a || !b) return undefined;
  const sizes: Record<string, number> = {};
  let executions = 0;
  let inferences = 0;
  let dominant = 0;
  let dominantRows = -1;
  for (const [size, n] of Object.entries(b.batchSizes)) {
    const d = n - (a.batchSizes[size] ?? 0);
    if (d <= 0) continue;
    sizes[size] = d;
    executions += d;
    inferences += d * Number(size);
    if (d * Number(size) > dominantRows) {
      dominantRows = d * Number(size);
      dominant = Number(size);
    }
  }
  if (executions === 0) return undefined;
  return { executions, inferences, mean: inferences / executions, dominant, dominantShare: dominantRows / inferences, sizes };
}

export interface MeasureOptions {
  model: string;
  mode: string;
  bodies: readonly Buffer[];
  /** Request path; /v1/predict by default. */
  path?: string;
  /** Request headers per body (same index as bodies); content-type application/json by default. */
  headers?: readonly Record<string, string>[];
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  maxRequests: number;
  /** false for the bare baseline: no /v1/models, no /metrics. */
  onnxServe: boolean;
  check?: (body: Buffer) => string | undefined;
  /** A non-200 status some bodies are meant to get (counted apart, not as errors). */
  expectedStatus?: number;
}

/**
 * One row: `loop` (the HTTP closed loop unless given, e.g. the gRPC one of bench/grpc.ts) runs the
 * load while the server is snapshot at the window's ends.
 */
export async function measure(server: ChildServer, o: MeasureOptions, loop?: (window: MeasuredWindow) => Promise<LoadResult>): Promise<Measurement> {
  const cpu: { server: (CpuSample | undefined)[]; client: (CpuSample | undefined)[]; system: (number | undefined)[] } = { server: [], client: [], system: [] };
  const views: (VersionView | undefined)[] = [];
  const durations: (MetricTotals | undefined)[] = [];
  const snapshot = async (): Promise<void> => {
    cpu.system.push(sampleSystemBusy());
    cpu.server.push(sampleCpu(server.pid, true));
    cpu.client.push(sampleCpu(process.pid));
    if (!o.onnxServe) return;
    const [view, dur] = await Promise.all([modelView(server.url, o.model).catch(() => undefined), durationTotals(server.url).catch(() => undefined)]);
    views.push(view);
    durations.push(dur);
  };
  const window = { warmupMs: o.warmupMs, maxRecorded: o.maxRequests, onOpen: snapshot, onClose: snapshot };
  const load = await (loop ? loop(window) : closedLoop(server.url, o, window));
  const m: Measurement = { model: o.model, mode: o.mode, load };
  const serverCpu = cpuBetween(cpu.server[0], cpu.server[1]);
  const clientCpu = load.clientCpu ?? cpuBetween(cpu.client[0], cpu.client[1]);
  if (serverCpu) m.serverCpu = serverCpu;
  if (clientCpu) m.clientCpu = clientCpu;
  const [s0, s1] = cpu.system;
  if (serverCpu && clientCpu && s0 !== undefined && s1 !== undefined && serverCpu.wallS > 0) {
    const ours = serverCpu.mainS + serverCpu.otherS + clientCpu.mainS + clientCpu.otherS;
    m.otherCores = Math.max(0, (s1 - s0 - ours) / serverCpu.wallS);
  }
  const [v0, v1] = views;
  if (v1) {
    m.info = {
      instances: v1.instances,
      intraOpThreads: v1.intraOpThreads,
      maxBatchSize: v1.batching?.maxBatchSize ?? 0,
      maxQueueDelayMs: v1.batching?.maxQueueDelayMs ?? 0,
    };
    const batch = batchDelta(v0?.stats ?? null, v1.stats);
    if (batch) m.batch = batch;
  }
  const [d0, d1] = durations;
  if (d0 && d1 && d1.count > d0.count) m.serverSideMs = ((d1.sum - d0.sum) / (d1.count - d0.count)) * 1000;
  if (d0 && d1 && m.info && serverCpu && serverCpu.wallS > 0) m.workerBusyShare = (d1.busyS - d0.busyS) / (serverCpu.wallS * Math.max(1, m.info.instances));
  return m;
}
