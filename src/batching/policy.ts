// The batching decision, as a pure function of the queue, the idle workers, the time and two
// estimates (the cost model's run time for a batch, the rate rows arrive at): "expire the
// requests whose deadline passed", "dispatch this key's batch now", "wait this long", or nothing.
// No timers, no I/O. Static mode is the fixed rule (the oldest waits up to maxQueueDelayMs for
// company); adaptive mode waits only while the rows a wait is expected to bring make the worker's
// time (the wait included) yield more rows per millisecond than dispatching now, and only briefly:
// a share of the run it would delay, never less than a timer can honour.

export interface BatchingPolicyConfig {
  /** Rows per execution; 0 means the model does not batch: one request per execution. */
  maxBatchSize: number;
  /** Static: the oldest waits up to maxQueueDelayMs. Adaptive: it waits only when waiting pays. */
  policy: 'adaptive' | 'static';
  /** Static mode's delay (adaptive mode bounds its waits by the cost model instead). */
  maxQueueDelayMs: number;
  /** Ascending; once the queued rows reach one of these sizes, the largest reached goes at once. */
  preferredBatchSizes: readonly number[];
}

/** What the policy needs to know of a queued request. */
export interface PendingRequest {
  rows: number;
  key: string;
  /** Priority level, 0 the most urgent. */
  level: number;
  enqueuedAt: number;
  /** The time by which it must leave the queue. */
  deadline: number;
}

/** The queue as the policy reads it (src/batching/queue.ts keeps these current). */
export interface QueueView {
  readonly length: number;
  earliestDeadline(): number;
  /** The request with the earliest deadline. */
  earliest(): PendingRequest | undefined;
  /** The request to serve next by priority, then arrival. */
  head(): PendingRequest | undefined;
  keyRows(key: string): number;
  oldestOf(key: string): number;
}

export interface Estimates {
  /** Predicted milliseconds a worker takes for a batch of `rows` rows; NaN while nothing was measured. */
  cost(rows: number): number;
  /** Rows expected per millisecond from now on. */
  rowsPerMs: number;
  /** Workers alive: how many batches can run at once. */
  workers: number;
}

export interface Dispatch {
  key: string;
  /** Rows the batch may hold (the first request always goes, even beyond it). */
  maxRows: number;
  /** A request that must be in this batch (its deadline is close), taken before the rest. */
  first?: PendingRequest;
}

export interface Decision {
  /** The earliest deadline has passed: take those requests out (504, never computed), then ask again. */
  expire: boolean;
  dispatch?: Dispatch;
  /** When nothing is dispatched: how long until the policy should be asked again (Infinity: on the next event). */
  waitMs: number;
  /** An adaptive wait: the rows it expects to bring (0 for any other decision). */
  expectRows: number;
}

/** How much more rows per worker-millisecond a wait must promise before the policy takes it. */
const WAIT_GAIN = 1.05;
/**
 * The longest adaptive wait, as a share of the predicted run of what is queued. Measured on the
 * heavy MLP's open-loop curve (3 passes): a 2 ms wait (0.37 of its 5.4 ms single-row run) had the
 * lower p99 at 5 of 7 rates from 10 % to 90 % of capacity, against none; waits up to a full
 * batch's run (17 ms) had raised p99 by a third to a half near the knee.
 */
const WAIT_SHARE = 0.4;
/** Waits shorter than this cannot be kept: a timer fires after a whole millisecond at the earliest. */
const MIN_WAIT_MS = 1;

/**
 * `queueable`: busy workers that can hold one more batch behind their run. One of them is sent a
 * batch only when it is full (or cannot batch, or holds a request near its deadline): a batch
 * sent early would leave behind the rows that arrive while the run ends.
 */
