// One in-process inference thread for the ceiling measurement: its own onnxruntime session
// (same options as the server's workers), a fixed random batch, then timed session.run calls
// until told time is up. It releases its session itself and then lets the thread end.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../src/pool/session-options.js';

export interface CeilingWorkerInit {
  modelPath: string;
  intraOpThreads: number;
  batch: number;
  /** Input name and per-row dims (everything after the batch dimension). */
  inputName: string;
  rowDims: number[];
  warmupMs: number;
}

export type ToCeilingWorker = { type: 'go'; durationMs: number; maxRuns: number };
export type FromCeilingWorker =
  | { type: 'ready' }
  | { type: 'done'; runs: number; elapsedMs: number; runMs: number[] }
  | { type: 'released' }
  | { type: 'error'; message: string };

const port = parentPort!;
const init = workerData as CeilingWorkerInit;

async function main(): Promise<void> {
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(init.modelPath, sessionOptions(init.intraOpThreads));
    const perRow = init.rowDims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(init.batch * perRow);
    for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
    const feeds = { [init.inputName]: new ort.Tensor('float32', data, [init.batch, ...init.rowDims]) };
    const w0 = performance.now();
    let warm = 0;
    while (warm < 2 || performance.now() - w0 < init.warmupMs) {
      await session.run(feeds);
      warm++;
    }
    port.postMessage({ type: 'ready' } satisfies FromCeilingWorker);
    const go = await new Promise<ToCeilingWorker>((r) => port.once('message', r));
    const runMs: number[] = [];
    const t0 = performance.now();
    const end = t0 + go.durationMs;
    let last = t0;
    while (last < end && runMs.length < go.maxRuns) {
      await session.run(feeds);
      const now = performance.now();
      runMs.push(now - last);
      last = now;
    }
    port.postMessage({ type: 'done', runs: runMs.length, elapsedMs: last - t0, runMs } satisfies FromCeilingWorker);
  } catch (err) {
    port.postMessage({ type: 'error', message: (err as Error).message } satisfies FromCeilingWorker);
  } finally {
    await session?.release();
    port.postMessage({ type: 'released' } satisfies FromCeilingWorker);
    port.close(); // nothing else keeps this thread alive: it ends
  }
}

void main();
