// One loaded model version: its explicit state, its worker pool, its scheduler and the
// signature onnxruntime reported. LOADING → READY | UNAVAILABLE; READY → UNLOADING → gone.
// A compressed variant (config.json "variants") is a ModelVersion too, with `variant` set,
// reachable from its base through `variants` by name: a request that names one (/v1 `variant`,
// v2 parameters.variant or ?variant=) runs on it, with its own pool and scheduler; nothing routes
// between variants on its own.
import { performance } from 'node:perf_hooks';
import { basename, dirname } from 'node:path';
import { WorkerPool } from '../pool/pool.js';
import type { Signature } from '../signature.js';
import { Scheduler, type SchedulerConfig, type SchedulerObserver } from '../batching/scheduler.js';
import { VersionStats } from '../batching/stats.js';
import type { DynamicBatchingConfig, ModelConfig } from './model-config.js';
import { batchAxisAfterWarmup, batchAxisFromSignature, type BatchAxis } from './batch-axis.js';
import { readWarmupSamples, warmupPlan } from './warmup-samples.js';
import { batchAxisProblem } from '../pool/warmup.js';
import type { Isolation, ProviderReport, WarmupReport } from '../pool/protocol.js';
import { ServeError, scrubPaths } from '../errors.js';
import { probeCost } from './cost-probe.js';
import { paddingPlan } from './padding.js';
import type { PaddingPlan } from '../tensors/pad.js';
import type { Sizing } from './sizing.js';
import { readLabels } from './labels.js';

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

/** Where a model version reports what it decided on its own: a warm-up that failed, batching turned off, a rejected input. */
export interface ModelLog {
  warn(obj: object, msg: string): void;
}

export interface LoadOptions {
  faultHooks?: boolean;
  /** Where its sessions run (default thread). */
  isolation?: Isolation;
  observer?: SchedulerObserver;
  onWorkerExit?: (info: { code: number; replaced: boolean }) => void;
  log?: ModelLog;
}

/** True when every input and output has a variable first dimension: the model batches. */
export function batchesAlongFirstDim(sig: Signature): boolean {
  return batchAxisProblem(sig) === undefined;
}

/** The load-time warm-up as /v1/models shows it. */
export interface WarmupStatus {
  kind: WarmupReport['kind'];
  ok: boolean;
  reason?: string;
  ms: number;
}

/** What the compress command's report says about a variant; null when it says nothing (or is absent). */
export interface Compression {
  method: string | null;
  accuracyDelta: number | null;
}

export class ModelVersion {
  state: ModelState = 'LOADING';
  /** Where its sessions run, as its last load chose. */
  isolation: Isolation = 'thread';
  reason: string | undefined;
  signature: Signature | undefined;
  scheduler: Scheduler | undefined;
  /** Its statistics (v2 stats, /v1/models), fed by the scheduler; undefined until loaded. */
  stats: VersionStats | undefined;
  /** The batching settings /v1/models shows; `padding` as config.json gives it, when it pads. */
  batching: (DynamicBatchingConfig & { maxBatchSize: number; padding?: Readonly<Record<string, number | boolean>> }) | undefined;
  /** config.json's padding checked against the signature; undefined when nothing is padded or the model does not batch. */
  padding: PaddingPlan | undefined;
  loadMs = 0;
  /** The first worker's warm-up; undefined until loaded. */
  warmup: WarmupStatus | undefined;
  /** The execution providers its sessions run on, and any asked for that were skipped; undefined until loaded. */
  providers: ProviderReport | undefined;
  /** Why the model does not batch (set when maxBatchSize is 0). */
  unbatchedReason: string | undefined;
  /** Compressed siblings by variant name (empty on a variant itself). */
  readonly variants = new Map<string, ModelVersion>();
  /** Set on a variant: from its report file, read at load. */
  compression: Compression = { method: null, accuracyDelta: null };
  /** Class labels from labels.txt (version folder, else model folder), line i = class i; undefined without one. */
  labels: readonly string[] | undefined;
  private pool: WorkerPool | undefined;

