// A stand-in for WorkerPool in scheduler tests: `idle` workers, each run() takes one until the
// test settles it (succeed answers y = 2·x, one output row per input row; failRun rejects).
import { EventEmitter } from 'node:events';
import type { RunResult, WorkerPool } from '../../src/pool/pool.js';
import type { Tensor } from '../../src/tensors/dtypes.js';
import { toNested } from '../../src/tensors/encode.js';

export interface Call {
  inputs: Record<string, Tensor>;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

export class FakePool extends EventEmitter {
  idle: number;
  readonly calls: Call[] = [];
  private readonly workers: number;
  constructor(idle: number) {
    super();
    this.idle = idle;
    this.workers = Math.max(1, idle);
  }
  idleCount(): number {
    return this.idle;
  }
  /** Busy workers that can queue a batch: none unless a test sets it (the real pool queues one per worker). */
  queueable = 0;
  /** What every answer reports as its read lag (the real pool: how late the main thread read it). */
  readLagMs = 0;
  queueableCount(): number {
    return this.queueable;
  }
  /** Workers alive: as many as it started with (the fake never loses one). */
  liveCount(): number {
    return this.workers;
  }
  run(inputs: Record<string, Tensor>): Promise<RunResult> {
    if (this.idle <= 0 && this.queueable <= 0) return Promise.reject(new Error('FakePool: run() with no idle worker'));
    if (this.idle > 0) this.idle--;
    else this.queueable--;
    return new Promise<RunResult>((resolve, reject) => this.calls.push({ inputs, resolve, reject }));
  }
  /** A worker becomes available (finished, or a replacement loaded): like the real pool, emit 'idle'. */
  freeWorker(): void {
    this.idle++;
    this.emit('idle');
  }
  /**
   * Answers call i with y = 2·x, then frees the worker; `waitedMs`: as if it had waited that long
   * behind another run, `busyMs`: the worker's own time for it.
   */
  succeed(i: number, waitedMs = 0, busyMs = 1): void {
    const c = this.calls[i]!;
    const x = c.inputs.x!;
    const y = new Float32Array(x.data.length);
    for (let k = 0; k < y.length; k++) y[k] = 2 * Number(x.data[k]);
    c.resolve({ outputs: { y: { dtype: 'float32', dims: [...x.dims], data: y } }, computeMs: 1, busyMs, waitedMs, readLagMs: this.readLagMs });
    this.freeWorker();
  }
  /** The run fails with err; the worker stays (as for a run-error) unless `dead`. */
  failRun(i: number, err: Error, dead = false): void {
    this.calls[i]!.reject(err);
    if (!dead) this.freeWorker();
  }
  /** Rows of call i. */
  rows(i: number): number {
    return this.calls[i]!.inputs.x!.dims[0]!;
  }
  /** The first value of each request in call i's batch, in batch order (a request's base value names it). */
  firsts(i: number): number[] {
    const rows = toNested(this.calls[i]!.inputs.x!) as number[][];
    return rows.map((r) => r[0]!);
  }
  asPool(): WorkerPool {
    return this as unknown as WorkerPool;
  }
}

/** Records how a promise settles, without leaving rejections unhandled. */
export function track<T>(p: Promise<T>): { settled: () => boolean; value?: T; error?: unknown } {
  const st: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (v) => {
      st.done = true;
      st.value = v;
    },
    (e: unknown) => {
      st.done = true;
      st.error = e;
    },
  );
  return {
    settled: () => st.done,
    get value() {
      return st.value;
    },
    get error() {
      return st.error;
    },
  };
}
