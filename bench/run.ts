// `npm run bench`: seed-mlp and a generated heavy MLP through onnx-serve with batching on and
// off at several concurrencies, a bare Fastify baseline and a naive hand-written server, latency
// against offered rate (open loop) under the adaptive and the static batching policies, overload
// past the capacity and two priority levels with a latency target (open loop), ceilings at every
// batch size, the knee of each shipped model (`npm run load -- --sweep`), in-process onnxruntime ceilings and
// the workers × threads split, /v1/predict vs KServe v2 infer (JSON and binary) on a generated
// image CNN and seed-mlp, gRPC ModelInfer (raw contents) vs v2 binary on the same two (grpc), the heavy MLP compressed (int8 dynamic/static, pruned) in process and
// through the server, the server with its default (auto-sized) config against the best two-core
// ceiling (/v1 JSON and v2 binary; section split), a BERT-style model padded vs unpadded with a
// correctness pass against each row alone in process (padding), a ~400 MB MLP's RSS with the
// auto-sized config vs 2 instances (memory), main-thread CPU per request and the /v1 codec before
// vs after in process (cpu), the issue's overload and fault probes before and after (faults); writes BENCHMARKS.md and prints a summary. Configured by
// BENCH_DURATION_S, BENCH_WARMUP_S, BENCH_CONCURRENCY, BENCH_ONLY, BENCH_MAX_REQUESTS,
// BENCH_CEILING_S, BENCH_QUIET_WAIT_S, BENCH_HEAVY_SIZES, BENCH_ROUNDS, BENCH_CURVE_STEP_S,
// BENCH_KNEE_STEP_S, BENCH_KNEE_P99_MS, BENCH_OVERLOAD_STEP_S, BENCH_FAULTS_S, BENCH_OUT.
import { mkdir, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import os from 'node:os';
import { dirname, join, isAbsolute } from 'node:path';
import { ROOT, Workspace, makeBodies, protocolBodies, type BenchModel, type ProtocolBodies } from './fixtures.js';
import { machine, settings } from './settings.js';
import { batchDelta, measure, modelView, type Measurement } from './measure.js';
import { bertStyleModel, mlpModel } from '../tools/onnx-builder.js';
import { PAD_BODIES, PAD_MAX_LEN, PAD_MIN_LEN, PAD_MODEL, PAD_MODEL_EXACT, PAD_TOLERANCE, PADDING_CONFIG, answerDiff, parseSeqAnswer, referenceAnswers, seqBody, seqCheck, seqRows, type PaddingCheck } from './padding.js';
import { MEMORY_MODEL, MEMORY_SIZES, mlpParams, rssOf } from './memory.js';
import { measureCodec } from './codec.js';
import { measureCeiling, type CeilingResult } from './ceiling.js';
import { killAllNow, startBareFastify, startNaive, startOnnxServe, withServer, type ChildServer } from './servers.js';
import { curveRates, kneeOf, latencyCurve } from './open-loop.js';
import { goodput, rejectedShare, runLanes, sideOf, summarizeTimes, withPriority, type LaneResult, type LaneSpec, type RunSide } from './overload.js';
import { writePlots } from './plots.js';
import { runFaults } from './faults.js';
import { backgroundLoad, makeQuietWaiter, ownCpu, sampleSystemBusy } from './procstat.js';
import { renderReport } from './report.js';
import { grpcCheck, grpcClosedLoop, grpcConnections, grpcFrame, GRPC_HEADERS, GRPC_INFER_PATH, rawRequest } from './grpc.js';
import { h2loadClosedLoop, h2loadPath } from './h2load.js';
import { agreement, buildForms } from './compression.js';
import { MODE_CLEAN, MODE_POISONED_OFF, MODE_POISONED_ON, POISON_MODEL, POISON_MODEL_UNBATCHED, embeddingMlp, poisonBodies } from './poison.js';
import {
  BUSY_CORES,
  type CompressionEntry,
  type PaddingResults,
  HIGH_SHARE,
  LATENCY_TARGET_MS,
  MODE_ADAPTIVE,
  MODE_BARE,
  MODE_EXACT,
  MODE_MEM_AUTO,
  MODE_MEM_TWO,
  MODE_NAIVE,
  MODE_PADDED,
  MODE_OFF,
  MODE_ON,
  MODE_STATIC_0,
  MODE_STATIC_2,
  MODE_V1,
  MODE_GRPC,
  MODE_GRPC_H2LOAD,
  MODE_V2_BIN_H2LOAD,
  MODE_V2_BIN,
  MODE_THREAD,
  MODE_PROCESS,
  MODE_V2_JSON,
  OVERLOAD_MULTIPLES,
  PRIORITY_MULTIPLE,
  find,
  targets,
  topConcurrency,
  verdict,
  type Results,
} from './results.js';

/** Flags a measurement during which other processes used a noticeable share of the cores. */
function busyNote(otherCores: number | undefined): string {
  return otherCores !== undefined && otherCores >= BUSY_CORES ? `  [other processes used ${(otherCores * 100).toFixed(0)} % of a core]` : '';
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function logMeasurement(m: Measurement): void {
  const l = m.load;
  const batch = m.batch ? `  batch ${m.batch.mean.toFixed(2)} (dominant ${m.batch.dominant})` : '';
  const busy = m.workerBusyShare !== undefined ? `  workers busy ${(m.workerBusyShare * 100).toFixed(0)} %` : '';
  const errs = l.errors ? `  ERRORS ${l.errors}: ${l.errorSamples.join(' | ')}` : '';
  const check = l.checkProblem ? `  BAD ANSWER: ${l.checkProblem}` : '';
  log(`  ${m.model.padEnd(9)} ${m.mode.padEnd(14)} c=${String(l.concurrency).padEnd(3)} ${l.reqPerS.toFixed(1).padStart(8)} req/s  p50 ${l.latency.p50.toFixed(2)} ms  p99 ${l.latency.p99.toFixed(2)} ms${batch}${busy}${errs}${check}${busyNote(m.otherCores)}`);
}

/** A v2 JSON answer must carry one output of outWidth values. */
function v2JsonCheck(outWidth: number) {
  return (body: Buffer): string | undefined => {
    const j = JSON.parse(body.toString('utf8')) as { outputs?: { shape?: number[]; data?: number[] }[] };
    const o = j.outputs?.[0];
    return Array.isArray(o?.data) && o.data.length === outWidth ? undefined : `unexpected answer ${body.toString('utf8', 0, 200)}`;
  };
}

/** A v2 binary answer: a JSON header naming binary_data_size = outWidth float32s, followed by exactly those bytes. */
function v2BinaryCheck(outWidth: number) {
  return (body: Buffer): string | undefined => {
    const bytes = outWidth * 4;
    try {
      const j = JSON.parse(body.toString('utf8', 0, body.length - bytes)) as { outputs?: { parameters?: { binary_data_size?: number } }[] };
      if (j.outputs?.[0]?.parameters?.binary_data_size === bytes) return undefined;
    } catch {
      /* reported below */
    }
    return `unexpected answer (${body.length} bytes) ${body.toString('utf8', 0, 200)}`;
  };
}

function logLane(label: string, l: LaneResult, extra = ''): void {
  const fails = l.otherFailures ? `  other failures ${l.otherFailures}: ${l.errorSamples.filter((e) => !/HTTP (429|504)/.test(e)).join(' | ')}` : '';
  log(`  ${label.padEnd(24)} ${String(l.rate).padStart(6)} req/s offered  ${l.ok} ok (p50 ${l.latency.p50.toFixed(1)} ms, p99 ${l.latency.p99.toFixed(1)} ms; server queue ${l.queueMs.toFixed(1)} + compute ${l.computeMs.toFixed(1)} ms)  goodput ${goodput(l).toFixed(0)}/s  429 ${(rejectedShare(l) * 100).toFixed(1)} %  504 ${l.expired}${fails}${extra}`);
}

function logSide(x: RunSide): void {
  const share = (cpu: number | undefined, wall: number | undefined): string => (cpu === undefined || !wall ? '–' : `${((cpu / wall) * 100).toFixed(0)} %`);
  log(`  ${''.padEnd(24)} server main thread ${share(x.serverCpu?.mainS, x.serverCpu?.wallS)}, other threads ${share(x.serverCpu?.otherS, x.serverCpu?.wallS)}, client ${share(x.clientCpu && x.clientCpu.mainS + x.clientCpu.otherS, x.clientCpu?.wallS)} of a core; client event-loop delay p99 ${x.clientLagMs.p99.toFixed(1)} ms, max ${x.clientLagMs.max.toFixed(1)} ms`);
}

/** Pause after each curve step, so that a backlog drains before the next server's step. */
const CURVE_PAUSE_MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** An onnx-serve answer must carry one output row of the model's output width. */
function predictCheck(outWidth: number) {
  return (body: Buffer): string | undefined => {
    const j = JSON.parse(body.toString('utf8')) as { outputs?: { output?: number[][] } };
    const row = j.outputs?.output?.[0];
    return Array.isArray(row) && row.length === outWidth ? undefined : `unexpected answer ${body.toString('utf8', 0, 200)}`;
  };
}

/** Section padding: closed-loop concurrency, and rounds of the correctness pass (every body at once). */
const PAD_CONCURRENCY = 32;
const PAD_CHECK_ROUNDS = 3;

/** POSTs every body at once and returns each answer's status and body. */
async function sendAll(url: string, bodies: readonly Buffer[]): Promise<{ status: number; body: Buffer }[]> {
  return Promise.all(
    bodies.map(async (body) => {
      const res = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, headersTimeout: 60_000, bodyTimeout: 60_000 });
      return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
    }),
  );
}