  constructor(
    readonly name: string,
    readonly version: string,
    readonly path: string,
    readonly config: ModelConfig,
    readonly configFile: string,
    /** Its instances × intra-op threads and why (a variant shares its base's). */
    readonly sizing: Readonly<Sizing>,
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
    let axis: BatchAxis | undefined;
    let padding: PaddingPlan | undefined;
    let pool: WorkerPool | undefined;
    try {
      this.isolation = opts.isolation ?? 'thread';
      const samples = await readWarmupSamples(this.config.warmup, this.configFile);
      // a variant's file sits in its base's version folder: the same labels
      this.labels = await readLabels([dirname(this.path), dirname(this.configFile)]);
      pool = new WorkerPool({
        modelPath: this.path,
        instances: this.sizing.instances,
        intraOpThreads: this.sizing.intraOpThreads,
        session: this.config.sessionOptions,
        faultHooks: opts.faultHooks,
        isolation: this.isolation,
        // asked once the first session reports its signature: a config that the signature rules out fails here
        warmup: (sig) => {
          axis = batchAxisFromSignature(this.config.maxBatchSize, sig, this.configFile);
          padding = paddingPlan(this.config.padding, sig, this.configFile);
          return warmupPlan(samples, sig.inputs, axis.maxBatchSize > 0, this.configFile);
        },
      });
      const { signature: sig, providers, warmups } = await pool.start();
      // shown to clients: onnxruntime's message may name a library by its absolute path
      this.providers = { inUse: providers.inUse, skipped: providers.skipped.map((s) => ({ name: s.name, reason: scrubPaths(s.reason) })) };
      for (const { name, reason } of this.providers.skipped) {
        opts.log?.warn({ model: this.name, version: this.version, variant: this.variant, provider: name, reason, executionProviders: providers.inUse }, 'execution provider skipped: this build or machine lacks it; the rest of the list runs');
      }
      const report = warmups.find((w) => !w.ok) ?? warmups[0]!;
      if (!report.ok && report.kind === 'samples') throw new Error(`the warm-up from config.json failed: ${report.reason}`);
      // the warm-up's and batching's reasons are shown to clients (/v1/models, /v2 config): scrubbed; the log has them whole
      this.warmup = { kind: report.kind, ok: report.ok, ...(report.reason ? { reason: scrubPaths(report.reason) } : {}), ms: report.ms };
      if (!report.ok) opts.log?.warn({ model: this.name, version: this.version, variant: this.variant, reason: report.reason }, 'warm-up on made-up inputs failed; the model serves');
      axis = batchAxisAfterWarmup(axis!, report.batch);
      if (report.batch && !report.batch.ok) opts.log?.warn({ model: this.name, version: this.version, variant: this.variant, reason: axis.unbatchedReason }, 'batching off');
      const padded = padding ? { padding: this.config.padding } : {};
      this.batching = Object.freeze({ ...this.config.dynamicBatching, maxBatchSize: axis.maxBatchSize, ...padded });
      // a model that runs one request per execution has nothing to pad
      this.padding = axis.maxBatchSize > 0 ? padding : undefined;
      this.unbatchedReason = axis.unbatchedReason === undefined ? undefined : scrubPaths(axis.unbatchedReason);
      this.signature = sig;
      this.pool = pool;
      this.stats = new VersionStats(this.observerWith(opts));
      this.scheduler = new Scheduler(this.padding ? { ...this.batching, paddingPlan: this.padding } : this.batching, pool, this.stats);
      if (report.ok) this.scheduler.cost.seed(await probeCost(pool, sig.inputs, axis.maxBatchSize));
      pool.on('worker-exit', (info: { code: number; signal?: string; replaced: boolean }) => {
        opts.log?.warn({ model: this.name, version: this.version, variant: this.variant, code: info.code, signal: info.signal, isolation: this.isolation }, 'worker died; its batch is rerun and a replacement started');
        opts.onWorkerExit?.(info);
      });
      pool.on('unavailable', ({ retryInMs }: { retryInMs: number }) => {
        if (this.state !== 'READY') return;
        this.state = 'UNAVAILABLE';
        this.reason = `its workers keep dying; the next is started in ${Math.ceil(retryInMs / 1000)} s`;
        opts.log?.warn({ model: this.name, version: this.version, variant: this.variant, retryInMs }, 'model unavailable: its workers keep dying; backing off');
        this.scheduler?.rejectAll(() => new ServeError('MODEL_NOT_READY', `${this.label} has no live worker: ${this.reason}`, this.retryAfter() ?? {}));
      });
      pool.on('available', () => {
        if (this.state !== 'UNAVAILABLE' || !this.pool) return;
        this.state = 'READY';
        this.reason = undefined;
        opts.log?.warn({ model: this.name, version: this.version, variant: this.variant }, 'model ready again: a replacement worker loaded');
      });
      this.loadMs = performance.now() - t0;
      this.state = 'READY';
    } catch (err) {
      await pool?.close();
      this.state = 'UNAVAILABLE';
      this.reason = (err as Error).message;
      throw err;
    }
  }

  /** The metrics observer (its methods called on it), plus what the scheduler decides on its own: batching off at serve time, a rejected input. */
  private observerWith(opts: LoadOptions): SchedulerObserver {
    const metrics = opts.observer;
    const at = { model: this.name, version: this.version, variant: this.variant };
    return {
      rejected: (reason) => metrics?.rejected?.(reason),
      queued: (ms) => metrics?.queued?.(ms),
      executed: (rows, requests, computeMs, busyMs) => metrics?.executed?.(rows, requests, computeMs, busyMs),
      costed: (rows, predictedMs, measuredMs) => metrics?.costed?.(rows, predictedMs, measuredMs),
      batchingOff: (reason) => {
        this.batching = Object.freeze({ ...this.batching!, maxBatchSize: 0 });
        this.unbatchedReason = scrubPaths(reason);
        opts.log?.warn({ ...at, reason }, 'batching off: the batch was rerun one request at a time');
      },
      inputRejected: (message) => {
        opts.log?.warn({ ...at, code: 'INPUT_REJECTED', reason: message }, 'onnxruntime rejected a request run alone; its batch-mates were answered');
      },
    };
  }

  get ready(): boolean {
    return this.state === 'READY' && (this.pool?.serving ?? false);
  }

  /** Retry-After for a MODEL_NOT_READY answer: until its pool's next try when it is backing off. */
  retryAfter(): Record<string, string> | undefined {
    const at = this.pool?.retryAt ?? 0;
    return at > 0 ? { 'retry-after': String(Math.max(1, Math.ceil((at - performance.now()) / 1000))) } : undefined;
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
