// Inference worker: owns one onnxruntime InferenceSession and runs the batches it is sent.
// Everything onnxruntime does (create, warm-up, run, release) happens on this thread. It runs as a
// worker thread of the server or as a child process of it (isolation "process"): only the channel
// to the pool differs.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { WORKER_INIT_ENV, type Fault, type FromWorker, type ProviderReport, type ToWorker, type WarmupPlan, type WarmupReport, type WireTensor, type WorkerInit } from './protocol.js';
import type { TensorSignature } from '../signature.js';
import { DEFAULT_SESSION_SETTINGS, sessionOptions } from './session-options.js';
import { PROBE_MODEL, cannotStart, chooseProviders, notInBuild } from './providers.js';
import { isDType, viewOf, type Tensor, type TypedArray } from '../tensors/dtypes.js';
import { MADE_UP_SIZES, checkBatchAxis, doubled, madeUpFeeds, rowsOf, type RunOutputs } from './warmup.js';

/** The worker's side of its link to the pool. */
interface Channel {
  send(msg: FromWorker, transfer: ArrayBuffer[]): void;
  onMessage(fn: (msg: ToWorker) => void): void;
  /** Ends this worker once what was sent has left. */
  end(): void;
}

function threadChannel(port: MessagePort): Channel {
  return {
    send: (msg, transfer) => port.postMessage(msg, transfer),
    onMessage: (fn) => port.on('message', fn),
    end: () => port.close(), // nothing else keeps this thread alive: it ends
  };
}

function processChannel(): Channel {
  let unsent = 0;
  let ending = false;
  const exitIfDone = (): void => {
    if (ending && unsent === 0) process.exit(0);
  };
  // the server decides when this child ends: a Ctrl-C reaches the whole process group, and the
  // server's drain still needs this child's runs; a server that is gone ends it (disconnect)
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('disconnect', () => process.exit(0));
  return {
    send: (msg) => {
      unsent++;
      process.send!(msg, undefined, undefined, () => {
        unsent--;
        exitIfDone();
      });
    },
    onMessage: (fn) => process.on('message', fn as (msg: unknown) => void),
    end: () => {
      ending = true;
      exitIfDone();
    },
  };
}

const inProcess = parentPort === null;
const channel = inProcess ? processChannel() : threadChannel(parentPort!);
// the process-wide onnxruntime logger too (session creation logs through it): failures come back as messages
ort.env.logLevel = 'fatal';
const init = (inProcess ? JSON.parse(process.env[WORKER_INIT_ENV] ?? '{}') : workerData) as WorkerInit;
let session: ort.InferenceSession | undefined;
let pendingFault: Fault | undefined;
/** Test-only: runs whose inputs hold this value abort this process (a real native crash). */
let abortValue: number | undefined;
let closing = false;

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  channel.send(msg, transfer);
}

function holds(inputs: Record<string, WireTensor>, value: number): boolean {
  return Object.values(inputs).some((w) => (viewOf(w.dtype, w.buffer, w.byteOffset, w.length) as ArrayLike<unknown> & { includes(v: unknown): boolean }).includes(value));
}

function signatureOf(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] {
  return meta.map((m) => {
    if (!m.isTensor) throw new Error(`"${m.name}" is not a tensor: only tensor inputs and outputs are served`);
    if (!isDType(m.type)) throw new Error(`"${m.name}" has dtype ${m.type}, which onnx-serve does not serve`);
    return { name: m.name, dtype: m.type, dims: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) };
  });
}

function toWire(t: ort.Tensor): { wire: WireTensor; buffer: ArrayBuffer } {
  const data = t.data as TypedArray;
  let buffer = data.buffer as ArrayBuffer;
  let byteOffset = data.byteOffset;
  if (!(buffer instanceof ArrayBuffer)) {
    // never expected from onnxruntime-node, but a shared buffer must not cross as a transfer
    const copy = data.slice() as TypedArray;
    buffer = copy.buffer as ArrayBuffer;
    byteOffset = 0;
  }
  return { wire: { dtype: t.type as WireTensor['dtype'], dims: [...t.dims], buffer, byteOffset, length: data.length }, buffer };
}

async function run(id: number, inputs: Record<string, WireTensor>): Promise<void> {
  const takenAt = performance.now();
  if (abortValue !== undefined && holds(inputs, abortValue)) process.abort();
  const fault = pendingFault;
  pendingFault = undefined;
  if (fault) {
    if (fault.kind === 'exit-on-next-run') process.exit(70); // ends this worker only (its thread, or its process)
    if (fault.kind === 'fail-next-run') return send({ type: 'run-error', id, message: 'injected fault: run failed', injected: true });
    if (fault.kind === 'delay-next-run') await new Promise((r) => setTimeout(r, fault.ms));
  }
  const t0 = performance.now();
  let results: ort.InferenceSession.OnnxValueMapType;
  try {
    // inside the try: a tensor onnxruntime-node refuses to build is this run's error, not the thread's end
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, w] of Object.entries(inputs)) {
      feeds[name] = new ort.Tensor(w.dtype, viewOf(w.dtype, w.buffer, w.byteOffset, w.length) as never, w.dims);
    }
    results = await session!.run(feeds);
  } catch (err) {
    return send({ type: 'run-error', id, message: (err as Error).message });
  }
  const t1 = performance.now();
  const computeMs = t1 - t0;
  const outputs: Record<string, WireTensor> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, value] of Object.entries(results)) {
    const { wire, buffer } = toWire(value as ort.Tensor);
    outputs[name] = wire;
    if (!transfer.includes(buffer)) transfer.push(buffer);
  }
  const end = performance.now();
  send({ type: 'result', id, outputs, computeMs, outputMs: end - t1, busyMs: end - takenAt, takenAt: performance.timeOrigin + takenAt }, transfer);
}

