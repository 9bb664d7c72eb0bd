// The shape of one benchmark run's results, and the targets computed from them (pass/fail,
// never an assertion that stops the run).
import type { Measurement } from './measure.js';
import type { CeilingResult } from './ceiling.js';
import type { Agreement } from './compression.js';
import type { CurvePoint, KneeEntry } from './open-loop.js';

export interface CeilingEntry {
  model: string;
  result: CeilingResult;
}

export interface CompressionEntry {
  form: string;
  /** The name the server serves this form under. */
  model: string;
  bytes: number;
  warnings: string[];
  agreement?: Agreement;
  /** In-process rates: batch 1 once, batch 32 in interleaved rounds. */
  ceilings: { batch: number; round?: number; result: CeilingResult }[];
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
    /** Rounds of each compared pair at the top concurrency, interleaved (BENCH_ROUNDS). */
    rounds: number;
    heavySizes: number[];
    /** Open-loop steps: seconds per offered rate (curve, knee), and the knee's p99 limit. */
    curveStepS: number;
    kneeStepS: number;
    kneeP99Ms: number;
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
  /** Section compress: the heavy MLP in each compressed form. */
  compression: CompressionEntry[];
  /** Section compress: every form served side by side by one server (model name = form's model). */
  compressionServer: Measurement[];
  /** Section curve: latency percentiles against offered rate (open loop), heavy-mlp batching on and off. */
  curve: CurvePoint[];
  /** Section batch: in-process ceiling at each batch size. */
  batchCurve: CeilingEntry[];
  /** Section knee: `npm run load -- --sweep` on every shipped model, default config. */
  knees: KneeEntry[];
  /** Section poison: an embedding MLP clean and with refused inputs mixed in, batching on and off (bench/poison.ts). */
  poison: Measurement[];
  /** Sections that failed, with the reason; the rest of the report still stands. */
  failures: string[];
}

/** Other processes using this many cores or more during a row make it suspect (flagged in the report). */
export const BUSY_CORES = 0.15;

export const MODE_ON = 'batching on';
export const MODE_OFF = 'batching off';
export const MODE_BARE = 'bare fastify';
export const MODE_NAIVE = 'naive server';
export const MODE_V1 = 'v1 predict JSON';
export const MODE_V2_JSON = 'v2 infer JSON';
export const MODE_V2_BIN = 'v2 infer binary';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Every row of (model, mode, c) in run order: one per round of an interleaved comparison. */
export function rowsOf(list: Measurement[], model: string, mode: string, c: number): Measurement[] {
  return list.filter((m) => m.model === model && m.mode === mode && m.load.concurrency === c);
}

/** The row with the median throughput among the rounds (the lower middle one for an even count). */
function medianRow(rows: Measurement[]): Measurement | undefined {
  const s = [...rows].sort((a, b) => a.load.reqPerS - b.load.reqPerS);
  return s[(s.length - 1) >> 1];
}

export function find(r: Results, model: string, mode: string, c: number): Measurement | undefined {
  return medianRow(rowsOf(r.measurements, model, mode, c));
}

export function findV2(r: Results, model: string, mode: string, c: number): Measurement | undefined {
  return medianRow(rowsOf(r.v2, model, mode, c));
}

export interface PairedRatio {
  /** Median over rounds of a/b, each round's a divided by the same round's b (measured back to back). */
  ratio: number;
  perRound: number[];
}

/**
 * Throughput ratio of a to b, paired by round: the machine's speed drifts over minutes on a
 * shared VM, so a round's two rows (measured back to back) are compared with each other and the
 * median over rounds is reported, rather than one long row of each.
 */
export function pairedRatio(as: Measurement[], bs: Measurement[]): PairedRatio | undefined {
  const perRound: number[] = [];
  for (const a of as) {
    const b = bs.find((x) => x.round === a.round);
    if (b && b.load.reqPerS > 0) perRound.push(a.load.reqPerS / b.load.reqPerS);
  }
  return perRound.length ? { ratio: median(perRound), perRound } : undefined;
}

function ratioTarget(name: string, goal: string, threshold: number, as: Measurement[], bs: Measurement[], digits = 1): Target {
  const p = pairedRatio(as, bs);
  const a = medianRow(as);
  const b = medianRow(bs);
  const rounds = p && p.perRound.length > 1 ? `; median of ${p.perRound.length} interleaved rounds (${p.perRound.map((x) => x.toFixed(2)).join(', ')})` : '';
  return {
    name,
    goal,
    threshold,
    ratio: p?.ratio,
    detail: a && b && p ? `${a.load.reqPerS.toFixed(digits)} vs ${b.load.reqPerS.toFixed(digits)} req/s (median rows)${rounds}` : 'not measured',
  };
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
  /** The ratio passes at or below the threshold (sizes), not at or above it. */
  lowerIsBetter?: boolean;
  /** A second condition the target also needs (e.g. a lower p99). */
  also?: { ok: boolean; what: string };
}

