// The compression report: one object with fixed field names (the serving side reads
// `method` and `eval.accuracy.delta` from the JSON file), rendered as JSON for the file and as a
// before | after | change table for the terminal. Pure.
import type { MethodName } from './method.js';
import type { EvalReport } from './evaluate.js';

/**
 * `dir/model.int8.onnx` → `dir/model.int8.report.json`: where compress writes a variant's report
 * by default, and where the serving side (repository/variant-report.ts) looks for it.
 */
export function defaultReportPath(onnxPath: string): string {
  return onnxPath.replace(/\.onnx$/, '') + '.report.json';
}

export interface CompressionReport {
  method: MethodName;
  options: Record<string, unknown>;
  source: { file: string; bytes: number };
  output: { file: string; bytes: number };
  /** output bytes ÷ source bytes. */
  sizeRatio: number;
  changed: number;
  warnings: string[];
  details: Record<string, unknown>;
  eval?: EvalReport;
}

export function makeReport(r: {
  method: MethodName;
  options: Record<string, unknown>;
  source: { file: string; bytes: number };
  output: { file: string; bytes: number };
  changed: number;
  warnings: string[];
  details: Record<string, unknown>;
  eval?: EvalReport | undefined;
}): CompressionReport {
  const report: CompressionReport = {
    method: r.method,
    options: r.options,
    source: r.source,
    output: r.output,
    sizeRatio: r.output.bytes / r.source.bytes,
    changed: r.changed,
    warnings: r.warnings,
    details: r.details,
  };
  if (r.eval) report.eval = r.eval;
  return report;
}

/** The report file's text (non-finite numbers, e.g. a NaN error from a broken model, become null). */
export function renderReportJson(report: CompressionReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return 'n/a';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toPrecision(3)} ms`;
}

function percent(x: number, digits = 2): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)} %` : 'n/a';
}

function signed(x: number, digits: number): string {
  const s = Math.abs(x).toFixed(digits);
  return Number(s) === 0 ? `±${s}` : `${x < 0 ? '−' : '+'}${s}`;
}

function speed(before: number | null, after: number | null): string {
  if (before === null || after === null || !(after > 0)) return 'n/a';
  const r = before / after;
  return r >= 1 ? `${r.toFixed(2)}× faster` : `${(1 / r).toFixed(2)}× slower`;
}

function short(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x === 0 ? '0' : Math.abs(x) >= 0.01 ? x.toFixed(4) : x.toExponential(2);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 2))).join('').trimEnd()).join('\n');
}

/** The terminal summary: size, latency and accuracy before | after | change, then agreement and the method's counts. */
export function renderTable(report: CompressionReport): string {
  const rows: string[][] = [
    ['', 'before', 'after', 'change'],
    ['size', formatBytes(report.source.bytes), formatBytes(report.output.bytes), `${report.sizeRatio.toFixed(2)}× (${signed((report.sizeRatio - 1) * 100, 1)} %)`],
  ];
  const ev = report.eval;
  if (ev) {
    const { original: o, compressed: c } = ev.latencyMs;
    rows.push(['latency, batch 1', formatMs(o.batch1), formatMs(c.batch1), speed(o.batch1, c.batch1)]);
    rows.push(['latency, batch 32', formatMs(o.batch32), formatMs(c.batch32), speed(o.batch32, c.batch32)]);
    if (ev.accuracy) {
      const a = ev.accuracy;
      rows.push([`accuracy (${ev.samples} rows)`, percent(a.original), percent(a.compressed), `${signed(a.delta * 100, 2)} points`]);
    }
  }
  const lines = [table(rows), ''];
  if (ev) {
    const g = ev.agreement;
    const top1 = g.top1Agreement === null ? '' : `top-1 ${percent(g.top1Agreement)}, `;
    lines.push(`agreement on ${ev.samples} rows: ${top1}cosine ${Number.isFinite(g.cosine) ? g.cosine.toFixed(5) : 'n/a'}, max abs error ${short(g.maxAbsError)}, mean rel error ${percent(g.meanRelError)}`);
  }
  const opts = Object.entries(report.options).map(([k, v]) => `${k} ${String(v)}`).join(', ');
  lines.push(`${report.method}${opts ? ` (${opts})` : ''}: ${report.changed} changed, ${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'}`);
  lines.push(`wrote ${report.output.file}`);
  return lines.join('\n');
}
