// The in-process ceiling: what onnxruntime alone does in this process, with no HTTP, no JSON
// and no queue. N worker threads (as the server's instances), each with its own session of
// T intra-op threads, run a fixed batch back to back for a fixed time; rows/s is the sum.
// Workers are never terminated inside session.run: each releases its session and ends itself.
import { Worker } from 'node:worker_threads';
import type { CeilingWorkerInit, FromCeilingWorker, ToCeilingWorker } from './ceiling-worker.js';

export interface CeilingOptions {
  modelPath: string;
  instances: number;
  intraOpThreads: number;
  batch: number;
  inputName: string;
  rowDims: number[];
  warmupMs: number;
  durationMs: number;
  maxRuns: number;
}

export interface CeilingResult {
  instances: number;
  intraOpThreads: number;
  batch: number;
  rowsPerS: number;
  /** Mean and median milliseconds of one session.run, over all workers. */
  runMeanMs: number;
  runP50Ms: number;
  runs: number;
  /** Cores' worth of CPU used by other processes meanwhile (set by the caller when known). */
  otherCores?: number;
}

const WORKER_URL = new URL('./ceiling-worker.js', import.meta.url);

interface Handle {
  worker: Worker;
  next(): Promise<FromCeilingWorker>;
  exited: Promise<void>;
}

function startWorker(init: CeilingWorkerInit): Handle {
  const worker = new Worker(WORKER_URL, { workerData: init });
  const inbox: FromCeilingWorker[] = [];
  const waiting: ((m: FromCeilingWorker) => void)[] = [];
  const deliver = (m: FromCeilingWorker): void => {
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  };
  worker.on('message', deliver);
  worker.on('error', (err) => deliver({ type: 'error', message: err.message }));
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      deliver({ type: 'error', message: `ceiling worker exited with code ${code}` });
      resolve();
    }),
  );
  const next = (): Promise<FromCeilingWorker> => {
    const m = inbox.shift();
    return m ? Promise.resolve(m) : new Promise((r) => waiting.push(r));
  };
  return { worker, next, exited };
}

/** Waits for "released" (so no run is in progress), then for the thread's own exit. */
async function finish(h: Handle): Promise<void> {
  for (;;) {
    const m = await Promise.race([h.next(), h.exited.then(() => ({ type: 'released' }) as const)]);
    if (m.type === 'released') break;
  }
  const timer = new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref());
  const ended = await Promise.race([h.exited.then(() => true), timer]);
  if (!ended) await h.worker.terminate(); // safe: its session is released, no run is in progress
}

export async function measureCeiling(o: CeilingOptions): Promise<CeilingResult> {
  const init: CeilingWorkerInit = {
    modelPath: o.modelPath,
    intraOpThreads: o.intraOpThreads,
    batch: o.batch,
    inputName: o.inputName,
    rowDims: o.rowDims,
    warmupMs: o.warmupMs,
  };
  const handles = Array.from({ length: o.instances }, () => startWorker(init));
  let goSent = false;
  try {
    const ready = await Promise.all(handles.map((h) => h.next()));
    const bad = ready.find((m) => m.type !== 'ready');
    if (bad) throw new Error(`ceiling worker failed to start: ${bad.type === 'error' ? bad.message : bad.type}`);
    const go: ToCeilingWorker = { type: 'go', durationMs: o.durationMs, maxRuns: o.maxRuns };
    for (const h of handles) h.worker.postMessage(go);
    goSent = true;
    const done = await Promise.all(handles.map((h) => h.next()));
    let rowsPerS = 0;
    const all: number[] = [];
    for (const m of done) {
      if (m.type !== 'done') throw new Error(`ceiling worker failed: ${m.type === 'error' ? m.message : m.type}`);
      rowsPerS += (m.runs * o.batch) / (m.elapsedMs / 1000);
      for (const ms of m.runMs) all.push(ms); // not push(...): a fast model's hundreds of thousands of runs overflow the stack
    }
    all.sort((a, b) => a - b);
    return {
      instances: o.instances,
      intraOpThreads: o.intraOpThreads,
      batch: o.batch,
      rowsPerS,
      runMeanMs: all.reduce((a, b) => a + b, 0) / Math.max(1, all.length),
      runP50Ms: all[Math.floor((all.length - 1) / 2)] ?? NaN,
      runs: all.length,
    };
  } finally {
    // a worker still waiting for "go" (another failed to start) is told to stop at once
    if (!goSent) for (const h of handles) h.worker.postMessage({ type: 'go', durationMs: 0, maxRuns: 0 } satisfies ToCeilingWorker);
    await Promise.all(handles.map(finish));
  }
}
