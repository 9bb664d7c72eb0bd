// `npm run soak -- --minutes 10`: one onnx-serve child on 127.0.0.1 under an open loop at 70 % of
// its capacity (measured first in closed loop at c=64, or --rate), valid /v1/predict bodies mixed
// with a share of invalid ones, sampled every window (server VmRSS, p50/p99 of valid answers,
// answers by class); writes SOAK.md and soak.svg and judges RSS growth and p99 drift after
// warm-up. Not in CI: it runs for minutes. Exit 0 when every verdict passed, 99 when one failed,
// 2 for a bad flag, 1 when the run could not happen.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { Workspace, ROOT, invalidBodies, type BenchModel } from './fixtures.js';
import { measure } from './measure.js';
import { rssOf } from './memory.js';
import { runConstantLane } from './overload.js';
import { startOnnxServe, withServer, type ChildServer } from './servers.js';
import { backgroundLoad, cpuBetween, ownCpu, sampleCpu, sampleSystemBusy, type CpuSample } from './procstat.js';
import { machine, settings } from './settings.js';
import { parseSoakOptions, SOAK_USAGE, type SoakOptions } from './soak-options.js';
import { soakChart, soakMarkdown, soakTable, type SoakRun } from './soak-report.js';
import { allPass, failureMessages, verdictLine, verdicts, windowPlan, windowSample, WindowRecorder, type WindowCpu, type WindowPlan, type WindowSample } from './soak-windows.js';
import type { RequestSpec } from '../load/runner/engine.js';
import { finish, LoadError } from '../load/runner/types.js';
import { setTimeout as sleep } from 'node:timers/promises';

const JSON_HEADERS = { 'content-type': 'application/json' };
const CAPACITY_SHARE = 0.7;
const CAPACITY_CONCURRENCY = 64;
const TIMEOUT_MS = 10_000;
const log = (line: string): void => void process.stdout.write(`${line}\n`);

