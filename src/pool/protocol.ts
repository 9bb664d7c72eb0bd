// Typed messages between the pool (main thread) and its inference workers.
import type { DType, Tensor } from '../tensors/dtypes.js';
import type { TensorSignature } from '../signature.js';
import type { SessionSettings } from './session-options.js';

/** A tensor crossing threads: its bytes travel as a transferred ArrayBuffer (no copy). */
export interface WireTensor {
  dtype: DType;
  dims: number[];
  buffer: ArrayBuffer;
  byteOffset: number;
  length: number;
}

/** The environment variable that carries a child process worker's WorkerInit, as JSON. */
export const WORKER_INIT_ENV = 'ONNX_SERVE_WORKER_INIT';

export interface WorkerInit {
  modelPath: string;
  intraOpThreads: number;
  /** The model's choices (config.json "sessionOptions"), made into onnxruntime's options by sessionOptions(). */
  session: SessionSettings;
  /** Test-only fault messages are honoured only when this is set at spawn. */
  faultHooks: boolean;
}

/**
 * What a worker runs once its session exists, before it takes batches: nothing, made-up inputs
 * (zeros, variable dims small), or the model's own samples (config.json "warmup"). With
 * `checkBatch`, the first sample that runs is also run twice over along dimension 0, to see that
 * every output's dimension 0 follows the rows.
 */
export type WarmupPlan =
  | { kind: 'none' }
  | { kind: 'made-up'; checkBatch: boolean }
  | { kind: 'samples'; samples: Record<string, Tensor>[]; checkBatch: boolean };

/** The execution providers a session runs on, in order, and the ones asked for that were skipped (a later one was available). */
export interface ProviderReport {
  inUse: string[];
  skipped: { name: string; reason: string }[];
}

/** The batch-2 check's outcome: the model batches along dimension 0, or why not. */
export type BatchCheck = { ok: true } | { ok: false; reason: string };

export interface WarmupReport {
  kind: WarmupPlan['kind'];
  ok: boolean;
  /** Why the warm-up failed (onnxruntime's message). */
  reason?: string;
  ms: number;
  /** Absent when the check was not asked for, or no sample ran. */
  batch?: BatchCheck;
}

/**
 * Where a model's sessions run: worker threads of the server (the cheapest hand-over, but a native
 * crash ends the server), or child processes it supervises (a crash costs one child).
 */
export type Isolation = 'thread' | 'process';

export type Fault =
  | { kind: 'exit-on-next-run' } // the thread exits from inside before running: a dead worker with a batch in flight
  | { kind: 'fail-next-run' } // the next run reports an error
  | { kind: 'delay-next-run'; ms: number } // the next run sleeps first: a slow run
  // process isolation only (in a thread it would end the server): a real native crash (SIGABRT)
  // of every run whose inputs hold this value, in every worker, now and respawned
  | { kind: 'abort-on-value'; value: number };

export type ToWorker =
  | { type: 'warmup'; plan: WarmupPlan }
  | { type: 'run'; id: number; inputs: Record<string, WireTensor> }
  | { type: 'close' }
  | { type: 'fault'; fault: Fault };

export type FromWorker =
  | { type: 'loaded'; inputs: TensorSignature[]; outputs: TensorSignature[]; providers: ProviderReport; loadMs: number }
  | { type: 'ready'; warmup: WarmupReport }
  | { type: 'load-error'; message: string }
  | {
      type: 'result';
      id: number;
      outputs: Record<string, WireTensor>;
      computeMs: number;
      /** Copying the outputs out of onnxruntime into transferable buffers (Triton's compute_output). */
      outputMs: number;
      /** The worker's own clock: from taking the batch up (its previous run over) to sending the result. */
      busyMs: number;
      /**
       * When the worker took the batch up, as timeOrigin + now (comparable across threads): a
       * session.run blocks the worker's thread, so the worker cannot see a batch arrive during it.
       */
      takenAt: number;
    }
  /** `injected`: a test fault, which stands for a failure that is not the request's. */
  | { type: 'run-error'; id: number; message: string; injected?: boolean }
  | { type: 'closed' };
