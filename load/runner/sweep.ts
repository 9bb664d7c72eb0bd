// The knee search behind `--sweep`: which rate to offer next, and whether a step held. Rates grow
// by a factor while every step holds (p99 within the target, no more errors than allowed, nothing
// dropped, answers keeping up with the offer); after the first step that breaks, a few bisection
// steps between the last rate that held and the first that broke. The knee is the highest rate
// that held. Pure: the runner feeds it the steps it ran.
import type { StepOutcome, SweepOptions, SweepStep } from './types.js';

/** A step whose answers come back slower than this share of the offered rate has fallen behind. */
const KEEP_UP = 0.9;

export function judgeStep(s: StepOutcome, limits: { p99Ms: number; maxErrorRate: number }): SweepStep {
  let why: string | undefined;
  if (s.errorRate > limits.maxErrorRate) why = `errors ${(s.errorRate * 100).toFixed(2)} % > ${(limits.maxErrorRate * 100).toFixed(2)} %`;
  else if (s.dropped > 0) why = `${s.dropped} requests dropped (in-flight limit reached)`;
  else if (!(s.p99Ms <= limits.p99Ms)) why = `p99 ${Number.isFinite(s.p99Ms) ? s.p99Ms.toFixed(1) : 'n/a'} ms > ${limits.p99Ms} ms`;
  else if (s.achieved < KEEP_UP * s.rate) why = `answered only ${s.achieved.toFixed(1)} req/s of ${s.rate} offered`;
  return { ...s, held: why === undefined, ...(why ? { why } : {}) };
}

/** Rates below this are not worth a step. */
const MIN_RATE = 0.5;

function tidy(rate: number): number {
  // 3 significant digits: rates in a report read as 150, 1.13k, not 1131.371
  const p = 10 ** (Math.floor(Math.log10(rate)) - 2);
  return Math.round(rate / p) * p;
}

/** The next rate to offer, or undefined when the search is over. */
export function nextRate(steps: readonly SweepStep[], o: SweepOptions): number | undefined {
  if (steps.length === 0) return tidy(Math.min(o.startRate, o.maxRate));
  const firstBreak = steps.findIndex((s) => !s.held);
  if (firstBreak === -1) {
    const last = steps.at(-1)!.rate;
    if (last >= o.maxRate) return undefined;
    return tidy(Math.min(o.maxRate, last * o.factor));
  }
  const refinesDone = steps.length - 1 - firstBreak;
  if (refinesDone >= o.refine) return undefined;
  const lo = knee(steps) ?? 0;
  const hi = Math.min(...steps.filter((s) => !s.held).map((s) => s.rate));
  const next = lo === 0 ? hi / o.factor : (lo + hi) / 2;
  if (next < MIN_RATE || (lo > 0 && hi / lo < 1.05)) return undefined;
  const r = tidy(next);
  return steps.some((s) => s.rate === r) ? undefined : r;
}

/** The highest rate that held, if any did. */
export function knee(steps: readonly SweepStep[]): number | undefined {
  const held = steps.filter((s) => s.held).map((s) => s.rate);
  return held.length ? Math.max(...held) : undefined;
}
