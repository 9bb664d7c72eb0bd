// Section faults: the issue's fault probes re-run on the current code, heavy-mlp with the default
// config. Overload at 3× the closed-loop capacity (open loop, the runner's engine), SIGTERM under
// 2× on pre-opened kept-alive connections and on a new connection per request (raw sockets, so
// that a reset, a clean close and an answer are told apart), slow clients (a short body, 40
// stalled 8 MB bodies) and a pipelined batch with garbage at 50. Every probe is bounded in count
// and time; the counting and the verdicts are in bench/faults-report.ts.
import { readFileSync } from 'node:fs';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { BenchModel } from './fixtures.js';
import { measure } from './measure.js';
import { rssOf, watchRssPeak } from './memory.js';
import { sampleSystemBusy } from './procstat.js';
import { h2loadOnce, h2loadPath } from './h2load.js';
import { percentile, runLanes, summarizeTimes } from './overload.js';
import { NoAnswer, RawConnection, type RawAnswer } from './raw-http.js';
import type { ChildServer } from './servers.js';
import { countShutdown, GOOD_MS, HEAP_LEFT_MAX, listenOverflows, parseOpenLog, range, recoveryMs, type FaultsResult, type H2loadOpen, type Probe, type ShutdownOutcome, type ShutdownRow } from './faults-report.js';
import { setTimeout as sleep } from 'node:timers/promises';


/** The server's default request timeout (src/config.ts); the section passes no timeout flag. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const CAPACITY_CONCURRENCY = 64;
const RECOVERY_BOUND_MS = 10_000;
const PROBE_GAP_MS = 50;
const HEADER_PROBES = 10;
/** Longer than the main thread's lag under the load (refusals seen 3-4 s late on a busy machine). */
const HEADER_PROBE_WAIT_MS = 10_000;
const PREOPENED = 1024;
/** New-connection row: at most this many sockets open at once (the client's own limit). */
const MAX_NEW_OPEN = 2048;
const SIGTERM_SEND_MS = 3500;
const SIGTERM_AT_MS = 3000;
/** Everything written must have settled this long after the signal (the drain timeout is 10 s). */
const SIGTERM_SETTLE_MS = 20_000;
const CONNECT_TIMEOUT_MS = 5000;
const STALLED = 40;
const STALL_DECLARED = 8_000_000;
const STALL_SENT = 7_900_000;

type Log = (line: string) => void;

export interface FaultsOptions {
  model: BenchModel;
  /** A repository serving the model with the default config. */
  repo: string;
  start: (repo: string) => Promise<ChildServer>;
  stepS: number;
  maxRequests: number;
  check: (body: Buffer) => string | undefined;
  quiet: () => Promise<void>;
  log: Log;
}

const port = (url: string): number => Number(new URL(url).port);
const share = (cpu: number | undefined, wall: number | undefined): number | undefined => (cpu === undefined || !wall ? undefined : cpu / wall);

function readOverflows(): number | undefined {
  try {
    return listenOverflows(readFileSync('/proc/net/netstat', 'utf8'));
  } catch {
    return undefined;
  }
}

async function post(url: string, body: Buffer): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await request(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, headersTimeout: 15_000, bodyTimeout: 15_000 });
  await res.body.arrayBuffer();
  return { status: res.statusCode, ms: performance.now() - t0 };
}

interface CreateEvent {
  request: object & { origin?: unknown };
}
interface HeadersEvent {
  request: object & { origin?: unknown };
  response: { statusCode: number; headers: (Buffer | string)[] };
}

