// Child servers for the benchmark: onnx-serve (dist/src/cli.js) or the bare Fastify baseline,
// each spawned as its own process, ready when it prints its "listening on URL" line, stopped
// with SIGTERM (then SIGKILL if it does not exit). Every child is tracked so that none is left
// behind when the bench fails or is interrupted.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** onnxruntime 1.30 leaves an empty /tmp/mat-debug-<pid>.log behind for every process that loads it. */
export function removeOrtDebugLog(pid: number | undefined): void {
  if (pid === undefined) return;
  const file = join(tmpdir(), `mat-debug-${pid}.log`);
  try {
    if (statSync(file).size === 0) rmSync(file);
  } catch {
    /* not there */
  }
}

export interface ChildServer {
  url: string;
  pid: number;
  /** The last lines the child wrote (stdout and stderr), for error messages. */
  output(): string;
  /** Resolves with the exit code once the child exits (null when a signal ended it). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Synchronous last resort for process exit: SIGKILL every child still running. */
export function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

let hooked = false;
function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllNow);
  process.on('exit', () => removeOrtDebugLog(process.pid));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllNow();
      process.exit(130);
    });
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startChild(script: string, args: string[], opts: { label: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<ChildServer> {
  hookProcessExit();
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  live.add(child);
  const exitedWith = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      removeOrtDebugLog(child.pid);
      resolve(code);
    }),
  );
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(l);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  const output = (): string => lines.join('\n');
  child.stderr!.on('data', keep);

  const stop = async (): Promise<void> => {
    if (exited(child)) return;
    child.kill('SIGTERM');
    if (await waitExit(child, 20_000)) return;
    child.kill('SIGKILL');
    await waitExit(child, 5_000);
  };

  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => done(new Error(`${opts.label}: no "listening" line after ${opts.timeoutMs ?? 120_000} ms`)), opts.timeoutMs ?? 120_000);
    const onData = (chunk: Buffer): void => {
      keep(chunk);
      buffered += chunk.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(buffered);
      if (m) done(undefined, m[1]!);
      else if (buffered.length > 65536) buffered = buffered.slice(-4096);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`${opts.label} exited (code ${code}, signal ${signal}) before listening:\n${output()}`));
    function done(err: Error | undefined, u?: string): void {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      child.stdout!.on('data', keep); // keep draining the pipe so the child never blocks on it
      if (err) reject(err);
      else resolve(u!);
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  }).catch(async (err: Error) => {
    await stop();
    throw err;
  });
  return { url, pid: child.pid!, output, exited: exitedWith, stop };
}

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const BARE = fileURLToPath(new URL('./bare-fastify.js', import.meta.url));
const NAIVE = fileURLToPath(new URL('./naive-server.js', import.meta.url));

/** onnx-serve on an ephemeral loopback port; `extra` adds flags such as --instances. */
export function startOnnxServe(modelsDir: string, extra: string[] = []): Promise<ChildServer> {
  const args = ['serve', '--models', modelsDir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', '--drain-timeout-ms', '10000', ...extra];
  return startChild(CLI, args, { label: 'onnx-serve' });
}

export function startBareFastify(): Promise<ChildServer> {
  return startChild(BARE, ['127.0.0.1', '0'], { label: 'bare-fastify', timeoutMs: 30_000 });
}

/** The naive hand-written server (session.run per request on the main thread) on one model. */
export function startNaive(modelPath: string): Promise<ChildServer> {
  return startChild(NAIVE, [modelPath, '127.0.0.1', '0'], { label: 'naive', timeoutMs: 60_000 });
}

/** Runs fn with a started server and always stops it afterwards. */
export async function withServer<T>(start: () => Promise<ChildServer>, fn: (s: ChildServer) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}
