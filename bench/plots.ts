// The report's pictures: p99 latency against offered rate (one line per batching policy, open
// loop) and in-process throughput against batch size, as SVG files beside BENCHMARKS.md
// (docs/bench/), drawn by svg-chart.ts. Returns the relative paths the markdown embeds.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { curveMedians, type Results } from './results.js';
import { lineChart, type Series } from './svg-chart.js';

export interface Plots {
  latencyVsRate?: string;
  throughputVsBatch?: string;
}

export const PLOTS_DIR = 'docs/bench';

function subtitle(r: Results): string {
  return `${r.machine.cpu ?? '?'}, ${r.cores} cores, Node ${r.machine.node ?? '?'}, commit ${r.machine.commit ?? '?'}, ${r.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function latencyChart(r: Results): string | undefined {
  if (!r.curve.length) return undefined;
  const model = r.curve[0]!.model;
  const medians = curveMedians(r.curve);
  const series: Series[] = [...new Set(medians.map((p) => p.mode))].map((mode) => ({
    name: `${mode} p99`,
    points: medians.filter((p) => p.mode === mode).sort((a, b) => a.rate - b.rate).map((p) => [p.rate, p.p99] as const),
  }));
  return lineChart({
    title: `${model}: p99 latency vs offered rate, per batching policy (open loop, median of ${r.settings.curveRounds} rounds)`,
    subtitle: subtitle(r),
    xLabel: 'offered rate (req/s, log scale); latency counted from each request\'s due time',
    yLabel: 'p99 latency (ms, log scale)',
    xLog: true,
    yLog: true,
    series,
  });
}

export function batchChart(r: Results): string | undefined {
  if (!r.batchCurve.length) return undefined;
  const series: Series[] = [...new Set(r.batchCurve.map((e) => e.model))].map((model) => {
    const entries = r.batchCurve.filter((e) => e.model === model);
    const { instances, intraOpThreads } = entries[0]!.result;
    return { name: `${model} (${instances} × ${intraOpThreads})`, points: entries.map((e) => [e.result.batch, e.result.rowsPerS] as const) };
  });
  return lineChart({
    title: 'In-process ceiling: onnxruntime rows/s vs batch size (no HTTP)',
    subtitle: subtitle(r),
    xLabel: 'batch size (rows per session.run)',
    yLabel: 'rows/s (log scale)',
    xLog: 2,
    yLog: true,
    series,
  });
}

/** Writes the charts under reportDir/docs/bench and returns their paths relative to reportDir. */
export async function writePlots(r: Results, reportDir: string): Promise<Plots> {
  const out: Plots = {};
  const charts: [keyof Plots, string, string | undefined][] = [
    ['latencyVsRate', 'latency-vs-rate.svg', latencyChart(r)],
    ['throughputVsBatch', 'throughput-vs-batch.svg', batchChart(r)],
  ];
  for (const [key, file, svg] of charts) {
    if (!svg) continue;
    await mkdir(join(reportDir, PLOTS_DIR), { recursive: true });
    await writeFile(join(reportDir, PLOTS_DIR, file), svg);
    out[key] = `${PLOTS_DIR}/${file}`;
  }
  return out;
}
