// Pure SVG line-chart renderer for the benchmark report (BENCHMARKS.md embeds the files it writes).
// Owns layout, axes/ticks (via d3-scale), line geometry (via d3-shape), legend and XML escaping; no I/O.
import { scaleLinear, scaleLog } from 'd3-scale';
import { line } from 'd3-shape';

export interface Series { name: string; points: readonly (readonly [number, number])[]; dashed?: boolean }
/** true means base 10; a number is the log base (2 suits batch sizes). */
export type LogOption = boolean | 2 | 10;
export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  xLog?: LogOption;
  yLog?: LogOption;
  series: readonly Series[];
  width?: number;
  height?: number;
  yMin?: number;
  hLines?: readonly { y: number; label: string }[];
}

// Okabe-Ito, reordered so the weakest colour on white (yellow) comes last.
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const FONT = 11;
const LEGEND_ROW = 16;

/** Escapes XML specials and drops characters XML 1.0 forbids, so any name yields a well-formed file. */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

const SUFFIXES: readonly [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];

/** Compact number: 1k, 2.5k, 1M; below 1000 up to `digits` significant digits. */
export function formatNumber(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  const r = Number(v.toPrecision(digits)); // round first so 999.9 becomes "1k", not "1000"
  if (r === 0) return '0';
  for (const [div, suffix] of SUFFIXES) {
    if (Math.abs(r) >= div) return `${Number((r / div).toPrecision(digits))}${suffix}`;
  }
  return String(r);
}

/** Labels for neighbouring ticks must differ, so add digits until they do. */
function tickLabels(ticks: readonly number[]): string[] {
  for (let d = 3; d < 12; d++) {
    const labels = ticks.map((t) => formatNumber(t, d));
    if (new Set(labels).size === labels.length) return labels;
  }
  return ticks.map((t) => String(t));
}

const formatTip = (v: number): string => String(Number(v.toPrecision(6))); // tooltips keep more precision than ticks
const r1 = (v: number): number => Math.round(v * 10) / 10;
const textWidth = (s: string, size = FONT): number => s.length * size * 0.6; // no font metrics in a pure renderer
const logBase = (o: LogOption | undefined): number | undefined => (o === true ? 10 : o === false || o === undefined ? undefined : o);

interface Axis { scale: (v: number) => number; ticks: number[]; labels: string[] }

/**
 * Builds the scale over `values`; pads degenerate (single-valued) domains so nothing divides by zero.
 * Linear domains are niced; log domains are not, since rounding out to whole decades can waste half the plot.
 */
function makeAxis(values: readonly number[], base: number | undefined, range: [number, number], count: number, padLog = false): Axis {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (base !== undefined) {
    if (lo === hi) { lo /= base; hi *= base; }
    // Un-niced, extreme points would sit on the frame; a y axis gets 4% headroom in log space.
    if (padLog) { const f = (hi / lo) ** 0.04; lo /= f; hi *= f; }
    const s = scaleLog().base(base).domain([lo, hi]).range(range);
    const ticks = s.ticks(count);
    // Intermediate log ticks (2..9 × 10^k) crowd the axis; keep grid lines for all, labels for powers and 2/5.
    const crowded = ticks.length > count;
    const labels = tickLabels(ticks).map((l, i) => {
      const t = ticks[i] ?? 1;
      const m = Math.round(t / base ** Math.floor(Math.log(t) / Math.log(base) + 1e-9));
      return !crowded || m === 1 || (base === 10 && (m === 2 || m === 5)) ? l : '';
    });
    return { scale: (v) => s(v), ticks, labels };
  }
  if (lo === hi) { const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1; lo -= pad; hi += pad; }
  const s = scaleLinear().domain([lo, hi]).range(range).nice(count);
  const ticks = s.ticks(count);
  return { scale: (v) => s(v), ticks, labels: tickLabels(ticks) };
}

interface LegendItem { text: string; color: string; dashed: boolean; empty: boolean; x: number; row: number }

function layoutLegend(series: readonly Series[], hasData: readonly boolean[], left: number, maxWidth: number): LegendItem[] {
  const items: LegendItem[] = [];
  let x = 0;
  let row = 0;
  series.forEach((s, i) => {
    const text = hasData[i] ? s.name : `${s.name} (no data)`;
    const w = 28 + textWidth(text) + 16;
    if (x > 0 && x + w > maxWidth) { x = 0; row++; }
    items.push({ text, color: PALETTE[i % PALETTE.length] ?? '#000', dashed: s.dashed === true, empty: !hasData[i], x: left + x, row });
    x += w;
  });
  return items;
}

