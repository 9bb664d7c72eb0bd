// A closed loop driven by h2load (nghttp2's C load generator) instead of a Node client: for
// comparing two protocols of one server on a 2-core machine, where a Node client (undici, and
// grpc-js far more) takes CPU the server needs, and takes different amounts per protocol. h2load
// costs little per request over HTTP/1.1 (--h1) and HTTP/2 alike, so gRPC (its frames are plain
// HTTP/2 requests with a length-prefixed body) and HTTP binary are measured with the same client.
// h2load reads HTTP statuses only: a gRPC error is a 200 whose status is in the trailers, so the
// caller passes the server's own count of failed calls (`serverErrors`).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Recorder } from '../load/runner/recorder.js';
import type { MeasuredWindow } from '../load/runner/engine.js';
import type { LoadResult } from './measure.js';
import { cpuBetween, sampleCpu, type CpuSample, type CpuUse } from './procstat.js';

export interface H2loadOptions {
  /** Full URL, path included (loopback only). */
  url: string;
  body: Buffer;
  headers: Record<string, string>;
  /** HTTP/1.1 with one request at a time per connection, as the Node loop; else HTTP/2. */
  h1: boolean;
  connections: number;
  /** Requests in flight per connection (HTTP/2 streams); 1 for --h1. */
  streams: number;
  durationMs: number;
  /** Failed requests the server counted so far (gRPC errors travel in 200 answers). */
  serverErrors?: () => Promise<number>;
  /** Requests per second per connection (h2load --rps): an open loop of many slow clients. */
  rps?: number;
}

/** h2load's path when it is installed (Debian: nghttp2-client), else undefined. */
export function h2loadPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v h2load'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface Run {
  stdout: string;
  log: string;
  cpu: CpuUse | undefined;
}

/** One h2load run of whole seconds; its CPU from /proc, sampled until just before it exits. */
async function runH2load(bin: string, o: H2loadOptions, seconds: number, dir: string, withLog: boolean): Promise<Run> {
  const bodyFile = join(dir, 'body');
  const logFile = join(dir, 'log');
  writeFileSync(bodyFile, o.body);
  const args = [...(o.h1 ? ['--h1'] : []), '-c', String(o.connections), '-m', String(o.h1 ? 1 : o.streams), '-D', String(seconds), '-d', bodyFile, ...Object.entries(o.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), ...(o.rps ? ['--rps', String(o.rps)] : []), ...(withLog ? ['--log-file', logFile] : []), o.url];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const first = child.pid !== undefined ? sampleCpu(child.pid) : undefined;
  let last: CpuSample | undefined = first;
  const poll = setInterval(() => {
    const s = child.pid !== undefined ? sampleCpu(child.pid) : undefined;
    if (!s || s.threads.size === 0) return;
    // a worker thread that has ended is gone from /proc: keep its last reading
    if (last) for (const [tid, v] of last.threads) if (!s.threads.has(tid)) s.threads.set(tid, v);
    last = s;
  }, 50);
  // bounded: h2load stops itself after `seconds`; this only guards against a hang
  const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(poll);
  clearTimeout(killer);
  if (code !== 0) throw new Error(`h2load exited with ${code}: ${stdout.slice(-500)}`);
  return { stdout, log: withLog ? readFileSync(logFile, 'utf8') : '', cpu: cpuBetween(first, last) };
}

/** One run of `seconds` with its per-request log, for callers that read the log themselves. */
export async function h2loadOnce(bin: string, o: H2loadOptions, seconds: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-serve-h2load-'));
  try {
    return await runH2load(bin, o, seconds, dir, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const count = (text: string, re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);

/**
 * One measured run's result from h2load's summary and its --log-file (per request: start in µs
 * since the epoch, HTTP status, µs to the end of the answer). `serverErrors` of the 2xx answers
 * were failures the server counted (gRPC's, in the trailers).
 */
export function parseH2load(stdout: string, log: string, nominalS: number, serverErrors: number): Omit<LoadResult, 'concurrency'> {
  const rec = new Recorder();
  for (const line of log.split('\n')) {
    const [, status, us] = line.split('\t');
    if (status === undefined || us === undefined) continue;
    if (status.startsWith('2')) rec.recordOk(Number(status), Number(us) / 1000);
    else rec.recordFailure(`HTTP ${status}`);
  }
  const windowS = count(stdout, /finished in ([\d.]+)s/) || nominalS;
  // requests that never got an answer are not in the log
  const unanswered = count(stdout, /(\d+) errored/) + count(stdout, /(\d+) timeout/);
  const ok = Math.max(0, rec.ok - serverErrors);
  const { min: _min, p999: _p999, ...latency } = rec.latency();
  return {
    requests: ok,
    errors: rec.errors + serverErrors + unanswered,
    errorSamples: [...rec.errorMessages.keys(), ...(serverErrors > 0 ? [`${serverErrors} failed calls counted by the server`] : []), ...(unanswered > 0 ? [`${unanswered} requests without an answer`] : [])].slice(0, 5),
    expected: 0,
    windowS,
    reqPerS: ok / windowS,
    latency,
    ...rec.serverSide(),
    capped: false,
  };
}

/** The closed loop as the report reads it: a warm-up run, then the measured run inside the window. */
export async function h2loadClosedLoop(bin: string, o: H2loadOptions, window: MeasuredWindow): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-serve-h2load-'));
  try {
    await runH2load(bin, o, Math.max(1, Math.round(window.warmupMs / 1000)), dir, false);
    const errorsBefore = (await o.serverErrors?.()) ?? 0;
    await window.onOpen?.();
    const run = await runH2load(bin, o, Math.max(1, Math.round(o.durationMs / 1000)), dir, true);
    await window.onClose?.();
    const serverErrors = ((await o.serverErrors?.()) ?? 0) - errorsBefore;
    return { ...parseH2load(run.stdout, run.log, o.durationMs / 1000, serverErrors), concurrency: o.connections * (o.h1 ? 1 : o.streams), ...(run.cpu ? { clientCpu: run.cpu } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
