// Drives requests at a server over one undici Pool and files each outcome in a Recorder.
// Open loop: requests start when the RateProfile says they are due, whether or not earlier ones
// returned, and latency counts from that due time, so a stalled server shows up in the latencies
// (k6's arrival-rate executors; Gil Tene's coordinated omission). Closed loop: C clients each send,
// wait, send again; latency counts from the send, so a stall hides in one sample per client.
// Both are bounded in time (the schedule or the duration, plus one request timeout) and in count.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { RateProfile } from './profile.js';
import type { Recorder } from './recorder.js';

export interface RequestSpec {
  path: string;
  body: string | Uint8Array;
  headers: Record<string, string>;
}

export interface EngineOptions {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** Bodies sent in turn. */
  requests: readonly RequestSpec[];
  timeoutMs: number;
  /** No more requests than this are sent. */
  maxRequests: number;
  /** Open loop: at most this many requests in flight; requests due beyond it are dropped. */
  maxInFlight: number;
  /** Called about once a second while the run lasts, with ms since the start. */
  onTick?: (elapsedMs: number) => void;
}

export interface EngineTiming {
  /** From the first request to the last answer (or timeout), ms. */
  elapsedMs: number;
  /** How long requests were being started, ms. */
  sendingMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CODE_RE = /"code"\s*:\s*"([A-Z_]+)"/;

/** Sends one request and files its outcome; `from` is the time latency counts from. */
async function send(pool: Pool, spec: RequestSpec, from: number, timeoutMs: number, rec: Recorder): Promise<void> {
  // the timeout counts from `from` too: a request that waited in the client has less time left
  const signal = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs - (performance.now() - from))));
  try {
    const res = await pool.request({ path: spec.path, method: 'POST', headers: spec.headers, body: spec.body, signal });
    const body = Buffer.from(await res.body.arrayBuffer());
    const ms = performance.now() - from;
    if (res.statusCode >= 200 && res.statusCode < 300) rec.recordOk(res.statusCode, ms);
    else {
      const text = body.toString('utf8', 0, 300);
      rec.recordStatus(res.statusCode, CODE_RE.exec(text)?.[1] ?? text.slice(0, 120));
    }
  } catch (err) {
    if (signal.aborted) rec.recordTimeout();
    else rec.recordFailure(describe(err));
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(err);
}

function makePool(o: EngineOptions, connections: number): Pool {
  // the signal above times requests out; these only back it up
  return new Pool(o.origin, { connections, pipelining: 1, headersTimeout: o.timeoutMs + 1000, bodyTimeout: o.timeoutMs + 1000, keepAliveTimeout: 60_000 });
}

function ticker(o: EngineOptions, start: number): () => void {
  if (!o.onTick) return () => undefined;
  const timer = setInterval(() => o.onTick!(performance.now() - start), 1000);
  return () => clearInterval(timer);
}

export async function runOpenLoop(profile: RateProfile, o: EngineOptions, rec: Recorder): Promise<EngineTiming> {
  const pool = makePool(o, o.maxInFlight);
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  const stopTicker = ticker(o, start);
  let i = 0;
  let due = profile.timeOf(0);
  try {
    while (due !== undefined && i < o.maxRequests) {
      const now = performance.now() - start;
      if (due > now) {
        await sleep(Math.min(due - now, 50));
        continue;
      }
      // everything due by now goes out, each timed from its own due time (the loop may be late)
      while (due !== undefined && due <= now && i < o.maxRequests) {
        if (pending.size >= o.maxInFlight) rec.dropped++;
        else {
          rec.sent++;
          const p = send(pool, o.requests[i % o.requests.length]!, start + due, o.timeoutMs, rec);
          pending.add(p);
          void p.finally(() => pending.delete(p));
        }
        i++;
        due = profile.timeOf(i);
      }
    }
    const sendingMs = performance.now() - start;
    await Promise.all(pending);
    return { elapsedMs: performance.now() - start, sendingMs };
  } finally {
    stopTicker();
    await pool.destroy();
  }
}

export async function runClosedLoop(concurrency: number, durationMs: number, o: EngineOptions, rec: Recorder): Promise<EngineTiming> {
  const pool = makePool(o, concurrency);
  const start = performance.now();
  const stopTicker = ticker(o, start);
  let issued = 0;
  let sendingMs = 0;
  const client = async (id: number): Promise<void> => {
    let k = id;
    while (performance.now() - start < durationMs && issued < o.maxRequests) {
      issued++;
      rec.sent++;
      await send(pool, o.requests[k++ % o.requests.length]!, performance.now(), o.timeoutMs, rec);
    }
    sendingMs = Math.max(sendingMs, Math.min(durationMs, performance.now() - start));
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, id) => client(id)));
    return { elapsedMs: performance.now() - start, sendingMs };
  } finally {
    stopTicker();
    await pool.destroy();
  }
}
