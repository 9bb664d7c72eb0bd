// What `npm run soak` writes: SOAK.md (how the run was made, one table row per window, the
// verdicts) and soak.svg (server RSS above, latency of valid answers below, both over time). Pure.
import { formatNumber, stackedCharts } from './svg-chart.js';
import { P99_DRIFT_LIMIT, RSS_GROWTH_LIMIT, verdictLine, type Verdicts, type WindowPlan, type WindowSample } from './soak-windows.js';

export interface SoakRun {
  command: string;
  startedAt: Date;
  /** e.g. "cores: 2 (availableParallelism 2), AMD EPYC …, Node v22 …, commit abc123". */
  machine: string;
  /** Cores' worth of CPU other processes used when the soak started (undefined without /proc). */
  backgroundCores?: number;
  model: string;
  /** Offered req/s, valid and invalid together, and how it was chosen. */
  rate: number;
  rateFrom: string;
  invalidShare: number;
  /** Each invalid kind and the status and code it got when checked before the run. */
  invalidKinds: { kind: string; answer: string }[];
  plan: WindowPlan;
  samples: WindowSample[];
  verdicts: Verdicts;
  /** Failure messages over the run and how often each came. */
  failureMessages: [string, number][];
  svgFile: string;
}

const fixed = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

export function soakTable(samples: readonly WindowSample[]): string {
  const head = ['window', 'end (min)', 'phase', 'RSS (MiB)', 'p50 (ms)', 'p99 (ms)', 'valid 2xx', 'invalid 4xx', 'valid 429', '5xx', 'unanswered', 'wrong status', 'answers/s', 'server cores', 'other cores'];
  const rows = samples.map((s) => [
    String(s.index),
    fixed(s.endS / 60, 2),
    s.warmup ? 'warm-up' : 'judged',
    fixed(s.rssMiB, 1),
    fixed(s.p50Ms, 2),
    fixed(s.p99Ms, 2),
    String(s.ok),
    String(s.rejected),
    String(s.shed),
    String(s.http5xx),
    String(s.transport),
    String(s.unexpected),
    fixed(s.achieved, 1),
    fixed(s.serverCores, 2),
    fixed(s.otherCores, 2),
  ]);
  return [head, head.map((_, i) => (i < 3 ? '---' : '---:')), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export function soakMarkdown(r: SoakRun): string {
  const when = r.startedAt.toISOString().slice(0, 16).replace('T', ' ');
  const validRate = r.rate * (1 - r.invalidShare);
  const lines = [
    '# Soak',
    '',
    `\`${r.command}\`, started ${when} UTC; ${r.machine}. ${r.backgroundCores === undefined ? '' : `Other processes used ${r.backgroundCores.toFixed(2)} cores when the soak started (the column *other cores* follows them per window). `}Not part of CI or \`npm test\`; see the README's *Soak* paragraph.`,
    '',
    `- Model: ${r.model}, default config, one onnx-serve child process on 127.0.0.1; the load generator runs on the same machine.`,
    `- Offered: ${formatNumber(r.rate)} req/s in open loop (latency counted from each request's due time), ${formatNumber(validRate)} req/s of valid /v1/predict bodies and ${formatNumber(r.rate - validRate)} req/s (${(r.invalidShare * 100).toFixed(0)} %) of invalid ones. Rate: ${r.rateFrom}.`,
    `- Invalid kinds, in turn (answer when checked before the run): ${r.invalidKinds.map((k) => `${k.kind} → ${k.answer}`).join('; ')}.`,
    `- ${r.plan.windows} windows of ${fixed(r.plan.windowS, 1)} s; warm-up, not judged: ${r.plan.warmupWindows === 1 ? 'window 1' : `windows 1-${r.plan.warmupWindows}`} (${fixed((r.plan.warmupWindows * r.plan.windowS) / 60, 2)} min). RSS is the server's VmRSS at each window's end; latencies are those of valid answers ending in the window; CPU in cores' worth over the window (*other cores*: the machine's busy time less the server's and the soak's).`,
    '',
    '## Verdicts',
    '',
    ...Object.values(r.verdicts).map((v) => `- ${verdictLine(v)}`),
    '',
    `RSS growth = (RSS at the last window − RSS at the first window after warm-up) ÷ the latter, target < ${(RSS_GROWTH_LIMIT * 100).toFixed(0)} %. p99 drift = (mean p99 of the last third of the windows after warm-up − mean p99 of the first third) ÷ the latter, target < ${(P99_DRIFT_LIMIT * 100).toFixed(0)} % (a falling p99 passes). Failed requests: valid requests shed with 429 QUEUE_FULL, 5xx answers, requests without an answer (connection errors, client timeouts, dropped at the client's in-flight limit), other 4xx to valid requests and answers below 400 to invalid ones, warm-up included.`,
    '',
    ...(r.failureMessages.length ? ['Failure messages:', '', ...r.failureMessages.map(([m, n]) => `- ${n} × ${m}`), ''] : []),
    '## Windows',
    '',
    soakTable(r.samples),
    '',
    `![server RSS and latency over the soak](${r.svgFile})`,
    '',
  ];
  return lines.join('\n');
}

/** RSS over time above, valid answers' p50 and p99 below; dashed lines mark each target's limit. */
export function soakChart(r: SoakRun): string {
  const minutes = (s: WindowSample): number => s.endS / 60;
  const baseRss = r.verdicts.rss.base ?? NaN;
  const baseP99 = r.verdicts.p99.base ?? NaN;
  const warmupEnd = (r.plan.warmupWindows * r.plan.windowS) / 60;
  const subtitle = `${r.model}, ${formatNumber(r.rate)} req/s offered (${(r.invalidShare * 100).toFixed(0)} % invalid); windows up to ${fixed(warmupEnd, 2)} min are warm-up`;
  return stackedCharts([
    {
      title: 'Soak: server RSS at the end of each window',
      subtitle,
      xLabel: 'minutes since the start of the load',
      yLabel: 'VmRSS (MiB)',
      series: [{ name: 'server RSS', points: r.samples.map((s) => [minutes(s), s.rssMiB] as const) }],
      hLines: Number.isFinite(baseRss) ? [{ y: baseRss * (1 + RSS_GROWTH_LIMIT), label: `+${RSS_GROWTH_LIMIT * 100} % of the first judged window` }] : [],
      height: 320,
    },
    {
      title: 'Soak: latency of valid answers per window (open loop, from the due time)',
      subtitle,
      xLabel: 'minutes since the start of the load',
      yLabel: 'latency (ms)',
      series: [
        { name: 'p99', points: r.samples.map((s) => [minutes(s), s.p99Ms] as const) },
        { name: 'p50', points: r.samples.map((s) => [minutes(s), s.p50Ms] as const), dashed: true },
      ],
      hLines: Number.isFinite(baseP99) ? [{ y: baseP99 * (1 + P99_DRIFT_LIMIT), label: `+${P99_DRIFT_LIMIT * 100} % of the first third's mean p99` }] : [],
      yMin: 0,
      height: 360,
    },
  ]);
}