/** One chart's elements, drawn at the origin, and its size. */
function chartBody(spec: ChartSpec): { W: number; H: number; out: string[] } {
  const W = spec.width ?? 720;
  const H = spec.height ?? 400;
  const xBase = logBase(spec.xLog);
  const yBase = logBase(spec.yLog);
  const okX = (v: number): boolean => Number.isFinite(v) && (xBase === undefined || v > 0);
  const okY = (v: number): boolean => Number.isFinite(v) && (yBase === undefined || v > 0);
  const ok = (p: readonly [number, number]): boolean => okX(p[0]) && okY(p[1]);
  const hasData = spec.series.map((s) => s.points.some(ok));
  const anyData = hasData.some(Boolean);
  const hLines = (spec.hLines ?? []).filter((h) => okY(h.y));

  const out: string[] = [];
  const text = (x: number, y: number, s: string, attrs = ''): void => {
    out.push(`<text x="${r1(x)}" y="${r1(y)}"${attrs ? ' ' + attrs : ''}>${escapeXml(s)}</text>`);
  };

  // Vertical layout first: the y scale's range decides the y tick labels, whose width decides the left margin.
  const top = spec.subtitle ? 58 : 42;
  const legend = layoutLegend(spec.series, hasData, 16, W - 32);
  const legendRows = legend.length ? (legend[legend.length - 1]?.row ?? 0) + 1 : 0;
  const bottom = H - (8 + legendRows * LEGEND_ROW + 40);
  const plotH = Math.max(10, bottom - top);

  let yAxis: Axis | undefined;
  if (anyData) {
    const ys = spec.series.flatMap((s) => s.points.filter(ok).map((p) => p[1]));
    ys.push(...hLines.map((h) => h.y));
    if (spec.yMin !== undefined && okY(spec.yMin)) ys.push(spec.yMin);
    yAxis = makeAxis(ys, yBase, [top + plotH, top], Math.max(2, Math.floor(plotH / 45)), true);
  }
  const yLabelW = yAxis ? Math.max(...yAxis.labels.map((l) => textWidth(l))) : 0;
  const left = 30 + yLabelW + 8;
  const right = W - 24;
  const plotW = Math.max(10, right - left);

  let xAxis: Axis | undefined;
  if (anyData) {
    const xs = spec.series.flatMap((s) => s.points.filter(ok).map((p) => p[0]));
    xAxis = makeAxis(xs, xBase, [left, left + plotW], Math.max(2, Math.floor(plotW / 80)));
  }

  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  text(W / 2, 22, spec.title, 'text-anchor="middle" font-size="15" font-weight="bold" fill="#222222"');
  if (spec.subtitle) text(W / 2, 40, spec.subtitle, 'text-anchor="middle" font-size="11" fill="#666666"');

  if (xAxis && yAxis) {
    const grid: string[] = [];
    const ticks: string[] = [];
    const minor: string[] = []; // unlabelled log ticks get fainter grid lines and shorter marks
    xAxis.ticks.forEach((t, i) => {
      const x = r1(xAxis.scale(t));
      const l = xAxis.labels[i];
      (l ? grid : minor).push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${r1(top + plotH)}"/>`);
      ticks.push(`<line x1="${x}" y1="${r1(top + plotH)}" x2="${x}" y2="${r1(top + plotH + (l ? 5 : 3))}"/>`);
      if (l) text(x, top + plotH + 17, l, 'text-anchor="middle" fill="#333333"');
    });
    yAxis.ticks.forEach((t, i) => {
      const y = r1(yAxis.scale(t));
      const l = yAxis.labels[i];
      (l ? grid : minor).push(`<line x1="${r1(left)}" y1="${y}" x2="${r1(left + plotW)}" y2="${y}"/>`);
      ticks.push(`<line x1="${r1(left - (l ? 5 : 3))}" y1="${y}" x2="${r1(left)}" y2="${y}"/>`);
      if (l) text(left - 8, y + 4, l, 'text-anchor="end" fill="#333333"');
    });
    if (minor.length) out.push(`<g stroke="#f3f3f3" stroke-width="1">${minor.join('')}</g>`);
    out.push(`<g stroke="#e3e3e3" stroke-width="1">${grid.join('')}</g>`);
    out.push(`<g stroke="#333333" stroke-width="1">${ticks.join('')}</g>`);
  }
  // Axes as an open frame (left + bottom) in both the data and the no-data case.
  // A polyline, not a path, so every <path> in the file is a data series.
  out.push(`<polyline points="${r1(left)},${top} ${r1(left)},${r1(top + plotH)} ${r1(left + plotW)},${r1(top + plotH)}" fill="none" stroke="#333333" stroke-width="1"/>`);
  text(left + plotW / 2, top + plotH + 34, spec.xLabel, 'text-anchor="middle" font-size="12" fill="#222222"');
  const yMid = top + plotH / 2;
  text(16, yMid, spec.yLabel, `text-anchor="middle" font-size="12" fill="#222222" transform="rotate(-90 16 ${r1(yMid)})"`);

  if (!anyData || !xAxis || !yAxis) {
    text(left + plotW / 2, yMid, 'no data', 'text-anchor="middle" font-size="16" fill="#888888"');
  } else {
    const xs = xAxis.scale;
    const ys = yAxis.scale;
    for (const h of hLines) {
      const y = r1(ys(h.y));
      out.push(`<line x1="${r1(left)}" y1="${y}" x2="${r1(left + plotW)}" y2="${y}" stroke="#888888" stroke-width="1.5" stroke-dasharray="5 4"/>`);
      // Label at the left end (where throughput/latency curves are usually low), on a backing box so grid lines don't cut it.
      out.push(`<rect x="${r1(left + 4)}" y="${r1(y - 16)}" width="${r1(textWidth(h.label) + 4)}" height="13" fill="#ffffff" fill-opacity="0.85"/>`);
      text(left + 6, y - 5, h.label, 'fill="#555555"');
    }
    spec.series.forEach((s, i) => {
      if (!hasData[i]) return;
      const color = PALETTE[i % PALETTE.length] ?? '#000';
      const pts = s.points.map((p) => ({ p, ok: ok(p), x: ok(p) ? r1(xs(p[0])) : 0, y: ok(p) ? r1(ys(p[1])) : 0 }));
      const d = line<(typeof pts)[number]>().defined((q) => q.ok).x((q) => q.x).y((q) => q.y)(pts) ?? '';
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
      const marks = pts.filter((q) => q.ok).map((q) =>
        `<circle cx="${q.x}" cy="${q.y}" r="3"><title>${escapeXml(`${s.name}: ${formatTip(q.p[0])}, ${formatTip(q.p[1])}`)}</title></circle>`);
      out.push(`<g fill="${color}">${marks.join('')}</g>`);
    });
  }

  const legendTop = top + plotH + 48;
  for (const it of legend) {
    const y = legendTop + it.row * LEGEND_ROW;
    const stroke = it.empty ? '#bbbbbb' : it.color;
    out.push(`<line x1="${r1(it.x)}" y1="${r1(y)}" x2="${r1(it.x + 22)}" y2="${r1(y)}" stroke="${stroke}" stroke-width="2"${it.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!it.empty) out.push(`<circle cx="${r1(it.x + 11)}" cy="${r1(y)}" r="3" fill="${it.color}"/>`);
    text(it.x + 28, y + 4, it.text, `fill="${it.empty ? '#888888' : '#222222'}"`);
  }

  return { W, H, out };
}

function svgDocument(W: number, H: number, out: readonly string[]): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="${FONT}">`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

export function lineChart(spec: ChartSpec): string {
  const { W, H, out } = chartBody(spec);
  return svgDocument(W, H, out);
}

/** Charts one above the other in one file (series whose units differ get their own y axis). */
export function stackedCharts(specs: readonly ChartSpec[]): string {
  const out: string[] = [];
  let width = 0;
  let y = 0;
  for (const spec of specs) {
    const c = chartBody(spec);
    out.push(`<g transform="translate(0 ${y})">`, ...c.out, '</g>');
    width = Math.max(width, c.W);
    y += c.H;
  }
  return svgDocument(width, y, out);
}
