// The measured half of the report: runs the original and the compressed model in-process
// (onnxruntime, one intra-op and one inter-op thread) on the same rows, and compares the first
// output (agreement, top-1, accuracy against labels) and the median latency at batch 1 and 32.
// The metrics are pure functions of the outputs, unit-tested alone.
import * as ort from 'onnxruntime-node';
import { f16ToF32 } from '../float16.js';
import { canBatch, feedsFor, type DataSet } from './data.js';
import { CompressError } from './onnx-file.js';

export interface Agreement {
  maxAbsError: number;
  /** Σ|compressed − original| / Σ|original|: the mean error relative to the mean magnitude (scale-free, robust near zero). */
  meanRelError: number;
  cosine: number;
  /** Share of rows whose argmax over the last axis agrees; null when the last axis has fewer than 2 entries. */
  top1Agreement: number | null;
}

export interface LatencyPair {
  batch1: number;
  /** null when the model does not batch (a fixed first dimension). */
  batch32: number | null;
}

export interface EvalReport {
  samples: number;
  latencyMs: { original: LatencyPair; compressed: LatencyPair };
  /** original ÷ compressed latency: above 1 the compressed model is faster. */
  speedup: LatencyPair;
  agreement: Agreement;
  accuracy?: { original: number; compressed: number; delta: number };
}

export function argmaxRows(values: ArrayLike<number>, width: number): Int32Array {
  const rows = Math.floor(values.length / width);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < width; j++) if (values[r * width + j]! > values[r * width + best]!) best = j;
    out[r] = best;
  }
  return out;
}

/** Compares two outputs of equal length; `width` is the size of the last axis. */
export function agreement(original: ArrayLike<number>, compressed: ArrayLike<number>, width: number): Agreement {
  if (original.length !== compressed.length) throw new RangeError(`outputs differ in size: ${original.length} vs ${compressed.length}`);
  let maxAbs = 0;
  let sumAbsErr = 0;
  let sumAbs = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < original.length; i++) {
    const a = original[i]!;
    const b = compressed[i]!;
    const e = Math.abs(a - b);
    if (e > maxAbs || Number.isNaN(e)) maxAbs = e;
    sumAbsErr += e;
    sumAbs += Math.abs(a);
    dot += a * b;
    na += a * a;
    nb += b * b;
  }
  const cosine = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  let top1: number | null = null;
  if (width >= 2 && original.length >= width) {
    const [pa, pb] = [argmaxRows(original, width), argmaxRows(compressed, width)];
    let same = 0;
    for (let r = 0; r < pa.length; r++) if (pa[r] === pb[r]) same++;
    top1 = same / pa.length;
  }
  return {
    maxAbsError: maxAbs,
    meanRelError: sumAbs === 0 ? (sumAbsErr === 0 ? 0 : Infinity) : sumAbsErr / sumAbs,
    cosine: Math.min(1, cosine),
    top1Agreement: top1,
  };
}

/** Share of rows whose argmax matches the label. */
export function accuracy(values: ArrayLike<number>, width: number, labels: readonly number[]): number {
  const pred = argmaxRows(values, width);
  let correct = 0;
  for (let r = 0; r < labels.length; r++) if (pred[r] === labels[r]) correct++;
  return labels.length ? correct / labels.length : NaN;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function asNumbers(t: ort.Tensor): Float64Array {
  const d = t.data as ArrayLike<number | bigint>;
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = t.type === 'float16' ? f16ToF32(d[i] as number) : Number(d[i]);
  return out;
}

const CHUNK = 32;

interface FirstOutput {
  values: Float64Array;
  width: number;
}

/** The first output over every row of the data, run in batches of 32 (one row at a time when the model does not batch). */
async function runAll(session: ort.InferenceSession, data: DataSet, tick: () => void): Promise<FirstOutput> {
  const name = session.outputNames[0]!;
  const step = canBatch(data) ? CHUNK : 1;
  const parts: Float64Array[] = [];
  let width = 1;
  for (let start = 0; start < data.rows; start += step) {
    const idx = Array.from({ length: Math.min(step, data.rows - start) }, (_, k) => start + k);
    const out = (await session.run(feedsFor(data, idx), [name]))[name]!;
    width = Number(out.dims[out.dims.length - 1] ?? 1);
    parts.push(asNumbers(out));
    tick();
  }
  const values = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    values.set(p, at);
    at += p.length;
  }
  return { values, width };
}

