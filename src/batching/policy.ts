// The batching decision, as a pure function of the queue, the idle workers and the time:
// "dispatch these requests now", "wait this long", or nothing to do. No timers, no I/O.

export interface BatchingPolicyConfig {
  /** Rows per execution; 0 means the model does not batch: one request per execution. */
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** Ascending; a batch that reaches one of these sizes goes at once. */
  preferredBatchSizes: readonly number[];
}

/** What the policy needs to know of a queued request. */
export interface PendingRequest {
  rows: number;
  /** Requests share a batch only when their keys (dtypes and non-batch dims) are equal. */
  key: string;
  enqueuedAt: number;
  deadline: number;
}

export interface Decision {
  /** Queue indices whose deadline has passed: answer 504, never compute. */
  expired: number[];
  /** Queue indices to run together now, oldest first (empty when nothing goes now). */
  dispatch: number[];
  /** When nothing is dispatched: how long until the policy should be asked again (Infinity: on the next event). */
  waitMs: number;
}

export function decide(queue: readonly PendingRequest[], idleWorkers: number, now: number, cfg: BatchingPolicyConfig): Decision {
  const expired: number[] = [];
  const live: number[] = [];
  let nextDeadline = Infinity;
  for (let i = 0; i < queue.length; i++) {
    const r = queue[i]!;
    if (r.deadline <= now) expired.push(i);
    else {
      live.push(i);
      if (r.deadline < nextDeadline) nextDeadline = r.deadline;
    }
  }
  const untilDeadline = nextDeadline - now;
  if (live.length === 0 || idleWorkers <= 0) return { expired, dispatch: [], waitMs: untilDeadline };

  const oldest = queue[live[0]!]!;
  if (cfg.maxBatchSize <= 0) return { expired, dispatch: [live[0]!], waitMs: 0 };

  // Greedy prefix of compatible requests, in arrival order, while the rows fit.
  const batch: number[] = [];
  let rows = 0;
  let blocked = false; // a compatible request is waiting that does not fit: the batch cannot grow
  for (const i of live) {
    const r = queue[i]!;
    if (r.key !== oldest.key) continue;
    // (the oldest always goes, even oversize: the route rejects those, and a stuck head would block the queue)
    if (batch.length > 0 && rows + r.rows > cfg.maxBatchSize) {
      blocked = true;
      break;
    }
    batch.push(i);
    rows += r.rows;
  }
  // Full, or unable to grow, or at a preferred size with nothing more to add: go now.
  if (rows >= cfg.maxBatchSize || blocked || cfg.preferredBatchSizes.includes(rows)) return { expired, dispatch: batch, waitMs: 0 };
  const waited = now - oldest.enqueuedAt;
  if (waited >= cfg.maxQueueDelayMs) return { expired, dispatch: batch, waitMs: 0 };
  return { expired, dispatch: [], waitMs: Math.min(cfg.maxQueueDelayMs - waited, untilDeadline) };
}
