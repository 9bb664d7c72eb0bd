// One model version's statistics, counted once from its scheduler's events: Triton's statistics
// extension (GET /v2/…/stats) and /v1/models read the totals here, and every event goes on to the
// next observer (Prometheus), so the same event is never counted in two places.
import type { RejectReason, SchedulerObserver } from './scheduler.js';

export class VersionStats implements Required<SchedulerObserver> {
  /** Executions by batch size (rows), and their compute time (ns). */
  readonly batchSizes = new Map<number, number>();
  readonly batchComputeNs = new Map<number, number>();
  executions = 0;
  /** Rows computed. */
  inferences = 0;
  /** Per request (nanoseconds): answered, failed, time queued, compute time of its execution. */
  successCount = 0;
  successNs = 0;
  failCount = 0;
  failNs = 0;
  queueNs = 0;
  computeNs = 0;
  /** Date.now() of the last execution, 0 before the first. */
  lastInferenceMs = 0;
  /** Extra runs spent splitting failed batches to find the request that breaks them. */
  bisectionRuns = 0;
  /**
   * Per request, as computeNs (each request counts its execution's time): the input phase
   * (packing into the batch) and the output phase (copying out of the worker, cutting per
   * request), and by batch size, per execution.
   */
  phaseCount = 0;
  inputNs = 0;
  outputNs = 0;
  readonly batchPhaseNs = new Map<number, { count: number; inputNs: number; outputNs: number }>();
  /** The workers' busy time (ns): against wall time × instances, how much of them the model used. */
  workerBusyNs = 0;

  constructor(private readonly next: SchedulerObserver = {}) {}

  rejected(reason: RejectReason): void {
    this.next.rejected?.(reason);
  }

  queued(ms: number): void {
    this.next.queued?.(ms);
  }

  executed(rows: number, requests: number, computeMs: number, busyMs: number): void {
    this.workerBusyNs += busyMs * 1e6;
    this.executions++;
    this.inferences += rows;
    this.batchSizes.set(rows, (this.batchSizes.get(rows) ?? 0) + 1);
    this.batchComputeNs.set(rows, (this.batchComputeNs.get(rows) ?? 0) + computeMs * 1e6);
    this.lastInferenceMs = Date.now();
    this.next.executed?.(rows, requests, computeMs, busyMs);
  }

  answered(totalMs: number, queueMs: number, computeMs: number): void {
    this.successCount++;
    this.successNs += totalMs * 1e6;
    this.queueNs += queueMs * 1e6;
    this.computeNs += computeMs * 1e6;
    this.next.answered?.(totalMs, queueMs, computeMs);
  }

  failed(totalMs: number): void {
    this.failCount++;
    this.failNs += totalMs * 1e6;
    this.next.failed?.(totalMs);
  }

  split(runs: number): void {
    this.bisectionRuns += runs;
    this.next.split?.(runs);
  }

  batchingOff(reason: string): void {
    this.next.batchingOff?.(reason);
  }

  inputRejected(message: string): void {
    this.next.inputRejected?.(message);
  }

  costed(rows: number, predictedMs: number, measuredMs: number): void {
    this.next.costed?.(rows, predictedMs, measuredMs);
  }

  phases(rows: number, requests: number, inputMs: number, outputMs: number): void {
    this.phaseCount += requests;
    this.inputNs += inputMs * 1e6 * requests;
    this.outputNs += outputMs * 1e6 * requests;
    let b = this.batchPhaseNs.get(rows);
    if (!b) this.batchPhaseNs.set(rows, (b = { count: 0, inputNs: 0, outputNs: 0 }));
    b.count++;
    b.inputNs += inputMs * 1e6;
    b.outputNs += outputMs * 1e6;
    this.next.phases?.(rows, requests, inputMs, outputMs);
  }
}