/** Sends one body; `text` is "STATUS CODE" (the status alone when the answer has no error code). */
async function answerOf(origin: string, body: Buffer): Promise<{ status: number; text: string }> {
  const res = await request(`${origin}/v1/predict`, { method: 'POST', headers: JSON_HEADERS, body, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const text = await res.body.text();
  const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
  return { status: res.statusCode, text: code ? `${res.statusCode} ${code}` : String(res.statusCode) };
}

/** Offered rate and how it was chosen: --rate, or 70 % of a short closed loop's req/s. */
async function chooseRate(server: ChildServer, model: BenchModel, o: SoakOptions): Promise<{ rate: number; from: string }> {
  if (o.rate !== undefined) return { rate: o.rate, from: 'given with --rate' };
  const m = await measure(server, { model: model.name, mode: 'capacity', bodies: model.bodies, concurrency: CAPACITY_CONCURRENCY, warmupMs: 1000, durationMs: 5000, maxRequests: 200_000, onnxServe: true });
  const cap = m.load.reqPerS;
  if (!(cap > 0) || m.load.errors > 0) throw new LoadError(`the capacity run failed (${cap.toFixed(1)} req/s, ${m.load.errors} errors: ${m.load.errorSamples.join('; ')}); give --rate`);
  const rate = Math.round(cap * CAPACITY_SHARE * 10) / 10;
  return { rate, from: `${CAPACITY_SHARE * 100} % of ${cap.toFixed(1)} req/s, the capacity measured just before on the same server in closed loop at c=${CAPACITY_CONCURRENCY} (valid bodies, 1 s warm-up, 5 s window, p99 ${m.load.latency.p99.toFixed(1)} ms)` };
}

interface Lane {
  rate: number;
  requests: RequestSpec[];
  rec: WindowRecorder;
}

interface CpuMark {
  system: number | undefined;
  server: CpuSample | undefined;
  /** This process's CPU and wall seconds since the mark. */
  own: () => { cpuS: number; wallS: number };
}

const cpuMark = (pid: number): CpuMark => ({ system: sampleSystemBusy(), server: sampleCpu(pid), own: ownCpu() });

function cpuSince(a: CpuMark, b: CpuMark): WindowCpu {
  const { cpuS, wallS } = a.own();
  const use = cpuBetween(a.server, b.server);
  return { systemS: a.system === undefined || b.system === undefined ? undefined : b.system - a.system, serverS: use ? use.mainS + use.otherS : undefined, clientS: cpuS, wallS };
}

/** Both lanes at once for the whole plan; a window closes every windowS, the last when the lanes have drained. */
async function soak(server: ChildServer, lanes: Lane[], plan: WindowPlan): Promise<WindowSample[]> {
  const samples: WindowSample[] = [];
  const [valid, invalid] = lanes as [Lane, Lane];
  const t0 = performance.now();
  let openedAt = t0;
  let mark = cpuMark(server.pid);
  const close = (): void => {
    const now = performance.now();
    const next = cpuMark(server.pid);
    const cpu = cpuSince(mark, next);
    const s = windowSample(samples.length + 1, plan, { endS: (now - t0) / 1000, seconds: (now - openedAt) / 1000 }, rssOf(server.pid), valid.rec.take(), invalid.rec.take(), cpu);
    openedAt = now;
    mark = next;
    samples.push(s);
    log(`  window ${String(s.index).padStart(2)}/${plan.windows}${s.warmup ? ' (warm-up)' : '          '}  RSS ${s.rssMiB.toFixed(1)} MiB  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms  2xx ${s.ok}  4xx ${s.rejected}  429 ${s.shed}  5xx ${s.http5xx}  unanswered ${s.transport}  wrong ${s.unexpected}  ${s.achieved.toFixed(1)} answers/s  server ${s.serverCores.toFixed(2)} cores, others ${s.otherCores.toFixed(2)}`);
  };
  // self-correcting: window k closes at t0 + k·windowS however late the previous timer fired
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    const k = samples.length + 1;
    if (k >= plan.windows) return;
    timer = setTimeout(() => {
      close();
      schedule();
    }, Math.max(0, t0 + k * plan.windowS * 1000 - performance.now()));
  };
  schedule();
  const o = { stepS: plan.windows * plan.windowS, timeoutMs: TIMEOUT_MS, maxInFlight: 1000 };
  try {
    await Promise.all(lanes.map((l) => (l.rate > 0 ? runConstantLane(server.url, { name: '', rate: l.rate, requests: l.requests }, o, l.rec) : undefined)));
  } finally {
    clearTimeout(timer);
  }
  while (samples.length < plan.windows) close();
  return samples;
}

function failuresOver(lanes: Lane[]): [string, number][] {
  const [valid, invalid] = lanes as [Lane, Lane];
  return [...failureMessages(valid.rec, invalid.rec)].sort((a, b) => b[1] - a[1]).slice(0, 20);
}

async function main(argv: string[]): Promise<number> {
  const o = parseSoakOptions(argv);
  if (!o) {
    log(SOAK_USAGE);
    return 0;
  }
  const plan = windowPlan(o.minutes);
  const startedAt = new Date();
  const m = machine();
  const backgroundCores = await backgroundLoad();
  const ws = await Workspace.create();
  try {
    const model = o.model === 'heavy' ? await ws.heavyModel(settings().heavySizes) : ws.seedModel();
    const features = model.sizes[0]!;
    const invalid = invalidBodies(model.name, features);
    const repo = await ws.repo('soak', model);
    log(`onnx-serve soak: ${model.name} ${model.sizes.join('→')}, ${o.minutes} min in ${plan.windows} windows of ${plan.windowS.toFixed(1)} s (${plan.warmupWindows} of warm-up), invalid share ${o.invalidShare}`);
    return await withServer(() => startOnnxServe(repo), async (server) => {
      const first = await answerOf(server.url, model.bodies[0]!);
      if (first.status !== 200) throw new LoadError(`a valid body was answered ${first.text}`);
      const invalidKinds: SoakRun['invalidKinds'] = [];
      for (const b of invalid) invalidKinds.push({ kind: b.kind, answer: (await answerOf(server.url, b.body)).text });
      log(`  invalid kinds: ${invalidKinds.map((k) => `${k.kind} → ${k.answer}`).join('; ')}`);
      const { rate, from } = await chooseRate(server, model, o);
      log(`  rate ${rate} req/s: ${from}`);
      await sleep(2000); // the capacity run's backlog drains
      const spec = (body: Buffer): RequestSpec => ({ path: '/v1/predict', body, headers: JSON_HEADERS });
      const lanes: Lane[] = [
        { rate: rate * (1 - o.invalidShare), requests: model.bodies.map(spec), rec: new WindowRecorder() },
        { rate: rate * o.invalidShare, requests: invalid.map((b) => spec(b.body)), rec: new WindowRecorder() },
      ];
      const samples = await soak(server, lanes, plan);
      const outDir = resolve(o.out ?? ROOT);
      const run: SoakRun = {
        command: `npm run soak -- ${argv.join(' ')}`.trim(),
        startedAt,
        machine: `cores: ${m.cores}, ${m.cpu}, ${m.memory}, Node ${m.node}, commit ${m.commit}`,
        ...(backgroundCores !== undefined ? { backgroundCores } : {}),
        model: `${model.name} (${model.sizes.join('→')})`,
        rate,
        rateFrom: from,
        invalidShare: o.invalidShare,
        invalidKinds,
        plan,
        samples,
        verdicts: verdicts(samples),
        failureMessages: failuresOver(lanes),
        svgFile: 'soak.svg',
      };
      await mkdir(outDir, { recursive: true });
      await writeFile(join(outDir, 'SOAK.md'), soakMarkdown(run));
      await writeFile(join(outDir, run.svgFile), soakChart(run));
      log(`\n${soakTable(samples)}\n`);
      for (const v of Object.values(run.verdicts)) log(verdictLine(v));
      for (const [msg, n] of run.failureMessages) log(`  failure: ${n} × ${msg}`);
      log(`wrote ${join(outDir, 'SOAK.md')} and ${join(outDir, run.svgFile)}`);
      return allPass(run.verdicts) ? 0 : 99;
    });
  } finally {
    await ws.remove();
  }
}

finish('onnx-serve soak', main(process.argv.slice(2)));
