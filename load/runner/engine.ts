// Drives requests at a server over one undici Pool and files each outcome in a Recorder.
// Open loop: requests start when the RateProfile says they are due, whether or not earlier ones
// returned, and latency counts from that due time, so a stalled server shows up in the latencies
// (k6's arrival-rate executors; Gil Tene's coordinated omission). Closed loop: C clients each send,
// wait, send again; latency counts from the send, so a stall hides in one sample per client.
// Both are bounded in time (the schedule or the duration, plus one request timeout) and in count.
// An open-loop request times out timeoutMs after it was due; a closed-loop one when no headers, or
// no next body chunk, came for timeoutMs (the pool's own timeouts: an AbortSignal timer per request
// took the client from 26 to 41 µs of CPU per request at c=64 against a bare Fastify server).
// The closed loop can also warm up before a measured window (MeasuredWindow, the bench's rows), and
// every ok answer's Server-Timing (queue, compute) and x-batch-size go to the Recorder.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { RateProfile } from './profile.js';
import { Recorder, type ServerSide } from './recorder.js';

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

/** What `send` does with an answer besides filing it (the bench's closed loop uses these). */
interface AnswerRules {
  /** Sees the body of 2xx answers. */
  onOkBody?: (body: Buffer) => void;
  /** A status some bodies are meant to get: filed with Recorder.recordExpected, not as an error. */
  expectedStatus?: number;
}

const QUEUE_RE = /queue;dur=([\d.]+)/;
const COMPUTE_RE = /compute;dur=([\d.]+)/;

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The answer's Server-Timing queue and compute durations (when both are there) and x-batch-size (1 when absent). */
function serverSide(h: Record<string, string | string[] | undefined>): ServerSide {
  const st = header(h, 'server-timing');
  const q = st ? QUEUE_RE.exec(st) : null;
  const c = st ? COMPUTE_RE.exec(st) : null;
  return { ...(q && c ? { queueMs: Number(q[1]), computeMs: Number(c[1]) } : {}), batchSize: Number(header(h, 'x-batch-size') ?? 1) };
}

/**
 * Sends one request and files its outcome in the recorder `pick` returns when it ends; `from` is
 * the time latency counts from. With `timeoutMs` the request has that long from `from` (an
 * AbortSignal); without it the pool's own header and body timeouts bound it, which costs the
 * closed loop no timer per request. Resolves true for a 2xx or expected answer, false otherwise.
 */
async function send(pool: Pool, spec: RequestSpec, from: number, timeoutMs: number | undefined, pick: () => Recorder, rules: AnswerRules = {}): Promise<boolean> {
  // the timeout counts from `from` too: a request that waited in the client has less time left
  const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs - (performance.now() - from))));
  try {
    const res = await pool.request({ path: spec.path, method: 'POST', headers: spec.headers, body: spec.body, ...(signal ? { signal } : {}) });
    const body = Buffer.from(await res.body.arrayBuffer());
    const ms = performance.now() - from;
    const rec = pick();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      rec.recordOk(res.statusCode, ms, serverSide(res.headers));
      rules.onOkBody?.(body);
      return true;
    }
    if (res.statusCode === rules.expectedStatus) {
      rec.recordExpected(res.statusCode);
      return true;
    }
    const text = body.toString('utf8', 0, 300);
    rec.recordStatus(res.statusCode, CODE_RE.exec(text)?.[1] ?? text.slice(0, 120));
  } catch (err) {
    if (signal?.aborted || isPoolTimeout(err)) pick().recordTimeout();
    else pick().recordFailure(describe(err));
  }
  return false;
}

const POOL_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function isPoolTimeout(err: unknown): boolean {
  return POOL_TIMEOUTS.has((err as { code?: string }).code ?? '');
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** `slackMs`: how far the pool's timeouts lie beyond timeoutMs (the open loop's signals come first). */
function makePool(o: EngineOptions, connections: number, slackMs: number): Pool {
  const timeout = o.timeoutMs + slackMs;
  return new Pool(o.origin, { connections, pipelining: 1, headersTimeout: timeout, bodyTimeout: timeout, keepAliveTimeout: 60_000 });
}

function ticker(o: EngineOptions, start: number): () => void {
  if (!o.onTick) return () => undefined;
  const timer = setInterval(() => o.onTick!(performance.now() - start), 1000);
  return () => clearInterval(timer);
}