/** Client-side time of every 429/503 answer from `origin` (undici's request creation to its headers) and their Retry-After. */
function watchRefusals(origin: string): { stop(): { times: number[]; retryAfter: number[] } } {
  const created = new WeakMap<object, number>();
  const times: number[] = [];
  const retryAfter: number[] = [];
  const onCreate = (msg: unknown): void => {
    const { request: r } = msg as CreateEvent;
    if (String(r.origin).startsWith(origin)) created.set(r, performance.now());
  };
  const onHeaders = (msg: unknown): void => {
    const { request: r, response } = msg as HeadersEvent;
    if ((response.statusCode !== 429 && response.statusCode !== 503) || times.length >= 500_000) return;
    const t0 = created.get(r);
    if (t0 === undefined) return;
    times.push(performance.now() - t0);
    const h = response.headers;
    for (let i = 0; i + 1 < h.length; i += 2) if (String(h[i]).toLowerCase() === 'retry-after') retryAfter.push(Number(String(h[i + 1])));
  };
  subscribe('undici:request:create', onCreate);
  subscribe('undici:request:headers', onHeaders);
  return {
    stop: () => {
      unsubscribe('undici:request:create', onCreate);
      unsubscribe('undici:request:headers', onHeaders);
      return { times, retryAfter };
    },
  };
}

/**
 * Headers of a /v1 POST whose body is never sent: a 429/503 within HEADER_PROBE_WAIT_MS was refused
 * before its body (one let in waits for its body until the request timeout, 408).
 */
