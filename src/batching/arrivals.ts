// How fast rows arrive, and how much of what a wait was expected to bring it really brought: the
// adaptive policy's two bets. Pure: the scheduler passes its clock's time in.
//
// The rate is a decayed count (rows × e^(−age/τ) summed, over τ), which needs no window of
// timestamps, and says nothing until τ has passed since the first arrival (one arrival is no
// rate). Arrivals that come only after answers (one client sending in turn) make the rate look
// high while a wait brings nothing; so each wait is scored by the rows it brought against the
// rows the rate promised for as long as it lasted (a wait the policy ends early is not a miss),
// and the rate the policy sees is scaled by that score, which drifts back towards 1 over time so
// that a changed load is tried again.

const TAU_MS = 100;
/** Weight of one wait's outcome in the score. */
const SCORE_ALPHA = 0.2;
/** How fast a low score recovers towards 1 without waits (ms for half the distance). */
const RECOVERY_HALF_LIFE_MS = 1000;

/** A wait's outcome is scored only once it lasted long enough to expect this many rows. */
const MIN_EXPECTED_ROWS = 0.5;

export class Arrivals {
  private mass = 0;
  private massAt = 0;
  private firstAt = NaN;
  private payoff = 1;
  private payoffAt = 0;
  private waitFromRows = -1;
  private waitAt = 0;
  private waitRate = 0;

  /** Rows that joined the queue at `now`. */
  arrive(now: number, rows: number): void {
    if (Number.isNaN(this.firstAt)) {
      this.firstAt = now;
      this.mass = rows;
    } else this.mass = this.mass * Math.exp(-(now - this.massAt) / TAU_MS) + rows;
    this.massAt = now;
  }

  /** Arrival rate, rows per ms, as measured; 0 until τ has passed since the first arrival. */
  measuredRowsPerMs(now: number): number {
    if (!(now - this.firstAt >= TAU_MS)) return 0;
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

  /** The policy chose, at `now`, to wait with `rows` queued, betting on `rowsPerMs` more rows per ms. */
  waitBegan(now: number, rows: number, rowsPerMs: number): void {
    if (this.waitFromRows >= 0) return; // a wait that was extended: scored once, from its start
    this.waitFromRows = rows;
    this.waitAt = now;
    this.waitRate = rowsPerMs;
  }

  /** The batch a wait was for went at `now` with `rows` queued: score the rows it brought against those promised for its length. */
  waitEnded(now: number, rows: number): void {
    if (this.waitFromRows < 0) return;
    const expected = this.waitRate * Math.max(0, now - this.waitAt);
    if (expected >= MIN_EXPECTED_ROWS) {
      const share = Math.min(1, Math.max(0, rows - this.waitFromRows) / expected);
      this.payoff = this.score(now) * (1 - SCORE_ALPHA) + share * SCORE_ALPHA;
      this.payoffAt = now;
    }
    this.waitFromRows = -1;
  }

  get waiting(): boolean {
    return this.waitFromRows >= 0;
  }
}
