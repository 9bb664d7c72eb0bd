// Scheduler for one model version: the thin shell around the batching policy. It owns the
// queue, the one timer, admission, packing a batch, handing it to the pool, timing each run for
// the cost model and answering each request.
import { performance } from 'node:perf_hooks';
import { decide, type BatchingPolicyConfig, type Decision, type Estimates } from './policy.js';
import { RequestQueue, type Queued } from './queue.js';
import { Arrivals } from './arrivals.js';
import { admit, predictedDrainMs, type Backlog } from './admission.js';
import { CostModel } from './cost-model.js';
import { RunError, WorkerDiedError, type WorkerPool } from '../pool/pool.js';
import type { Tensor } from '../tensors/dtypes.js';
import { packBatch, sliceBatch } from '../tensors/batch.js';
import { packPadded, slicePadded, type PaddingPlan } from '../tensors/pad.js';
import { ServeError } from '../errors.js';

export interface SchedulerConfig extends BatchingPolicyConfig {
  maxQueueSize: number;
  /** The longest predicted wait a request is admitted to, ms (admission.ts); none when omitted. */
  maxQueueWaitMs?: number;
  /** Priority levels (level 0 here is the protocol's priority 1, the most urgent); 1 when omitted. */
  priorityLevels?: number;
  /** Inputs packed padded to the longest request, and outputs cut back per request (config.json "padding"). */
  paddingPlan?: PaddingPlan;
}

export interface InferenceResult {
  outputs: Record<string, Tensor>;
  queueMs: number;
  computeMs: number;
  batchSize: number;
}

/** Above this read lag (ms, moving average) no batch is queued behind a run: see queueable(). */
const QUEUE_BEHIND_MAX_LAG_MS = 2;

/** Weight of the newest batch in the moving average of the read lag: about the last ten batches count. */
const READ_LAG_WEIGHT = 0.2;

/** A batch sent to a busy worker that waited longer than this there really was queued behind its run. */
const QUEUED_MS = 0.05;

/** Why a request left without being computed: reported to the observer for metrics. */
export type RejectReason = 'queue_full' | 'timeout' | 'cancelled' | 'input_rejected';

/** Plain hooks for metrics (the scheduler knows nothing of Prometheus); each is optional. */
export interface SchedulerObserver {
  rejected?(reason: RejectReason): void;
  /** Once per request, at its first dispatch: milliseconds from enqueue to dispatch. */
  queued?(ms: number): void;
  /** Once per successful execution: rows computed, requests in the batch, session.run time. */
  /** `busyMs`: the worker's whole time for the batch (session.run and the packing around it). */
  executed?(rows: number, requests: number, computeMs: number, busyMs: number): void;
  /** A batch's outputs did not follow its rows: its requests are rerun one at a time, and batching is off from now on. */
  batchingOff?(reason: string): void;
  /** A request failed when run alone, while its batch-mates (if any) were answered: it gets INPUT_REJECTED. */
  inputRejected?(message: string): void;
  /** Once per answered request: its whole time in the scheduler, its queue time and its execution's compute time (ms). */
  answered?(totalMs: number, queueMs: number, computeMs: number): void;
  /** Once per request that leaves without an answer (rejected, expired, cancelled, failed): its time in the scheduler (ms). */
  failed?(totalMs: number): void;
  /** A failed batch was split: this many extra runs to find the request that breaks it. */
  split?(runs: number): void;
  /** Once per execution once the cost model could predict it: predicted and measured run time (ms). */
  costed?(rows: number, predictedMs: number, measuredMs: number): void;
  /**
   * Once per answered execution: its input phase (packing the requests' tensors into the batch)
   * and output phase (the worker copying the outputs out, and cutting them per request), ms.
   */
  phases?(rows: number, requests: number, inputMs: number, outputMs: number): void;
}

interface QueueItem extends Queued {
  inputs: Record<string, Tensor>;
  resolve: (r: InferenceResult) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Runs of it that ended their worker (bisection finds the one request that does). */
  deaths: number;
  /** Its queue time was reported (at its first dispatch; a rerun is not a second wait). */
  queueReported: boolean;
  startedAt: number; // the scheduler's clock at enqueue, for queue time
}

export interface EnqueueOptions {
  inputs: Record<string, Tensor>;
  rows: number;
  key: string;
  /** Milliseconds the request may wait in the queue: refused at once (429) when it is predicted to wait longer. */
  timeoutMs: number;
  /** Priority level, 0 the most urgent (default 0). */
  level?: number;
  signal?: AbortSignal;
  /** Cheaper than an AbortSignal on the hot path: receives the function that drops this request. */
  onCancel?: (cancel: () => void) => void;
}

