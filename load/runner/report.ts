// The load runner's results: one JSON shape per run (and per sweep), and the k6-like text summary
// printed at the end, with the same fields. Pure.
import type { Scenario } from '../lib/scenarios.js';
import type { LatencySummary, Recorder } from './recorder.js';
import type { SweepStep, TargetInfo } from './types.js';

export interface Threshold {
  name: string;
  ok: boolean;
}

export interface RunReport {
  tool: 'onnx-serve load';
  startedAt: string;
  target: TargetInfo;
  /** open: requests on a schedule, latency from the due time; closed: C clients, latency from the send. */
  mode: 'open' | 'closed';
  scenario?: Scenario;
  concurrency?: number;
  /** Seconds requests were being started, and from the first request to the last answer. */
  sendingS: number;
  elapsedS: number;
  requests: { sent: number; ok: number; errors: number; timeouts: number; dropped: number };
  /** req/s: sent over the sending time, ok answers over the elapsed time. */
  rate: { offered: number; achieved: number };
  latencyMs: LatencySummary;
  statusCodes: Record<string, number>;
  errors: Record<string, number>;
  thresholds: Threshold[];
}

export interface SweepReport {
  tool: 'onnx-serve load --sweep';
  startedAt: string;
  target: TargetInfo;
  limits: { p99Ms: number; maxErrorRate: number };
  stepS: number;
  steps: (SweepStep & { report: RunReport })[];
  /** Highest offered rate (req/s) that held; undefined when none did. */
  knee?: number;
  /** Why the search ended. */
  ended: string;
}

export function runReport(
  base: Pick<RunReport, 'startedAt' | 'target' | 'mode' | 'scenario' | 'concurrency'>,
  rec: Recorder,
  timing: { sendingMs: number; elapsedMs: number },
  limits: { p99Ms: number; maxErrorRate: number },
): RunReport {
  const latencyMs = rec.latency();
  const failed = rec.errors + rec.timeouts;
  const errorRate = rec.sent ? failed / rec.sent : 0;
  const sendingS = timing.sendingMs / 1000;
  const elapsedS = timing.elapsedMs / 1000;
  return {
    tool: 'onnx-serve load',
    ...base,
    sendingS,
    elapsedS,
    requests: { sent: rec.sent, ok: rec.ok, errors: rec.errors, timeouts: rec.timeouts, dropped: rec.dropped },
    rate: { offered: sendingS > 0 ? rec.sent / sendingS : 0, achieved: elapsedS > 0 ? rec.ok / elapsedS : 0 },
    latencyMs,
    statusCodes: Object.fromEntries([...rec.statuses].sort((a, b) => a[0] - b[0]).map(([k, n]) => [String(k), n])),
    errors: Object.fromEntries(rec.errorMessages),
    thresholds: [
      { name: `p99 < ${limits.p99Ms}ms`, ok: latencyMs.p99 < limits.p99Ms },
      { name: `error rate <= ${(limits.maxErrorRate * 100).toFixed(2)}%`, ok: errorRate <= limits.maxErrorRate && rec.sent > 0 },
    ],
  };
}

export function ms(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (v >= 1000) return `${(v / 1000).toFixed(2)}s`;
  if (v >= 100) return `${v.toFixed(0)}ms`;
  if (v >= 1) return `${v.toFixed(2)}ms`;
  return `${(v * 1000).toFixed(0)}µs`;
}

function row(name: string, value: string): string {
  return `     ${(name + ' ').padEnd(18, '.')}: ${value}`;
}

function describeLoad(r: RunReport): string {
  if (r.mode === 'closed') return `closed loop, ${r.concurrency} clients for ${r.sendingS.toFixed(1)}s`;
  const s = r.scenario!;
  const rates = [s.startRate, ...s.stages.map((x) => x.target)];
  const shape = s.name === 'constant' ? `${s.startRate} req/s` : `${Math.min(...rates)}→${Math.max(...rates)} req/s`;
  return `open loop, ${s.name} ${shape} over ${s.stages.map((x) => x.duration).join(' + ')}`;
}

export function summaryText(r: RunReport): string {
  const t = r.target;
  const l = r.latencyMs;
  const q = r.requests;
  const lines = [
    `  scenario: ${describeLoad(r)}`,
    `  target:   ${t.url} model ${t.model}${t.version ? ` version ${t.version}` : ''}${t.variant ? ` variant ${t.variant}` : ''}, ${t.protocol}, ${t.batch} row(s) per request`,
    '',
    row('requests', `${q.sent} sent = ${q.ok} ok + ${q.errors} errors + ${q.timeouts} timeouts; ${q.dropped} dropped`),
    row('rate', `${r.rate.offered.toFixed(1)} req/s offered, ${r.rate.achieved.toFixed(1)} req/s achieved`),
    row('latency', `min=${ms(l.min)} mean=${ms(l.mean)} p50=${ms(l.p50)} p90=${ms(l.p90)} p99=${ms(l.p99)} p99.9=${ms(l.p999)} max=${ms(l.max)}`),
    row('latency from', r.mode === 'open' ? 'each request\'s scheduled start (queueing in the client counts)' : 'each send (closed loop: stalls are under-counted)'),
    row('status codes', Object.entries(r.statusCodes).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'),
  ];
  for (const [msg, n] of Object.entries(r.errors)) lines.push(row('error', `${n} × ${msg}`));
  lines.push('');
  for (const th of r.thresholds) lines.push(`   ${th.ok ? '✓' : '✗'} ${th.name}`);
  return lines.join('\n');
}

export function sweepText(s: SweepReport): string {
  const lines = [`  sweep: ${s.target.url} model ${s.target.model}, ${s.target.protocol}, ${s.stepS}s per step, p99 target ${s.limits.p99Ms}ms, errors ≤ ${(s.limits.maxErrorRate * 100).toFixed(2)}%`, ''];
  lines.push('     offered req/s   achieved   p50        p99        p99.9      errors   verdict');
  for (const st of s.steps) {
    const l = st.report.latencyMs;
    const errs = st.report.requests.errors + st.report.requests.timeouts;
    lines.push(`     ${String(st.rate).padStart(13)}   ${st.achieved.toFixed(1).padStart(8)}   ${ms(l.p50).padEnd(9)}  ${ms(l.p99).padEnd(9)}  ${ms(l.p999).padEnd(9)}  ${String(errs).padStart(6)}   ${st.held ? 'held' : `broke: ${st.why}`}`);
  }
  lines.push('');
  lines.push(s.knee === undefined ? `  knee: none of the rates held (${s.ended})` : `  knee: ${s.knee} req/s (the highest rate that held; ${s.ended})`);
  return lines.join('\n');
}
