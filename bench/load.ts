// Closed-loop load generator: C virtual clients over an undici Pool (C connections, no
// pipelining), each sending a pre-serialized body, waiting for the answer, sending the next.
// A warm-up, then a measured window bounded in time and in request count; latency
// percentiles from a sorted array; Server-Timing and x-batch-size read from every answer.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface LoadOptions {
  /** http://127.0.0.1:PORT */
  origin: string;
  path: string;
  bodies: readonly Buffer[];
  /** Request headers per body (same index as bodies); default content-type application/json. */
  headers?: readonly Record<string, string>[];
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Hard cap on measured requests: the window ends early when it is reached. */
  maxRequests: number;
  /** Called (and awaited at the end) when the measured window opens and closes. */
  onMeasureStart?: () => unknown;
  onMeasureEnd?: () => unknown;
  /** Checks the first successful answer's body; returns a problem or undefined. */
  check?: (body: Buffer) => string | undefined;
  /** A non-200 status some bodies are meant to get (e.g. 422 for a poisoned input): counted in `expected`, not an error. */
  expectedStatus?: number;
}

export interface LoadResult {
  concurrency: number;
  /** Successful answers completed inside the window. */
  requests: number;
  errors: number;
  errorSamples: string[];
  /** Answers in the window with LoadOptions.expectedStatus (not in requests, reqPerS or latency). */
  expected: number;
  windowS: number;
  reqPerS: number;
  /** Milliseconds, client-observed (send to last byte of the answer). */
  latency: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** Means over the window from the Server-Timing header (NaN when absent). */
  queueMs: number;
  computeMs: number;
  /** Request-weighted mean of x-batch-size (what an average request saw). */
  batchSeenMean: number;
  capped: boolean;
  checkProblem?: string;
}

