// The load runner's shared types and its error, in one file that imports no other runner file:
// LoadError (and finish, how a tool exits on it), the target (TargetInfo), the sweep's options and
// steps (SweepOptions, StepOutcome, SweepStep). options, target, report and sweep all import
// these, so none imports another for them.
import type { Protocol } from '../lib/payload.js';

/** Every problem the runner reports: one line that says what to fix. */
export class LoadError extends Error {
  override name = 'LoadError';
  readonly code = 'ONNX_SERVE_ERR_LOAD';
  constructor(
    message: string,
    /** 2 for a usage problem (bad flag), 1 for anything else. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * Ends a command line tool (`npm run load`, `npm run soak`): the exit code `run` resolves with, or
 * one line on stderr, never a stack trace: a LoadError's message and code, anything else exit 1.
 */
export function finish(tool: string, run: Promise<number>): void {
  run.then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      const known = err instanceof LoadError;
      process.stderr.write(`${tool}: ${known ? err.message : `unexpected failure: ${err.message}`}\n`);
      process.exitCode = known ? err.exitCode : 1;
    },
  );
}

export interface TargetInfo {
  url: string;
  model: string;
  protocol: Protocol;
  version?: string;
  variant?: string;
  /** Rows per request. */
  batch: number;
}

export interface SweepOptions {
  startRate: number;
  factor: number;
  maxRate: number;
  stepMs: number;
  /** Bisection steps between the last rate that held and the first that broke. */
  refine: number;
  /** Pause between steps so that one step's backlog does not spill into the next. */
  pauseMs: number;
}

export interface StepOutcome {
  /** Offered rate, req/s. */
  rate: number;
  p99Ms: number;
  /** (errors + timeouts) / sent. */
  errorRate: number;
  dropped: number;
  /** ok answers per second over the step. */
  achieved: number;
}

export interface SweepStep extends StepOutcome {
  held: boolean;
  /** Why it broke, when it did. */
  why?: string;
}
