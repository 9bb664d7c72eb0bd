// Prometheus metrics of one app: its own prom-client Registry (never the global default: tests
// run several servers in one process), the metric families DESIGN.md names, label children
// cached per model version, the scheduler and pool hooks that feed them, scrape-time gauges.
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { RejectReason, SchedulerObserver } from './batching/scheduler.js';
import type { LoadOptions, ModelVersion } from './repository/model-version.js';

export const PREFIX = 'onnx_serve_';
/** Seconds: from half a millisecond (a small model's run) to 10 s (a long queue deadline). */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Rows per execution. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/**
 * model and version label of a request that did not resolve to a loaded model version (unknown
 * model, bad JSON, …): one series for all of them, never one per name a client made up.
 */
export const UNRESOLVED = '';

const REASONS: readonly RejectReason[] = ['queue_full', 'timeout', 'cancelled'];

type MV = 'model' | 'version';
const MV_LABELS: MV[] = ['model', 'version'];

/** The hooks a model version is loaded with (ModelVersion.load's LoadOptions). */
export type Instrumentation = Required<Pick<LoadOptions, 'observer' | 'onWorkerExit'>>;

/** What the scrape-time gauges read: the repository's model versions. */
export type VersionSource = () => Iterable<Pick<ModelVersion, 'name' | 'version' | 'scheduler' | 'loadMs'>>;

class Families {
  constructor(
    readonly requests: Counter<MV | 'code'>,
    readonly requestDuration: Histogram<MV>,
    readonly queueDuration: Histogram<MV>,
    readonly computeDuration: Histogram<MV>,
    readonly batchSize: Histogram<MV>,
    readonly inferences: Counter<MV>,
    readonly executions: Counter<MV>,
    readonly rejected: Counter<MV | 'reason'>,
    readonly workerRestarts: Counter<MV>,
  ) {}
}

/** One model version's label children, made once; it is also that version's SchedulerObserver. */
export class VersionMetrics implements SchedulerObserver {
  private readonly requestsByStatus = new Map<number, Counter.Internal>();
  private readonly requestDuration: Histogram.Internal<MV>;
  private readonly queueDuration: Histogram.Internal<MV>;
  private readonly computeDuration: Histogram.Internal<MV>;
  private readonly batchSize: Histogram.Internal<MV>;
  private readonly inferences: Counter.Internal;
  private readonly executions: Counter.Internal;
  private readonly rejects: Record<RejectReason, Counter.Internal>;
  private readonly restarts: Counter.Internal;
  private zeroed = false;

  constructor(
    private readonly f: Families,
    readonly model: string,
    readonly version: string,
  ) {
    this.requestDuration = f.requestDuration.labels(model, version);
    this.queueDuration = f.queueDuration.labels(model, version);
    this.computeDuration = f.computeDuration.labels(model, version);
    this.batchSize = f.batchSize.labels(model, version);
    this.inferences = f.inferences.labels(model, version);
    this.executions = f.executions.labels(model, version);
    this.restarts = f.workerRestarts.labels(model, version);
    this.rejects = { queue_full: f.rejected.labels(model, version, 'queue_full'), timeout: f.rejected.labels(model, version, 'timeout'), cancelled: f.rejected.labels(model, version, 'cancelled') };
  }

  /** A loaded version's series exist from the start at 0, so rate() sees its first increment. */
  zero(): void {
    if (this.zeroed) return; // histogram.zero() would wipe what a reloaded version already recorded
    this.zeroed = true;
    const labels = { model: this.model, version: this.version };
    for (const h of [this.f.requestDuration, this.f.queueDuration, this.f.computeDuration, this.f.batchSize]) h.zero(labels);
    for (const c of [this.inferences, this.executions, this.restarts]) c.inc(0);
    for (const r of REASONS) this.rejects[r].inc(0);
  }

