// The open loop's timetable: a scenario's piecewise-linear rate (k6 ramping-arrival-rate stages)
// turned into the time each request is due. Request i is due when the rate's integral reaches i,
// so a schedule depends only on the clock, never on answers (no coordinated omission). Pure.
import { parseDuration, type Scenario } from '../lib/scenarios.js';

interface Segment {
  /** Start and end in ms from the run's start. */
  t0: number;
  t1: number;
  /** Rate in requests per ms at t0 and t1. */
  r0: number;
  r1: number;
  /** Requests due before t0 (the integral up to t0). */
  n0: number;
}

export class RateProfile {
  private readonly segments: Segment[] = [];
  /** Length of the whole scenario in ms. */
  readonly durationMs: number;
  /** The integral of the rate over the scenario: how many requests it asks for. */
  readonly expected: number;

  constructor(scenario: Scenario) {
    let t = 0;
    let n = 0;
    let rate = scenario.startRate / 1000;
    for (const stage of scenario.stages) {
      const len = parseDuration(stage.duration);
      const next = stage.target / 1000;
      this.segments.push({ t0: t, t1: t + len, r0: rate, r1: next, n0: n });
      n += ((rate + next) / 2) * len;
      t += len;
      rate = next;
    }
    this.durationMs = t;
    this.expected = n;
  }

  /** Requests due by `ms` (the rate's integral from 0), capped at the scenario's end. */
  dueBy(ms: number): number {
    if (ms <= 0) return 0;
    for (const s of this.segments) {
      if (ms > s.t1) continue;
      const x = ms - s.t0;
      return s.n0 + s.r0 * x + ((s.r1 - s.r0) / (2 * (s.t1 - s.t0))) * x * x;
    }
    return this.expected;
  }

  /**
   * When request i (0-based) is due, in ms from the start; undefined when the scenario asks for
   * fewer than i + 1 requests. Request 0 is due at once.
   */
  timeOf(i: number): number | undefined {
    if (i === 0) return this.expected > 0 ? 0 : undefined;
    if (i > this.expected - 1e-6) return undefined; // the request due exactly at the end belongs to the next run
    for (const s of this.segments) {
      const inSegment = s.n0 + ((s.r0 + s.r1) / 2) * (s.t1 - s.t0);
      if (i > inSegment) continue;
      const m = i - s.n0;
      const a = (s.r1 - s.r0) / (2 * (s.t1 - s.t0));
      const b = s.r0;
      // n0 + b·x + a·x² = i; the smaller non-negative root (a < 0 when the rate falls)
      const x = Math.abs(a) < 1e-15 ? (b > 0 ? m / b : 0) : (-b + Math.sqrt(Math.max(0, b * b + 4 * a * m))) / (2 * a);
      return s.t0 + Math.min(s.t1 - s.t0, Math.max(0, x));
    }
    return undefined;
  }

  /** The offered rate (req/s) at `ms`. */
  rateAt(ms: number): number {
    for (const s of this.segments) {
      if (ms >= s.t0 && ms <= s.t1) return 1000 * (s.r0 + ((s.r1 - s.r0) * (ms - s.t0)) / (s.t1 - s.t0 || 1));
    }
    return 0;
  }
}
