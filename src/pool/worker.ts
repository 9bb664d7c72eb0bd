// Inference worker: owns one onnxruntime InferenceSession and runs the batches it is sent.
// Everything onnxruntime does (create, warm-up, run, release) happens on this thread.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { Fault, FromWorker, TensorSignature, ToWorker, WireTensor, WorkerInit } from './protocol.js';
import { sessionOptions } from './session-options.js';
import { DTYPES, elementCount, isDType, viewOf, type TypedArray } from '../tensors.js';

const port = parentPort!;
const init = workerData as WorkerInit;
let session: ort.InferenceSession | undefined;
let pendingFault: Fault | undefined;
let closing = false;

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

function signatureOf(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] {
  return meta.map((m) => {
    if (!m.isTensor) throw new Error(`"${m.name}" is not a tensor: only tensor inputs and outputs are served`);
    if (!isDType(m.type)) throw new Error(`"${m.name}" has dtype ${m.type}, which onnx-serve does not serve`);
    return { name: m.name, dtype: m.type, dims: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) };
  });
}

/** Zero-filled inputs with every variable dimension set to 1: one run to pay first-call costs at load. */
function warmupFeeds(inputs: TensorSignature[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const s of inputs) {
    const dims = s.dims.map((d) => (typeof d === 'number' ? d : 1));
    feeds[s.name] = new ort.Tensor(s.dtype, new DTYPES[s.dtype].array(elementCount(dims)) as never, dims);
  }
  return feeds;
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
  const fault = pendingFault;
  pendingFault = undefined;
  if (fault) {
    if (fault.kind === 'exit-on-next-run') process.exit(70); // ends this thread only
    if (fault.kind === 'fail-next-run') return send({ type: 'run-error', id, message: 'injected fault: run failed' });
    if (fault.kind === 'delay-next-run') await new Promise((r) => setTimeout(r, fault.ms));
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, w] of Object.entries(inputs)) {
    feeds[name] = new ort.Tensor(w.dtype, viewOf(w.dtype, w.buffer, w.byteOffset, w.length) as never, w.dims);
  }
  const t0 = performance.now();
  let results: ort.InferenceSession.OnnxValueMapType;
  try {
    results = await session!.run(feeds);
  } catch (err) {
    return send({ type: 'run-error', id, message: (err as Error).message });
  }
  const computeMs = performance.now() - t0;
  const outputs: Record<string, WireTensor> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, value] of Object.entries(results)) {
    const { wire, buffer } = toWire(value as ort.Tensor);
    outputs[name] = wire;
    if (!transfer.includes(buffer)) transfer.push(buffer);
  }
  send({ type: 'result', id, outputs, computeMs }, transfer);
}

async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await session?.release();
  session = undefined;
  send({ type: 'closed' });
  port.close(); // nothing else keeps this thread alive: it ends
}

// Runs are strictly sequential: the pool sends one batch at a time, and a close waits behind a run.
let chain: Promise<void> = Promise.resolve();
port.on('message', (msg: ToWorker) => {
  if (msg.type === 'fault') {
    if (init.faultHooks) pendingFault = msg.fault;
    return;
  }
  chain = chain.then(() => (msg.type === 'run' ? run(msg.id, msg.inputs) : close()));
});

async function load(): Promise<void> {
  const t0 = performance.now();
  try {
    session = await ort.InferenceSession.create(init.modelPath, sessionOptions(init.intraOpThreads));
    const inputs = signatureOf(session.inputMetadata);
    const outputs = signatureOf(session.outputMetadata);
    const loadMs = performance.now() - t0;
    const w0 = performance.now();
    await session.run(warmupFeeds(inputs));
    send({ type: 'ready', inputs, outputs, loadMs, warmupMs: performance.now() - w0 });
  } catch (err) {
    send({ type: 'load-error', message: (err as Error).message });
    await close();
  }
}

chain = load();
