// The bench's open-loop scenarios, driven by the same runner as `npm run load` (load/runner):
// latency percentiles against offered rate for servers side by side (each rate offered to every
// server in turn), and the knee of each shipped model served with the default config.
import { parseLoadOptions } from '../load/runner/options.js';
import { prepare, runOnce, runSweep, type Prepared } from '../load/runner/run.js';
import type { SweepReport } from '../load/runner/report.js';
import { batchDelta, modelView } from './measure.js';
import type { ChildServer } from './servers.js';

export interface CurvePoint {
  model: string;
  mode: string;
  /** Offered rate, req/s. */
  rate: number;
  achieved: number;
  sent: number;
  /** (errors + timeouts + dropped) / due requests. */
  errorRate: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** Rows per execution over the step (GET /v1/models stats before and after). */
  meanBatch?: number;
  /** Which pass over the rates this step was (1-based). */
  round: number;
}

export interface KneeEntry {
  model: string;
  p99Ms: number;
  sweep: SweepReport;
}

function options(url: string, model: string, flags: string[]) {
  return parseLoadOptions(['--url', url, '--model', model, '--quiet', ...flags])!;
}

/**
 * Offers each rate to every server in turn (a step of stepS at a constant rate, open loop, latency
 * from each request's due time), `rounds` passes over the rates; `pauseMs` between steps lets a
 * backlog drain. The servers' order shifts by one at each rate and each round, so that no server
 * always goes first (drift, a previous backlog).
 */
export async function latencyCurve(
  model: string,
  servers: { mode: string; server: ChildServer }[],
  rates: number[],
  o: { stepS: number; timeoutS: number; pauseMs: number; rounds: number; beforeStep?: () => Promise<void> },
  log: (line: string) => void,
): Promise<CurvePoint[]> {
  const prepared = new Map<string, Prepared>();
  for (const s of servers) prepared.set(s.mode, await prepare(options(s.server.url, model, [])));
  const out: CurvePoint[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const [k, rate] of rates.entries()) {
      for (let j = 0; j < servers.length; j++) {
        const s = servers[(j + k + round - 1) % servers.length]!;
        await o.beforeStep?.();
        const lo = options(s.server.url, model, ['--rate', String(rate), '--duration', `${o.stepS}s`, '--timeout', `${o.timeoutS}s`]);
        const v0 = await modelView(s.server.url, model).catch(() => undefined);
        const r = await runOnce(lo, prepared.get(s.mode)!);
        const v1 = await modelView(s.server.url, model).catch(() => undefined);
        const batch = batchDelta(v0?.stats ?? null, v1?.stats ?? null);
        const q = r.requests;
        const due = q.sent + q.dropped;
        const l = r.latencyMs;
        const p: CurvePoint = { model, mode: s.mode, rate, round, achieved: r.rate.achieved, sent: q.sent, errorRate: due ? (q.errors + q.timeouts + q.dropped) / due : 0, p50: l.p50, p90: l.p90, p99: l.p99, p999: l.p999, max: l.max, ...(batch ? { meanBatch: batch.mean } : {}) };
        out.push(p);
        log(`  curve     ${model.padEnd(9)} ${s.mode.padEnd(14)} round ${round} ${String(rate).padStart(7)} req/s offered  ${p.achieved.toFixed(1).padStart(8)} answered  p50 ${p.p50.toFixed(1)} ms  p99 ${p.p99.toFixed(1)} ms${batch ? `  batch ${batch.mean.toFixed(1)}` : ''}${p.errorRate > 0 ? `  errors ${(p.errorRate * 100).toFixed(1)} %` : ''}`);
        await new Promise((r) => setTimeout(r, o.pauseMs));
      }
    }
  }
  return out;
}

/** `npm run load -- --sweep` on one served model: the highest rate whose p99 stays under p99Ms with no errors. */
export async function kneeOf(server: ChildServer, model: string, o: { p99Ms: number; stepS: number; startRate: number }, log: (line: string) => void): Promise<KneeEntry> {
  const lo = options(server.url, model, ['--sweep', '--p99', String(o.p99Ms), '--step-duration', `${o.stepS}s`, '--sweep-start', String(o.startRate), '--timeout', '5s']);
  const sweep = await runSweep(lo, await prepare(lo), undefined, (st) =>
    log(`  knee      ${model.padEnd(9)} ${String(st.rate).padStart(7)} req/s  p99 ${st.p99Ms.toFixed(1)} ms  ${st.achieved.toFixed(1)} answered  ${st.held ? 'held' : `broke: ${st.why}`}`),
  );
  log(`  knee      ${model.padEnd(9)} ${sweep.knee === undefined ? 'none held' : `${sweep.knee} req/s`} at p99 ≤ ${o.p99Ms} ms`);
  return { model, p99Ms: o.p99Ms, sweep };
}

/** Two significant digits: offered rates that read as 120 or 1.5k, not 1187.3. */
function roundRate(x: number): number {
  const p = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.round(x / p) * p;
}

/** The curve's offered rates as fractions of the capacity: dense near the knee, where policies differ most. */
export const CURVE_FRACTIONS = [0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 1] as const;

/** Rates for the curve: CURVE_FRACTIONS of one capacity (req/s), so every server sees the same rates. */
export function curveRates(capacity: number | undefined): number[] {
  const out = new Set<number>();
  if (capacity && capacity > 0) for (const f of CURVE_FRACTIONS) out.add(roundRate(capacity * f));
  if (out.size === 0) for (const x of [5, 10, 20, 50, 100, 200, 400]) out.add(x);
  return [...out].filter((x) => x > 0).sort((a, b) => a - b);
}
