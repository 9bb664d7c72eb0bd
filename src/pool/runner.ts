// Starts one inference worker, as a thread of this process or as a child process, behind one
// shape: messages both ways and an 'exit' with the code or the signal that ended it. The worker's
// code (worker.ts) is the same in both; only the channel differs.
import { EventEmitter } from 'node:events';
import { fork, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { WORKER_INIT_ENV, type FromWorker, type Isolation, type ToWorker, type WorkerInit } from './protocol.js';

const workerUrl = new URL('./worker.js', import.meta.url);

export interface WorkerEnd {
  code: number | null;
  /** The signal that ended a child process (SIGSEGV, SIGABRT…); never set for a thread. */
  signal: NodeJS.Signals | null;
}

/** Events: 'message' (FromWorker), 'error' (Error), 'exit' (WorkerEnd), each message delivered before 'exit'. */
export interface InferenceWorker extends EventEmitter {
  /** `transfer` moves buffers to a thread without a copy; a child process gets a copy of them. */
  send(msg: ToWorker, transfer?: ArrayBuffer[]): void;
}

/** How a worker's end reads in a message: `worker thread exited with code 70`, `worker process ended by SIGABRT`. */
export function describeEnd(isolation: Isolation, end: WorkerEnd): string {
  if (end.signal) return `worker process ended by ${end.signal}`;
  return `worker ${isolation} exited with code ${end.code}`;
}

export function startWorker(isolation: Isolation, init: WorkerInit): InferenceWorker {
  return isolation === 'process' ? new ProcessWorker(init) : new ThreadWorker(init);
}

class ThreadWorker extends EventEmitter implements InferenceWorker {
  private readonly worker: Worker;

  constructor(init: WorkerInit) {
    super();
    this.worker = new Worker(workerUrl, { workerData: init });
    this.worker.on('message', (msg: FromWorker) => this.emit('message', msg));
    this.worker.on('error', (err) => this.emit('error', err));
    this.worker.on('exit', (code) => this.emit('exit', { code, signal: null } satisfies WorkerEnd));
  }

  send(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(msg, transfer);
  }
}

class ProcessWorker extends EventEmitter implements InferenceWorker {
  private readonly child: ChildProcess;

  constructor(init: WorkerInit) {
    super();
    // 'advanced': typed arrays and ArrayBuffers cross as bytes, not as JSON; no execArgv: a
    // server run under --inspect must not make each child open the same inspector port
    this.child = fork(fileURLToPath(workerUrl), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
      env: { ...process.env, [WORKER_INIT_ENV]: JSON.stringify(init) },
    });
    this.child.on('message', (msg: FromWorker) => this.emit('message', msg));
    this.child.on('error', (err) => this.emit('error', err));
    // 'close', not 'exit': it comes after the last message the child wrote has been read
    this.child.on('close', (code, signal) => this.emit('exit', { code, signal } satisfies WorkerEnd));
  }

  send(msg: ToWorker): void {
    if (!this.child.connected) return; // its 'exit' is coming: the pool fails its jobs then
    // a callback, so that a child that died between the check and the write is no 'error': its 'close' reports it
    this.child.send(msg, () => undefined);
  }
}
