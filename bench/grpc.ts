// The bench's gRPC client: a closed loop of `concurrency` ModelInfer calls with raw_input_contents
// (what Triton's clients send) against onnx-serve's --grpc-port, measured over the same kind of
// window as the HTTP loop (warm-up, then a window opened and closed by the server snapshots of
// measure()), in the LoadResult shape the report reads. Requests are serialized once up front and
// answers decoded only for the check, as the HTTP loop sends pre-built bodies and reads bytes. Batch size and queue/compute times come
// from the answers' trailers (x-batch-size, server-timing), as over HTTP from the headers.
import { fileURLToPath } from 'node:url';
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Recorder } from '../load/runner/recorder.js';
import type { MeasuredWindow } from '../load/runner/engine.js';
import type { LoadResult } from './measure.js';

/** The shipped definition (from dist/bench/: the repository's proto/). */
export const PROTO = fileURLToPath(new URL('../../proto/grpc_service.proto', import.meta.url));

/** Concurrent calls per HTTP/2 connection: c=64 uses 4 connections, c=1 one. */
const CALLS_PER_CONNECTION = 16;

/** How `concurrency` calls spread over HTTP/2 connections, for any client. */
export function grpcConnections(concurrency: number): { connections: number; streams: number } {
  const connections = Math.max(1, Math.ceil(concurrency / CALLS_PER_CONNECTION));
  return { connections, streams: Math.ceil(concurrency / connections) };
}

export interface GrpcInferAnswer {
  outputs: { name: string; datatype: string; shape: string[] }[];
  raw_output_contents: Buffer[];
}

export interface GrpcLoadOptions {
  /** host:port of the gRPC service. */
  address: string;
  /** ModelInferRequest objects, sent in turn. */
  requests: readonly object[];
  concurrency: number;
  durationMs: number;
  /** Bounds the whole run in count (warm-up included). */
  maxRequests: number;
  /** Checks the first answer; returns a problem or undefined. */
  check?: (res: GrpcInferAnswer) => string | undefined;
}

/** The v2 binary answer's shape for a FP32 output of `outWidth` values, one row. */
export function grpcCheck(outWidth: number) {
  return (res: GrpcInferAnswer): string | undefined => {
    const raw = res.raw_output_contents?.[0];
    if (!raw || raw.length !== outWidth * 4) return `expected ${outWidth} float32 in raw_output_contents[0], got ${raw?.length ?? 'no'} bytes`;
    if (res.outputs?.[0]?.datatype !== 'FP32') return `expected an FP32 output, got ${res.outputs?.[0]?.datatype}`;
    return undefined;
  };
}

/** A ModelInferRequest carrying one FP32 tensor as raw little-endian bytes. */
export function rawRequest(model: string, inputName: string, dims: readonly number[], bytes: Buffer): object {
  return { model_name: model, inputs: [{ name: inputName, datatype: 'FP32', shape: [...dims] }], raw_input_contents: [bytes] };
}

/** ModelInfer's HTTP/2 path and request headers, as gRPC's wire protocol spells them. */
export const GRPC_INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';
export const GRPC_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/grpc', te: 'trailers' });

/** A request as gRPC frames it on the wire: an uncompressed flag, the length (big-endian), the message. */
export function grpcFrame(request: object): Buffer {
  const message = MODEL_INFER.requestSerialize(request);
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

const DEFINITION = loadSync(PROTO, { keepCase: true, longs: String, defaults: true, oneofs: true });
const METHOD = DEFINITION['inference.GRPCInferenceService'] as unknown as Record<string, { path: string; requestSerialize(o: object): Buffer; responseDeserialize(b: Buffer): unknown }>;
const MODEL_INFER = METHOD.ModelInfer!;

/** One answered call: its status, the answer's bytes when OK, and a trailing metadata reader. */
interface CallOutcome {
  code: number;
  details: string;
  body: Buffer | undefined;
  trailer(name: string): string | undefined;
}

/** Sends serialized ModelInferRequests over one HTTP/2 connection. */
interface Caller {
  call(message: Buffer): Promise<CallOutcome>;
  close(): void;
}

/** The gRPC client most Node applications use. */
function grpcJsCaller(address: string): Caller {
  const Service = (loadPackageDefinition(DEFINITION) as any).inference.GRPCInferenceService;
  // a local subchannel pool: each client its own connection (grpc-js shares one per address otherwise)
  const client: Client = new Service(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1 });
  const identity = (b: Buffer): Buffer => b;
  return {
    call: (message) =>
      new Promise((resolve) => {
        let res: Buffer | undefined;
        let failed: ServiceError | undefined;
        const call = client.makeUnaryRequest(MODEL_INFER.path, identity, identity, message, new Metadata(), { deadline: Date.now() + 60_000 }, (err: ServiceError | null, r?: Buffer) => {
          failed = err ?? undefined;
          res = r;
        });
        call.on('status', (s: { metadata: Metadata }) => {
          resolve({ code: failed?.code ?? 0, details: failed?.details ?? '', body: res, trailer: (name) => s.metadata.get(name)[0] as string | undefined });
        });
      }),
    close: () => client.close(),
  };
}