export class Scheduler {
  private readonly queue: RequestQueue<QueueItem>;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private inFlight = 0;
  /** Predicted end of each running batch (scheduler clock), for the admission's backlog. */
  private readonly running = new Set<{ endsAt: number }>();
  private drainWaiters: (() => void)[] = [];
  /**
   * What the policy is asked with: the config, until a drain (no delay) or a batch that shows the
   * model does not batch (maxBatchSize 0) changes it. Set when that happens, not per pump.
   */
  private rules: BatchingPolicyConfig;
  private nextIsolation = 1;
  /** Run time against rows, seeded at load and kept current by every run. */
  readonly cost = new CostModel();
  readonly arrivals = new Arrivals();
  private readonly estimates: Estimates;
  private readonly backlog: Backlog = { rowsAhead: 0, rowsQueued: 0, runningMs: 0, runningBatches: 0, workers: 1, readLagMs: 0 };
  /** How late this thread reads finished batches, a moving average: admission adds it to every finish. */
  private readLagMs = 0;
  private readonly costOf = (rows: number): number => this.cost.predict(rows);

  constructor(
    private readonly cfg: SchedulerConfig,
    private readonly pool: WorkerPool,
    private readonly observer: SchedulerObserver = {},
    // fractional milliseconds: Date.now's whole milliseconds made a 2 ms delay wait up to 3
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.rules = cfg;
    this.queue = new RequestQueue<QueueItem>(Math.max(1, cfg.priorityLevels ?? 1));
    this.estimates = { cost: this.costOf, rowsPerMs: 0, workers: 1 };
    pool.on('idle', () => this.pump());
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Priority levels requests may name (level 0 the most urgent). */
  get levels(): number {
    return this.queue.levels;
  }

  /** Milliseconds until the queue and the running batches would be done (NaN before the cost model has a measurement). */
  predictedDrainMs(): number {
    return predictedDrainMs(this.fillBacklog(this.levels - 1), this.rules.maxBatchSize, this.costOf);
  }

  enqueue(opts: EnqueueOptions): Promise<InferenceResult> {
    if (opts.signal?.aborted) {
      // gone before it was queued: counted like one that leaves the queue
      this.observer.rejected?.('cancelled');
      this.observer.failed?.(0);
      return Promise.reject(new ServeError('REQUEST_CANCELLED', 'request cancelled by the client'));
    }
    const level = Math.min(this.levels - 1, Math.max(0, opts.level ?? 0));
    const refusal = this.refusal(opts.rows, opts.timeoutMs, level);
    if (refusal) return Promise.reject(refusal);
    const now = this.now();
    return new Promise<InferenceResult>((resolve, reject) => {
      const item: QueueItem = {
        rows: opts.rows,
        key: opts.key,
        level,
        enqueuedAt: now,
        deadline: now + opts.timeoutMs,
        heapAt: -1,
        ticket: 0,
        inputs: opts.inputs,
        resolve,
        reject,
        deaths: 0,
        queueReported: false,
        startedAt: now,
      };
      if (opts.signal) {
        item.signal = opts.signal;
        item.onAbort = () => this.cancel(item);
        opts.signal.addEventListener('abort', item.onAbort, { once: true });
      }
      opts.onCancel?.(() => this.cancel(item));
      this.queue.push(item);
      this.arrivals.arrive(now, opts.rows);
      // every worker busy: the policy would only say "wait for the earliest deadline", so skip
      // asking it for each arrival under load (the queue is scanned once a worker frees up)
      if (this.pool.idleCount() === 0 && this.queueable() === 0) this.arm(item.deadline - now);
      else this.pump();
    });
  }

  /**
   * The 429 a request of `rows` rows, `timeoutMs` from its deadline, at `level`, would get now
   * (counted as a refusal), or undefined when it would be admitted. enqueue asks it; so may a
   * transport before it has read the request's body (src/routes/early-admission.ts).
   */
  refusal(rows: number, timeoutMs: number, level: number): ServeError | undefined {
    if (this.queue.length >= this.cfg.maxQueueSize) {
      return this.refused(`the queue holds ${this.cfg.maxQueueSize} requests (maxQueueSize); retry later`, this.retryAfterS());
    }
    // the queue is bounded by predicted wait too: a request that cannot be answered in time is refused now, not expired later
    const v = admit(this.fillBacklog(Math.min(this.levels - 1, Math.max(0, level))), rows, timeoutMs, this.rules.maxBatchSize, this.costOf, this.cfg.maxQueueWaitMs);
    if (v.admit) return undefined;
    const ahead = `the queue ahead is predicted to take ${Math.round(v.predictedMs)} ms`;
    return this.refused(
      v.bound === 'deadline'
        ? `${ahead}, more than the ${Math.round(v.limitMs)} ms left before this request's deadline; retry after ${v.retryAfterS} s or with a longer x-request-timeout-ms`
        : `${ahead}, more than the ${Math.round(v.limitMs)} ms the model's queue holds (maxQueueWaitMs); retry after ${v.retryAfterS} s`,
      v.retryAfterS,
    );
  }

  private refused(message: string, retryAfterS: number): ServeError {
    this.observer.rejected?.('queue_full');
    this.observer.failed?.(0);
    return new ServeError('QUEUE_FULL', message, { 'retry-after': String(retryAfterS) });
  }

  /** Whole seconds until the queue is predicted to have drained, at least 1 (1 before any measurement). */
  private retryAfterS(): number {
    const ms = this.predictedDrainMs();
    return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms / 1000)) : 1;
  }

  /**
   * Busy workers that may be sent a batch to hold behind their run: none while this thread reads
   * answers late. Then it, not the workers, is the bottleneck (parsing requests, many to be
   * refused), a queued batch adds nothing that comes back sooner, and its worker's CPU is taken
   * from this thread: measured at twice the heavy MLP's capacity, answers within 100 ms fell from
   * about 780 to 400-530 a second with the queued batch.
   */
  private queueable(): number {
    return this.readLagMs <= QUEUE_BEHIND_MAX_LAG_MS ? this.pool.queueableCount() : 0;
  }

  /** The work ahead of a request of `level`, in the one Backlog object (no allocation per request). */
  private fillBacklog(level: number): Backlog {
    const b = this.backlog;
    const now = this.now();
    let runningMs = 0;
    for (const r of this.running) runningMs += Math.max(0, r.endsAt - now);
    b.runningMs = runningMs;
    b.runningBatches = this.running.size;
    b.rowsAhead = this.queue.rowsAtOrAbove(level);
    b.rowsQueued = this.queue.rows;
    b.workers = Math.max(1, this.pool.liveCount());
    b.readLagMs = this.readLagMs;
    return b;
  }

  private cancel(item: QueueItem): void {
    if (!this.queue.remove(item)) return; // already dispatched: the run finishes and its answer goes nowhere
    this.observer.rejected?.('cancelled');
    this.failed(item);
    item.reject(new ServeError('REQUEST_CANCELLED', 'request cancelled by the client'));
    this.checkDrained();
  }

  private failed(item: QueueItem): void {
    this.observer.failed?.(this.now() - item.startedAt);
  }

  private detach(item: QueueItem): void {
    if (item.onAbort) item.signal!.removeEventListener('abort', item.onAbort);
  }

  /** Asks the policy what to do until it says wait; dispatches and expires as told. */
  pump(notBefore = 0): void {
    for (;;) {
      const now = Math.max(this.now(), notBefore);
      this.estimates.rowsPerMs = this.arrivals.rowsPerMs(now);
      this.estimates.workers = Math.max(1, this.pool.liveCount());
      const idle = this.pool.idleCount();
      const d: Decision = decide(this.queue, idle, now, this.rules, this.estimates, idle > 0 ? 0 : this.queueable());
      if (d.expire) {
        this.expire(now);
        continue;
      }
      if (d.dispatch) {
        const { key, maxRows, first } = d.dispatch;
        if (this.arrivals.waiting) this.arrivals.waitEnded(now, this.queue.keyRows(key));
        this.dispatch(this.queue.take(key, maxRows, first as QueueItem | undefined), idle === 0);
        continue;
      }
      if (d.expectRows > 0) this.arrivals.waitBegan(now, this.queue.keyRows(this.queue.head()!.key), this.estimates.rowsPerMs);
      this.arm(d.waitMs);
      return;
    }
  }

  private expire(now: number): void {
    for (let item = this.queue.popExpired(now); item; item = this.queue.popExpired(now)) {
      this.detach(item);
      this.observer.rejected?.('timeout');
      this.failed(item);
      item.reject(new ServeError('QUEUE_TIMEOUT', `the request waited ${Math.round(this.now() - item.enqueuedAt)} ms in the queue, past its deadline; it was not computed`));
    }
    this.checkDrained();
  }

  private arm(waitMs: number): void {
    if (!Number.isFinite(waitMs)) {
      // nothing queued has a deadline left to watch: no timer should keep the process alive
      if (this.timer && this.queue.length === 0) this.clearTimer();
      return;
    }
    const at = this.now() + Math.max(0, waitMs);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      // the timer fired for time `at`: Node's timers run on a loop clock that can lag
      // performance.now, and asking the policy "too early" would cost another whole timer tick
      this.pump(at);
    }, Math.max(0, Math.ceil(waitMs)));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** `queued`: no worker was idle, so the batch waits in a busy worker behind its run. */
  private dispatch(batch: QueueItem[], queued: boolean): void {
    const packStart = this.now();
    const names = Object.keys(batch[0]!.inputs);
    const packed: Record<string, Tensor> = {};
    const pads = this.cfg.paddingPlan?.inputs;
    for (const name of names) {
      const parts = batch.map((b) => b.inputs[name]!);
      const pad = pads?.[name];
      packed[name] = pad ? packPadded(parts, pad) : packBatch(parts);
    }
    let rows = 0;
    for (const b of batch) rows += b.rows;
    if (this.rules.maxBatchSize <= 0) rows = 1;
    const dispatchedAt = this.now();
    if (this.observer.queued) {
      // a rerun request (its worker died, its batch was split) was counted at its first dispatch
      for (const item of batch) if (!item.queueReported) this.observer.queued(dispatchedAt - item.startedAt);
    }
    for (const item of batch) item.queueReported = true;
    this.inFlight++;
    const predictedMs = this.cost.predict(rows);
    // a queued batch starts when the run ahead of it ends (one worker's, or the soonest of several)
    let startsAt = dispatchedAt;
    if (queued) {
      let soonest = Infinity;
      for (const r of this.running) soonest = Math.min(soonest, r.endsAt);
      if (Number.isFinite(soonest)) startsAt = Math.max(dispatchedAt, soonest);
    }
    const run = { endsAt: startsAt + (Number.isFinite(predictedMs) ? predictedMs : 0) };
    this.running.add(run);
    this.pool.run(packed).then(
      (result) => {
        this.inFlight--;
        this.running.delete(run);
        // the worker's occupancy: for a batch sent to an idle worker, as the scheduler sees it
        // (message passing and a late read included: the worker waits through both before its next
        // batch), not session.run alone; for one that waited behind a run, the worker's own time,
        // because it went straight on from the run before
        this.readLagMs += READ_LAG_WEIGHT * (result.readLagMs - this.readLagMs);
        const measuredMs = queued && result.waitedMs > QUEUED_MS ? result.busyMs : this.now() - dispatchedAt;
        if (Number.isFinite(predictedMs)) this.observer.costed?.(rows, predictedMs, measuredMs);
        this.cost.observe(rows, measuredMs);
        this.observer.executed?.(rows, batch.length, result.computeMs, result.busyMs);
        const stray = batch.length > 1 ? strayOutput(result.outputs, rows) : undefined;
        if (stray) this.unbatch(batch, stray);
        else {
          const sliceMs = this.answer(batch, result.outputs, result.computeMs, dispatchedAt + result.waitedMs, rows);
          this.observer.phases?.(rows, batch.length, dispatchedAt - packStart, (result.outputMs ?? 0) + sliceMs);
        }
        this.checkDrained();
      },
      (err: Error) => {
        this.inFlight--;
        this.running.delete(run);
        this.fail(batch, err);
        this.checkDrained();
      },
    );
  }

  /**
   * `runAt`: when its worker could start it (its dispatch, or later for a batch queued behind a run): queue time ends there.
   * Returns the time spent cutting the outputs per request (ms).
   */
  private answer(batch: QueueItem[], outputs: Record<string, Tensor>, computeMs: number, runAt: number, rows: number): number {
    const sliceStart = this.now();
    const perRequest: Record<string, Tensor>[] = batch.map(() => ({}));
    const cutsOf = this.cfg.paddingPlan?.outputs;
    // a lone request takes its outputs whole, whatever their first dimension (and was not padded)
    const rowCounts = batch.length > 1 ? batch.map((b) => b.rows) : undefined;
    const requestInputs = rowCounts && cutsOf ? batch.map((b) => b.inputs) : undefined;
    for (const [name, t] of Object.entries(outputs)) {
      const cuts = cutsOf?.[name];
      const parts = !rowCounts ? [t] : cuts ? slicePadded(t, rowCounts, cuts, requestInputs!) : sliceBatch(t, rowCounts);
      parts.forEach((p, i) => (perRequest[i]![name] = p));
    }
    const answeredAt = this.now();
    batch.forEach((item, i) => {
      this.detach(item);
      this.observer.answered?.(answeredAt - item.startedAt, runAt - item.startedAt, computeMs);
      item.resolve({ outputs: perRequest[i]!, queueMs: runAt - item.startedAt, computeMs, batchSize: rows });
    });
    return answeredAt - sliceStart;
  }

  /** Puts requests back at the head of their lanes, first in line again (reruns), in arrival order. */
  private requeue(items: QueueItem[]): void {
    // a batch is not in arrival order when a request near its deadline went first
    const ordered = [...items].sort((a, b) => a.enqueuedAt - b.enqueuedAt || (a.arrival ?? 0) - (b.arrival ?? 0));
    for (let i = ordered.length - 1; i >= 0; i--) this.queue.unshift(ordered[i]!);
    this.pump();
  }

  /**
   * The outputs of a batch did not follow its rows (a symbolic dimension 0 that is not the batch):
   * batching is off from now on, and this batch's requests run again one at a time, first in line.
   */
  private unbatch(batch: QueueItem[], reason: string): void {
    this.rules = { ...this.rules, maxBatchSize: 0 };
    this.observer.batchingOff?.(`a batch of ${batch.length} requests showed it: ${reason}`);
    this.requeue(batch);
  }

  /**
   * A batch whose worker ended under it (a native crash of its process, or a thread's exit) is
   * bisected like one that onnxruntime refuses: halves run again on their own until a request that
   * ends a worker alone is found. That one is retried once (a worker may end for reasons of its own),
   * then answered INPUT_REJECTED; its batch-mates are answered. A batch queued behind the run, never
   * started, goes back to the queue as it was.
   */
  private fail(batch: QueueItem[], err: Error): void {
    if (err instanceof WorkerDiedError) {
      if (!err.ran) return this.requeue(batch);
      for (const item of batch) item.deaths++;
      const lone = batch.length === 1 ? batch[0]! : undefined;
      if (!lone) return this.bisect(batch);
      if (lone.deaths < 2) return this.requeue(batch);
      this.detach(lone);
      this.failed(lone);
      this.observer.rejected?.('input_rejected');
      this.observer.inputRejected?.(`a request ended its worker when run alone (${err.message})`);
      const before = `${lone.deaths - 1} ${lone.deaths === 2 ? 'run' : 'runs'} before`;
      lone.reject(new ServeError('INPUT_REJECTED', `this request's inputs crashed the model's runtime (${err.message}), run alone and in ${before}; it is not run again, and the requests batched with it were answered`));
      return;
    }
    // only onnxruntime's refusals are the requests' doing; a test fault or a pool error is not
    const refused = err instanceof RunError && !err.injected;
    if (batch.length > 1 && refused) return this.bisect(batch);
    // whole here: the answer's renderer scrubs it for the client and logs it with the request id
    const message = err.message;
    for (const item of batch) {
      this.detach(item);
      this.failed(item);
      if (!refused) {
        item.reject(new ServeError('INFERENCE_FAILED', `onnxruntime failed to run the batch: ${message}`));
      } else {
        this.observer.rejected?.('input_rejected');
        this.observer.inputRejected?.(message);
        item.reject(new ServeError('INPUT_REJECTED', `onnxruntime refused this request's inputs: ${message}`));
      }
    }
  }

  /** Splits a failed batch in halves that each batch only with itself, first in line again. */
  private bisect(batch: QueueItem[]): void {
    const mid = Math.ceil(batch.length / 2);
    const halves = [batch.slice(0, mid), batch.slice(mid)];
    // a key no other request has
    for (const half of halves) {
      const key = `#isolated${this.nextIsolation++}`;
      for (const item of half) item.key = key;
    }
    this.observer.split?.(2);
    this.requeue(halves.flat());
  }

  /** From now on batches go as soon as a worker is free: draining, waiting for more rows helps nobody. */
  flush(): void {
    this.rules = { ...this.rules, policy: 'static', maxQueueDelayMs: 0 };
    this.pump();
  }

  /** Fails everything still queued (the model is going away). */
  rejectAll(error: () => Error): void {
    for (const item of this.queue.drain()) {
      this.detach(item);
      this.failed(item);
      item.reject(error());
    }
    this.checkDrained();
  }

  /** Resolves once the queue is empty and no batch is running. */
  drained(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  private checkDrained(): void {
    if (this.queue.length || this.inFlight || !this.drainWaiters.length) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
    this.clearTimer();
  }
}

/** Why a batch's outputs cannot be cut per request: an output whose dimension 0 is not the batch's rows. */
function strayOutput(outputs: Record<string, Tensor>, rows: number): string | undefined {
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== rows) return `output "${name}" has dimension 0 of ${t.dims[0] ?? 'none (0-d)'} for a batch of ${rows} rows`;
  }
  return undefined;
}
