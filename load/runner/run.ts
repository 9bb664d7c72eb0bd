// One load run or one sweep, end to end: check the target, read the model's metadata, build and
// probe the bodies, drive the engine, and return the report. The CLI, the tests and the bench
// call these; nothing here prints except through the optional progress callback.
import { performance } from 'node:perf_hooks';
import { scenarioStages, type Scenario } from '../lib/scenarios.js';
import { runClosedLoop, runOpenLoop, type RequestSpec } from './engine.js';
import type { LoadOptions } from './options.js';
import { RateProfile } from './profile.js';
import { Recorder } from './recorder.js';
import { runReport, type RunReport, type SweepReport } from './report.js';
import { judgeStep, knee, nextRate } from './sweep.js';
import { buildRequests, fetchMetadata, probe, targetOrigin } from './target.js';
import { LoadError, type SweepStep, type TargetInfo } from './types.js';

export interface Prepared {
  /** Its url is the target's origin, checked. */
  target: TargetInfo;
  requests: RequestSpec[];
}

/** Progress callback: the recorder so far, ms elapsed, and ms the run should last. */
export type Progress = (rec: Recorder, elapsedMs: number, totalMs: number) => void;

export async function prepare(o: LoadOptions): Promise<Prepared> {
  const origin = targetOrigin(o.url, o.allowRemote);
  const meta = await fetchMetadata(origin, o.model, o.version);
  const target: TargetInfo = { url: origin, model: o.model, protocol: o.protocol, batch: o.batch, ...(o.version ? { version: o.version } : {}), ...(o.variant ? { variant: o.variant } : {}) };
  const requests = buildRequests(meta, target);
  await probe(origin, requests[0]!);
  return { target, requests };
}

function scenarioOf(o: LoadOptions): Scenario {
  try {
    return scenarioStages(o.scenario, {
      rate: o.rate,
      duration: o.duration,
      ...(o.maxRate !== undefined ? { maxRate: o.maxRate } : {}),
      ...(o.spikeFactor !== undefined ? { spikeFactor: o.spikeFactor } : {}),
      ...(o.spikeDuration !== undefined ? { spikeDuration: o.spikeDuration } : {}),
    });
  } catch (err) {
    throw new LoadError((err as Error).message, 2);
  }
}

/** One run: the open loop on the options' scenario (or `scenario`), or the closed loop. */
export async function runOnce(o: LoadOptions, p: Prepared, progress?: Progress, scenario?: Scenario): Promise<RunReport> {
  const rec = new Recorder();
  const startedAt = new Date().toISOString();
  const engine = { origin: p.target.url, requests: p.requests, timeoutMs: o.timeoutMs, maxRequests: o.maxRequests, maxInFlight: o.maxInFlight };
  const limits = { p99Ms: o.p99Ms, maxErrorRate: o.maxErrorRate };
  if (o.mode === 'closed') {
    const onTick = progress ? (ms: number) => progress(rec, ms, o.durationMs) : undefined;
    const timing = await runClosedLoop({ ...engine, concurrency: o.concurrency, durationMs: o.durationMs, ...(onTick ? { onTick } : {}) }, rec);
    return runReport({ startedAt, target: p.target, mode: 'closed', concurrency: o.concurrency }, rec, timing, limits);
  }
  const scn = scenario ?? scenarioOf(o);
  const profile = new RateProfile(scn);
  const onTick = progress ? (ms: number) => progress(rec, ms, profile.durationMs) : undefined;
  const timing = await runOpenLoop(profile, { ...engine, ...(onTick ? { onTick } : {}) }, rec);
  return runReport({ startedAt, target: p.target, mode: 'open', scenario: scn }, rec, timing, limits);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `--sweep`: constant-rate steps chosen by sweep.ts until the knee is found; `onStep` sees each. */
export async function runSweep(o: LoadOptions, p: Prepared, progress?: Progress, onStep?: (s: SweepStep) => void): Promise<SweepReport> {
  const sw = o.sweep!;
  const startedAt = new Date().toISOString();
  const limits = { p99Ms: o.p99Ms, maxErrorRate: o.maxErrorRate };
  const steps: SweepReport['steps'] = [];
  const started = performance.now();
  let rate = nextRate([], sw);
  let ended = `reached --sweep-max-rate ${sw.maxRate}`;
  while (rate !== undefined) {
    if (steps.length >= 40) {
      ended = 'stopped after 40 steps';
      break;
    }
    const scn = scenarioStages('constant', { rate, duration: `${sw.stepMs}ms` });
    const report = await runOnce({ ...o, mode: 'open' }, p, progress, scn);
    const failed = report.requests.errors + report.requests.timeouts;
    const step = judgeStep(
      { rate, p99Ms: report.latencyMs.p99, errorRate: report.requests.sent ? failed / report.requests.sent : 0, dropped: report.requests.dropped, achieved: report.rate.achieved },
      limits,
    );
    steps.push({ ...step, report });
    onStep?.(step);
    rate = nextRate(steps, sw);
    if (rate === undefined && steps.some((s) => !s.held)) ended = 'narrowed down between the highest rate that held and the lowest that broke';
    else if (rate !== undefined) await sleep(sw.pauseMs); // let the last step's queue drain
  }
  const k = knee(steps);
  return {
    tool: 'onnx-serve load --sweep',
    startedAt,
    target: p.target,
    limits,
    stepS: sw.stepMs / 1000,
    steps,
    ...(k !== undefined ? { knee: k } : {}),
    ended: `${ended}, ${((performance.now() - started) / 1000).toFixed(0)} s`,
  };
}