async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await session?.release();
  session = undefined;
  send({ type: 'closed' });
  channel.end();
}

// Runs are strictly sequential: a batch sent while one runs waits behind it, and a close waits behind both.
let chain: Promise<void> = Promise.resolve();
channel.onMessage((msg: ToWorker) => {
  if (msg.type === 'fault') {
    if (!init.faultHooks) return;
    if (msg.fault.kind !== 'abort-on-value') pendingFault = msg.fault;
    else if (inProcess) abortValue = msg.fault.value;
    return;
  }
  if (msg.type === 'warmup') {
    chain = chain.then(async () => send({ type: 'ready', warmup: await warmUp(msg.plan) }));
    return;
  }
  chain = chain.then(() => (msg.type === 'run' ? run(msg.id, msg.inputs) : close()));
});

let signature: { inputs: TensorSignature[]; outputs: TensorSignature[] } | undefined;

/**
 * Creates the session on the providers of the model's list that can run here. Only when a
 * session fails is each provider other than cpu tried alone, on a tiny model: one that does not
 * start is dropped and the session made again on the rest; if every provider starts, the
 * failure is the model's own.
 */
async function createSession(): Promise<ProviderReport> {
  const asked = init.session.executionProviders;
  const built = ort.listSupportedBackends();
  const unavailable = new Map<string, string>();
  for (const name of asked) if (!built.some((b) => b.name === name)) unavailable.set(name, notInBuild(name, built));
  const create = async (): Promise<ProviderReport> => {
    const choice = chooseProviders(asked, unavailable);
    if ('error' in choice) throw new Error(choice.error);
    session = await ort.InferenceSession.create(init.modelPath, sessionOptions(init.intraOpThreads, { ...init.session, executionProviders: choice.inUse }));
    return choice;
  };
  try {
    return await create();
  } catch (err) {
    let found = false;
    for (const name of asked.filter((p) => p !== 'cpu' && !unavailable.has(p))) {
      const why = await probe(name);
      if (why !== undefined) {
        unavailable.set(name, cannotStart(name, built.find((b) => b.name === name), why));
        found = true;
      }
    }
    if (!found) throw err;
    return await create();
  }
}

/** onnxruntime's message when a provider alone cannot start a session (the model's own settings left out); undefined when it starts. */
async function probe(name: string): Promise<string | undefined> {
  try {
    const s = await ort.InferenceSession.create(PROBE_MODEL, sessionOptions(1, { ...DEFAULT_SESSION_SETTINGS, executionProviders: [name] }));
    await s.release();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function load(): Promise<void> {
  const t0 = performance.now();
  try {
    const providers = await createSession();
    signature = { inputs: signatureOf(session!.inputMetadata), outputs: signatureOf(session!.outputMetadata) };
    send({ type: 'loaded', ...signature, providers, loadMs: performance.now() - t0 });
  } catch (err) {
    send({ type: 'load-error', message: (err as Error).message });
    await close();
  }
}

const ortFeeds = (feeds: Record<string, Tensor>): Record<string, ort.Tensor> =>
  Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.dtype, t.data as never, [...t.dims])]));

/** Outputs of one warm-up run: dims and values by name. */
async function runOutputs(feeds: Record<string, Tensor>): Promise<RunOutputs> {
  const results = await session!.run(ortFeeds(feeds));
  return Object.fromEntries(Object.entries(results).map(([name, v]) => [name, { dims: [...(v as ort.Tensor).dims], data: (v as ort.Tensor).data as TypedArray }]));
}

/**
 * Pays first-call costs before the first batch and, when asked, checks the batch axis. A failure
 * is reported, never thrown: the main thread decides what it means (made-up inputs: a warning).
 */
async function warmUp(plan: WarmupPlan): Promise<WarmupReport> {
  const t0 = performance.now();
  if (plan.kind === 'none') return { kind: 'none', ok: true, ms: 0 };
  const candidates =
    plan.kind === 'samples'
      ? plan.samples
      : MADE_UP_SIZES.map((size) => madeUpFeeds(signature!.inputs, size)).filter((f): f is Record<string, Tensor> => f !== undefined);
  let first: { feeds: Record<string, Tensor>; outputs: RunOutputs } | undefined;
  let reason: string | undefined;
  for (const [i, feeds] of candidates.entries()) {
    try {
      const outputs = await runOutputs(feeds);
      first ??= { feeds, outputs };
      if (plan.kind === 'made-up') break; // one made-up run that works is enough
    } catch (err) {
      const why = (err as Error).message;
      if (plan.kind === 'samples') return { kind: plan.kind, ok: false, reason: `sample ${i}: ${why}`, ms: performance.now() - t0 };
      reason ??= why; // the first attempt's message: the smallest inputs, the likeliest to be read
    }
  }
  if (!first) return { kind: plan.kind, ok: false, reason: reason ?? 'no input could be made up within the size limit', ms: performance.now() - t0 };
  const report: WarmupReport = { kind: plan.kind, ok: true, ms: 0 };
  if (plan.checkBatch) {
    const rows = rowsOf(first.feeds);
    try {
      report.batch = checkBatchAxis(rows, first.outputs, await runOutputs(doubled(first.feeds)));
    } catch (err) {
      report.batch = { ok: false, reason: `a batch of ${2 * rows} rows fails where ${rows} runs: ${(err as Error).message}` };
    }
  }
  report.ms = performance.now() - t0;
  return report;
}

chain = load();
