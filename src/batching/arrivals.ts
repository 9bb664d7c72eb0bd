// How fast rows arrive, and how much of what a wait was expected to bring it really brought: the
// adaptive policy's two bets. Pure: the scheduler passes its clock's time in.
//
// The rate is a decayed count (rows × e^(−age/τ) summed, over τ), which needs no window of
// timestamps. Arrivals that come only after answers (one client sending in turn) make the rate
// look high while a wait brings nothing; so each wait's outcome is scored against its expectation,
// and the rate the policy sees is scaled by that score, which drifts back towards 1 over time so
// that a changed load is tried again.

const TAU_MS = 100;
/** Weight of one wait's outcome in the score. */
const SCORE_ALPHA = 0.2;
/** How fast a low score recovers towards 1 without waits (ms for half the distance). */
const RECOVERY_HALF_LIFE_MS = 1000;

export class Arrivals {
  private mass = 0;
  private massAt = 0;
  private payoff = 1;
  private payoffAt = 0;
  private waitFromRows = -1;
  private waitExpected = 0;

  /** Rows that joined the queue at `now`. */
  arrive(now: number, rows: number): void {
    this.mass = this.massAt === 0 ? rows : this.mass * Math.exp(-(now - this.massAt) / TAU_MS) + rows;
    this.massAt = now;
  }

  /** Arrival rate, rows per ms, as measured. */
  measuredRowsPerMs(now: number): number {
    if (this.massAt === 0) return 0;
    return (this.mass * Math.exp(-(now - this.massAt) / TAU_MS)) / TAU_MS;
  }

  /** The rate the policy bets on: the measured rate times what waits have really brought. */
  rowsPerMs(now: number): number {
    return this.measuredRowsPerMs(now) * this.score(now);
  }

  /** What waits brought, as a share of what they were expected to (1: all, 0: nothing), recovering towards 1. */
  score(now: number): number {
    const age = Math.max(0, now - this.payoffAt);
    return 1 - (1 - this.payoff) * Math.pow(0.5, age / RECOVERY_HALF_LIFE_MS);
  }

  /** The policy chose to wait with `rows` queued, expecting `expected` more rows. */
  waitBegan(rows: number, expected: number): void {
    if (this.waitFromRows >= 0) return; // a wait that was extended: scored once, from its start
    this.waitFromRows = rows;
    this.waitExpected = expected;
  }

  /** The batch a wait was for went with `rows` queued: score how many rows the wait brought. */
  waitEnded(now: number, rows: number): void {
    if (this.waitFromRows < 0) return;
    const got = Math.max(0, rows - this.waitFromRows);
    const share = Math.min(1, got / Math.max(1, this.waitExpected));
    this.payoff = this.score(now) * (1 - SCORE_ALPHA) + share * SCORE_ALPHA;
    this.payoffAt = now;
    this.waitFromRows = -1;
  }

  get waiting(): boolean {
    return this.waitFromRows >= 0;
  }
}