export function decide(q: QueueView, idleWorkers: number, now: number, cfg: BatchingPolicyConfig, est: Estimates, queueable = 0): Decision {
  const nextDeadline = q.earliestDeadline();
  if (nextDeadline <= now) return EXPIRE;
  if (q.length === 0 || (idleWorkers <= 0 && queueable <= 0)) return wait(nextDeadline - now);

  let head = q.head()!;
  let first: PendingRequest | undefined;
  const urgent = q.earliest()!;
  // a request of a lower level goes ahead of the levels above once waiting longer would make it
  // miss its deadline: priorities order the queue, they never starve a level past its deadline
  if (urgent !== head && urgent.deadline - now <= urgencyMs(cfg, est)) {
    head = urgent;
    first = urgent;
  }
  const key = head.key;
  if (cfg.maxBatchSize <= 0) return go(key, 0, first);

  const max = cfg.maxBatchSize;
  const rows = q.keyRows(key);
  if (rows >= max) return go(key, max, first);
  if (idleWorkers <= 0) return first ? go(key, max, first) : wait(nextDeadline - now);
  // Triton's rule: the largest preferred size the queued rows reach is cut and sent at once
  const preferred = largestPreferred(cfg.preferredBatchSizes, rows, max);
  if (preferred > 0) return go(key, preferred, first);
  if (first) return go(key, max, first);

  const waited = now - q.oldestOf(key);
  if (cfg.policy === 'static') {
    if (waited >= cfg.maxQueueDelayMs) return go(key, max);
    return wait(Math.min(cfg.maxQueueDelayMs - waited, nextDeadline - now));
  }
  const bet = adaptiveWait(rows, max, waited, nextDeadline - now, est);
  return bet ? { expire: false, waitMs: bet.waitMs, expectRows: bet.rows } : go(key, max);
}

/** Read-only: the scheduler never changes a decision. */
const EXPIRE: Decision = Object.freeze({ expire: true, waitMs: 0, expectRows: 0 });

function go(key: string, maxRows: number, first?: PendingRequest): Decision {
  return { expire: false, dispatch: first ? { key, maxRows, first } : { key, maxRows }, waitMs: 0, expectRows: 0 };
}

function wait(ms: number): Decision {
  return { expire: false, waitMs: ms, expectRows: 0 };
}

function largestPreferred(sizes: readonly number[], rows: number, max: number): number {
  let best = 0;
  for (const p of sizes) if (p <= rows && p <= max && p > best) best = p;
  return best;
}

/** How close to its deadline a request jumps the levels above it: two full runs' time, at least 1 ms. */
function urgencyMs(cfg: BatchingPolicyConfig, est: Estimates): number {
  const full = est.cost(Math.max(1, cfg.maxBatchSize));
  return Number.isFinite(full) ? Math.max(1, 2 * full) : 1;
}

/**
 * The wait that most raises rows per worker-millisecond, counting the wait as the worker's time:
 * (rows + k) / (w + cost(rows + k)) with w = k / rate, against rows / cost(rows) now. Bounded by
 * WAIT_SHARE of the queued rows' predicted run less what the oldest has waited (so a wait costs
 * a bounded share of the latency it buys throughput with), and by the earliest deadline (the run
 * must still end before it). A model whose runs are shorter than a timer's tick never waits: its
 * batches grow from the rows that arrive while a worker runs. Undefined: dispatch now.
 */
function adaptiveWait(rows: number, max: number, waited: number, untilDeadline: number, est: Estimates): { waitMs: number; rows: number } | undefined {
  const rate = est.rowsPerMs;
  const costNow = est.cost(rows);
  if (!(rate > 0) || !(costNow > 0)) return undefined;
  const cap = WAIT_SHARE * costNow - waited;
  if (!(cap >= MIN_WAIT_MS)) return undefined;
  let bestGain = (rows / costNow) * WAIT_GAIN;
  let best: { waitMs: number; rows: number } | undefined;
  // k more rows: 1, 2, 4, … and the rows that fill the batch
  for (let k = 1; k <= max - rows; k = k === max - rows ? Infinity : Math.min(2 * k, max - rows)) {
    const w = k / rate;
    if (w > cap) break;
    const runMs = est.cost(rows + k);
    if (w + runMs > untilDeadline) break;
    const gain = (rows + k) / (w + runMs);
    if (gain > bestGain) {
      bestGain = gain;
      best = { waitMs: w, rows: k };
    }
  }
  return best;
}