export function targets(r: Results): Target[] {
  const c = topConcurrency(r);
  const out: Target[] = [];
  const rows = (model: string, mode: string): Measurement[] => rowsOf(r.measurements, model, mode, c);
  const v2rows = (model: string, mode: string): Measurement[] => rowsOf(r.v2, model, mode, c);
  out.push(ratioTarget(`heavy-mlp, c=${c}: batching on vs off`, 'throughput on ≥ 4 × off', 4, rows('heavy-mlp', MODE_ON), rows('heavy-mlp', MODE_OFF)));
  const heavyOn = find(r, 'heavy-mlp', MODE_ON, c);
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
  out.push(
    ratioTarget(`seed-mlp, c=${c}, batching on: server vs bare Fastify`, 'req/s ≥ 80 % of bare Fastify', 0.8, rows('seed-mlp', MODE_ON), rows('seed-mlp', MODE_BARE), 0),
    ratioTarget(`tiny-cnn, c=${c}: v2 infer binary vs v2 infer JSON`, 'throughput binary ≥ 4 × JSON', 4, v2rows('tiny-cnn', MODE_V2_BIN), v2rows('tiny-cnn', MODE_V2_JSON)),
    ratioTarget(`tiny-cnn, c=${c}: v2 infer JSON vs /v1/predict JSON`, 'v2 JSON req/s ≥ 90 % of /v1/predict', 0.9, v2rows('tiny-cnn', MODE_V2_JSON), v2rows('tiny-cnn', MODE_V1)),
    ratioTarget(`seed-mlp, c=${c}: v2 infer JSON vs /v1/predict JSON`, 'v2 JSON req/s ≥ 90 % of /v1/predict', 0.9, v2rows('seed-mlp', MODE_V2_JSON), v2rows('seed-mlp', MODE_V1), 0),
  );
  out.push(...compressionTargets(r));
  for (const model of ['heavy-mlp']) {
    const naive = ratioTarget(`${model}, c=${c}: onnx-serve (batching on) vs the naive server`, 'throughput ≥ 3 × naive, and a lower p99', 3, rows(model, MODE_ON), rows(model, MODE_NAIVE));
    const on = find(r, model, MODE_ON, c);
    const nv = find(r, model, MODE_NAIVE, c);
    if (on && nv) {
      naive.also = { ok: on.load.latency.p99 < nv.load.latency.p99, what: `p99 ${on.load.latency.p99.toFixed(1)} vs ${nv.load.latency.p99.toFixed(1)} ms` };
      naive.detail += `; ${naive.also.what}`;
    }
    out.push(naive);
  }
  return out;
}

/** Rows/s of one form at a batch size: the median over rounds, and the per-round values. */
export function formRates(e: CompressionEntry, batch: number): { median: number; byRound: Map<number | undefined, number> } | undefined {
  const cs = e.ceilings.filter((c) => c.batch === batch);
  if (!cs.length) return undefined;
  return { median: median(cs.map((c) => c.result.rowsPerS)), byRound: new Map(cs.map((c) => [c.round, c.result.rowsPerS])) };
}

/** Speed-up of a form over fp32 at a batch size: the median of per-round ratios (rounds measured back to back). */
export function formSpeedup(r: Results, form: string, batch: number): { ratio: number; perRound: number[] } | undefined {
  const base = r.compression.find((e) => e.form === 'fp32');
  const e = r.compression.find((x) => x.form === form);
  const a = e && formRates(e, batch);
  const b = base && formRates(base, batch);
  if (!a || !b) return undefined;
  const perRound: number[] = [];
  for (const [round, v] of a.byRound) {
    const w = b.byRound.get(round);
    if (w) perRound.push(v / w);
  }
  return perRound.length ? { ratio: median(perRound), perRound } : undefined;
}

function compressionTargets(r: Results): Target[] {
  const base = r.compression.find((e) => e.form === 'fp32');
  if (!base) return [];
  const out: Target[] = [];
  for (const form of ['int8-dynamic', 'int8-static']) {
    const e = r.compression.find((x) => x.form === form);
    const sp = formSpeedup(r, form, 32);
    out.push({
      name: `heavy-mlp ${form}, batch 32 in process: vs fp32`,
      goal: 'throughput ≥ 1.5 × fp32',
      threshold: 1.5,
      ratio: sp?.ratio,
      detail: sp ? `median of ${sp.perRound.length} interleaved rounds (${sp.perRound.map((x) => x.toFixed(2)).join(', ')})` : 'not measured',
    });
    out.push({
      name: `heavy-mlp ${form}: top-1 agreement with fp32`,
      goal: '≥ 99 % on random inputs',
      threshold: 0.99,
      ratio: e?.agreement?.top1,
      detail: e?.agreement ? `${e.agreement.rows} random rows, max abs error ${e.agreement.maxAbsError.toPrecision(3)} (${(e.agreement.relMaxError * 100).toFixed(2)} % of the output range)` : 'not measured',
    });
    out.push({
      name: `heavy-mlp ${form}: file size vs fp32`,
      goal: '≤ 30 % of fp32',
      threshold: 0.3,
      ratio: e ? e.bytes / base.bytes : undefined,
      detail: e ? `${(e.bytes / 2 ** 20).toFixed(1)} vs ${(base.bytes / 2 ** 20).toFixed(1)} MiB` : 'not measured',
      lowerIsBetter: true,
    });
  }
  return out;
}

export function verdict(t: Target): string {
  if (t.ratio === undefined || !Number.isFinite(t.ratio)) return 'n/a';
  if (t.also && !t.also.ok) return 'FAIL';
  return (t.lowerIsBetter ? t.ratio <= t.threshold : t.ratio >= t.threshold) ? 'PASS' : 'FAIL';
}
