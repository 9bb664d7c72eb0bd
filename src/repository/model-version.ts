// One loaded model version: its explicit state, its worker pool, its scheduler and the
// signature onnxruntime reported. LOADING → READY | UNAVAILABLE; READY → UNLOADING → gone.
// A compressed variant (config.json "variants") is a ModelVersion too, with `variant` set,
// reachable from its base through `variants`: siblings the scheduler can route between.
import { performance } from 'node:perf_hooks';
import { basename } from 'node:path';
import { WorkerPool, type Signature } from '../pool/pool.js';
import { Scheduler, type SchedulerConfig, type SchedulerObserver } from '../batching/scheduler.js';
import { DEFAULT_MAX_BATCH_SIZE, ModelConfigError, type ModelConfig } from './model-config.js';
import { ServeError } from '../errors.js';

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

export interface LoadOptions {
  faultHooks?: boolean;
  observer?: SchedulerObserver;
  onWorkerExit?: (info: { code: number; replaced: boolean }) => void;
}

/** True when every input and output has a variable first dimension: the model batches. */
export function batchesAlongFirstDim(sig: Signature): boolean {
  return [...sig.inputs, ...sig.outputs].every((t) => t.dims.length > 0 && typeof t.dims[0] === 'string');
}

/** What the compress command's report says about a variant; null when it says nothing (or is absent). */
export interface Compression {
  method: string | null;
  accuracyDelta: number | null;
}

export class ModelVersion {
  state: ModelState = 'LOADING';
  reason: string | undefined;
  signature: Signature | undefined;
  scheduler: Scheduler | undefined;
  batching: (SchedulerConfig & { timeoutMs: number }) | undefined;
  loadMs = 0;
  /** Compressed siblings by variant name (empty on a variant itself). */
  readonly variants = new Map<string, ModelVersion>();
  /** Set on a variant: from its report file, read at load. */
  compression: Compression = { method: null, accuracyDelta: null };
  private pool: WorkerPool | undefined;

  constructor(
    readonly name: string,
    readonly version: string,
    readonly path: string,
    readonly config: ModelConfig,
    readonly configFile: string,
    /** The variant name; undefined for the base model. */
    readonly variant?: string,
  ) {}

  /** The ONNX file's name, as config.json names it. */
  get file(): string {
    return basename(this.path);
  }

  /** For messages: `model "m" version 1` or `model "m" version 1 variant "int8"`. */
  get label(): string {
    return `model "${this.name}" version ${this.version}${this.variant === undefined ? '' : ` variant "${this.variant}"`}`;
  }

  async load(opts: LoadOptions = {}): Promise<void> {
    const t0 = performance.now();
    const pool = new WorkerPool({
      modelPath: this.path,
      instances: this.config.instances,
      intraOpThreads: this.config.intraOpThreads,
      faultHooks: opts.faultHooks,
    });
    try {
      const sig = await pool.start();
      const batches = batchesAlongFirstDim(sig);
      const maxBatchSize = this.config.maxBatchSize ?? (batches ? DEFAULT_MAX_BATCH_SIZE : 0);
      if (maxBatchSize > 0 && !batches) {
        await pool.close();
        const fixed = [...sig.inputs, ...sig.outputs].find((t) => typeof t.dims[0] !== 'string')!;
        throw new ModelConfigError(
          `${this.configFile}: "maxBatchSize" is ${maxBatchSize}; allowed: 0 for this model, whose "${fixed.name}" has a fixed first dimension (dims ${JSON.stringify(fixed.dims)})`,
        );
      }
      this.batching = Object.freeze({ ...this.config.dynamicBatching, maxBatchSize });
      this.signature = sig;
      this.pool = pool;
      this.scheduler = new Scheduler(this.batching, pool, opts.observer);
      pool.on('worker-exit', (info) => opts.onWorkerExit?.(info));
      pool.on('unavailable', () => {
        this.state = 'UNAVAILABLE';
        this.reason = 'every worker died and could not be replaced';
        this.scheduler?.rejectAll(() => new ServeError('MODEL_NOT_READY', `${this.label} has no live worker`));
      });
      this.loadMs = performance.now() - t0;
      this.state = 'READY';
    } catch (err) {
      this.state = 'UNAVAILABLE';
      this.reason = (err as Error).message;
      throw err;
    }
  }

  get ready(): boolean {
    return this.state === 'READY' && (this.pool?.liveCount() ?? 0) > 0;
  }

  get workerRestarts(): number {
    return this.pool?.restarts ?? 0;
  }

  /** Test-only fault injection into one worker (honoured only when loaded with faultHooks). */
  get workerPool(): WorkerPool | undefined {
    return this.pool;
  }

  /** Finishes queued and running requests (queued ones dispatched at once), then ends the workers; variants too. */
  async unload(): Promise<void> {
    await Promise.all([this.unloadOwn(), ...[...this.variants.values()].map((v) => v.unload())]);
  }

  private async unloadOwn(): Promise<void> {
    if (this.state === 'READY') this.state = 'UNLOADING';
    this.scheduler?.flush();
    await this.scheduler?.drained();
    await this.pool?.close();
  }

  /** Ends the workers of a loaded version that must not serve (a variant whose signature differs from its base). */
  async discard(reason: string): Promise<void> {
    this.state = 'UNAVAILABLE';
    this.reason = reason;
    this.scheduler = undefined;
    this.loadMs = 0; // not a load that serves: no model_load_duration_seconds for it
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }
}