export async function runOpenLoop(profile: RateProfile, o: EngineOptions, rec: Recorder): Promise<EngineTiming> {
  const pool = makePool(o, o.maxInFlight, 1000);
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
          const p = send(pool, o.requests[i % o.requests.length]!, start + due, o.timeoutMs, () => rec).then(() => undefined);
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

/**
 * A warm-up before the measured window, whose answers (and those that end after the window
 * closes) are not recorded. Slow rows need more than the nominal times: all clients start
 * together, so answers come in waves until they drift apart, and a window a few round trips long
 * counts one wave more or less (±30 % seen). So the window opens only after every client has had
 * about two round trips, and stays open until each has had about ten, both bounded by MAX_STRETCH
 * times the nominal length.
 */
export interface MeasuredWindow {
  warmupMs: number;
  /** The window closes early once this many answers are recorded (`capped`). */
  maxRecorded: number;
  /** Called when the window opens and closes; what they return is awaited before the run ends. */
  onOpen?: () => unknown;
  onClose?: () => unknown;
}

export interface ClosedLoopOptions extends EngineOptions, AnswerRules {
  concurrency: number;
  /** The measured window's nominal length (the whole run without `window`). */
  durationMs: number;
  window?: MeasuredWindow;
  /** Checks the body of the first 2xx answer; returns a problem or undefined. */
  check?: (body: Buffer) => string | undefined;
  /** Pause after a failed request (window runs only), so that a failing server is not hammered. */
  failPauseMs?: number;
}

export interface ClosedLoopTiming extends EngineTiming {
  /** How long the measured window was open, ms (the sending time without `window`). */
  windowMs: number;
  /** The window closed at `maxRecorded` (or, without `window`, the run at `maxRequests`). */
  capped: boolean;
  checkProblem?: string;
  /** Error messages of answers not recorded (warm-up, after the window). */
  otherErrors: string[];
}

/** How far warm-up and window may stretch beyond their nominal length to fit enough round trips. */
const MAX_STRETCH = 6;

/** The measured window's phases: `pick` gives the recorder answers ending now go to. */
class WindowClock {
  phase: 'warmup' | 'measure' | 'stop';
  openedAt = 0;
  closedAt = 0;
  /** 2xx answers in any phase. */
  good = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly hooks: unknown[] = [];
  private readonly scratch = new Recorder();

  constructor(
    private readonly w: MeasuredWindow | undefined,
    private readonly rec: Recorder,
    private readonly concurrency: number,
    private readonly durationMs: number,
  ) {
    this.phase = w ? 'warmup' : 'measure';
    this.openedAt = performance.now();
    if (w) this.timer = setTimeout(() => this.open(), w.warmupMs);
  }

  readonly pick = (): Recorder => (this.phase === 'measure' ? this.rec : this.scratch);

  private open(): void {
    const w = this.w!;
    if (this.good < 2 * this.concurrency && performance.now() - this.openedAt < w.warmupMs * MAX_STRETCH + 10_000) {
      this.timer = setTimeout(() => this.open(), 20);
      return;
    }
    this.phase = 'measure';
    this.openedAt = performance.now();
    if (w.onOpen) this.hooks.push(w.onOpen());
    this.timer = setTimeout(() => this.tryClose(), this.durationMs);
  }

  private tryClose(): void {
    const longEnough = this.rec.ok >= Math.min(this.w!.maxRecorded, 10 * this.concurrency) || performance.now() - this.openedAt >= this.durationMs * MAX_STRETCH;
    if (longEnough) this.close();
    else this.timer = setTimeout(() => this.tryClose(), 20);
  }

  /** Closes the window (once); a run that ends during warm-up gets an empty one. */
  close(): void {
    clearTimeout(this.timer);
    if (this.phase === 'stop') return;
    if (this.phase === 'warmup') this.openedAt = performance.now();
    else if (this.w?.onClose) this.hooks.push(this.w.onClose());
    this.phase = 'stop';
    this.closedAt = performance.now();
  }

  /** Called after each answer: the window closes at maxRecorded. */
  afterAnswer(): void {
    if (this.w && this.phase === 'measure' && this.rec.ok >= this.w.maxRecorded) this.close();
  }

  async settled(): Promise<void> {
    await Promise.all(this.hooks);
  }

  /** Error messages seen outside the window. */
  otherErrors(): string[] {
    return [...this.scratch.errorMessages.keys()];
  }
}

/**
 * C clients each send, wait, send again. Without `window` every answer is recorded and clients
 * stop after durationMs; with it, see MeasuredWindow. Either way no more than maxRequests are sent.
 */
export async function runClosedLoop(o: ClosedLoopOptions, rec: Recorder): Promise<ClosedLoopTiming> {
  // one connection per client, so a request never waits in the client: the pool's timeouts are its
  const pool = makePool(o, o.concurrency, 0);
  const start = performance.now();
  const stopTicker = ticker(o, start);
  const clock = new WindowClock(o.window, rec, o.concurrency, o.durationMs);
  let checkProblem: string | undefined;
  let checked = !o.check;
  const rules: AnswerRules = {
    ...(o.expectedStatus !== undefined ? { expectedStatus: o.expectedStatus } : {}),
    onOkBody: (body) => {
      clock.good++;
      if (checked) return;
      checked = true;
      checkProblem = o.check!(body);
    },
  };
  const going = (): boolean => (o.window ? clock.phase !== 'stop' : performance.now() - start < o.durationMs);
  let issued = 0;
  let sendingMs = 0;
  const client = async (id: number): Promise<void> => {
    let k = id;
    while (going() && issued < o.maxRequests) {
      issued++;
      clock.pick().sent++;
      const good = await send(pool, o.requests[k++ % o.requests.length]!, performance.now(), undefined, clock.pick, rules);
      clock.afterAnswer();
      if (!good && o.window && o.failPauseMs) await sleep(o.failPauseMs);
    }
    const ms = performance.now() - start;
    sendingMs = Math.max(sendingMs, o.window ? ms : Math.min(o.durationMs, ms));
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, (_, id) => client(id)));
    clock.close();
    await clock.settled();
    return {
      elapsedMs: performance.now() - start,
      sendingMs,
      windowMs: o.window ? clock.closedAt - clock.openedAt : sendingMs,
      capped: o.window ? rec.ok >= o.window.maxRecorded : issued >= o.maxRequests,
      otherErrors: clock.otherErrors(),
      ...(checkProblem !== undefined ? { checkProblem } : {}),
    };
  } finally {
    clock.close();
    stopTicker();
    await pool.destroy();
  }
}
