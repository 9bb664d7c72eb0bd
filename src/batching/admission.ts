// Admission, pure: how long a new request would wait before its batch starts, from the cost
// model and the work ahead of it (the remaining predicted time of the running batches and the
// rows queued at its level or above, spread over the workers as full batches), and so whether it
// can finish by its deadline and fits the queue's wait limit; and the Retry-After of a refusal,
// from the predicted drain time.

export interface Backlog {
  /** Rows queued that a request of this level waits behind (its own level and more urgent ones). */
  rowsAhead: number;
  /** Rows queued, every level: what a later request would find. */
  rowsQueued: number;
  /** Predicted milliseconds the running batches still take, summed. */
  runningMs: number;
  /** Batches running now (one that runs past its prediction still counts here, not in runningMs). */
  runningBatches: number;
  workers: number;
  /**
   * Milliseconds the main thread has lately taken to read a finished batch (busy with HTTP, it
   * reads late): every answer waits that long after its run, so every finish includes it.
   */
  readLagMs: number;
}

/** Predicted milliseconds per row in full batches (per request for a model that does not batch). */
function perRowMs(cost: (rows: number) => number, maxBatchSize: number): number {
  const b = Math.max(1, maxBatchSize);
  return cost(b) / b;
}

/** Milliseconds until a worker would start the batch holding a request that arrives now. */
export function predictedWaitMs(b: Backlog, maxBatchSize: number, cost: (rows: number) => number): number {
  return (b.runningMs + b.rowsAhead * perRowMs(cost, maxBatchSize)) / Math.max(1, b.workers);
}

/** Milliseconds until the queue and the running batches would be done. */
export function predictedDrainMs(b: Backlog, maxBatchSize: number, cost: (rows: number) => number): number {
  return (b.runningMs + b.rowsQueued * perRowMs(cost, maxBatchSize)) / Math.max(1, b.workers);
}

/** Milliseconds until a request that arrives now would be answered: its wait plus its own batch's run. */
export function predictedFinishMs(b: Backlog, rows: number, maxBatchSize: number, cost: (rows: number) => number): number {
  const runMs = cost(maxBatchSize > 0 ? Math.min(maxBatchSize, Math.max(rows, b.rowsAhead + rows)) : rows);
  return predictedWaitMs(b, maxBatchSize, cost) + runMs + b.readLagMs;
}

/**
 * A refusal says which bound the request broke: its own deadline (`predictedMs`, its predicted
 * finish, against `limitMs`, the time it had left) or the queue's wait limit (`predictedMs`, its
 * predicted wait before its batch starts, against `limitMs`, maxQueueWaitMs or two full runs).
 */
export type Admission = { admit: true } | { admit: false; bound: 'deadline' | 'queue-wait'; predictedMs: number; limitMs: number; retryAfterS: number };

/** The one answer for every admitted request: no object per request. */
const ADMITTED: Admission = Object.freeze({ admit: true });

/**
 * A request of `rows` rows with `budgetMs` until its deadline is admitted when its predicted wait
 * plus its own batch's run fits in the budget, and its predicted wait fits in the queue's wait
 * limit: `maxWaitMs`, but never less than two full batches' runs, so that a slow model still
 * queues a batch behind the running one. An unmeasured cost model admits everything (the count
 * limit still holds), and so does an idle server (nothing ahead, nothing running), whatever its
 * predictions say. Retry-After is the predicted drain time, whole seconds, at least 1.
 */
export function admit(b: Backlog, rows: number, budgetMs: number, maxBatchSize: number, cost: (rows: number) => number, maxWaitMs = Infinity): Admission {
  // nothing queued ahead and nothing running: refusing could only starve the cost model of the
  // runs that would correct it (one spoilt by a cold burst refused everything), so an idle
  // server always takes the request
  if (b.rowsAhead === 0 && b.runningBatches === 0) return ADMITTED;
  const predictedMs = predictedFinishMs(b, rows, maxBatchSize, cost);
  if (!Number.isFinite(predictedMs)) return ADMITTED;
  // the main thread's lag is waiting too: a request it reads late sat unread that long, and its
  // answer is read late again; counted, a server that falls behind sheds load until it catches up
  const waitMs = predictedWaitMs(b, maxBatchSize, cost) + b.readLagMs;
  const waitLimitMs = Math.max(maxWaitMs, 2 * cost(Math.max(1, maxBatchSize)));
  if (predictedMs <= budgetMs && waitMs <= waitLimitMs) return ADMITTED;
  const drainS = predictedDrainMs(b, maxBatchSize, cost) / 1000;
  const retryAfterS = Math.max(1, Math.ceil(drainS));
  return predictedMs > budgetMs
    ? { admit: false, bound: 'deadline', predictedMs, limitMs: budgetMs, retryAfterS }
    : { admit: false, bound: 'queue-wait', predictedMs: waitMs, limitMs: waitLimitMs, retryAfterS };
}
