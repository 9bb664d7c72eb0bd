// Section "compress": the heavy MLP as fp32 and as each compressed form the tool makes
// (int8-dynamic, int8-static calibrated on random rows, structured pruning at 50 %), written
// by the same code `onnx-serve compress` runs. For each: file size, agreement with fp32 on
// random inputs (top-1, max abs error), and the in-process rate at batch 1 and 32; the server
// numbers come from the caller, which serves every form side by side.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { seededFloats } from '../tools/onnx-builder.js';
import { decodeModel, encodeModel } from '../src/compress/onnx-file.js';
import { quantizeDynamic } from '../src/compress/quantize-dynamic.js';
import { quantizeStatic, staticCalibrationTensors } from '../src/compress/quantize-static.js';
import { calibrate } from '../src/compress/calibrate.js';
import { prune } from '../src/compress/prune.js';
import type { MethodResult } from '../src/compress/method.js';
import { agreement as compareOutputs } from '../src/compress/evaluate.js';
import { makeBodies, type BenchModel } from './fixtures.js';

export interface CompressedForm {
  /** "fp32", "int8-dynamic", "int8-static", "pruned-50%". */
  form: string;
  model: BenchModel;
  bytes: number;
  warnings: string[];
}

export interface Agreement {
  rows: number;
  top1: number;
  maxAbsError: number;
  /** max |error| over the output's range on these rows (scale-free). */
  relMaxError: number;
}

const CALIBRATION_ROWS = 64;
const AGREEMENT_ROWS = 512;

/** Writes every compressed form of `base` next to it; the model names double as server model names. */
export async function buildForms(base: BenchModel, dir: string, log: (l: string) => void): Promise<CompressedForm[]> {
  const bytes = await readFile(base.path);
  const width = base.sizes[0]!;
  const forms: CompressedForm[] = [{ form: 'fp32', model: base, bytes: bytes.length, warnings: [] }];
  const make = async (form: string, run: () => Promise<MethodResult> | MethodResult): Promise<void> => {
    const t0 = performance.now();
    const res = await run();
    const name = `${base.name}-${form.replace(/[^a-z0-9-]/gi, '')}`;
    const path = join(dir, `${name}.onnx`);
    const out = encodeModel(res.model);
    await writeFile(path, out);
    forms.push({ form, model: { ...base, name, path, bodies: makeBodies(name, width) }, bytes: out.length, warnings: res.warnings });
    log(`  compressed ${base.name} → ${form}: ${(out.length / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s${res.warnings.length ? `, ${res.warnings.length} warnings` : ''}`);
  };
  const fresh = () => decodeModel(bytes, base.path); // each method rewrites its own copy
  await make('int8-dynamic', () => quantizeDynamic(fresh()));
  await make('int8-static', async () => {
    const model = fresh();
    const data = seededFloats(CALIBRATION_ROWS * width, 99);
    const samples = [{ [base.inputName]: new ort.Tensor('float32', data, [CALIBRATION_ROWS, width]) }];
    const ranges = await calibrate(model, staticCalibrationTensors(model), samples, { method: 'minmax' });
    return quantizeStatic(model, ranges);
  });
  await make('pruned-50%', () => prune(fresh(), { sparsity: 0.5, structured: true }));
  return forms;
}

async function outputs(path: string, inputName: string, data: Float32Array, width: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const rows = data.length / width;
    const parts: Float32Array[] = [];
    for (let r = 0; r < rows; r += 32) {
      const n = Math.min(32, rows - r);
      const res = await session.run({ [inputName]: new ort.Tensor('float32', data.subarray(r * width, (r + n) * width), [n, width]) });
      parts.push(Float32Array.from(res[session.outputNames[0]!]!.data as Float32Array));
    }
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Top-1 agreement and error of `form` against fp32 on the same random rows (not the calibration rows). */
export async function agreement(base: BenchModel, form: CompressedForm): Promise<Agreement> {
  const width = base.sizes[0]!;
  const outWidth = base.sizes.at(-1)!;
  const data = seededFloats(AGREEMENT_ROWS * width, 2024);
  const a = await outputs(base.path, base.inputName, data, width);
  const b = await outputs(form.model.path, base.inputName, data, width);
  const ag = compareOutputs(a, b, outWidth); // the same figures `onnx-serve compress --eval` reports
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return { rows: AGREEMENT_ROWS, top1: ag.top1Agreement ?? NaN, maxAbsError: ag.maxAbsError, relMaxError: ag.maxAbsError / Math.max(1e-12, hi - lo) };
}
