// Typed messages between the pool (main thread) and its inference workers.
import type { DType } from '../tensors.js';

/** A tensor crossing threads: its bytes travel as a transferred ArrayBuffer (no copy). */
export interface WireTensor {
  dtype: DType;
  dims: number[];
  buffer: ArrayBuffer;
  byteOffset: number;
  length: number;
}

/** One input or output as onnxruntime reports it; string dims are symbolic (e.g. "batch"). */
export interface TensorSignature {
  name: string;
  dtype: DType;
  dims: (number | string)[];
}

export interface WorkerInit {
  modelPath: string;
  intraOpThreads: number;
  /** Test-only fault messages are honoured only when this is set at spawn. */
  faultHooks: boolean;
}

export type Fault =
  | { kind: 'exit-on-next-run' } // the thread exits from inside before running: a dead worker with a batch in flight
  | { kind: 'fail-next-run' } // the next run reports an error
  | { kind: 'delay-next-run'; ms: number }; // the next run sleeps first: a slow run

export type ToWorker =
  | { type: 'run'; id: number; inputs: Record<string, WireTensor> }
  | { type: 'close' }
  | { type: 'fault'; fault: Fault };

export type FromWorker =
  | { type: 'ready'; inputs: TensorSignature[]; outputs: TensorSignature[]; loadMs: number; warmupMs: number }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor>; computeMs: number }
  | { type: 'run-error'; id: number; message: string }
  | { type: 'closed' };