async function main(): Promise<void> {
  const s = settings();
  const r: Results = {
    command: 'npm run bench' + Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => ` ${k}=${v}`).join(''),
    startedAt: new Date(),
    settings: s,
    machine: machine(),
    cores: os.availableParallelism(),
    measurements: [],
    ceilings: [],
    split: { batch: 32, inproc: [], server: [] },
    v2: [],
    grpc: [],
    v2BodySizes: {},
    compression: [],
    compressionServer: [],
    curve: [],
    curveCapacity: [],
    overload: [],
    batchCurve: [],
    knees: [],
    poison: [],
    failures: [],
  };
  const has = (x: string): boolean => s.only.includes(x);
  const quiet = makeQuietWaiter(s.quietWaitS, BUSY_CORES, log);
  const common = { warmupMs: s.warmupS * 1000, durationMs: s.durationS * 1000, maxRequests: s.maxRequests };
  const ws = await Workspace.create();
  const section = async (name: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      r.failures.push(`${name}: ${(err as Error).message.split('\n').slice(0, 6).join(' / ')}`);
      log(`  ${name} FAILED: ${(err as Error).message}`);
    }
  };

  interface Contender {
    mode: string;
    start: () => Promise<ChildServer>;
    onnxServe: boolean;
    check: (body: Buffer) => string | undefined;
  }
  /**
   * Servers compared on one model, all up at once so that their rows interleave: at each
   * concurrency one row per server in turn, and at the top concurrency (where the targets are
   * judged) and any other in `roundsAt`, BENCH_ROUNDS such rounds, so that drift in the machine's
   * speed hits every side alike.
   */
  const compareServers = async (model: BenchModel, contenders: Contender[], roundsAt: number[] = []): Promise<void> => {
    await section(`${model.name} ${contenders.map((x) => x.mode).join(' / ')}`, async () => {
      const servers: ChildServer[] = [];
      try {
        for (const x of contenders) servers.push(await x.start());
        const top = topConcurrency(r);
        for (const c of s.concurrency) {
          const rounds = c === top || roundsAt.includes(c) ? s.rounds : 1;
          for (let round = 0; round < rounds; round++) {
            for (const [i, x] of contenders.entries()) {
              await quiet();
              const m = await measure(servers[i]!, { ...common, model: model.name, mode: x.mode, bodies: model.bodies, concurrency: c, onnxServe: x.onnxServe, check: x.check });
              if (rounds > 1) m.round = round;
              r.measurements.push(m);
              logMeasurement(m);
            }
          }
        }
      } finally {
        await Promise.all(servers.map((x) => x.stop()));
      }
    });
  };
  /** onnx-serve with batching on (default config) and off (maxBatchSize 1). */
  const serveModes = async (model: BenchModel): Promise<Contender[]> => {
    const out: Contender[] = [];
    for (const [mode, config] of [[MODE_ON, undefined], [MODE_OFF, { maxBatchSize: 1 }]] as const) {
      const repo = await ws.repo(`${model.key}-${mode.replace(' ', '-')}`, model, config);
      out.push({ mode, start: () => startOnnxServe(repo), onnxServe: true, check: predictCheck(model.sizes.at(-1)!) });
    }
    return out;
  };
  /** The server a Node developer writes by hand: session.run per request, no batching, no workers. */
  const naive = (model: BenchModel): Contender => ({ mode: MODE_NAIVE, start: () => startNaive(model.path), onnxServe: false, check: predictCheck(model.sizes.at(-1)!) });

  const ceilingCache = new Map<string, CeilingResult>();
  const ceiling = async (model: BenchModel, batch: number, instances: number, threads: number, fresh = false): Promise<CeilingResult> => {
    const key = `${model.name}|${batch}|${instances}|${threads}`;
    let c = fresh ? undefined : ceilingCache.get(key);
    if (!c) {
      await quiet();
      const own = ownCpu();
      const sys0 = sampleSystemBusy();
      c = await measureCeiling({ modelPath: model.path, instances, intraOpThreads: threads, batch, inputName: model.inputName, rowDims: [model.sizes[0]!], warmupMs: 500, durationMs: s.ceilingS * 1000, maxRuns: 1_000_000 });
      const sys1 = sampleSystemBusy();
      const { cpuS, wallS } = own();
      if (sys0 !== undefined && sys1 !== undefined && wallS > 0) c.otherCores = Math.max(0, (sys1 - sys0 - cpuS) / wallS);
      ceilingCache.set(key, c);
      log(`  ceiling   ${model.name.padEnd(9)} batch ${String(batch).padEnd(3)} ${instances} × ${threads}  ${c.rowsPerS.toFixed(0).padStart(8)} rows/s  run ${c.runMeanMs.toFixed(2)} ms${busyNote(c.otherCores)}`);
    }
    return c;
  };
  /** One ceiling per (batch the server formed most, workers, threads) among this model's runs. */
  const ceilings = async (model: BenchModel): Promise<void> => {
    await section(`${model.name} ceiling`, async () => {
      for (const m of r.measurements.filter((x) => x.model === model.name && x.batch && x.info)) {
        const c = await ceiling(model, m.batch!.dominant, m.info!.instances, m.info!.intraOpThreads);
        if (!r.ceilings.some((e) => e.result === c)) r.ceilings.push({ model: model.name, result: c });
      }
    });
  };

  try {
    log(`onnx-serve bench: ${s.only.join(', ')}; concurrency ${s.concurrency.join(', ')}; ${s.warmupS} s warm-up + ${s.durationS} s per row`);
    const bg = await backgroundLoad();
    if (bg !== undefined) {
      r.machine['load before the run'] = `${(bg * 100).toFixed(0)} % of a core used by other processes`;
      if (bg >= BUSY_CORES) log(`  WARNING: other processes are using ${(bg * 100).toFixed(0)} % of a core; numbers will be noisy`);
    }
    if (has('seed')) {
      const seed = ws.seedModel();
      const bare: Contender = { mode: MODE_BARE, start: startBareFastify, onnxServe: false, check: (b) => (b.toString() === '{"ok":true}' ? undefined : `unexpected answer ${b.toString('utf8', 0, 200)}`) };
      // rounds at c=1 too: the p50 targets of the default policy are judged there
      await compareServers(seed, [...(await serveModes(seed)), bare, naive(seed)], [1]);
      await ceilings(seed);
    }
    let heavy: BenchModel | undefined;
    if (['heavy', 'curve', 'overload', 'priority', 'batch', 'split', 'compress', 'isolation', 'faults'].some(has)) {
      await section('heavy model generation', async () => {
        heavy = await ws.heavyModel(s.heavySizes);
        log(`  generated heavy-mlp ${s.heavySizes.join('→')}`);
      });
    }
    if (heavy && has('heavy')) {
      await compareServers(heavy, [...(await serveModes(heavy)), naive(heavy)]);
      await ceilings(heavy);
    }
    if (heavy && has('curve')) {
      const h = heavy;
      await section('curve', async () => {
        const c = topConcurrency(r);
        const servers: { mode: string; server: ChildServer }[] = [];
        try {
          const policies: [string, object | undefined][] = [
            [MODE_ADAPTIVE, undefined],
            [MODE_STATIC_0, { dynamicBatching: { maxQueueDelayMs: 0 } }],
            [MODE_STATIC_2, { dynamicBatching: { maxQueueDelayMs: 2 } }],
          ];
          for (const [mode, config] of policies) {
            const repo = await ws.repo(`curve-${mode.replace(/ /g, '-')}`, h, config);
            servers.push({ mode, server: await startOnnxServe(repo) });
          }
          for (const x of servers) {
            await quiet();
            const m = await measure(x.server, { ...common, model: h.name, mode: x.mode, bodies: h.bodies, concurrency: c, onnxServe: true, check: predictCheck(h.sizes.at(-1)!) });
            r.curveCapacity.push(m);
            logMeasurement(m);
          }
          // one capacity for all three, so that they are offered the same rates: the best of them
          const best = r.curveCapacity.reduce((a, b) => (b.load.reqPerS > a.load.reqPerS ? b : a));
          r.capacity = { reqPerS: best.load.reqPerS, from: `the best of the three policies' closed-loop rows at c=${c} in section curve (${best.mode})` };
          r.curve.push(...(await latencyCurve(h.name, servers, curveRates(r.capacity.reqPerS), { stepS: s.curveStepS, timeoutS: 5, pauseMs: CURVE_PAUSE_MS, rounds: s.curveRounds, beforeStep: quiet }, log)));
        } finally {
          await Promise.all(servers.map((x) => x.server.stop()));
        }
      });
    }
    if (heavy && (has('overload') || has('priority'))) {
      const h = heavy;
      await section('overload / priority server', async () => {
        const repo = await ws.repo('latency-target', h, { dynamicBatching: { latencyTargetMs: LATENCY_TARGET_MS } });
        await withServer(() => startOnnxServe(repo), async (server) => {
          const c = topConcurrency(r);
          if (!r.capacity) {
            // no curve in this run: this server's own closed-loop figure, its latency target lifted
            // per request so that admission does not cut the closed loop's 64 in flight
            await quiet();
            const headers = h.bodies.map(() => ({ 'content-type': 'application/json', 'x-request-timeout-ms': '10000' }));
            const m = await measure(server, { ...common, model: h.name, mode: 'latency target 100 ms', bodies: h.bodies, headers, concurrency: c, onnxServe: true, check: predictCheck(h.sizes.at(-1)!) });
            logMeasurement(m);
            r.capacity = { reqPerS: m.load.reqPerS, from: `this section's server in closed loop at c=${c} with x-request-timeout-ms 10000 (${m.load.reqPerS.toFixed(1)} req/s, p99 ${m.load.latency.p99.toFixed(1)} ms)` };
          }
          const knee = r.capacity.reqPerS;
          if (!(knee > 0)) throw new Error('no capacity measured');
          const lane = (name: string, rate: number, bodies: readonly Buffer[]): LaneSpec => ({ name, rate, requests: bodies.map((body) => ({ path: '/v1/predict', body, headers: { 'content-type': 'application/json' } })) });
          const o = { stepS: s.overloadStepS, goodMs: LATENCY_TARGET_MS, timeoutMs: 5000, maxInFlight: 2000, serverPid: server.pid };
          const high = withPriority(h.bodies, 1);
          const low = withPriority(h.bodies, 3);
          for (const b of [high[0]!, low[0]!]) {
            const res = await request(`${server.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b, headersTimeout: 30_000, bodyTimeout: 30_000 });
            const text = Buffer.from(await res.body.arrayBuffer());
            const problem = res.statusCode === 200 ? predictCheck(h.sizes.at(-1)!)(text) : `HTTP ${res.statusCode}: ${text.toString('utf8', 0, 200)}`;
            if (problem) throw new Error(`a body with a priority was not answered: ${problem}`);
          }
          // The server's first overload is slower than the next for a second or two (seen: p99 of
          // the accepted 1.4-4 s, against 0.3 s once warm), so it is a step of its own, shown but
          // not judged; it is also the priority section's warm-up.
          const steps = [{ k: OVERLOAD_MULTIPLES[0], cold: true }, ...OVERLOAD_MULTIPLES.map((k) => ({ k, cold: false }))];
          await section(has('overload') ? 'overload' : 'priority warm-up', async () => {
            for (const { k, cold } of has('overload') ? steps : steps.slice(0, 1)) {
              await sleep(2000); // the previous step's backlog drains
              await quiet();
              const res = await runLanes(server.url, [lane(`${k}× capacity`, Math.round(knee * k), h.bodies)], o);
              const rejectTimes = summarizeTimes(res.rejectTimes);
              if (has('overload')) r.overload.push({ multiple: k, ...(cold ? { cold } : {}), latencyTargetMs: LATENCY_TARGET_MS, lane: res.lanes[0]!, rejectTimes, side: sideOf(res) });
              logLane(`overload  ${k}×${cold ? ' (cold)' : ''}`, res.lanes[0]!, `  429 server time p99 ${rejectTimes.p99.toFixed(3)} ms, max ${rejectTimes.max.toFixed(3)} ms`);
              logSide(sideOf(res));
            }
          });
          if (has('priority')) {
            await section('priority', async () => {
              await sleep(2000);
              await quiet();
              const total = knee * PRIORITY_MULTIPLE;
              const hiRate = Math.round(total * HIGH_SHARE);
              const res = await runLanes(server.url, [lane('priority 1', hiRate, high), lane('priority 3', Math.round(total) - hiRate, low)], o);
              const [hi, lo] = res.lanes as [LaneResult, LaneResult];
              r.priority = { multiple: PRIORITY_MULTIPLE, latencyTargetMs: LATENCY_TARGET_MS, high: { ...hi, priority: 1 }, low: { ...lo, priority: 3 }, rejectTimes: summarizeTimes(res.rejectTimes), side: sideOf(res) };
              logLane(`priority  1 (${HIGH_SHARE * 100} %)`, hi);
              logLane(`priority  3`, lo);
              logSide(sideOf(res));
            });
          }
        });
      });
    }
    if (heavy && has('faults')) {
      const h = heavy;
      await section('faults', async () => {
        const repo = await ws.repo('faults-default', h);
        r.faults = await runFaults({ model: h, repo, start: (root) => startOnnxServe(root), stepS: s.faultsS, maxRequests: s.maxRequests, check: predictCheck(h.sizes.at(-1)!), quiet, log });
      });
    }
    if (heavy && has('batch')) {
      const h = heavy;
      await section('batch', async () => {
        const on = r.measurements.find((m) => m.model === h.name && m.mode === MODE_ON && m.info);
        const [inst, thr] = on?.info ? [on.info.instances, on.info.intraOpThreads] : [1, 1];
        for (const model of [h, ws.seedModel()]) {
          for (const b of [1, 2, 4, 8, 16, 32, 64]) r.batchCurve.push({ model: model.name, result: await ceiling(model, b, inst, thr) });
        }
      });
    }
    if (heavy && has('split')) {
      const h = heavy;
      await section('split in process', async () => {
        for (const [inst, thr] of [[1, 1], [2, 1], [1, 2]] as const) r.split.inproc.push(await ceiling(h, r.split.batch, inst, thr));
      });
      const c = topConcurrency(r);
      for (const [inst, thr] of [[1, 1], [2, 1], [1, 2]] as const) {
        const mode = `${inst} × ${thr}`;
        await section(`split server ${mode}`, async () => {
          const repo = await ws.repo(`split-${inst}x${thr}`, h, { instances: inst, intraOpThreads: thr });
          await withServer(() => startOnnxServe(repo), async (server) => {
            await quiet();
            const m = await measure(server, { ...common, model: h.name, mode, bodies: h.bodies, concurrency: c, onnxServe: true, check: predictCheck(h.sizes.at(-1)!) });
            r.split.server.push(m);
            logMeasurement(m);
          });
        });
      }
      // the default config (auto-sized, as `npm start` serves it), /v1 JSON and v2 binary on the
      // same inputs, interleaved in rounds: what a user gets against what the cores can do
      await section('split server default config', async () => {
        const repo = await ws.repo('split-auto', h);
        const b = protocolBodies(h.name, h.inputName, [1, h.sizes[0]!], 8);
        const out = h.sizes.at(-1)!;
        const v2Path = `/v2/models/${encodeURIComponent(h.name)}/infer`;
        await withServer(() => startOnnxServe(repo), async (server) => {
          const sizing = (await modelView(server.url, h.name))?.sizing;
          if (sizing) r.split.autoSizing = sizing;
          log(`  default config: ${sizing ? `${sizing.instances} × ${sizing.intraOpThreads} (${sizing.reason})` : 'no sizing shown'}`);
          r.split.auto = [];
          for (let round = 0; round < s.rounds; round++) {
            for (const mode of [MODE_V1, MODE_V2_BIN]) {
              const how = mode === MODE_V1 ? { bodies: b.v1, check: predictCheck(out) } : { bodies: b.v2binary, headers: b.v2binaryHeaders, path: v2Path, check: v2BinaryCheck(out) };
              await quiet();
              const m = await measure(server, { ...common, model: h.name, mode, concurrency: c, onnxServe: true, ...how });
              m.round = round;
              r.split.auto.push(m);
              logMeasurement(m);
            }
          }
        });
      });
    }
    if (has('isolation')) {
      // thread vs process isolation on the same default config, both servers up, rows interleaved
      // in rounds: what the process boundary (a copy of each batch's tensors each way) costs
      for (const model of [...(heavy ? [heavy] : []), ws.seedModel()]) {
        await section(`isolation ${model.name}`, async () => {
          const c = topConcurrency(r);
          const repo = await ws.repo(`isolation-${model.key}`, model);
          const servers: { mode: string; server: ChildServer }[] = [];
          try {
            for (const mode of [MODE_THREAD, MODE_PROCESS]) servers.push({ mode, server: await startOnnxServe(repo, ['--isolation', mode === MODE_THREAD ? 'thread' : 'process']) });
            for (let round = 0; round < s.rounds; round++) {
              for (const x of servers) {
                await quiet();
                const m = await measure(x.server, { ...common, model: model.name, mode: x.mode, bodies: model.bodies, concurrency: c, onnxServe: true, check: predictCheck(model.sizes.at(-1)!) });
                m.round = round;
                (r.isolation ??= []).push(m);
                logMeasurement(m);
              }
            }
          } finally {
            await Promise.all(servers.map((x) => x.server.stop()));
          }
        });
      }
    }
    if (heavy && has('compress')) {
      const h = heavy;
      await section('compress', async () => {
        const forms = await buildForms(h, join(ws.dir, 'generated'), log);
        for (const f of forms) {
          const entry: CompressionEntry = { form: f.form, model: f.model.name, bytes: f.bytes, warnings: f.warnings, ceilings: [] };
          if (f.form !== 'fp32') {
            entry.agreement = await agreement(h, f);
            log(`  ${f.form.padEnd(13)} top-1 agreement ${(entry.agreement.top1 * 100).toFixed(1)} %, max abs error ${entry.agreement.maxAbsError.toPrecision(3)}`);
          }
          r.compression.push(entry);
        }
        // in process, 1 worker × 1 thread (the server's default here): batch 1 once, batch 32 in rounds, forms alternating
        for (const [batch, rounds] of [[1, 1], [32, s.rounds]] as const) {
          for (let round = 0; round < rounds; round++) {
            for (const [i, f] of forms.entries()) {
              const c = await ceiling(f.model, batch, 1, 1, true);
              r.compression[i]!.ceilings.push({ batch, ...(rounds > 1 ? { round } : {}), result: c });
            }
          }
        }
        // through one server that serves every form as its own model, rows alternating
        let root = '';
        for (const f of forms) root = await ws.repo('compress', f.model);
        await withServer(() => startOnnxServe(root), async (server) => {
          const top = topConcurrency(r);
          for (let round = 0; round < s.rounds; round++) {
            for (const f of forms) {
              await quiet();
              const m = await measure(server, { ...common, model: f.model.name, mode: f.form, bodies: f.model.bodies, concurrency: top, onnxServe: true, check: predictCheck(h.sizes.at(-1)!) });
              if (s.rounds > 1) m.round = round;
              r.compressionServer.push(m);
              logMeasurement(m);
            }
          }
        });
      });
    }
    if (has('v2')) {
      await section('v2', async () => {
        const cnn = await ws.cnnModel();
        log('  generated tiny-cnn 3×224×224 → Conv 8 → Conv 16 → GAP → 10');
        const seed = ws.seedModel();
        const bodies = new Map<string, ProtocolBodies>([
          [cnn.name, protocolBodies(cnn.name, cnn.inputName, [1, 3, 224, 224], 4)],
          [seed.name, protocolBodies(seed.name, seed.inputName, [1, seed.sizes[0]!], 8)],
        ]);
        for (const [name, b] of bodies) r.v2BodySizes[name] = b.sizes;
        const root = await ws.repo('v2', cnn);
        await ws.repo('v2', seed);
        await withServer(() => startOnnxServe(root), async (server) => {
          const run = async (model: BenchModel, mode: string, c: number, round?: number): Promise<void> => {
            const b = bodies.get(model.name)!;
            const out = model.sizes.at(-1)!;
            const v2Path = `/v2/models/${encodeURIComponent(model.name)}/infer`;
            const how =
              mode === MODE_V1
                ? { bodies: b.v1, check: predictCheck(out) }
                : mode === MODE_V2_JSON
                  ? { bodies: b.v2json, path: v2Path, check: v2JsonCheck(out) }
                  : { bodies: b.v2binary, headers: b.v2binaryHeaders, path: v2Path, check: v2BinaryCheck(out) };
            await quiet();
            const m = await measure(server, { ...common, model: model.name, mode, concurrency: c, onnxServe: true, ...how });
            if (round !== undefined) m.round = round;
            r.v2.push(m);
            logMeasurement(m);
          };
          // modes interleaved at each concurrency, in BENCH_ROUNDS rounds at the top one (where the
          // targets are judged), so that drift in machine speed hits them alike
          const top = topConcurrency(r);
          const rounds = (c: number): (number | undefined)[] => (c === top && s.rounds > 1 ? Array.from({ length: s.rounds }, (_, i) => i) : [undefined]);
          for (const c of s.concurrency) for (const round of rounds(c)) for (const mode of [MODE_V1, MODE_V2_JSON, MODE_V2_BIN]) await run(cnn, mode, c, round);
          for (const round of rounds(top)) for (const mode of [MODE_V1, MODE_V2_JSON]) await run(seed, mode, top, round);
        });
      });
    }
    if (has('grpc')) {
      await section('grpc', async () => {
        const cnn = await ws.cnnModel();
        const seed = ws.seedModel();
        const dims = new Map<string, number[]>([[cnn.name, [1, 3, 224, 224]], [seed.name, [1, seed.sizes[0]!]]]);
        const models = [cnn, seed];
        const bodies = new Map<string, ProtocolBodies>(models.map((m) => [m.name, protocolBodies(m.name, m.inputName, dims.get(m.name)!, m === cnn ? 4 : 8)]));
        // the same values as the HTTP binary bodies: their bytes after the JSON header
        const requests = new Map(models.map((m) => {
          const b = bodies.get(m.name)!;
          return [m.name, b.v2binary.map((body, i) => rawRequest(m.name, m.inputName, dims.get(m.name)!, body.subarray(Number(b.v2binaryHeaders[i]!['inference-header-content-length']))))];
        }));
        const root = await ws.repo('grpc', cnn);
        await ws.repo('grpc', seed);
        await withServer(() => startOnnxServe(root, ['--grpc-port', '0']), async (server) => {
          const port = /gRPC .* on \S+:(\d+)/.exec(server.output())?.[1];
          if (!port) throw new Error(`onnx-serve printed no gRPC port:\n${server.output()}`);
          const address = `127.0.0.1:${port}`;
          const h2load = h2loadPath();
          if (!h2load) process.stderr.write('grpc: h2load is not installed (Debian: apt-get install -y nghttp2-client); gRPC and HTTP binary are compared through the Node clients only\n');
          // gRPC calls the server counted as failed: h2load sees only their HTTP 200
          const grpcFailures = async (): Promise<number> => {
            const text = await (await request(`${server.url}/metrics`)).body.text();
            return [...text.matchAll(/^onnx_serve_requests_total\{[^}]*protocol="grpc"[^}]*code="(\d+)"[^}]*\} (\d+)/gm)].reduce((n, m) => n + (m[1] === '200' ? 0 : Number(m[2])), 0);
          };
          const run = async (model: BenchModel, mode: string, c: number, round?: number): Promise<void> => {
            const b = bodies.get(model.name)!;
            const out = model.sizes.at(-1)!;
            const opts = { ...common, model: model.name, mode, concurrency: c, onnxServe: true };
            await quiet();
            const binaryPath = `/v2/models/${encodeURIComponent(model.name)}/infer`;
            const m =
              mode === MODE_GRPC
                ? await measure(server, { ...opts, bodies: [] }, (window) => grpcClosedLoop({ address, requests: requests.get(model.name)!, concurrency: c, durationMs: common.durationMs, maxRequests: common.maxRequests, check: grpcCheck(out) }, window))
                : mode === MODE_GRPC_H2LOAD
                  ? await measure(server, { ...opts, bodies: [] }, (window) =>
                      h2loadClosedLoop(h2load!, { url: `http://${address}${GRPC_INFER_PATH}`, body: grpcFrame(requests.get(model.name)![0]!), headers: GRPC_HEADERS, h1: false, ...grpcConnections(c), durationMs: common.durationMs, serverErrors: grpcFailures }, window),
                    )
                  : mode === MODE_V2_BIN_H2LOAD
                    ? await measure(server, { ...opts, bodies: [] }, (window) =>
                        h2loadClosedLoop(h2load!, { url: `${server.url}${binaryPath}`, body: b.v2binary[0]!, headers: b.v2binaryHeaders[0]!, h1: true, connections: c, streams: 1, durationMs: common.durationMs }, window),
                      )
                    : await measure(server, { ...opts, bodies: b.v2binary, headers: b.v2binaryHeaders, path: binaryPath, check: v2BinaryCheck(out) });
            if (round !== undefined) m.round = round;
            r.grpc!.push(m);
            logMeasurement(m);
          };
          // both protocols interleaved at each concurrency, BENCH_ROUNDS rounds at the top one;
          // the Node clients check the answers, which h2load cannot read
          const top = topConcurrency(r);
          const rounds = (c: number): (number | undefined)[] => (c === top && s.rounds > 1 ? Array.from({ length: s.rounds }, (_, i) => i) : [undefined]);
          const modes = h2load ? [MODE_V2_BIN, MODE_GRPC, MODE_V2_BIN_H2LOAD, MODE_GRPC_H2LOAD] : [MODE_V2_BIN, MODE_GRPC];
          for (const model of models) for (const c of s.concurrency) for (const round of rounds(c)) for (const mode of modes) await run(model, mode, c, round);
        });
      });
    }
    if (has('poison')) {
      await section('poison', async () => {
        const model = await ws.generatedModel(POISON_MODEL, 'poison', embeddingMlp(), [16, 10], 'ids');
        const root = await ws.repo('poison', model);
        await ws.repo('poison', { ...model, name: POISON_MODEL_UNBATCHED }, { maxBatchSize: 0 });
        const logits = (body: Buffer): string | undefined => {
          const row = (JSON.parse(body.toString('utf8')) as { outputs?: { logits?: number[][] } }).outputs?.logits?.[0];
          return Array.isArray(row) && row.length === 10 ? undefined : `unexpected answer ${body.toString('utf8', 0, 200)}`;
        };
        await withServer(() => startOnnxServe(root), async (server) => {
          const top = topConcurrency(r);
          const rows: [string, string, Buffer[]][] = [
            [POISON_MODEL, MODE_CLEAN, poisonBodies(POISON_MODEL, false)],
            [POISON_MODEL, MODE_POISONED_ON, poisonBodies(POISON_MODEL, true)],
            [POISON_MODEL_UNBATCHED, MODE_POISONED_OFF, poisonBodies(POISON_MODEL_UNBATCHED, true)],
          ];
          for (let round = 0; round < s.rounds; round++) {
            for (const [name, mode, bodies] of rows) {
              await quiet();
              const m = await measure(server, { ...common, model: name, mode, concurrency: top, onnxServe: true, bodies, check: logits, expectedStatus: 422 });
              m.round = round;
              r.poison.push(m);
              logMeasurement(m);
            }
          }
        });
      });
    }
    if (has('padding')) {
      await section('padding', async () => {
        const model = await ws.generatedModel(PAD_MODEL, 'padding', bertStyleModel(17), [PAD_MAX_LEN, 2], 'input_ids');
        const root = await ws.repo('padding', model, PADDING_CONFIG);
        await ws.repo('padding', { ...model, name: PAD_MODEL_EXACT });
        const rows = seqRows(PAD_BODIES, 99);
        const bodiesOf = (name: string): Buffer[] => rows.map((x) => seqBody(name, x));
        const pr: PaddingResults = (r.padding = { measurements: [], lengths: { min: Math.min(...rows.map((x) => x.ids.length)), max: Math.max(...rows.map((x) => x.ids.length)), bodies: rows.length } });
        log(`  generated BERT-style model; ${rows.length} bodies of lengths ${pr.lengths.min}..${pr.lengths.max}`);
        await withServer(() => startOnnxServe(root), async (server) => {
          for (let round = 0; round < s.rounds; round++) {
            for (const [name, mode] of [[PAD_MODEL, MODE_PADDED], [PAD_MODEL_EXACT, MODE_EXACT]] as const) {
              await quiet();
              const m = await measure(server, { ...common, model: name, mode, bodies: bodiesOf(name), concurrency: PAD_CONCURRENCY, onnxServe: true, check: seqCheck });
              m.round = round;
              pr.measurements.push(m);
              logMeasurement(m);
            }
          }
          // correctness: every body at once (so that they batch, padded), against each row alone in process
          const ref = await referenceAnswers(model.path, rows);
          const check: PaddingCheck = { answers: 0, wrong: 0, maxAbsDiff: 0, tolerance: PAD_TOLERANCE, samples: [] };
          const bodies = bodiesOf(PAD_MODEL);
          const v0 = await modelView(server.url, PAD_MODEL);
          for (let k = 0; k < PAD_CHECK_ROUNDS; k++) {
            const answers = await sendAll(server.url, bodies);
            answers.forEach((a, i) => {
              check.answers++;
              const got = a.status === 200 ? parseSeqAnswer(a.body) : undefined;
              const d = got ? answerDiff(got, ref[i]!) : Infinity;
              if (Number.isFinite(d)) check.maxAbsDiff = Math.max(check.maxAbsDiff, d);
              if (!(d <= PAD_TOLERANCE)) {
                check.wrong++;
                if (check.samples.length < 3) check.samples.push(`body ${i} (length ${rows[i]!.ids.length}): ${got ? `diff ${d}` : `HTTP ${a.status} ${a.body.toString('utf8', 0, 120)}`}`);
              }
            });
          }
          const v1 = await modelView(server.url, PAD_MODEL);
          const batch = batchDelta(v0?.stats ?? null, v1?.stats ?? null);
          if (batch) check.batchMean = batch.mean;
          pr.check = check;
          log(`  correctness: ${check.answers} answers, ${check.wrong} wrong, max abs diff ${check.maxAbsDiff.toExponential(2)}, mean batch ${batch?.mean.toFixed(2) ?? '–'}`);
        });
      });
    }
    if (has('memory')) {
      await section('memory', async () => {
        const t0 = performance.now();
        const rss0 = process.memoryUsage().rss;
        const big = await ws.generatedModel(MEMORY_MODEL, 'memory', mlpModel(MEMORY_SIZES, 13), MEMORY_SIZES, 'input');
        big.bodies = makeBodies(MEMORY_MODEL, MEMORY_SIZES[0]!);
        const modelBytes = statSync(big.path).size;
        log(`  generated ${MEMORY_MODEL} ${MEMORY_SIZES.join('→')} (${(mlpParams(MEMORY_SIZES) / 1e6).toFixed(1)} M params, ${(modelBytes / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s; bench RSS +${((process.memoryUsage().rss - rss0) / 2 ** 20).toFixed(0)} MiB`);
        r.memory = [];
        const check = predictCheck(MEMORY_SIZES.at(-1)!);
        for (const [mode, config] of [[MODE_MEM_AUTO, undefined], [MODE_MEM_TWO, { instances: 2 }]] as const) {
          const repo = await ws.repo(`memory-${mode === MODE_MEM_AUTO ? 'auto' : 'two'}`, big, config);
          // one server at a time: their RSS must not compete for the machine's memory
          await withServer(() => startOnnxServe(repo), async (server) => {
            // a few warm requests, several at once so that every instance runs
            for (let k = 0; k < 3; k++) {
              for (const a of await sendAll(server.url, big.bodies)) {
                const problem = a.status === 200 ? check(a.body) : `HTTP ${a.status}: ${a.body.toString('utf8', 0, 200)}`;
                if (problem) throw new Error(`${mode}: ${problem}`);
              }
            }
            await sleep(500);
            const rssBytes = rssOf(server.pid);
            const sizing = (await modelView(server.url, MEMORY_MODEL))?.sizing;
            await quiet();
            const load = await measure(server, { ...common, model: MEMORY_MODEL, mode, bodies: big.bodies, concurrency: topConcurrency(r), onnxServe: true, check });
            const entry = { mode, rssBytes, rssAfterLoadBytes: rssOf(server.pid), modelBytes, load, ...(sizing ? { sizing } : {}) };
            r.memory!.push(entry);
            log(`  ${mode.padEnd(15)} ${sizing ? `${sizing.instances} × ${sizing.intraOpThreads}` : '?'}  RSS ${rssBytes === undefined ? '?' : (rssBytes / 2 ** 20).toFixed(0)} MiB after warm-up, ${entry.rssAfterLoadBytes === undefined ? '?' : (entry.rssAfterLoadBytes / 2 ** 20).toFixed(0)} MiB after load`);
            logMeasurement(load);
          });
        }
      });
    }
    if (has('cpu')) {
      await section('cpu', async () => {
        // in process: the /v1 codec per request before and after, on seed-mlp's and heavy-mlp's widths
        const seed = ws.seedModel();
        const hs = s.heavySizes;
        const msEach = Math.max(200, s.ceilingS * 100);
        r.codec = [measureCodec(seed.name, seed.bodies, seed.sizes[0]!, seed.sizes.at(-1)!, msEach), measureCodec('heavy-mlp', makeBodies('heavy-mlp', hs[0]!), hs[0]!, hs.at(-1)!, msEach)];
        // from the rows of sections seed and heavy, when this run measured them
        for (const m of ['seed-mlp', 'heavy-mlp'].map((name) => find(r, name, MODE_ON, topConcurrency(r)))) {
          if (m?.serverCpu && m.load.requests) log(`  ${m.model.padEnd(9)} ${MODE_ON} c=${m.load.concurrency}: server main thread ${((m.serverCpu.mainS / m.load.requests) * 1e6).toFixed(0)} µs CPU per request`);
        }
        for (const e of r.codec) {
          log(`  codec ${e.model.padEnd(9)} decode ${e.decodeBefore.toFixed(1)} → ${e.decodeAfter.toFixed(1)} µs, encode ${e.encodeBefore.toFixed(1)} → ${e.encodeAfter.toFixed(1)} µs per request`);
        }
      });
    }
    if (has('knee')) {
      await section('knee', async () => {
        // the shipped models as `npm start` serves them: the default config, every model in models/
        await withServer(() => startOnnxServe(join(ROOT, 'models')), async (server) => {
          const res = await request(`${server.url}/v1/models`);
          const names = ((await res.body.json()) as { models: { name: string }[] }).models.map((m) => m.name);
          for (const name of names) {
            await quiet();
            r.knees.push(await kneeOf(server, name, { p99Ms: s.kneeP99Ms, stepS: s.kneeStepS, startRate: 50 }, log));
          }
        });
      });
    }
  } finally {
    await ws.remove();
  }
  r.finishedAt = new Date();

  const outPath = process.env.BENCH_OUT ? (isAbsolute(process.env.BENCH_OUT) ? process.env.BENCH_OUT : join(ROOT, process.env.BENCH_OUT)) : join(ROOT, 'BENCHMARKS.md');
  const plots = await writePlots(r, dirname(outPath));
  await mkdir(dirname(outPath), { recursive: true });
  await writeFile(outPath, renderReport(r, plots));
  log('');
  log('targets:');
  for (const t of targets(r)) log(`  ${verdict(t).padEnd(4)} ${t.name}: ${t.goal}; ${t.detail}${t.ratio === undefined ? '' : ` → ${t.ratio.toFixed(t.digits ?? 2)}`}`);
  if (r.failures.length) {
    log(`sections that failed: ${r.failures.length} (see ${outPath})`);
    process.exitCode = 1; // a target that is missed is a result; a section that could not be measured is an error
  }
  log(`wrote ${outPath} in ${((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000).toFixed(0)} s`);
}

main().catch((err: Error) => {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  killAllNow();
  process.exitCode = 1;
});
