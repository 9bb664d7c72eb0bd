// The shape of one benchmark run's results, and the targets computed from them (pass/fail,
// never an assertion that stops the run).
import type { Measurement } from './measure.js';
import type { CeilingResult } from './ceiling.js';
import type { Agreement } from './compression.js';
import type { CurvePoint, KneeEntry } from './open-loop.js';
import { goodput, rejectedShare, type LaneResult, type RunSide, type TimingSummary } from './overload.js';
import type { PaddingCheck } from './padding.js';
import type { CodecEntry } from './codec.js';
import type { FaultsResult } from './faults-report.js';

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

/** Section overload: one open-loop step at a multiple of the capacity. */
export interface OverloadEntry {
  multiple: number;
  /** The server's first overload step: shown, not judged. */
  cold?: boolean;
  latencyTargetMs: number;
  lane: LaneResult;
  /** Server-Timing total of the 429 answers, ms. */
  rejectTimes: TimingSummary;
  side: RunSide;
}

/** Section priority: two lanes at once, urgent and not, at a multiple of the capacity in all. */
export interface PriorityEntry {
  multiple: number;
  latencyTargetMs: number;
  high: LaneResult & { priority: number };
  low: LaneResult & { priority: number };
  rejectTimes: TimingSummary;
  side: RunSide;
}

/** GET /v1/models' `sizing` of a version: how its instances and threads were chosen. */
export interface SizingView {
  instances: number;
  intraOpThreads: number;
  auto: boolean;
  reason: string;
}

/** Section memory: one server of the large MLP, after load and a few warm requests. */
export interface MemoryEntry {
  mode: string;
  /** VmRSS of the server process after load and a few warm requests, bytes. */
  rssBytes: number | undefined;
  /** VmRSS again after the closed loop at the top concurrency (larger batches' activations). */
  rssAfterLoadBytes?: number | undefined;
  sizing?: SizingView;
  /** Closed loop at the top concurrency, for what the choice costs in throughput. */
  load?: Measurement;
  modelBytes: number;
}

/** Section padding: the same BERT-style model with padding and without, one server. */
export interface PaddingResults {
  measurements: Measurement[];
  check?: PaddingCheck;
  lengths: { min: number; max: number; bodies: number };
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
    /** Passes over the curve's rates; a rate's point per server is the median-p99 step. */
    curveRounds: number;
    kneeStepS: number;
    kneeP99Ms: number;
    /** Seconds per open-loop step of the overload and priority sections. */
    overloadStepS: number;
    /** Seconds of the faults section's open loop at 3× the capacity (BENCH_FAULTS_S). */
    faultsS: number;
  };
  machine: Record<string, string>;
  /** Cores available to the run (os.availableParallelism()). */
  cores: number;
  measurements: Measurement[];
  ceilings: CeilingEntry[];
  /**
   * Section split: in-process ceilings and the server at fixed instances × threads; `auto`: the
   * server with the default (auto-sized) config, /v1 JSON and v2 binary in interleaved rounds.
   */
  split: { batch: number; inproc: CeilingResult[]; server: Measurement[]; auto?: Measurement[]; autoSizing?: SizingView };
  padding?: PaddingResults;
  memory?: MemoryEntry[];
  /** Section cpu: the /v1 codec per request in process, before and after. */
  codec?: CodecEntry[];
  /** Section v2: the same inputs through /v1/predict JSON, /v2 infer JSON and /v2 infer binary, one server. */
  v2: Measurement[];
  /** Section isolation: the default config with --isolation thread and process, interleaved rounds. */
  isolation?: Measurement[];
  /** Section grpc: gRPC ModelInfer with raw_input_contents and HTTP v2 binary, one server (absent in older results). */
  grpc?: Measurement[];
  /** Bytes of one request body per protocol, per model in the v2 section. */
  v2BodySizes: Record<string, { v1: number; v2json: number; v2binary: number }>;
  /** Section compress: the heavy MLP in each compressed form. */
  compression: CompressionEntry[];
  /** Section compress: every form served side by side by one server (model name = form's model). */
  compressionServer: Measurement[];
  /** Section curve: latency percentiles against offered rate (open loop), heavy-mlp under each batching policy. */
  curve: CurvePoint[];
  /** Section curve: one closed-loop row per policy at the top concurrency; the best sets the capacity. */
  curveCapacity: Measurement[];
  /** The capacity (req/s) the open-loop sections offer fractions and multiples of, and how it was found. */
  capacity?: { reqPerS: number; from: string };
  /** Section overload: heavy-mlp with a latency target, open loop past the capacity. */
  overload: OverloadEntry[];
  /** Section priority: heavy-mlp with a latency target, an urgent and a default lane at once. */
  priority?: PriorityEntry;
  /** Section batch: in-process ceiling at each batch size. */
  batchCurve: CeilingEntry[];
  /** Section knee: `npm run load -- --sweep` on every shipped model, default config. */
  knees: KneeEntry[];
  /** Section poison: an embedding MLP clean and with refused inputs mixed in, batching on and off (bench/poison.ts). */
  poison: Measurement[];
  /** Section faults: the issue's overload and fault probes on the current code (bench/faults.ts). */
  faults?: FaultsResult;
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
/** Section grpc: ModelInfer over gRPC with raw_input_contents (what Triton's clients send). */
export const MODE_GRPC = 'gRPC ModelInfer raw';
/** The same two through h2load, one C client for both protocols (when it is installed). */
export const MODE_V2_BIN_H2LOAD = 'v2 infer binary, h2load';
export const MODE_THREAD = 'isolation thread';
export const MODE_PROCESS = 'isolation process';
export const MODE_GRPC_H2LOAD = 'gRPC ModelInfer raw, h2load';
/** Section curve's servers: the default (adaptive) config and the static rule with two delays. */
export const MODE_ADAPTIVE = 'adaptive';
export const MODE_STATIC_0 = 'static 0 ms';
export const MODE_STATIC_2 = 'static 2 ms';
/** Section padding: the BERT-style model with `padding` and without. */
export const MODE_PADDED = 'padding on';
export const MODE_EXACT = 'padding off';
/** Section memory: the large MLP with the default config and with two instances. */
export const MODE_MEM_AUTO = 'default (auto)';
export const MODE_MEM_TWO = 'instances 2';

