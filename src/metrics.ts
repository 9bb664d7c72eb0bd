// Prometheus metrics of one app: its own prom-client Registry (never the global default: tests
// run several servers in one process), the metric families the README documents, label children
// cached per model version and variant, the scheduler and pool hooks that feed them, scrape-time gauges.
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { RejectReason, SchedulerObserver } from './batching/scheduler.js';
import type { LoadOptions, ModelVersion } from './repository/model-version.js';

export const PREFIX = 'onnx_serve_';
/** Seconds: from half a millisecond (a small model's run) to 10 s (a long queue deadline). */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Relative error of a predicted run time: 5 % to 4×. */
export const COST_ERROR_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4];
/** Rows per execution. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/**
 * model and version label of a request that did not resolve to a loaded model version (unknown
 * model, bad JSON, …): one series for all of them, never one per name a client made up.
 * Also the variant label of the base model (variant values are only names config.json lists).
 */
export const UNRESOLVED = '';
export const BASE_VARIANT = '';

/** The transport a request came over: requests_total's `protocol` label. */
export type Protocol = 'http' | 'grpc';

const REASONS: readonly RejectReason[] = ['queue_full', 'timeout', 'cancelled', 'input_rejected'];

type MV = 'model' | 'version' | 'variant';
const MV_LABELS: MV[] = ['model', 'version', 'variant'];

/** The hooks a model version is loaded with (ModelVersion.load's LoadOptions). */
export type Instrumentation = Required<Pick<LoadOptions, 'observer' | 'onWorkerExit'>>;

/** What the scrape-time gauges read: every model version and variant (repository.allWithVariants). */
export type VersionSource = () => Iterable<Pick<ModelVersion, 'name' | 'version' | 'variant' | 'scheduler' | 'loadMs'>>;

class Families {
  constructor(
    readonly requests: Counter<MV | 'protocol' | 'code'>,
    readonly requestDuration: Histogram<MV>,
    readonly queueDuration: Histogram<MV>,
    readonly computeDuration: Histogram<MV>,
    readonly batchSize: Histogram<MV>,
    readonly inferences: Counter<MV>,
    readonly executions: Counter<MV>,
    readonly rejected: Counter<MV | 'reason'>,
    readonly workerRestarts: Counter<MV>,
    readonly costPredicted: Counter<MV>,
    readonly costMeasured: Counter<MV>,
    readonly costError: Histogram<MV>,
    readonly workerBusy: Counter<MV>,
  ) {}
}

/** One model version's (or variant's) label children, made once; it is also its SchedulerObserver. */
export class VersionMetrics implements SchedulerObserver {
  /** By protocol and status: `${protocol} ${status}`. */
  private readonly requestsByStatus = new Map<string, Counter.Internal>();
  private readonly requestDuration: Histogram.Internal<MV>;
  private readonly queueDuration: Histogram.Internal<MV>;
  private readonly computeDuration: Histogram.Internal<MV>;
  private readonly batchSize: Histogram.Internal<MV>;
  private readonly inferences: Counter.Internal;
  private readonly executions: Counter.Internal;
  private readonly rejects: Record<RejectReason, Counter.Internal>;
  private readonly restarts: Counter.Internal;
  private readonly costPredicted: Counter.Internal;
  private readonly costMeasured: Counter.Internal;
  private readonly costError: Histogram.Internal<MV>;
  private readonly workerBusy: Counter.Internal;
  private zeroed = false;
  /** Set once its version stopped serving and its series were removed: late writes change nothing. */
  private removed = false;

  constructor(
    private readonly f: Families,
    readonly model: string,
    readonly version: string,
    readonly variant: string,
  ) {
    const mv = [model, version, variant] as const;
    this.requestDuration = f.requestDuration.labels(...mv);
    this.queueDuration = f.queueDuration.labels(...mv);
    this.computeDuration = f.computeDuration.labels(...mv);
    this.batchSize = f.batchSize.labels(...mv);
    this.inferences = f.inferences.labels(...mv);
    this.executions = f.executions.labels(...mv);
    this.restarts = f.workerRestarts.labels(...mv);
    this.costPredicted = f.costPredicted.labels(...mv);
    this.costMeasured = f.costMeasured.labels(...mv);
    this.costError = f.costError.labels(...mv);
    this.workerBusy = f.workerBusy.labels(...mv);
    this.rejects = { queue_full: f.rejected.labels(...mv, 'queue_full'), timeout: f.rejected.labels(...mv, 'timeout'), cancelled: f.rejected.labels(...mv, 'cancelled'), input_rejected: f.rejected.labels(...mv, 'input_rejected') };
  }

