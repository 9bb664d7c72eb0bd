// Calibration for int8-static: runs sample inputs through an in-process onnxruntime session
// whose outputs include the requested intermediate tensors, and reduces each tensor's values
// to a range — the exact min/max, or a percentile read from a bounded histogram, so millions
// of values per tensor never need to be kept. The only I/O of the compress methods lives here.
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel, onnx, type ModelProto, type ValueInfoProto } from './onnx-file.js';
import { ELEM } from './graph.js';

export type CalibrationMethod = 'minmax' | 'percentile';

const BINS = 2048;

/**
 * Counts of values over [lo, lo + BINS·width); when values fall outside, the width doubles
 * (adjacent bins merge) and the range grows toward them, so memory stays fixed.
 */
export class RangeHistogram {
  min = Infinity;
  max = -Infinity;
  count = 0;
  private bins = new Float64Array(BINS);
  private lo = 0;
  private width = 0;

  add(values: ArrayLike<number>): void {
    let bmin = Infinity;
    let bmax = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < bmin) bmin = v;
      if (v > bmax) bmax = v;
    }
    if (!(bmin <= bmax)) return; // empty, or NaN only
    if (this.width === 0) {
      this.lo = bmin;
      this.width = bmax > bmin ? (bmax - bmin) / BINS : Math.max(Math.abs(bmin), 1) * 1e-6;
    }
    while (bmin < this.lo) this.grow(false);
    while (bmax > this.lo + this.width * BINS) this.grow(true);
    const { bins, lo, width } = this;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) continue;
      bins[Math.min(BINS - 1, Math.floor((v - lo) / width))]!++;
    }
    this.min = Math.min(this.min, bmin);
    this.max = Math.max(this.max, bmax);
    this.count += values.length;
  }

  private grow(up: boolean): void {
    const merged = new Float64Array(BINS);
    const half = BINS / 2;
    for (let i = 0; i < half; i++) merged[(up ? 0 : half) + i] = this.bins[2 * i]! + this.bins[2 * i + 1]!;
    if (!up) this.lo -= this.width * BINS;
    this.width *= 2;
    this.bins = merged;
  }

  /** The range holding the central `percentile` % of the values on each side: [(100-p)th, p-th] percentile. */
  percentileRange(percentile: number): { min: number; max: number } {
    if (this.count === 0) return { min: NaN, max: NaN };
    const tail = this.count * (1 - percentile / 100);
    let acc = 0;
    let lowBin = 0;
    for (; lowBin < BINS - 1 && acc + this.bins[lowBin]! <= tail; lowBin++) acc += this.bins[lowBin]!;
    acc = 0;
    let highBin = BINS - 1;
    for (; highBin > 0 && acc + this.bins[highBin]! <= tail; highBin--) acc += this.bins[highBin]!;
    return {
      min: Math.max(this.min, this.lo + lowBin * this.width),
      max: Math.min(this.max, this.lo + (highBin + 1) * this.width),
    };
  }
}

function floatOutput(name: string): ValueInfoProto {
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: ELEM.FLOAT }) }) }) as ValueInfoProto;
}

export async function calibrate(
  model: ModelProto,
  tensors: string[],
  samples: Record<string, ort.Tensor>[],
  opts: { method?: CalibrationMethod; percentile?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Map<string, { min: number; max: number }>> {
  const method = opts.method ?? 'minmax';
  const percentile = opts.percentile ?? 99.99;
  if (!(percentile > 0 && percentile <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${percentile}`);
  // a copy whose outputs include every requested tensor; graph inputs are read from the samples
  const copy = decodeModel(encodeModel(model), 'calibration model');
  const inputs = new Set(copy.graph.input.map((v) => v.name));
  const outputs = new Set(copy.graph.output.map((v) => v.name));
  for (const t of tensors) if (!inputs.has(t) && !outputs.has(t)) copy.graph.output.push(floatOutput(t));
  const fetched = tensors.filter((t) => !inputs.has(t));
  const session = await ort.InferenceSession.create(encodeModel(copy));
  const stats = new Map(tensors.map((t) => [t, new RangeHistogram()]));
  try {
    for (const [i, feeds] of samples.entries()) {
      const result = fetched.length ? await session.run(feeds, fetched) : {};
      for (const t of tensors) {
        const value = inputs.has(t) ? feeds[t] : result[t];
        if (!value) throw new Error(`calibration: sample ${i} has no value for tensor "${t}"`);
        const data = value.data;
        if (!(data instanceof Float32Array)) throw new Error(`calibration: tensor "${t}" is ${value.type}, not float32`);
        if (method === 'minmax') {
          const h = stats.get(t)!;
          for (let j = 0; j < data.length; j++) {
            const v = data[j]!;
            if (v < h.min) h.min = v;
            if (v > h.max) h.max = v;
          }
          h.count += data.length;
        } else {
          stats.get(t)!.add(data);
        }
      }
      opts.onProgress?.(i + 1, samples.length);
    }
  } finally {
    await session.release();
  }
  const ranges = new Map<string, { min: number; max: number }>();
  for (const [t, h] of stats) {
    if (h.count === 0) continue; // no value seen: quantizeStatic skips the node with a warning
    ranges.set(t, method === 'minmax' ? { min: h.min, max: h.max } : h.percentileRange(percentile));
  }
  return ranges;
}
