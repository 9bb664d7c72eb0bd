// The shape of one benchmark run's results, and the targets computed from them (pass/fail,
// never an assertion that stops the run).
import type { Measurement } from './measure.js';
import type { CeilingResult } from './ceiling.js';

export interface CeilingEntry {
  model: string;
  result: CeilingResult;
}

export interface Results {
  command: string;
  startedAt: Date;
  finishedAt?: Date;
  settings: {
    durationS: number;
    warmupS: number;
    concurrency: number[];
    only: string[];
    maxRequests: number;
    ceilingS: number;
    quietWaitS: number;
    heavySizes: number[];
  };
  machine: Record<string, string>;
  /** Cores available to the run (os.availableParallelism()). */
  cores: number;
  measurements: Measurement[];
  ceilings: CeilingEntry[];
  split: { batch: number; inproc: CeilingResult[]; server: Measurement[] };
  /** Section v2: the same inputs through /v1/predict JSON, /v2 infer JSON and /v2 infer binary, one server. */
  v2: Measurement[];
  /** Bytes of one request body per protocol, per model in the v2 section. */
  v2BodySizes: Record<string, { v1: number; v2json: number; v2binary: number }>;
  /** Sections that failed, with the reason; the rest of the report still stands. */
  failures: string[];
}

/** Other processes using this many cores or more during a row make it suspect (flagged in the report). */
export const BUSY_CORES = 0.15;

export const MODE_ON = 'batching on';
export const MODE_OFF = 'batching off';
export const MODE_BARE = 'bare fastify';
export const MODE_V1 = 'v1 predict JSON';
export const MODE_V2_JSON = 'v2 infer JSON';
export const MODE_V2_BIN = 'v2 infer binary';

export function findV2(r: Results, model: string, mode: string, c: number): Measurement | undefined {
  return r.v2.find((m) => m.model === model && m.mode === mode && m.load.concurrency === c);
}

function ratioTarget(name: string, goal: string, threshold: number, a: Measurement | undefined, b: Measurement | undefined): Target {
  return {
    name,
    goal,
    threshold,
    ratio: a && b ? a.load.reqPerS / b.load.reqPerS : undefined,
    detail: a && b ? `${a.load.reqPerS.toFixed(1)} vs ${b.load.reqPerS.toFixed(1)} req/s` : 'not measured',
  };
}

export function find(r: Results, model: string, mode: string, c: number): Measurement | undefined {
  return r.measurements.find((m) => m.model === model && m.mode === mode && m.load.concurrency === c);
}

export function ceilingFor(r: Results, m: Measurement): CeilingEntry | undefined {
  if (!m.batch || !m.info) return undefined;
  return r.ceilings.find(
    (e) => e.model === m.model && e.result.batch === m.batch!.dominant && e.result.instances === m.info!.instances && e.result.intraOpThreads === m.info!.intraOpThreads,
  );
}

/** The concurrency the targets are judged at: 64 when measured, else the highest measured. */
export function topConcurrency(r: Results): number {
  const cs = r.settings.concurrency;
  return cs.includes(64) ? 64 : Math.max(...cs);
}

export interface Target {
  name: string;
  goal: string;
  /** Measured ratio; undefined when a side was not measured. */
  ratio: number | undefined;
  threshold: number;
  detail: string;
}

export function targets(r: Results): Target[] {
  const c = topConcurrency(r);
  const out: Target[] = [];
  const heavyOn = find(r, 'heavy-mlp', MODE_ON, c);
  const heavyOff = find(r, 'heavy-mlp', MODE_OFF, c);
  out.push({
    name: `heavy-mlp, c=${c}: batching on vs off`,
    goal: 'throughput on ≥ 4 × off',
    threshold: 4,
    ratio: heavyOn && heavyOff ? heavyOn.load.reqPerS / heavyOff.load.reqPerS : undefined,
    detail: heavyOn && heavyOff ? `${heavyOn.load.reqPerS.toFixed(1)} vs ${heavyOff.load.reqPerS.toFixed(1)} req/s` : 'not measured',
  });
  const ceil = heavyOn ? ceilingFor(r, heavyOn) : undefined;
  out.push({
    name: `heavy-mlp, c=${c}, batching on: server vs in-process ceiling`,
    goal: 'server rows/s ≥ 70 % of ceiling',
    threshold: 0.7,
    ratio: heavyOn && ceil ? heavyOn.load.reqPerS / ceil.result.rowsPerS : undefined,
    detail:
      heavyOn && ceil
        ? `${heavyOn.load.reqPerS.toFixed(1)} vs ${ceil.result.rowsPerS.toFixed(1)} rows/s (batch ${ceil.result.batch}, ${ceil.result.instances} × ${ceil.result.intraOpThreads})`
        : 'not measured',
  });
  const seedOn = find(r, 'seed-mlp', MODE_ON, c);
  const bare = find(r, 'seed-mlp', MODE_BARE, c);
  out.push({
    name: `seed-mlp, c=${c}, batching on: server vs bare Fastify`,
    goal: 'req/s ≥ 80 % of bare Fastify',
    threshold: 0.8,
    ratio: seedOn && bare ? seedOn.load.reqPerS / bare.load.reqPerS : undefined,
    detail: seedOn && bare ? `${seedOn.load.reqPerS.toFixed(0)} vs ${bare.load.reqPerS.toFixed(0)} req/s` : 'not measured',
  });
  out.push(
    ratioTarget(`tiny-cnn, c=${c}: v2 infer binary vs v2 infer JSON`, 'throughput binary ≥ 4 × JSON', 4, findV2(r, 'tiny-cnn', MODE_V2_BIN, c), findV2(r, 'tiny-cnn', MODE_V2_JSON, c)),
    ratioTarget(`tiny-cnn, c=${c}: v2 infer JSON vs /v1/predict JSON`, 'v2 JSON req/s ≥ 90 % of /v1/predict', 0.9, findV2(r, 'tiny-cnn', MODE_V2_JSON, c), findV2(r, 'tiny-cnn', MODE_V1, c)),
    ratioTarget(`seed-mlp, c=${c}: v2 infer JSON vs /v1/predict JSON`, 'v2 JSON req/s ≥ 90 % of /v1/predict', 0.9, findV2(r, 'seed-mlp', MODE_V2_JSON, c), findV2(r, 'seed-mlp', MODE_V1, c)),
  );
  return out;
}

export function verdict(t: Target): string {
  if (t.ratio === undefined || !Number.isFinite(t.ratio)) return 'n/a';
  return t.ratio >= t.threshold ? 'PASS' : 'FAIL';
}