/**
 * Median milliseconds per run of each session on the same feeds, alternating the two so that
 * both see the same machine load; stops after `budgetMs` (and at least 5 timed runs each).
 */
async function latencyPair(a: ort.InferenceSession, b: ort.InferenceSession, feeds: Record<string, ort.Tensor>, budgetMs: number): Promise<[number, number]> {
  for (let i = 0; i < 3; i++) {
    await a.run(feeds);
    await b.run(feeds);
  }
  const [ta, tb]: [number[], number[]] = [[], []];
  const end = performance.now() + budgetMs;
  while ((performance.now() < end || ta.length < 5) && ta.length < 5000) {
    let t0 = performance.now();
    await a.run(feeds);
    ta.push(performance.now() - t0);
    t0 = performance.now();
    await b.run(feeds);
    tb.push(performance.now() - t0);
  }
  return [median(ta), median(tb)];
}

export interface EvaluateOptions {
  /** Time for each latency pair (both models, alternating), ms; default 2000, so about 1 s per model and batch size. */
  latencyBudgetMs?: number;
  onProgress?: (done: number, total: number) => void;
}

const SESSION: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };

export async function evaluate(originalPath: string, compressedPath: string, data: DataSet, opts: EvaluateOptions = {}): Promise<EvalReport> {
  const budget = opts.latencyBudgetMs ?? 2000;
  const original = await ort.InferenceSession.create(originalPath, SESSION);
  const compressed = await ort.InferenceSession.create(compressedPath, SESSION).catch(async (err: Error) => {
    await original.release();
    throw new CompressError(`${compressedPath}: onnxruntime cannot load the compressed model (${err.message.split('\n')[0]})`);
  });
  try {
    if (original.outputNames[0] !== compressed.outputNames[0]) {
      throw new CompressError(`${compressedPath}: its first output is "${compressed.outputNames[0]}", the original's is "${original.outputNames[0]}"`);
    }
    const batchable = canBatch(data);
    const chunks = batchable ? Math.ceil(data.rows / CHUNK) : data.rows;
    const total = 2 * chunks + 2;
    let done = 0;
    const tick = () => opts.onProgress?.(++done, total);
    const a = await runAll(original, data, tick);
    const b = await runAll(compressed, data, tick);
    if (a.values.length !== b.values.length) throw new CompressError(`${compressedPath}: its first output has ${b.values.length} values over the data, the original's ${a.values.length}`);
    const one = feedsFor(data, [0]);
    const [o1, c1] = await latencyPair(original, compressed, one, budget);
    tick();
    let o32: number | null = null;
    let c32: number | null = null;
    if (batchable) {
      [o32, c32] = await latencyPair(original, compressed, feedsFor(data, Array.from({ length: 32 }, (_, i) => i % data.rows)), budget);
    }
    tick();
    const report: EvalReport = {
      samples: data.rows,
      latencyMs: { original: { batch1: o1, batch32: o32 }, compressed: { batch1: c1, batch32: c32 } },
      speedup: { batch1: o1 / c1, batch32: o32 !== null && c32 !== null ? o32 / c32 : null },
      agreement: agreement(a.values, b.values, a.width),
    };
    const rowsOut = a.values.length / a.width;
    if (data.labels && a.width >= 2 && rowsOut === data.rows) {
      const [acc0, acc1] = [accuracy(a.values, a.width, data.labels), accuracy(b.values, b.width, data.labels)];
      report.accuracy = { original: acc0, compressed: acc1, delta: acc1 - acc0 };
    }
    return report;
  } finally {
    await original.release();
    await compressed.release();
  }
}
