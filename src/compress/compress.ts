// One `onnx-serve compress` run: refuse to overwrite before doing any work, read the model and
// the data files (checked against its inputs), apply the method, record what was done in the
// model's metadata_props, write the model, measure it against the original when asked, and
// write the report. The CLI prints; this module reports warnings and progress through `io`.
import { readFileSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import cliProgress from 'cli-progress';
import { CompressError, exists, onnx, readModel, writeModel, type ModelProto } from './onnx-file.js';
import { feedsFor, modelInputs, readDataSet, canBatch, type DataSet, type InputSpec } from './data.js';
import { evaluate, type EvalReport } from './evaluate.js';
import { methodOptions, type CompressOptions } from './options.js';
import { makeReport, renderReportJson, type CompressionReport } from './report.js';
import { COMPRESSION_KEY } from './inspect.js';
import type { MethodResult } from './method.js';
import { quantizeDynamic } from './quantize-dynamic.js';
import { quantizeStatic, staticCalibrationTensors } from './quantize-static.js';
import { calibrate } from './calibrate.js';
import { toFloat16 } from './fp16.js';
import { prune } from './prune.js';

const TOOL_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export interface CompressIO {
  /** One line per warning (the CLI prints `warning: …`). */
  warn(line: string): void;
  /** A progress display for a phase, or undefined for none. */
  progress?(label: string): Progress | undefined;
  /** Latency budget per batch size (both models), ms. */
  latencyBudgetMs?: number;
}

/** A cli-progress bar on `stream`, only when it is a terminal; otherwise nothing is drawn. */
export function terminalProgress(stream: NodeJS.WriteStream, enabled: boolean): (label: string) => Progress | undefined {
  return (label) => {
    if (!enabled || !stream.isTTY) return undefined;
    const bar = new cliProgress.SingleBar(
      { stream, format: `${label.padEnd(12)} [{bar}] {percentage}% | {value}/{total}`, hideCursor: true, clearOnComplete: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total) {
        if (!started) {
          bar.start(total, done);
          started = true;
        } else bar.update(done);
      },
      stop: () => bar.stop(),
    };
  };
}

async function refuseExisting(opts: CompressOptions): Promise<void> {
  for (const [flag, path] of [['--out', opts.out], ['--report', opts.report]] as const) {
    if (!opts.force && (await exists(path))) throw new CompressError(`${path}: already exists; pass --force to overwrite it`);
    const dir = dirname(path);
    const s = await stat(dir).catch(() => undefined);
    if (!s?.isDirectory()) throw new CompressError(`${flag} ${path}: folder ${dir} does not exist`);
  }
}

async function withProgress<T>(io: CompressIO, label: string, run: (onProgress: (done: number, total: number) => void) => Promise<T>): Promise<T> {
  const p = io.progress?.(label);
  try {
    return await run((done, total) => p?.update(done, total));
  } finally {
    p?.stop();
  }
}

/** Rows in batches of 32 (or one by one for a model that does not batch), as calibration samples. */
function samplesOf(data: DataSet) {
  const step = canBatch(data) ? 32 : 1;
  const out = [];
  for (let start = 0; start < data.rows; start += step) out.push(feedsFor(data, Array.from({ length: Math.min(step, data.rows - start) }, (_, k) => start + k)));
  return out;
}

async function applyMethod(model: ModelProto, opts: CompressOptions, calibration: DataSet | undefined, io: CompressIO): Promise<MethodResult> {
  switch (opts.method) {
    case 'int8-dynamic':
      return quantizeDynamic(model, { perChannel: opts.perChannel });
    case 'int8-static': {
      const tensors = staticCalibrationTensors(model);
      const ranges = await withProgress(io, 'calibrating', (onProgress) =>
        calibrate(model, tensors, samplesOf(calibration!), { method: opts.calibrate, percentile: opts.percentile, onProgress }),
      );
      return quantizeStatic(model, ranges, { perChannel: opts.perChannel });
    }
    case 'fp16':
      return toFloat16(model);
    case 'prune':
      return prune(model, { sparsity: opts.sparsity, structured: opts.structured });
  }
}

/** Records the run in metadata_props (replacing an earlier record, e.g. when compressing a compressed model). */
export function recordCompression(model: ModelProto, record: { method: string; options: Record<string, unknown>; source: string; toolVersion: string }): void {
  model.metadataProps = model.metadataProps.filter((p) => p.key !== COMPRESSION_KEY);
  model.metadataProps.push(onnx.StringStringEntryProto.create({ key: COMPRESSION_KEY, value: JSON.stringify(record) }));
}

export async function compress(opts: CompressOptions, io: CompressIO): Promise<CompressionReport> {
  await refuseExisting(opts);
  const { model, bytesOnDisk } = await readModel(opts.input);
  // read only when a data file needs checking: a model with inputs this tool cannot feed still compresses
  const specs: InputSpec[] = opts.calibration || opts.eval ? modelInputs(model) : [];
  const calibration = opts.calibration ? await readDataSet(opts.calibration, specs, { maxRows: opts.calibrationRows }) : undefined;
  const evalData = opts.eval ? await readDataSet(opts.eval, specs) : undefined;

  const result = await applyMethod(model, opts, calibration, io);
  for (const w of result.warnings) io.warn(w);
  const options = methodOptions(opts);
  recordCompression(result.model, { method: opts.method, options, source: basename(opts.input), toolVersion: TOOL_VERSION });
  const outBytes = await writeModel(result.model, opts.out, { force: opts.force });

  let measured: EvalReport | undefined;
  if (evalData) {
    measured = await withProgress(io, 'evaluating', (onProgress) => evaluate(opts.input, opts.out, evalData, { onProgress, latencyBudgetMs: io.latencyBudgetMs }));
  }
  const report = makeReport({
    method: opts.method,
    options,
    source: { file: opts.input, bytes: bytesOnDisk },
    output: { file: opts.out, bytes: outBytes },
    changed: result.changed,
    warnings: result.warnings,
    details: result.details,
    eval: measured,
  });
  try {
    await writeFile(opts.report, renderReportJson(report), { flag: opts.force ? 'w' : 'wx' });
  } catch (err) {
    throw new CompressError(`${opts.report}: cannot write the report (${(err as Error).message})`);
  }
  return report;
}