/** Sections overload and priority: the model's latencyTargetMs, and the goodput's latency limit. */
export const LATENCY_TARGET_MS = 100;
export const OVERLOAD_MULTIPLES = [2, 3] as const;
export const PRIORITY_MULTIPLE = 1.5;
/** Share of the priority section's offered load sent at priority 1; the rest at priority 3. */
export const HIGH_SHARE = 0.3;
/** Most of its requests the urgent lane may have refused. */
export const HIGH_REJECT_MAX = 0.03;

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
export function medianRow(rows: Measurement[]): Measurement | undefined {
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
  return pairedBy(as, bs, (m) => m.load.reqPerS);
}

/** As pairedRatio, of any figure of a row (p50 latency for the c=1 targets). */
export function pairedBy(as: Measurement[], bs: Measurement[], metric: (m: Measurement) => number): PairedRatio | undefined {
  const perRound: number[] = [];
  for (const a of as) {
    const b = bs.find((x) => x.round === a.round);
    if (b && metric(b) > 0) perRound.push(metric(a) / metric(b));
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

/** p50 latency of a to b, paired by round; lower is better. */
function p50Target(name: string, goal: string, threshold: number, as: Measurement[], bs: Measurement[]): Target {
  const p50 = (m: Measurement): number => m.load.latency.p50;
  const p = pairedBy(as, bs, p50);
  const rounds = p && p.perRound.length > 1 ? `; median of ${p.perRound.length} interleaved rounds (${p.perRound.map((x) => x.toFixed(2)).join(', ')})` : '';
  return {
    name,
    goal,
    threshold,
    lowerIsBetter: true,
    ratio: p?.ratio,
    detail: p ? `p50 ${median(as.map(p50)).toFixed(3)} vs ${median(bs.map(p50)).toFixed(3)} ms${p.perRound.length > 1 ? ' (medians of the rounds)' : ''}${rounds}` : 'not measured',
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
  /** Decimals the ratio is shown with (2 unless told). */
  digits?: number;
}

export function targets(r: Results): Target[] {
  const c = topConcurrency(r);
  const out: Target[] = [];
  const rows = (model: string, mode: string): Measurement[] => rowsOf(r.measurements, model, mode, c);
  const v2rows = (model: string, mode: string): Measurement[] => rowsOf(r.v2, model, mode, c);
  out.push(
    p50Target('seed-mlp, c=1: default (adaptive) vs batching off', 'p50 latency on ≤ 1.3 × off', 1.3, rowsOf(r.measurements, 'seed-mlp', MODE_ON, 1), rowsOf(r.measurements, 'seed-mlp', MODE_OFF, 1)),
    p50Target('seed-mlp, c=1: default (adaptive) vs the naive server', 'p50 latency on ≤ 1.5 × naive', 1.5, rowsOf(r.measurements, 'seed-mlp', MODE_ON, 1), rowsOf(r.measurements, 'seed-mlp', MODE_NAIVE, 1)),
  );
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
    ratioTarget(`seed-mlp, c=${c}, batching on: server vs bare Fastify`, 'req/s ≥ 90 % of bare Fastify', 0.9, rows('seed-mlp', MODE_ON), rows('seed-mlp', MODE_BARE), 0),
    ratioTarget(`tiny-cnn, c=${c}: v2 infer binary vs v2 infer JSON`, 'throughput binary ≥ 4 × JSON', 4, v2rows('tiny-cnn', MODE_V2_BIN), v2rows('tiny-cnn', MODE_V2_JSON)),
    ratioTarget(`tiny-cnn, c=${c}: v2 infer JSON vs /v1/predict JSON`, 'v2 JSON req/s ≥ 90 % of /v1/predict', 0.9, v2rows('tiny-cnn', MODE_V2_JSON), v2rows('tiny-cnn', MODE_V1)),
    ratioTarget(`seed-mlp, c=${c}: v2 infer JSON vs /v1/predict JSON`, 'v2 JSON req/s ≥ 90 % of /v1/predict', 0.9, v2rows('seed-mlp', MODE_V2_JSON), v2rows('seed-mlp', MODE_V1), 0),
  );
  const grpcRows = (model: string, mode: string): Measurement[] => rowsOf(r.grpc ?? [], model, mode, c);
  if (r.grpc?.length) {
    // the server's two protocols through one client when h2load ran; else the Node clients
    const h2load = (r.grpc ?? []).some((m) => m.mode === MODE_GRPC_H2LOAD);
    const [grpcMode, httpMode, client] = h2load ? [MODE_GRPC_H2LOAD, MODE_V2_BIN_H2LOAD, 'both through h2load'] : [MODE_GRPC, MODE_V2_BIN, 'grpc-js vs undici'];
    for (const model of ['tiny-cnn', 'seed-mlp']) {
      out.push(ratioTarget(`${model}, c=${c}: gRPC ModelInfer (raw) vs v2 infer binary, ${client}`, 'gRPC req/s ≥ 0.9 × HTTP binary', 0.9, grpcRows(model, grpcMode), grpcRows(model, httpMode), model === 'seed-mlp' ? 0 : 1));
    }
  }
  out.push(...compressionTargets(r));
  for (const model of ['heavy-mlp']) {
    const naive = ratioTarget(`${model}, c=${c}: onnx-serve (batching on) vs the naive server`, 'throughput ≥ 4 × naive, and a lower p99', 4, rows(model, MODE_ON), rows(model, MODE_NAIVE));
    const on = find(r, model, MODE_ON, c);
    const nv = find(r, model, MODE_NAIVE, c);
    if (on && nv) {
      naive.also = { ok: on.load.latency.p99 < nv.load.latency.p99, what: `p99 ${on.load.latency.p99.toFixed(1)} vs ${nv.load.latency.p99.toFixed(1)} ms` };
      naive.detail += `; ${naive.also.what}`;
    }
    out.push(naive);
  }
  const curve = curveTarget(r);
  if (curve) out.push(curve);
  out.push(...overloadTargets(r), ...priorityTargets(r));
  out.push(...splitAutoTargets(r), ...paddingTargets(r), ...memoryTargets(r), ...codecTargets(r));
  if (r.isolation?.some((m) => m.model === 'heavy-mlp')) {
    const iso = (mode: string): Measurement[] => rowsOf(r.isolation!, 'heavy-mlp', mode, c);
    out.push(ratioTarget(`heavy-mlp, c=${c}: process vs thread isolation`, 'throughput process ≥ 0.9 × thread', 0.9, iso(MODE_PROCESS), iso(MODE_THREAD)));
  }
  return out;
}

/** The best of the 2 × 1 and 1 × 2 in-process ceilings at the split's batch. */
export function bestSplitCeiling(r: Results): CeilingResult | undefined {
  const two = r.split.inproc.filter((x) => x.batch === r.split.batch && x.instances * x.intraOpThreads === 2);
  return two.reduce<CeilingResult | undefined>((a, b) => (!a || b.rowsPerS > a.rowsPerS ? b : a), undefined);
}

/** Section split, default config: served rows/s (median over rounds) against the best two-core ceiling. */
function splitAutoTargets(r: Results): Target[] {
  if (!r.split.auto?.length) return [];
  const best = bestSplitCeiling(r);
  const sz = r.split.autoSizing;
  const out: Target[] = [];
  for (const [mode, goal] of [[MODE_V1, 0.7], [MODE_V2_BIN, 0.85]] as const) {
    const ms = r.split.auto.filter((m) => m.mode === mode);
    const reqs = ms.map((m) => m.load.reqPerS);
    const rate = reqs.length ? median(reqs) : undefined;
    out.push({
      name: `heavy-mlp, c=${ms[0]?.load.concurrency ?? topConcurrency(r)}, default config (auto${sz ? ` ${sz.instances} × ${sz.intraOpThreads}` : ''}), ${mode}: server vs best in-process ceiling`,
      goal: `served rows/s ≥ ${goal * 100} % of the better of 2 × 1 and 1 × 2 at batch ${r.split.batch}`,
      threshold: goal,
      ratio: rate !== undefined && best ? rate / best.rowsPerS : undefined,
      detail:
        rate !== undefined && best
          ? `${rate.toFixed(1)} req/s (median of ${reqs.length} round${reqs.length === 1 ? '' : 's'}: ${reqs.map((x) => x.toFixed(0)).join(', ')}) vs ${best.rowsPerS.toFixed(1)} rows/s (${best.instances} × ${best.intraOpThreads})`
          : 'not measured',
    });
  }
  return out;
}

/** Median over rounds of a figure of the rows. */
function medianOf(ms: Measurement[], f: (m: Measurement) => number | undefined): number | undefined {
  const xs = ms.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length ? median(xs) : undefined;
}

function paddingTargets(r: Results): Target[] {
  const p = r.padding;
  if (!p) return [];
  const c = p.measurements[0]?.load.concurrency ?? 32;
  const padded = p.measurements.filter((m) => m.mode === MODE_PADDED);
  const exact = p.measurements.filter((m) => m.mode === MODE_EXACT);
  const bPad = medianOf(padded, (m) => m.batch?.mean);
  const bExact = medianOf(exact, (m) => m.batch?.mean);
  const out: Target[] = [
    {
      name: `BERT-style, lengths ${p.lengths.min}–${p.lengths.max}, c=${c}, padding on: batch size`,
      goal: 'mean rows per execution ≥ 8',
      threshold: 8,
      ratio: bPad,
      detail: bPad !== undefined ? `mean batch ${bPad.toFixed(2)} padded vs ${bExact?.toFixed(2) ?? '–'} without padding (medians over rounds)` : 'not measured',
    },
    ratioTarget(`BERT-style, lengths ${p.lengths.min}–${p.lengths.max}, c=${c}: padding on vs off`, 'throughput padded ≥ 1.4 × unpadded', 1.4, padded, exact),
  ];
  const k = p.check;
  out.push({
    name: 'BERT-style, padding on: answers vs each row alone in process',
    goal: `max abs difference ≤ ${k?.tolerance ?? 1e-4}, and no wrong answers`,
    threshold: k?.tolerance ?? 1e-4,
    lowerIsBetter: true,
    ratio: k && k.answers ? k.maxAbsDiff : undefined,
    ...(k ? { also: { ok: k.wrong === 0, what: `${k.wrong} wrong of ${k.answers}` } } : {}),
    detail: k ? `${k.answers} answers sent all at once (${k.answers / Math.max(1, p.lengths.bodies)} rounds of ${p.lengths.bodies}), mean batch ${k.batchMean?.toFixed(2) ?? '–'}; ${k.wrong} wrong${k.samples.length ? ` (${k.samples.join(' | ')})` : ''}; max abs diff ${k.maxAbsDiff.toExponential(2)}` : 'not measured',
    digits: 7,
  });
  return out;
}

const mib = (n: number | undefined): string => (n === undefined ? '–' : `${(n / 2 ** 20).toFixed(0)} MiB`);

function memoryTargets(r: Results): Target[] {
  const m = r.memory;
  if (!m?.length) return [];
  const auto = m.find((e) => e.mode === MODE_MEM_AUTO);
  const two = m.find((e) => e.mode === MODE_MEM_TWO);
  const ok = auto?.rssBytes !== undefined && two?.rssBytes;
  const split = (e: MemoryEntry | undefined): string => (e?.sizing ? `${e.sizing.instances} × ${e.sizing.intraOpThreads}` : '?');
  return [
    {
      name: `large MLP (${mib(auto?.modelBytes ?? two?.modelBytes)} file): RSS of the default (auto) config vs instances 2`,
      goal: 'auto picks 1 instance and its RSS ≤ 0.65 × the 2-instance RSS',
      threshold: 0.65,
      lowerIsBetter: true,
      ratio: ok ? auto!.rssBytes! / two!.rssBytes! : undefined,
      ...(auto?.sizing ? { also: { ok: auto.sizing.instances === 1, what: `auto chose ${split(auto)}` } } : {}),
      detail: ok ? `${mib(auto!.rssBytes)} (auto, ${split(auto)}) vs ${mib(two!.rssBytes)} (${split(two)}); auto's reason: ${auto!.sizing?.reason ?? '?'}` : 'not measured',
    },
  ];
}

function codecTargets(r: Results): Target[] {
  const out: Target[] = [];
  for (const e of r.codec ?? []) {
    for (const [what, before, after] of [['decode', e.decodeBefore, e.decodeAfter], ['encode', e.encodeBefore, e.encodeAfter]] as const) {
      out.push({
        name: `${e.model} (${e.inWidth} in, ${e.outWidth} out), in process: /v1 ${what} per request, after vs before`,
        goal: 'after < before (measured; the issue sets no figure)',
        threshold: 1,
        lowerIsBetter: true,
        ratio: before > 0 ? after / before : undefined,
        detail: `${after.toFixed(1)} µs after vs ${before.toFixed(1)} µs before${what === 'encode' ? `; answer ${e.answerBytesAfter} vs ${e.answerBytesBefore} bytes` : ''}`,
      });
    }
  }
  return out;
}

const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '–');
const pctText = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(x < 0.1 ? 2 : 1)} %` : '–');

/**
 * One point per server and rate over the rounds: the step with the median p99 (the lower middle
 * for an even count), so that one disturbed step does not decide a rate.
 */
export function curveMedians(points: readonly CurvePoint[]): CurvePoint[] {
  const groups = new Map<string, CurvePoint[]>();
  for (const p of points) {
    const k = `${p.mode}\u0000${p.rate}`;
    const g = groups.get(k);
    if (g) g.push(p);
    else groups.set(k, [p]);
  }
  return [...groups.values()].map((g) => {
    const sorted = [...g].sort((a, b) => a.p99 - b.p99 || a.round - b.round);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  });
}

/** Per offered rate: adaptive p99 / the better static p99, when all three were measured there. */
export function curveRatios(r: Results): { rate: number; ratio: number; adaptive: CurvePoint; static0: CurvePoint; static2: CurvePoint }[] {
  const medians = curveMedians(r.curve);
  const at = (mode: string, rate: number): CurvePoint | undefined => medians.find((p) => p.mode === mode && p.rate === rate);
  const out = [];
  for (const rate of [...new Set(r.curve.map((p) => p.rate))].sort((a, b) => a - b)) {
    const adaptive = at(MODE_ADAPTIVE, rate);
    const static0 = at(MODE_STATIC_0, rate);
    const static2 = at(MODE_STATIC_2, rate);
    if (!adaptive || !static0 || !static2) continue;
    out.push({ rate, ratio: adaptive.p99 / Math.min(static0.p99, static2.p99), adaptive, static0, static2 });
  }
  return out;
}

/** Section curve: the worst rate's adaptive p99 against the better static p99 there. */
function curveTarget(r: Results): Target | undefined {
  const rows = curveRatios(r);
  if (!r.curve.some((p) => p.mode === MODE_ADAPTIVE)) return undefined;
  const worst = rows.reduce<(typeof rows)[number] | undefined>((w, x) => (!w || !(x.ratio <= w.ratio) ? x : w), undefined);
  // answers refused or lost do not count in a p99: a policy that sheds load must not look faster for it
  const shed = rows.filter((x) => x.adaptive.errorRate > Math.min(x.static0.errorRate, x.static2.errorRate) + 0.01);
  return {
    name: 'heavy-mlp open loop, 10–100 % of capacity: adaptive vs static',
    goal: 'p99 adaptive ≤ 1.1 × min(static 0 ms, static 2 ms) at every rate',
    threshold: 1.1,
    lowerIsBetter: true,
    ratio: worst?.ratio,
    ...(rows.length ? { also: { ok: shed.length === 0, what: shed.length ? `adaptive lost more requests at ${shed.map((x) => x.rate).join(', ')} req/s` : 'no more lost requests than static' } } : {}),
    detail: worst
      ? `worst at ${worst.rate} req/s: p99 ${fmt(worst.adaptive.p99)} vs ${fmt(worst.static0.p99)} (static 0) and ${fmt(worst.static2.p99)} ms (static 2); per rate ${rows.map((x) => `${x.rate}: ${x.ratio.toFixed(2)}`).join(', ')}${shed.length ? `; ${shed.length} rate(s) where adaptive lost more requests` : ''}`
      : 'not measured',
  };
}

function overloadTargets(r: Results): Target[] {
  const out: Target[] = [];
  const knee = r.capacity?.reqPerS;
  for (const e of r.overload.filter((x) => !x.cold)) {
    const l = e.lane;
    const at = `heavy-mlp overload ${e.multiple}× capacity (${l.rate} req/s offered), latencyTargetMs ${e.latencyTargetMs}`;
    out.push(
      {
        name: `${at}: accepted answers`,
        goal: `p99 of the 200 answers ≤ ${e.latencyTargetMs} ms`,
        threshold: 1,
        lowerIsBetter: true,
        ratio: l.ok ? l.latency.p99 / e.latencyTargetMs : undefined,
        detail: `p99 ${fmt(l.latency.p99)} ms (p50 ${fmt(l.latency.p50)}, max ${fmt(l.latency.max)}) over ${l.ok} answers; ${pctText(rejectedShare(l))} refused (429), ${l.expired} expired (504), ${l.otherFailures} other failures; ratio = p99 / ${e.latencyTargetMs} ms`,
      },
      {
        name: `${at}: goodput`,
        goal: `answers within ${e.latencyTargetMs} ms per s ≥ 90 % of capacity`,
        threshold: 0.9,
        ratio: knee ? goodput(l) / knee : undefined,
        detail: knee ? `${fmt(goodput(l))} vs ${fmt(knee)} req/s capacity` : 'no capacity measured',
      },
      {
        name: `${at}: cost of a refusal`,
        goal: 'p99 of the 429 answers\' Server-Timing total < 1 ms',
        threshold: 1,
        lowerIsBetter: true,
        ratio: e.rejectTimes.count ? e.rejectTimes.p99 : undefined,
        detail: e.rejectTimes.count ? `p99 ${e.rejectTimes.p99.toFixed(3)} ms, p50 ${e.rejectTimes.p50.toFixed(3)}, max ${e.rejectTimes.max.toFixed(3)} ms over ${e.rejectTimes.count} refusals; ratio = p99 / 1 ms` : 'no refusals',
        digits: 3,
      },
    );
  }
  return out;
}

function priorityTargets(r: Results): Target[] {
  const p = r.priority;
  if (!p) return [];
  const at = `heavy-mlp priorities at ${p.multiple}× capacity, latencyTargetMs ${p.latencyTargetMs}`;
  const hi = rejectedShare(p.high);
  const lo = rejectedShare(p.low);
  const lane = (l: LaneResult & { priority: number }): string => `priority ${l.priority} at ${l.rate} req/s: ${pctText(rejectedShare(l))} of ${l.due} refused, p99 ${fmt(l.latency.p99)} ms`;
  return [
    {
      name: `${at}: priority 1 latency`,
      goal: `p99 of priority 1's answers ≤ ${p.latencyTargetMs} ms`,
      threshold: 1,
      lowerIsBetter: true,
      ratio: p.high.ok ? p.high.latency.p99 / p.latencyTargetMs : undefined,
      detail: `p99 ${fmt(p.high.latency.p99)} ms (p50 ${fmt(p.high.latency.p50)}, max ${fmt(p.high.latency.max)}) over ${p.high.ok} answers; priority 3: p99 ${fmt(p.low.latency.p99)} ms; ratio = p99 / ${p.latencyTargetMs} ms`,
    },
    {
      name: `${at}: who is refused`,
      goal: `priority 1 refused ≤ ${HIGH_REJECT_MAX * 100} % of its requests, and less than priority 3`,
      threshold: HIGH_REJECT_MAX,
      lowerIsBetter: true,
      ratio: Number.isFinite(hi) ? hi : undefined,
      also: { ok: hi < lo, what: `priority 1 ${pctText(hi)} vs priority 3 ${pctText(lo)}` },
      detail: `${lane(p.high)}; ${lane(p.low)}; ratio = priority 1's refused share`,
      digits: 3,
    },
  ];
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
