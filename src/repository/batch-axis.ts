// Whether a model version batches, and why not: the rule on its signature (every input and output
// with a variable dimension 0), config.json's maxBatchSize, then the warm-up's batch-2 check. Pure.
import { batchAxisProblem, type SignatureLike } from '../pool/warmup.js';
import type { BatchCheck } from '../pool/protocol.js';
import { DEFAULT_MAX_BATCH_SIZE, ModelConfigError } from './model-config.js';

export interface BatchAxis {
  maxBatchSize: number;
  /** Why the model does not batch (maxBatchSize 0), for /v1/models, v2 metadata and the log. */
  unbatchedReason?: string;
}

/** Before the warm-up: throws when config.json asks for batching that the signature rules out. */
export function batchAxisFromSignature(configured: number | undefined, sig: SignatureLike, configFile: string): BatchAxis {
  const problem = batchAxisProblem(sig);
  if (configured === undefined) return problem ? { maxBatchSize: 0, unbatchedReason: problem } : { maxBatchSize: DEFAULT_MAX_BATCH_SIZE };
  if (configured > 0 && problem) {
    throw new ModelConfigError(`${configFile}: "maxBatchSize" is ${configured}; allowed: 0 for this model, whose ${problem}`);
  }
  return configured > 0 ? { maxBatchSize: configured } : { maxBatchSize: 0, unbatchedReason: 'config.json sets "maxBatchSize": 0' };
}

/** After the warm-up: a batch of two that does not double every output turns batching off. */
export function batchAxisAfterWarmup(axis: BatchAxis, check: BatchCheck | undefined): BatchAxis {
  if (axis.maxBatchSize === 0 || !check || check.ok) return axis;
  return { maxBatchSize: 0, unbatchedReason: `the warm-up's batch-2 check failed: ${check.reason}` };
}