const serverTiming = (v: string | undefined): { queueMs?: number; computeMs?: number } => {
  const q = v ? /queue;dur=([\d.]+)/.exec(v) : null;
  const c = v ? /compute;dur=([\d.]+)/.exec(v) : null;
  return q && c ? { queueMs: Number(q[1]), computeMs: Number(c[1]) } : {};
};

export async function grpcClosedLoop(o: GrpcLoadOptions, window: MeasuredWindow): Promise<LoadResult> {
  const pool = Array.from({ length: grpcConnections(o.concurrency).connections }, () => grpcJsCaller(o.address));
  const rec = new Recorder();
  const other: string[] = [];
  let phase: 'warmup' | 'window' | 'done' = 'warmup';
  let windowStart = 0;
  let windowEnd = 0;
  let sent = 0;
  let next = 0;
  let checked = false;
  let checkProblem: string | undefined;
  let capped = false;
  const total = o.maxRequests * 4 + o.concurrency;

  // serialized once, as the HTTP loop sends pre-built bodies; answers are decoded only to be checked
  const messages = o.requests.map((r) => MODEL_INFER.requestSerialize(r));
  const one = async (client: Caller): Promise<void> => {
    const message = messages[next++ % messages.length]!;
    const start = performance.now();
    const out = await client.call(message);
    const end = performance.now();
    const inWindow = phase === 'window' && end >= windowStart;
    if (out.code !== 0) {
      const problem = `gRPC ${out.code}: ${out.details}`;
      if (inWindow) rec.recordFailure(problem);
      else if (other.length < 5) other.push(problem);
      return;
    }
    if (!checked && out.body && o.check) {
      checked = true;
      checkProblem = o.check(MODEL_INFER.responseDeserialize(out.body) as GrpcInferAnswer);
    }
    if (inWindow) {
      const batch = Number(out.trailer('x-batch-size') ?? 1);
      rec.recordOk(200, end - start, { batchSize: batch, ...serverTiming(out.trailer('server-timing')) });
      if (rec.ok >= window.maxRecorded) {
        capped = true;
        phase = 'done';
      }
    }
  };

  const worker = async (i: number): Promise<void> => {
    const client = pool[i % pool.length]!;
    while (phase !== 'done' && sent < total) {
      sent++;
      await one(client);
    }
  };
  const runs = Array.from({ length: o.concurrency }, (_, i) => worker(i));
  await new Promise((r) => setTimeout(r, window.warmupMs));
  await window.onOpen?.();
  windowStart = performance.now();
  if (phase === 'warmup') phase = 'window';
  await new Promise<void>((r) => {
    const timer = setTimeout(r, o.durationMs);
    const poll = setInterval(() => {
      if (phase === 'done' || sent >= total) {
        clearTimeout(timer);
        clearInterval(poll);
        r();
      }
    }, 20);
    timer.unref?.();
    setTimeout(() => clearInterval(poll), o.durationMs + 10).unref?.();
  });
  windowEnd = performance.now();
  phase = 'done';
  await window.onClose?.();
  await Promise.all(runs);
  for (const c of pool) c.close();
  const windowS = Math.max(1e-9, (windowEnd - windowStart) / 1000);
  const { min: _min, p999: _p999, ...latency } = rec.latency();
  return {
    concurrency: o.concurrency,
    requests: rec.ok,
    errors: rec.errors + rec.timeouts,
    errorSamples: [...new Set([...rec.errorMessages.keys(), ...other])].slice(0, 5),
    expected: 0,
    windowS,
    reqPerS: rec.ok / windowS,
    latency,
    ...rec.serverSide(),
    capped,
    ...(checkProblem !== undefined ? { checkProblem } : {}),
  };
}