  /** One finished inference request: its HTTP status and seconds in the server. */
  request(status: number, seconds: number): void {
    let c = this.requestsByStatus.get(status);
    if (!c) {
      c = this.f.requests.labels(this.model, this.version, String(status));
      this.requestsByStatus.set(status, c);
    }
    c.inc();
    this.requestDuration.observe(seconds);
  }

  rejected(reason: RejectReason): void {
    this.rejects[reason].inc();
  }

  queued(ms: number): void {
    this.queueDuration.observe(ms / 1000);
  }

  executed(rows: number, _requests: number, computeMs: number): void {
    this.executions.inc();
    this.inferences.inc(rows);
    this.batchSize.observe(rows);
    this.computeDuration.observe(computeMs / 1000);
  }

  /** The pool's 'worker-exit': a loaded worker died and a replacement is being spawned. */
  readonly workerExited = (info: { code: number; replaced: boolean }): void => {
    if (info.replaced) this.restarts.inc();
  };
}

export class Metrics {
  readonly registry = new Registry();
  private readonly f: Families;
  /** model → version → children; only names of loaded versions and UNRESOLVED ever get here. */
  private readonly byModel = new Map<string, Map<string, VersionMetrics>>();

  constructor(versions: VersionSource) {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> => new Counter({ name: PREFIX + name, help, labelNames, registers });
    const histogram = (name: string, help: string, buckets: number[]): Histogram<MV> => new Histogram({ name: PREFIX + name, help, labelNames: MV_LABELS, buckets, registers });
    this.f = new Families(
      counter('requests_total', 'Inference requests answered, by HTTP status code', [...MV_LABELS, 'code']),
      histogram('request_duration_seconds', 'Whole inference request in the server, from arrival to the last byte of the answer', DURATION_BUCKETS),
      histogram('queue_duration_seconds', 'Per request: time from enqueue to its (first) dispatch to a worker', DURATION_BUCKETS),
      histogram('compute_duration_seconds', 'Per execution: session.run time as measured in the worker thread', DURATION_BUCKETS),
      histogram('batch_size', 'Rows per execution', BATCH_SIZE_BUCKETS),
      counter('inferences_total', 'Rows computed', MV_LABELS),
      counter('executions_total', 'Batches run (session.run calls)', MV_LABELS),
      counter('rejected_total', 'Requests that left without being computed: queue_full, timeout (queue deadline), cancelled (client went away)', [...MV_LABELS, 'reason']),
      counter('worker_restarts_total', 'Worker threads that died and were replaced', MV_LABELS),
    );
    new Gauge({
      name: `${PREFIX}queue_depth`,
      help: 'Requests waiting in the queue (sampled at scrape time)',
      labelNames: MV_LABELS,
      registers,
      collect() {
        this.reset();
        for (const mv of versions()) if (mv.scheduler) this.labels(mv.name, mv.version).set(mv.scheduler.depth);
      },
    });
    new Gauge({
      name: `${PREFIX}model_load_duration_seconds`,
      help: 'Seconds the last successful load of this model version took (workers spawned, sessions created, warm-up run)',
      labelNames: MV_LABELS,
      registers,
      collect() {
        this.reset();
        for (const mv of versions()) if (mv.loadMs > 0) this.labels(mv.name, mv.version).set(mv.loadMs / 1000);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** The children of one model version, made on first use. Pass only a resolved version's names, or UNRESOLVED. */
  forVersion(model: string, version: string): VersionMetrics {
    let versions = this.byModel.get(model);
    if (!versions) this.byModel.set(model, (versions = new Map()));
    let vm = versions.get(version);
    if (!vm) versions.set(version, (vm = new VersionMetrics(this.f, model, version)));
    return vm;
  }

  /** The scheduler observer and worker-exit hook for a model version about to load; its series start at 0. */
  readonly instrument = (model: string, version: string): Instrumentation => {
    const vm = this.forVersion(model, version);
    vm.zero();
    return { observer: vm, onWorkerExit: vm.workerExited };
  };

  /** Prometheus text format of every metric in this registry. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