export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** How far warm-up and window may stretch beyond their nominal length to fit enough round trips. */
const MAX_STRETCH = 6;
const JSON_HEADERS: Record<string, string> = { 'content-type': 'application/json' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const QUEUE_RE = /queue;dur=([\d.]+)/;
const COMPUTE_RE = /compute;dur=([\d.]+)/;

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function runClosedLoop(o: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(o.origin, {
    connections: o.concurrency,
    pipelining: 1,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
    keepAliveTimeout: 120_000,
  });
  const hardCap = o.maxRequests * 4 + o.concurrency; // warm-up included, so the whole run is bounded in count
  const latencies = new Float64Array(o.maxRequests);
  let measured = 0;
  let issued = 0;
  let errors = 0;
  let expected = 0;
  const errorSamples: string[] = [];
  let queueSum = 0;
  let computeSum = 0;
  let timed = 0;
  let batchSum = 0;
  type Phase = 'warmup' | 'measure' | 'stop';
  let phase = 'warmup' as Phase;
  let measureStart = 0;
  let measureEnd = 0;
  let checkProblem: string | undefined;
  let checked = !o.check;
  const hookResults: unknown[] = [];

  const endMeasure = (): void => {
    if (phase !== 'measure') return;
    phase = 'stop';
    measureEnd = performance.now();
    if (o.onMeasureEnd) hookResults.push(o.onMeasureEnd());
  };
  // Slow rows (a 600 KB JSON body at c=64 takes over a second per round trip) need more than the
  // nominal times: all clients start together, so answers come in waves until they drift apart,
  // and a window a few round trips long counts one wave more or less (±30 % seen). The window
  // opens only after every client has had about two round trips, and stays open until each has
  // had about ten, both bounded.
  const minWarm = 2 * o.concurrency;
  const minMeasured = Math.min(o.maxRequests, 10 * o.concurrency);
  const runStart = performance.now();
  let completed = 0;
  let windowTimer: NodeJS.Timeout | undefined;
  const closeWindow = (): void => {
    const longEnough = measured >= minMeasured || performance.now() - measureStart >= o.durationMs * MAX_STRETCH;
    if (longEnough) endMeasure();
    else windowTimer = setTimeout(closeWindow, 20);
  };
  const openWindow = (): void => {
    if (phase !== 'warmup') return;
    if (completed < minWarm && performance.now() - runStart < o.warmupMs * MAX_STRETCH + 10_000) {
      windowTimer = setTimeout(openWindow, 20);
      return;
    }
    phase = 'measure';
    measureStart = performance.now();
    if (o.onMeasureStart) hookResults.push(o.onMeasureStart());
    windowTimer = setTimeout(closeWindow, o.durationMs);
  };
  windowTimer = setTimeout(openWindow, o.warmupMs);

  const fail = (msg: string): void => {
    if (phase === 'measure') errors++;
    if (errorSamples.length < 5 && !errorSamples.includes(msg)) errorSamples.push(msg);
  };

  const client = async (id: number): Promise<void> => {
    let k = id;
    while (phase !== 'stop' && issued < hardCap) {
      issued++;
      const i = k++ % o.bodies.length;
      const body = o.bodies[i]!;
      const headers = o.headers?.[i] ?? JSON_HEADERS;
      const t0 = performance.now();
      try {
        const res = await pool.request({ path: o.path, method: 'POST', headers, body });
        const buf = Buffer.from(await res.body.arrayBuffer());
        const t1 = performance.now();
        if (res.statusCode === o.expectedStatus) {
          if (phase === 'measure') expected++;
          continue;
        }
        if (res.statusCode !== 200) {
          fail(`HTTP ${res.statusCode}: ${buf.toString('utf8', 0, 200)}`);
          await sleep(5);
          continue;
        }
        completed++;
        if (!checked) {
          checked = true;
          checkProblem = o.check!(buf);
        }
        if (phase !== 'measure') continue;
        latencies[measured++] = t1 - t0;
        const st = header(res.headers, 'server-timing');
        if (st) {
          const q = QUEUE_RE.exec(st);
          const c = COMPUTE_RE.exec(st);
          if (q && c) {
            queueSum += Number(q[1]);
            computeSum += Number(c[1]);
            timed++;
          }
        }
        batchSum += Number(header(res.headers, 'x-batch-size') ?? 1);
        if (measured >= o.maxRequests) endMeasure();
      } catch (err) {
        fail((err as Error).message);
        await sleep(10);
      }
    }
  };

  const clients = Array.from({ length: o.concurrency }, (_, i) => client(i));
  // every request has its own timeouts; this bounds the tail wait once the window closed
  const all = Promise.all(clients);
  const budgetMs = (o.warmupMs + o.durationMs) * MAX_STRETCH + 100_000;
  let budgetTimer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    all.then(() => false),
    new Promise<boolean>((r) => (budgetTimer = setTimeout(() => r(true), budgetMs))),
  ]);
  clearTimeout(budgetTimer);
  clearTimeout(windowTimer);
  if (phase === 'measure') endMeasure();
  if (phase === 'warmup') {
    phase = 'stop'; // the run ended before the window opened (request cap during warm-up)
    measureStart = measureEnd = performance.now();
  }
  if (timedOut) await pool.destroy();
  else await pool.close();
  await Promise.all(hookResults);

  const sorted = latencies.subarray(0, measured).sort();
  const windowS = Math.max(1e-9, (measureEnd - measureStart) / 1000);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    concurrency: o.concurrency,
    requests: measured,
    errors,
    errorSamples,
    expected,
    windowS,
    reqPerS: measured / windowS,
    latency: {
      mean: measured ? sum / measured : NaN,
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      max: percentile(sorted, 1),
    },
    queueMs: timed ? queueSum / timed : NaN,
    computeMs: timed ? computeSum / timed : NaN,
    batchSeenMean: measured ? batchSum / measured : NaN,
    capped: measured >= o.maxRequests,
    ...(checkProblem ? { checkProblem } : {}),
  };
}
