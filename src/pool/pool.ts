// Worker pool for one model version: spawns one inference worker per instance (a thread, or a
// child process under process isolation), hands a batch to an idle one, replaces workers that
// die (backing off when they keep dying), and closes them only when idle (onnxruntime aborts the
// process if a thread is terminated inside session.run).
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Fault, FromWorker, Isolation, ProviderReport, ToWorker, WarmupPlan, WarmupReport, WireTensor, WorkerInit } from './protocol.js';
import { describeEnd, startWorker, type InferenceWorker, type WorkerEnd } from './runner.js';
import type { SessionSettings } from './session-options.js';
import type { Signature } from '../signature.js';
import { viewOf, type Tensor } from '../tensors/dtypes.js';

export interface PoolOptions {
  modelPath: string;
  instances: number;
  intraOpThreads: number;
  /** Execution providers, optimization level and config entries for every worker's session. */
  session: SessionSettings;
  faultHooks?: boolean;
  /** Threads of this process (default), or child processes that a native crash ends alone. */
  isolation?: Isolation;
  /** Consecutive failed replacements after which, with no worker left, the pool is unavailable (it goes on trying, backing off). */
  maxRespawnFailures?: number;
  /**
   * The warm-up each worker runs once its session exists, from the model's signature (asked once;
   * replacements run the same). Throwing fails the load with that message. None when absent.
   */
  warmup?: (signature: Signature) => WarmupPlan;
}

/** What start() learns: the signature, the providers in use, and each first worker's warm-up report. */
export interface PoolStart {
  signature: Signature;
  providers: ProviderReport;
  warmups: WarmupReport[];
}

/** A run that onnxruntime (or a test fault) refused; the worker lives on. */
export class RunError extends Error {
  constructor(
    message: string,
    /** A test fault: stands for a failure that is not the request's. */
    readonly injected = false,
  ) {
    super(message);
    this.name = 'RunError';
  }
}

export interface RunResult {
  outputs: Record<string, Tensor>;
  computeMs: number;
  /** The worker's copy of the outputs out of onnxruntime (absent from pools that do not measure it). */
  outputMs?: number;
  /** The worker's own time for it, from taking it up to sending the result (session.run and the packing around it). */
  busyMs: number;
  /** Milliseconds it waited in its worker behind the batch before it (0: the worker was idle). */
  waitedMs: number;
  /** Milliseconds from the worker's sending the result to this thread's reading it: late when this thread is busy. */
  readLagMs: number;
}

/** A run whose worker died under it: its inputs were not (or not fully) computed. */
export class WorkerDiedError extends Error {
  constructor(
    message: string,
    /** The worker had taken it up (it may be what ended the worker); false: it waited behind that run. */
    readonly ran = true,
  ) {
    super(message);
    this.name = 'WorkerDiedError';
  }
}

/** Deaths of loaded workers in a row, none of their runs answered in between, that the pool replaces at once. */
export const CRASH_LOOP_DEATHS = 8;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

/** The wait before the nth delayed replacement (n ≥ 1): doubling from 1 s, at most 30 s. */
export function backoffMs(n: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, n - 1));
}

interface Job {
  id: number;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
  /** timeOrigin + now when it was posted: against the worker's takenAt, how long it sat behind the run before it. */
  sentAt: number;
}

interface Slot {
  worker: InferenceWorker;
  ready: boolean;
  /** Batches sent and not answered, in the order the worker runs them: at most QUEUE_DEPTH. */
  jobs: Job[];
  closing: boolean;
}

/**
 * Batches a worker may hold: the one it runs and one queued behind it, so that it starts the next
 * as soon as it ends instead of waiting for a round trip through a main thread busy with HTTP.
 */
const QUEUE_DEPTH = 2;

/**
 * Events: 'idle' (a worker can take a batch, now or queued behind its run), 'worker-exit' ({code, signal, replaced}),
 * 'unavailable' ({retryInMs}: no worker lives and the next one is not tried before then),
 * 'available' (a worker loaded again after 'unavailable').
 */
export class WorkerPool extends EventEmitter {
  private readonly slots = new Set<Slot>();
  private nextJobId = 1;
  private closed = false;
  private respawnFailures = 0;
  /** Loaded workers that died in a row with none of their runs answered in between. */
  private deathStreak = 0;
  /** Replacements delayed so far in this streak of failures (the backoff's exponent). */
  private backoffs = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** Replacements waiting for the backoff timer. */
  private owed = 0;
  /** When the delayed replacement will be tried (performance.now()); 0 when none waits. */
  retryAt = 0;
  private unavailable = false;
  /** Standing test faults, sent to every worker, respawned ones too. */
  private readonly standing: Fault[] = [];
  restarts = 0;
  signature?: Signature;
  /** As the first worker to load found them (every worker runs on the same machine and options). */
  providers?: ProviderReport;
  private plan: WarmupPlan | undefined;