  /** A loaded version's series exist from the start at 0, so rate() sees its first increment. */
  zero(): void {
    if (this.zeroed) return; // histogram.zero() would wipe what a reloaded version already recorded
    this.zeroed = true;
    const labels = { model: this.model, version: this.version, variant: this.variant };
    for (const h of [this.f.requestDuration, this.f.queueDuration, this.f.computeDuration, this.f.batchSize, this.f.costError]) h.zero(labels);
    for (const c of [this.inferences, this.executions, this.restarts, this.costPredicted, this.costMeasured]) c.inc(0);
    for (const r of REASONS) this.rejects[r].inc(0);
  }

  /** Removes every series of this version (it no longer serves); later writes are dropped, so none comes back. */
  remove(): void {
    this.removed = true;
    const mv = [this.model, this.version, this.variant] as const;
    for (const f of [this.f.requestDuration, this.f.queueDuration, this.f.computeDuration, this.f.batchSize, this.f.costError]) f.remove(...mv);
    for (const f of [this.f.inferences, this.f.executions, this.f.workerRestarts, this.f.costPredicted, this.f.costMeasured, this.f.workerBusy]) f.remove(...mv);
    for (const r of REASONS) this.f.rejected.remove(...mv, r);
    for (const key of this.requestsByStatus.keys()) {
      const [protocol, status] = key.split(' ') as [string, string];
      this.f.requests.remove(...mv, protocol, status);
    }
  }

  /**
   * One finished inference request: its HTTP status (for gRPC, the catalogue's status of its
   * error, 200 when answered), the protocol it came over and its seconds in the server.
   */
  request(status: number, seconds: number, protocol: Protocol = 'http'): void {
    if (this.removed) return;
    const key = `${protocol} ${status}`;
    let c = this.requestsByStatus.get(key);
    if (!c) {
      c = this.f.requests.labels(this.model, this.version, this.variant, protocol, String(status));
      this.requestsByStatus.set(key, c);
    }
    c.inc();
    this.requestDuration.observe(seconds);
  }

  rejected(reason: RejectReason): void {
    if (this.removed) return;
    this.rejects[reason].inc();
  }

  queued(ms: number): void {
    if (this.removed) return;
    this.queueDuration.observe(ms / 1000);
  }

  executed(rows: number, _requests: number, computeMs: number, busyMs: number): void {
    if (this.removed) return;
    this.executions.inc();
    this.workerBusy.inc(busyMs / 1000);
    this.inferences.inc(rows);
    this.batchSize.observe(rows);
    this.computeDuration.observe(computeMs / 1000);
  }

  costed(_rows: number, predictedMs: number, measuredMs: number): void {
    if (this.removed) return;
    this.costPredicted.inc(predictedMs / 1000);
    this.costMeasured.inc(measuredMs / 1000);
    this.costError.observe(Math.abs(predictedMs - measuredMs) / Math.max(measuredMs, 0.001));
  }

  /** The pool's 'worker-exit': a loaded worker died and a replacement is being spawned. */
  readonly workerExited = (info: { code: number; replaced: boolean }): void => {
    if (info.replaced && !this.removed) this.restarts.inc();
  };
}

export class Metrics {
  readonly registry = new Registry();
  private readonly f: Families;
  /** (model, version, variant) → children; only names of loaded versions, configured variants and UNRESOLVED ever get here. */
  private readonly children = new Map<string, VersionMetrics>();
  /** Versions that stopped serving: their (series-less) children answer late writes until the version loads again. */
  private readonly retired = new Map<string, VersionMetrics>();