async function headerProbe(p: number, bodyBytes: number): Promise<boolean> {
  const c = await RawConnection.open(p, '127.0.0.1', CONNECT_TIMEOUT_MS);
  try {
    const [answer] = c.send(`POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
    const a = await Promise.race([answer!.catch(() => undefined), sleep(HEADER_PROBE_WAIT_MS).then(() => undefined)]);
    return a !== undefined && (a.status === 429 || a.status === 503);
  } finally {
    c.close();
  }
}

async function overload(server: ChildServer, o: FaultsOptions, capacity: number, noLoadP50Ms: number): Promise<NonNullable<FaultsResult['overload']>> {
  const rate = Math.round(capacity * 3);
  const requests = o.model.bodies.map((body) => ({ path: '/v1/predict', body, headers: { 'content-type': 'application/json' } }));
  const rss = watchRssPeak(server.pid, 100);
  const refusals = watchRefusals(server.url);
  const limitMs = 2 * noLoadP50Ms;
  const probes: Probe[] = [];
  const headerProbes = { sent: 0, refusedBeforeBody: 0 };
  const t0 = performance.now();
  // header-only requests in the middle of the load, 20 ms apart
  const headers = (async () => {
    await sleep((o.stepS * 1000) / 2);
    const probes: Promise<void>[] = [];
    for (let i = 0; i < HEADER_PROBES; i++) {
      headerProbes.sent++;
      probes.push(headerProbe(port(server.url), o.model.bodies[0]!.length).then((refused) => void (refused && headerProbes.refusedBeforeBody++), () => undefined));
      await sleep(20);
    }
    await Promise.all(probes);
  })();
  // recovery: from the end of the offered load, one request at a time until one is back within the limit
  const recovery = (async () => {
    await sleep(Math.max(0, o.stepS * 1000 - (performance.now() - t0)));
    const end = performance.now();
    while (performance.now() - end < RECOVERY_BOUND_MS) {
      const at = performance.now() - end;
      const r = await post(server.url, o.model.bodies[probes.length % o.model.bodies.length]!).catch(() => ({ status: 0, ms: Infinity }));
      probes.push({ atMs: at, ms: r.ms, ok: r.status === 200 });
      if (r.status === 200 && r.ms <= limitMs) break;
      await sleep(PROBE_GAP_MS);
    }
  })();
  let run;
  const sys0 = sampleSystemBusy();
  let sys1: number | undefined;
  try {
    run = await runLanes(server.url, [{ name: '3×', rate, requests }], { stepS: o.stepS, goodMs: GOOD_MS, timeoutMs: 10_000, maxInFlight: 3000, serverPid: server.pid });
    sys1 = sampleSystemBusy();
    await Promise.all([headers, recovery]);
  } finally {
    rss.stop();
  }
  const { times, retryAfter } = refusals.stop();
  const l = run.lanes[0]!;
  const busy503 = l.statuses['503'] ?? 0;
  const ra = range(retryAfter.filter(Number.isFinite));
  const rec = recoveryMs(probes, limitMs);
  const serverMainCpu = share(run.serverCpu?.mainS, run.serverCpu?.wallS);
  const serverOtherCpu = share(run.serverCpu?.otherS, run.serverCpu?.wallS);
  const clientCpu = share(run.clientCpu && run.clientCpu.mainS + run.clientCpu.otherS, run.clientCpu?.wallS);
  const ours = run.serverCpu && run.clientCpu ? run.serverCpu.mainS + run.serverCpu.otherS + run.clientCpu.mainS + run.clientCpu.otherS : undefined;
  const otherCores = sys0 !== undefined && sys1 !== undefined && ours !== undefined && run.clientCpu!.wallS > 0 ? Math.max(0, (sys1 - sys0 - ours) / run.clientCpu!.wallS) : undefined;
  return {
    multiple: 3,
    rate,
    stepS: o.stepS,
    due: l.due,
    ok: l.ok,
    rejected429: l.rejected,
    busy503,
    otherFailures: l.otherFailures + l.expired - busy503,
    goodMs: GOOD_MS,
    good: l.good,
    okP50: l.latency.p50,
    okP99: l.latency.p99,
    rejectClient: summarizeTimes(times),
    rejectServer: summarizeTimes(run.rejectTimes),
    ...(ra ? { retryAfter: ra } : {}),
    ...(rss.beforeBytes !== undefined ? { rssBeforeBytes: rss.beforeBytes, rssPeakBytes: rss.peakBytes() } : {}),
    ...(rec !== undefined ? { recoveryMs: rec } : {}),
    recoveryLimitMs: limitMs,
    recoveryBoundMs: RECOVERY_BOUND_MS,
    probes: probes.length,
    headerProbes,
    ...(clientCpu !== undefined ? { clientCpu } : {}),
    ...(serverMainCpu !== undefined ? { serverMainCpu } : {}),
    ...(serverOtherCpu !== undefined ? { serverOtherCpu } : {}),
    clientLagP99Ms: run.clientLagMs.p99,
    ...(otherCores !== undefined ? { otherCores } : {}),
    otherSamples: l.errorSamples.filter((e) => !/HTTP (429|503)/.test(e)),
    timeouts: l.timeouts ?? 0,
    dropped: l.dropped ?? 0,
  };
}

/** Per h2load connection: a client may wait 1 / H2LOAD_RPS s for an answer before it falls behind its schedule. */
const H2LOAD_RPS = 2;

/** The 3× open loop from h2load: rate / H2LOAD_RPS connections, each at H2LOAD_RPS req/s. */
async function overloadH2load(bin: string, server: ChildServer, o: FaultsOptions, capacity: number): Promise<H2loadOpen> {
  const clients = Math.min(4000, Math.ceil((capacity * 3) / H2LOAD_RPS));
  const seconds = Math.max(1, Math.round(o.stepS));
  const run = await h2loadOnce(bin, { url: `${server.url}/v1/predict`, body: o.model.bodies[0]!, headers: { 'content-type': 'application/json' }, h1: true, connections: clients, streams: 1, durationMs: seconds * 1000, rps: H2LOAD_RPS }, seconds);
  const clientCpu = run.cpu && run.cpu.wallS > 0 ? (run.cpu.mainS + run.cpu.otherS) / run.cpu.wallS : undefined;
  return { clients, rpsPerClient: H2LOAD_RPS, rate: clients * H2LOAD_RPS, seconds, ...parseOpenLog(run.log, GOOD_MS), ...(clientCpu !== undefined ? { clientCpu } : {}) };
}

function rawBody(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
}

function toOutcome(p: Promise<RawAnswer>): Promise<ShutdownOutcome> {
  return p.then(
    (a): ShutdownOutcome => {
      let code: string | undefined;
      try {
        code = (JSON.parse(a.body) as { error?: { code?: string } }).error?.code;
      } catch {
        /* not the catalogue's JSON: counted as another answer */
      }
      return { kind: 'answer', status: a.status, ...(code ? { code } : {}), connectionClose: /close/i.test(a.headers.connection ?? '') };
    },
    (e: unknown): ShutdownOutcome => ({ kind: 'no-answer', reason: e instanceof NoAnswer ? e.reason : String(e) }),
  );
}

/** One SIGTERM row: a fresh server, an open loop at `rate` on raw sockets, the signal at SIGTERM_AT_MS. */
async function sigterm(o: FaultsOptions, rate: number, preopened: boolean): Promise<ShutdownRow> {
  const server = await o.start(o.repo);
  try {
    const p = port(server.url);
    for (let i = 0; i < 8; i++) await post(server.url, o.model.bodies[i % o.model.bodies.length]!); // loaded and warm
    const bodies = o.model.bodies.map(rawBody);
    const pool = preopened ? await Promise.all(Array.from({ length: PREOPENED }, () => RawConnection.open(p, '127.0.0.1', CONNECT_TIMEOUT_MS))) : [];
    type Filed = { outcome: ShutdownOutcome; beforeSignal: boolean; writtenAt?: number };
    const outcomes: Promise<Filed>[] = [];
    const overflow0 = readOverflows();
    let exitedAt: number | undefined;
    const exitWatch = server.exited.then((c) => ((exitedAt = performance.now()), c));
    let open = 0;
    let signalled = false;
    let signalAt = 0;
    let sent = 0;
    const fire = (i: number): void => {
      const beforeSignal = !signalled;
      const body = bodies[i % bodies.length]!;
      let writtenAt: number | undefined;
      const done = (outcome: ShutdownOutcome): Filed => ({ outcome, beforeSignal, ...(writtenAt !== undefined ? { writtenAt } : {}) });
      if (preopened) {
        const c = pool.find((x) => !x.busy && !x.closed && !x.closeAnnounced);
        if (c) writtenAt = performance.now();
        outcomes.push(Promise.resolve(c ? toOutcome(c.send(body)[0]!) : { kind: 'not-written' as const }).then(done));
        return;
      }
      if (open >= MAX_NEW_OPEN) return void outcomes.push(Promise.resolve(done({ kind: 'not-written' })));
      open++;
      outcomes.push(
        RawConnection.open(p, '127.0.0.1', CONNECT_TIMEOUT_MS).then(
          async (c) => {
            writtenAt = performance.now();
            const out = await toOutcome(c.send(body)[0]!);
            c.close();
            open--;
            return done(out);
          },
          (e: NodeJS.ErrnoException) => {
            open--;
            return done({ kind: 'connect-failed', code: e.code ?? e.message });
          },
        ),
      );
    };
    const start = performance.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const elapsed = performance.now() - start;
        if (!signalled && elapsed >= SIGTERM_AT_MS) {
          signalled = true;
          signalAt = performance.now();
          process.kill(server.pid, 'SIGTERM');
        }
        const due = Math.floor((Math.min(elapsed, SIGTERM_SEND_MS) / 1000) * rate);
        while (sent < due) fire(sent++);
        if (elapsed >= SIGTERM_SEND_MS) {
          clearInterval(tick);
          resolve();
        }
      }, 2);
    });
    // bounded: a request still pending then is counted as never answered
    await Promise.race([Promise.all(outcomes), sleep(SIGTERM_SETTLE_MS)]);
    const pending: Filed = { outcome: { kind: 'no-answer', reason: 'closed' }, beforeSignal: false };
    const filed = await Promise.all(outcomes.map((x) => Promise.race([x, sleep(1).then(() => pending)])));
    const list = filed.map(({ writtenAt, ...f }) => ({ ...f, ...(writtenAt !== undefined ? { atMs: writtenAt - signalAt } : {}) }));
    for (const c of pool) c.close();
    const overflow1 = readOverflows();
    const exitCode = await Promise.race([exitWatch, sleep(15_000).then(() => null)]);
    const count = countShutdown(list);
    const row: ShutdownRow = { mode: preopened ? 'pre-opened' : 'new connections', connections: pool.length, rate, sendS: SIGTERM_SEND_MS / 1000, signalAtS: SIGTERM_AT_MS / 1000, count, exitCode, ...(exitedAt !== undefined ? { exitAfterMs: exitedAt - signalAt } : {}), ...(overflow0 !== undefined && overflow1 !== undefined ? { listenOverflows: overflow1 - overflow0 } : {}) };
    o.log(`  faults    SIGTERM at 2× (${rate} req/s), ${row.mode}: ${count.due} due, ${count.ok} × 200, ${count.shuttingDown} × 503 SHUTTING_DOWN, ${count.refused} refused, ${count.other} other, ${count.resets} reset, ${count.unanswered} unanswered, ${count.connectRefused} connect refused, ${count.connectLost} connect lost, ${count.notWritten} not written; due before SIGTERM without an answer ${count.dueBeforeNoAnswer} of ${count.dueBefore}; listen overflows ${row.listenOverflows ?? '?'}; exit ${exitCode} ${row.exitAfterMs === undefined ? '?' : (row.exitAfterMs / 1000).toFixed(1)} s after SIGTERM${count.noAnswerAtMs ? `; reset/unanswered ones sent ${count.noAnswerAtMs.min.toFixed(0)}..${count.noAnswerAtMs.max.toFixed(0)} ms after SIGTERM (${JSON.stringify(count.noAnswerReasons)})` : ''}`);
    return row;
  } finally {
    await server.stop();
  }
}

const settle = (p: Promise<RawAnswer>): Promise<RawAnswer | NoAnswer> => p.then((a) => a, (e: NoAnswer) => e);

/** The server's main-thread heap used + external memory, from its /metrics (prom-client's default metrics). */
async function heapOf(url: string): Promise<number | undefined> {
  try {
    const text = await (await request(`${url}/metrics`)).body.text();
    const v = (name: string): number | undefined => {
      const m = new RegExp(`^onnx_serve_${name} ([\\d.e+]+)`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const used = v('nodejs_heap_size_used_bytes');
    const ext = v('nodejs_external_memory_bytes');
    return used === undefined || ext === undefined ? undefined : used + ext;
  } catch {
    return undefined;
  }
}

/** A short body and 40 stalled large ones at once, on the server's default timeouts. */
async function slowClients(server: ChildServer): Promise<Pick<FaultsResult, 'shortBody' | 'stalled'>> {
  const p = port(server.url);
  const rss = watchRssPeak(server.pid, 50);
  const heapBeforeBytes = await heapOf(server.url);
  const bound = DEFAULT_REQUEST_TIMEOUT_MS + 15_000;
  try {
    // first, so that its few bytes are reserved before the large bodies fill the bound
    const short = await RawConnection.open(p, '127.0.0.1', CONNECT_TIMEOUT_MS);
    const t0 = performance.now();
    const [shortAnswer] = short.send('POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model": "heavy-mlp", "inputs"');
    const shortDone = settle(shortAnswer!).then((a) => ({ answer: a instanceof NoAnswer ? a.reason : String(a.status), ms: performance.now() - t0 }));
    await sleep(50);
    const chunk = Buffer.alloc(STALL_SENT, 0x31);
    const head = `POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${STALL_DECLARED}\r\n\r\n`;
    const conns = await Promise.all(Array.from({ length: STALLED }, () => RawConnection.open(p, '127.0.0.1', CONNECT_TIMEOUT_MS)));
    const s0 = performance.now();
    const answers = conns.map((c) => {
      const [a] = c.send(head);
      c.socket.write(chunk);
      return settle(a!).then(async (x) => {
        // the answer, then the socket's close: cut means both
        for (let i = 0; i < 100 && !c.closed; i++) await sleep(50);
        return x;
      });
    });
    const timeout = sleep(bound).then(() => undefined);
    const all = await Promise.race([Promise.all(answers), timeout]);
    const allCutMs = performance.now() - s0;
    const shortBody = await Promise.race([shortDone, timeout.then(() => ({ answer: `still open after ${bound} ms`, ms: bound }))]);
    for (const c of [short, ...conns]) c.close();
    const statuses = (all ?? []).map((a) => (a instanceof NoAnswer ? 0 : a.status));
    // the server lets go of the bodies when its GC runs: read until back near the start, bounded
    const cut = performance.now();
    let heapAfterBytes: number | undefined;
    do {
      await sleep(500);
      heapAfterBytes = await heapOf(server.url);
    } while (heapAfterBytes !== undefined && heapBeforeBytes !== undefined && heapAfterBytes - heapBeforeBytes > HEAP_LEFT_MAX && performance.now() - cut < 10_000);
    const heapAfterMs = performance.now() - cut;
    const rssAfterBytes = rssOf(server.pid);
    return {
      shortBody,
      stalled: {
        connections: STALLED,
        declaredBytes: STALL_DECLARED,
        sentBytes: STALL_SENT,
        s408: statuses.filter((s) => s === 408).length,
        s503: statuses.filter((s) => s === 503).length,
        other: all ? statuses.filter((s) => s !== 408 && s !== 503).length : STALLED,
        allCutMs,
        ...(rss.beforeBytes !== undefined ? { rssBeforeBytes: rss.beforeBytes, rssPeakBytes: rss.peakBytes() } : {}),
        ...(rssAfterBytes !== undefined ? { rssAfterBytes } : {}),
        ...(heapBeforeBytes !== undefined ? { heapBeforeBytes } : {}),
        ...(heapAfterBytes !== undefined ? { heapAfterBytes, heapAfterMs } : {}),
      },
    };
  } finally {
    rss.stop();
  }
}

/** 100 pipelined requests on one socket, garbage at position 50: the 49 before it must all be answered. */
async function pipelining(server: ChildServer, bodies: readonly Buffer[]): Promise<NonNullable<FaultsResult['pipelining']>> {
  const c = await RawConnection.open(port(server.url), '127.0.0.1', CONNECT_TIMEOUT_MS);
  try {
    const valid = (i: number) => rawBody(bodies[i % bodies.length]!);
    const bytes = Buffer.concat([...Array.from({ length: 49 }, (_, i) => valid(i)), Buffer.from('GARBAGE\r\n\r\n'), ...Array.from({ length: 50 }, (_, i) => valid(50 + i))]);
    const answers = await Promise.race([Promise.all(c.send(bytes, 100).map(settle)), sleep(30_000).then(() => undefined)]);
    const statuses = (answers ?? []).map((a) => (a instanceof NoAnswer ? 0 : a.status));
    return { valid: 49, answered200: statuses.slice(0, 49).filter((s) => s === 200).length, badStatus: statuses[49] ? String(statuses[49]) : 'no answer', after: statuses.slice(50).filter((s) => s !== 0).length };
  } finally {
    c.close();
  }
}

export async function runFaults(o: FaultsOptions): Promise<FaultsResult> {
  const server = await o.start(o.repo);
  let result: FaultsResult;
  try {
    await o.quiet();
    const m = await measure(server, { model: o.model.name, mode: 'default config', bodies: o.model.bodies, concurrency: CAPACITY_CONCURRENCY, warmupMs: 1000, durationMs: 3000, maxRequests: o.maxRequests, onnxServe: true, check: o.check });
    const capacity = m.load.reqPerS;
    if (!(capacity > 0)) throw new Error(`no capacity measured (${m.load.errorSamples.join(' | ')})`);
    await sleep(500);
    const single: number[] = [];
    for (let i = 0; i < 20; i++) single.push((await post(server.url, o.model.bodies[i % o.model.bodies.length]!)).ms);
    const noLoadP50Ms = percentile(single, 50);
    o.log(`  faults    capacity ${capacity.toFixed(0)} req/s closed loop c=${CAPACITY_CONCURRENCY} (p99 ${m.load.latency.p99.toFixed(1)} ms${m.load.errors ? `, ${m.load.errors} errors` : ''}); no-load p50 ${noLoadP50Ms.toFixed(2)} ms`);
    result = { model: o.model.name, capacity, noLoadP50Ms, shutdown: [], requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS };
    await sleep(1000);
    await o.quiet();
    const ov = await overload(server, o, capacity, noLoadP50Ms);
    result.overload = ov;
    const mib = (b: number | undefined): string => (b === undefined ? '?' : (b / 2 ** 20).toFixed(0));
    o.log(`  faults    3× ${ov.rate} req/s for ${ov.stepS} s: ${ov.ok} ok (p50 ${ov.okP50.toFixed(1)} ms, p99 ${ov.okP99.toFixed(1)} ms), ${ov.rejected429} × 429, ${ov.busy503} × 503, ${ov.otherFailures} other (${ov.timeouts} timeouts, ${ov.dropped} dropped${ov.otherSamples.length ? `, ${ov.otherSamples.join(' | ')}` : ''}); goodput ${(ov.good / ov.stepS).toFixed(0)}/s (${((ov.good / ov.stepS / capacity) * 100).toFixed(1)} %); refusals client p99 ${ov.rejectClient.p99.toFixed(2)} / max ${ov.rejectClient.max.toFixed(2)} ms, server p99 ${ov.rejectServer.p99.toFixed(3)} / max ${ov.rejectServer.max.toFixed(3)} ms; RSS ${mib(ov.rssBeforeBytes)} → ${mib(ov.rssPeakBytes)} MiB; recovery ${ov.recoveryMs?.toFixed(0) ?? 'none'} ms; Retry-After ${ov.retryAfter ? `${ov.retryAfter.min}..${ov.retryAfter.max}` : '–'}; header-only refused before body ${ov.headerProbes.refusedBeforeBody}/${ov.headerProbes.sent}; client CPU ${((ov.clientCpu ?? NaN) * 100).toFixed(0)} % of a core`);
    const h2load = h2loadPath();
    if (h2load) {
      await sleep(2000);
      await o.quiet();
      const h = (result.h2load = await overloadH2load(h2load, server, o, capacity));
      o.log(`  faults    3× through h2load, ${h.clients} connections × ${h.rpsPerClient} req/s for ${h.seconds} s: ${h.logged} sent, ${h.ok} ok (p50 ${h.okP50.toFixed(1)} ms, p99 ${h.okP99.toFixed(1)} ms from the send), ${h.s429} × 429, ${h.s503} × 503, ${h.other} other; goodput ${(h.good / h.seconds).toFixed(0)}/s (${((h.good / h.seconds / capacity) * 100).toFixed(1)} %); refusals p99 ${h.reject.p99.toFixed(2)} / max ${h.reject.max.toFixed(2)} ms; h2load CPU ${((h.clientCpu ?? NaN) * 100).toFixed(0)} % of a core`);
    } else o.log('  faults    h2load is not installed (Debian: apt-get install -y nghttp2-client): the 3× open loop through the Node client only');
    await sleep(1000);
    result.pipelining = await pipelining(server, o.model.bodies);
    o.log(`  faults    pipelining: ${result.pipelining.answered200} of 49 answered before the garbage, then ${result.pipelining.badStatus}`);
    Object.assign(result, await slowClients(server));
    o.log(`  faults    short body: ${result.shortBody?.answer} after ${result.shortBody?.ms.toFixed(0)} ms; stalled: ${result.stalled?.s408} × 408, ${result.stalled?.s503} × 503, ${result.stalled?.other} other, all cut after ${result.stalled?.allCutMs.toFixed(0)} ms; RSS ${mib(result.stalled?.rssBeforeBytes)} → ${mib(result.stalled?.rssPeakBytes)} → ${mib(result.stalled?.rssAfterBytes)} MiB; heap+external ${mib(result.stalled?.heapBeforeBytes)} → ${mib(result.stalled?.heapAfterBytes)} MiB`);
  } finally {
    await server.stop();
  }
  for (const preopened of [true, false]) {
    await o.quiet();
    result.shutdown.push(await sigterm(o, Math.round(result.capacity * 2), preopened));
  }
  return result;
}