  constructor(private readonly opts: PoolOptions) {
    super();
  }

  /** Spawns every instance and resolves with the model's signature once all have loaded and warmed up. */
  async start(): Promise<PoolStart> {
    const starts = Array.from({ length: this.opts.instances }, () => this.spawn());
    const results = await Promise.allSettled(starts);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      await this.close();
      throw failed.reason as Error;
    }
    return { signature: this.signature!, providers: this.providers!, warmups: results.map((r) => (r as PromiseFulfilledResult<WarmupReport>).value) };
  }

  private planFor(signature: Signature): WarmupPlan {
    this.plan ??= this.opts.warmup?.(signature) ?? { kind: 'none' };
    return this.plan;
  }

  private spawn(): Promise<WarmupReport> {
    const init: WorkerInit = { modelPath: this.opts.modelPath, intraOpThreads: this.opts.intraOpThreads, session: this.opts.session, faultHooks: !!this.opts.faultHooks };
    const worker = startWorker(this.isolation, init);
    const slot: Slot = { worker, ready: false, closing: false, jobs: [] };
    this.slots.add(slot);
    for (const fault of this.standing) worker.send({ type: 'fault', fault });
    return new Promise<WarmupReport>((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'loaded': {
            this.signature ??= { inputs: msg.inputs, outputs: msg.outputs };
            this.providers ??= msg.providers;
            let plan: WarmupPlan;
            try {
              plan = this.planFor(this.signature);
            } catch (err) {
              settled = true;
              reject(err as Error);
              slot.closing = true;
              worker.send({ type: 'close' } satisfies ToWorker);
              break;
            }
            worker.send({ type: 'warmup', plan } satisfies ToWorker);
            break;
          }
          case 'ready':
            slot.ready = true;
            settled = true;
            resolve(msg.warmup);
            if (!slot.closing) this.emit('idle');
            break;
          case 'load-error':
            settled = true;
            reject(new Error(msg.message));
            break;
          case 'result':
          case 'run-error': {
            const job = slot.jobs[0];
            if (!job || job.id !== msg.id) break;
            slot.jobs.shift();
            // timings from the worker's clock: a main thread busy with HTTP reads this message late,
            // and would see the batch queued behind it as waiting longer and running shorter than it did
            if (msg.type === 'result') {
              this.deathStreak = 0;
              job.resolve({ outputs: fromWire(msg.outputs), computeMs: msg.computeMs, outputMs: msg.outputMs, busyMs: msg.busyMs, waitedMs: Math.max(0, msg.takenAt - job.sentAt), readLagMs: Math.max(0, performance.timeOrigin + performance.now() - msg.takenAt - msg.busyMs) });
            } else job.reject(new RunError(msg.message, msg.injected));
            if (!slot.closing) this.emit('idle');
            break;
          }
          case 'closed':
            break;
        }
      });
      worker.on('error', (err) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      worker.on('exit', (end: WorkerEnd) => {
        this.slots.delete(slot);
        const how = describeEnd(this.isolation, end);
        if (!settled) {
          settled = true;
          reject(new Error(`${how} while loading`));
        }
        // the first job is the one it ran (or was about to); the one queued behind it never started
        slot.jobs.splice(0).forEach((job, i) => job.reject(new WorkerDiedError(i === 0 ? `${how} during the run` : `${how} before the run`, i === 0)));
        if (slot.closing || this.closed) return;
        // an unexpected death of a loaded worker: replace it
        const replaced = slot.ready;
        this.emit('worker-exit', { code: end.code ?? -1, signal: end.signal ?? undefined, replaced });
        if (!replaced) return;
        this.deathStreak++;
        this.replace();
      });
    });
  }

  private get isolation(): Isolation {
    return this.opts.isolation ?? 'thread';
  }

  /**
   * Spawns a replacement: at once while failures are few (a batch being bisected ends a worker
   * per step), else after a backoff that doubles up to 30 s; with no worker left then, the pool
   * is unavailable until a replacement loads.
   */
  private replace(): void {
    if (this.closed) return;
    const max = this.opts.maxRespawnFailures ?? 3;
    const failing = this.deathStreak >= CRASH_LOOP_DEATHS || this.respawnFailures >= max;
    if (!failing) return this.respawn();
    this.owed++;
    // one timer spawns every replacement owed; a death while it runs only adds to them
    if (!this.backoffTimer) {
      const wait = backoffMs(++this.backoffs);
      this.retryAt = performance.now() + wait;
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = undefined;
        this.retryAt = 0;
        const owed = this.owed;
        this.owed = 0;
        for (let i = 0; i < owed; i++) this.respawn();
      }, wait);
    }
    if (this.liveCount() === 0 && !this.unavailable) {
      this.unavailable = true;
      this.emit('unavailable', { retryInMs: Math.max(0, this.retryAt - performance.now()) });
    }
  }

  private respawn(): void {
    this.restarts++;
    this.spawn().then(
      () => {
        this.respawnFailures = 0;
        this.backoffs = 0;
        if (this.unavailable && !this.closed) {
          this.unavailable = false;
          this.emit('available');
        }
      },
      () => {
        this.respawnFailures++;
        this.replace();
      },
    );
  }

  /** True while the pool will take batches: a worker lives, or a replacement is loading without a backoff. */
  get serving(): boolean {
    return !this.unavailable && this.slots.size > 0;
  }

  /** Workers loaded and not closing (busy or idle). */
  liveCount(): number {
    let n = 0;
    for (const s of this.slots) if (s.ready && !s.closing) n++;
    return n;
  }

  idleCount(): number {
    let n = 0;
    for (const s of this.slots) if (s.ready && !s.closing && s.jobs.length === 0) n++;
    return n;
  }

  /** Busy workers that can queue one more batch behind their run. */
  queueableCount(): number {
    let n = 0;
    for (const s of this.slots) if (s.ready && !s.closing && s.jobs.length > 0 && s.jobs.length < QUEUE_DEPTH) n++;
    return n;
  }

  busyCount(): number {
    let n = 0;
    for (const s of this.slots) if (s.jobs.length > 0) n++;
    return n;
  }

  /**
   * Runs a packed batch on an idle worker, else queued behind the run of a busy one that has room;
   * the caller checks idleCount() or queueableCount() first.
   */
  run(inputs: Record<string, Tensor>): Promise<RunResult> {
    let slot: Slot | undefined;
    for (const s of this.slots) {
      if (!s.ready || s.closing || s.jobs.length >= QUEUE_DEPTH) continue;
      if (!slot || s.jobs.length < slot.jobs.length) slot = s;
      if (s.jobs.length === 0) break;
    }
    if (!slot) return Promise.reject(new Error('no worker can take a batch'));
    const id = this.nextJobId++;
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    const copies = this.isolation === 'process';
    for (const [name, t] of Object.entries(inputs)) {
      let data = t.data;
      // a child process is sent a copy of each whole buffer: only the tensor's bytes should go
      if (copies && (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength)) data = data.slice();
      const buffer = data.buffer as ArrayBuffer;
      wire[name] = { dtype: t.dtype, dims: [...t.dims], buffer, byteOffset: data.byteOffset, length: data.length };
      if (!transfer.includes(buffer)) transfer.push(buffer);
    }
    const target = slot;
    return new Promise<RunResult>((resolve, reject) => {
      target.jobs.push({ id, resolve, reject, sentAt: performance.timeOrigin + performance.now() });
      const msg: ToWorker = { type: 'run', id, inputs: wire };
      target.worker.send(msg, transfer);
    });
  }

  /**
   * Test-only: arm a fault in one live worker (ignored unless the pool was made with faultHooks);
   * abort-on-value stands in every worker, respawned ones too, and needs process isolation.
   */
  injectFault(fault: Fault): void {
    if (fault.kind === 'abort-on-value') {
      if (this.isolation !== 'process') throw new Error('abort-on-value would end the server: it needs process isolation');
      this.standing.push(fault);
      for (const s of this.slots) s.worker.send({ type: 'fault', fault } satisfies ToWorker);
      return;
    }
    const slot = [...this.slots].find((s) => s.ready && !s.closing);
    slot?.worker.send({ type: 'fault', fault } satisfies ToWorker);
  }

  /** Lets every running batch finish, then releases each session and ends each thread. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const exits = [...this.slots].map(
      (slot) =>
        new Promise<void>((resolve) => {
          slot.closing = true;
          slot.worker.once('exit', () => resolve());
          // the worker queues 'close' behind any run in progress, so nothing is cut short
          slot.worker.send({ type: 'close' } satisfies ToWorker);
        }),
    );
    await Promise.all(exits);
  }
}

function fromWire(wire: Record<string, WireTensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, w] of Object.entries(wire)) {
    out[name] = { dtype: w.dtype, dims: w.dims, data: viewOf(w.dtype, w.buffer, w.byteOffset, w.length) };
  }
  return out;
}