  constructor(versions: VersionSource) {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> => new Counter({ name: PREFIX + name, help, labelNames, registers });
    const histogram = (name: string, help: string, buckets: number[]): Histogram<MV> => new Histogram({ name: PREFIX + name, help, labelNames: MV_LABELS, buckets, registers });
    this.f = new Families(
      counter('requests_total', 'Inference requests answered, by protocol (http, grpc) and HTTP status code (for gRPC: the status of the same answer over HTTP)', [...MV_LABELS, 'protocol', 'code']),
      histogram('request_duration_seconds', 'Whole inference request in the server, from arrival to the last byte of the answer', DURATION_BUCKETS),
      histogram('queue_duration_seconds', 'Per request: time from enqueue to its (first) dispatch to a worker', DURATION_BUCKETS),
      histogram('compute_duration_seconds', 'Per execution: session.run time as measured in the worker thread', DURATION_BUCKETS),
      histogram('batch_size', 'Rows per execution', BATCH_SIZE_BUCKETS),
      counter('inferences_total', 'Rows computed', MV_LABELS),
      counter('executions_total', 'Batches run (session.run calls)', MV_LABELS),
      counter('rejected_total', 'Requests that left without an answer: queue_full, timeout (queue deadline), cancelled (client went away), input_rejected (onnxruntime refused the request run alone)', [...MV_LABELS, 'reason']),
      counter('worker_restarts_total', 'Worker threads that died and were replaced', MV_LABELS),
      counter('cost_predicted_seconds_total', "Per execution: the cost model's predicted run time (dispatch to result), summed", MV_LABELS),
      counter('cost_measured_seconds_total', 'Per execution that had a prediction: the measured run time (dispatch to result), summed', MV_LABELS),
      new Histogram({ name: `${PREFIX}cost_error_ratio`, help: "Per execution: the cost model's error, |predicted - measured| / measured", labelNames: MV_LABELS, buckets: COST_ERROR_BUCKETS, registers }),
      counter('worker_busy_seconds_total', "Workers' busy time on this model's batches (session.run and the packing around it), by the worker's clock: its rate over the instances is how busy they are", MV_LABELS),
    );
    new Gauge({
      name: `${PREFIX}queue_depth`,
      help: 'Requests waiting in the queue (sampled at scrape time)',
      labelNames: MV_LABELS,
      registers,
      collect() {
        this.reset();
        for (const mv of versions()) if (mv.scheduler) this.labels(mv.name, mv.version, mv.variant ?? BASE_VARIANT).set(mv.scheduler.depth);
      },
    });
    new Gauge({
      name: `${PREFIX}predicted_drain_seconds`,
      help: 'Seconds the cost model predicts the queue and the running batches take (sampled at scrape time; absent before a measurement)',
      labelNames: MV_LABELS,
      registers,
      collect() {
        this.reset();
        for (const mv of versions()) {
          const ms = mv.scheduler?.predictedDrainMs();
          if (ms !== undefined && Number.isFinite(ms)) this.labels(mv.name, mv.version, mv.variant ?? BASE_VARIANT).set(ms / 1000);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}model_load_duration_seconds`,
      help: 'Seconds the last successful load of this model version took (workers spawned, sessions created, warm-up run)',
      labelNames: MV_LABELS,
      registers,
      collect() {
        this.reset();
        for (const mv of versions()) if (mv.loadMs > 0) this.labels(mv.name, mv.version, mv.variant ?? BASE_VARIANT).set(mv.loadMs / 1000);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** The children of one model version or variant, made on first use. Pass only a resolved version's names, or UNRESOLVED. */
  forVersion(model: string, version: string, variant: string = BASE_VARIANT): VersionMetrics {
    const key = `${model}\0${version}\0${variant}`;
    let vm = this.children.get(key) ?? this.retired.get(key);
    if (!vm) this.children.set(key, (vm = new VersionMetrics(this.f, model, version, variant)));
    return vm;
  }

  /** The scheduler observer and worker-exit hook for a model version (or variant) about to load; its series start at 0. */
  readonly instrument = (model: string, version: string, variant: string = BASE_VARIANT): Instrumentation => {
    this.retired.delete(`${model}\0${version}\0${variant}`); // loads again: new series from 0
    const vm = this.forVersion(model, version, variant);
    vm.zero();
    return { observer: vm, onWorkerExit: vm.workerExited };
  };

  /** A version (or variant) that no longer serves (unloaded, or gone in a reload): its series go from every family. */
  readonly retire = (model: string, version: string, variant: string = BASE_VARIANT): void => {
    const key = `${model}\0${version}\0${variant}`;
    const vm = this.children.get(key);
    if (!vm) return;
    this.children.delete(key);
    this.retired.set(key, vm);
    vm.remove();
  };

  /** Prometheus text format of every metric in this registry. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
