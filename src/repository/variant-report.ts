// The report the compress command writes next to a variant (`model.int8.onnx` →
// `model.int8.report.json`): which method made it and the accuracy it measured. Optional and
// advisory: a missing or malformed report gives nulls and never fails the variant's load.
import { readFile } from 'node:fs/promises';
import { defaultReportPath } from '../compress/report.js';
import type { Compression } from './model-version.js';
import { isObject } from '../json-shape.js';

/** `{"method": "int8-dynamic", "eval"?: {"accuracy"?: {"delta": -0.003}}}` → method and accuracy delta. */
export async function readCompressionReport(onnxPath: string): Promise<Compression> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(defaultReportPath(onnxPath), 'utf8'));
  } catch {
    return { method: null, accuracyDelta: null };
  }
  const report = isObject(raw) ? raw : {};
  const accuracy = isObject(report.eval) && isObject(report.eval.accuracy) ? report.eval.accuracy : {};
  return {
    method: typeof report.method === 'string' ? report.method : null,
    accuracyDelta: typeof accuracy.delta === 'number' && Number.isFinite(accuracy.delta) ? accuracy.delta : null,
  };
}

