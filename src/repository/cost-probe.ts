// The cost model's first measurements, taken at load once the warm-up passed: made-up rows at
// batch sizes 1, 2, 4, … up to maxBatchSize, each run twice on the pool and the second timed as
// the scheduler times a run (from handing it to a worker to its result), so that the adaptive
// policy and admission can predict from the first request on.
import { performance } from 'node:perf_hooks';
import type { WorkerPool } from '../pool/pool.js';
import { madeUpFeeds } from '../pool/warmup.js';
import { packBatch } from '../tensors/batch.js';
import type { Tensor } from '../tensors/dtypes.js';
import type { TensorSignature } from '../signature.js';
import type { CostSample } from '../batching/cost-model.js';

/** Batch sizes probed: powers of two below maxBatchSize, and maxBatchSize itself (1 alone for a model that does not batch). */
export function probeSizes(maxBatchSize: number): number[] {
  if (maxBatchSize <= 1) return [1];
  const sizes: number[] = [];
  for (let n = 1; n < maxBatchSize; n *= 2) sizes.push(n);
  sizes.push(maxBatchSize);
  return sizes;
}

/** Measured samples; fewer (or none) when made-up inputs cannot be built or a run fails: serving learns the rest. */
export async function probeCost(pool: WorkerPool, inputs: readonly TensorSignature[], maxBatchSize: number): Promise<CostSample[]> {
  const one = madeUpFeeds(inputs, 1);
  if (!one) return [];
  const samples: CostSample[] = [];
  for (const rows of probeSizes(maxBatchSize)) {
    const feeds: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(one)) feeds[name] = rows === 1 ? t : packBatch(new Array<Tensor>(rows).fill(t));
    try {
      await pool.run(copy(feeds)); // the first run at a new size pays onnxruntime's allocations
      const t0 = performance.now();
      await pool.run(copy(feeds));
      samples.push({ rows, ms: performance.now() - t0 });
    } catch {
      break;
    }
  }
  return samples;
}

/** The pool transfers input buffers to the worker, so each run gets its own. */
function copy(feeds: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = { dtype: t.dtype, dims: t.dims, data: t.data.slice() as typeof t.data };
  return out;
}
