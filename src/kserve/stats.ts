// Triton's statistics extension: one model version's counters (its VersionStats) in the
// shape of GET /v2/models/{m}[/versions/{v}]/stats. Durations are whole nanoseconds. A version's
// variants are nested in its entry (`variants`), so that clients summing entries per model and
// version count each request once.
import type { ModelVersion } from '../repository/model-version.js';

export interface StatDuration {
  count: number;
  ns: number;
}

export interface InferenceStats {
  success: StatDuration;
  fail: StatDuration;
  queue: StatDuration;
  compute_input: StatDuration;
  compute_infer: StatDuration;
  compute_output: StatDuration;
  cache_hit: StatDuration;
  cache_miss: StatDuration;
}

/** Triton's per-response statistics (keyed by the response's index: one response per request here, so only "0"). */
export interface ResponseStats {
  compute_infer: StatDuration;
  compute_output: StatDuration;
  success: StatDuration;
  fail: StatDuration;
  empty_response: StatDuration;
}

export interface ModelStats {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: InferenceStats;
  batch_stats: { batch_size: number; compute_input: StatDuration; compute_infer: StatDuration; compute_output: StatDuration }[];
  /** Triton's memory usage by device; empty: onnxruntime-node reports no session's memory. */
  memory_usage: { type: string; id: number; byte_size: number }[];
  response_stats: Record<string, ResponseStats>;
  /** Only on a version with variants: each variant's own statistics, with its name. */
  variants?: (ModelStats & { variant: string })[];
}

const d = (count: number, ns: number): StatDuration => ({ count, ns: Math.round(ns) });

/** Statistics of one model version and its variants; zeros for one not loaded. */
export function modelStats(mv: ModelVersion): ModelStats {
  const own = ownStats(mv);
  if (!mv.variants.size) return own;
  return { ...own, variants: [...mv.variants.values()].map((v) => ({ variant: v.variant!, ...ownStats(v) })) };
}

function ownStats(mv: ModelVersion): ModelStats {
  const s = mv.stats;
  const zero = d(0, 0);
  if (!s) {
    return {
      name: mv.name, version: mv.version, last_inference: 0, inference_count: 0, execution_count: 0,
      inference_stats: { success: zero, fail: zero, queue: zero, compute_input: zero, compute_infer: zero, compute_output: zero, cache_hit: zero, cache_miss: zero },
      batch_stats: [], memory_usage: [], response_stats: {},
    };
  }
  const computeOutput = d(s.phaseCount, s.outputNs);
  return {
    name: mv.name,
    version: mv.version,
    last_inference: s.lastInferenceMs,
    inference_count: s.inferences,
    execution_count: s.executions,
    inference_stats: {
      success: d(s.successCount, s.successNs),
      fail: d(s.failCount, s.failNs),
      queue: d(s.successCount, s.queueNs),
      // input: packing the requests into the batch (the worker's feeds are views: no copy there)
      compute_input: d(s.phaseCount, s.inputNs),
      compute_infer: d(s.successCount, s.computeNs),
      // output: the worker's copy of the outputs to transfer them, and cutting them per request
      compute_output: computeOutput,
      // no response cache: nothing hits or misses one
      cache_hit: zero,
      cache_miss: zero,
    },
    batch_stats: [...s.batchSizes.entries()]
      .sort(([a], [b]) => a - b)
      .map(([size, count]) => {
        const p = s.batchPhaseNs.get(size);
        return {
          batch_size: size,
          compute_input: d(p?.count ?? 0, p?.inputNs ?? 0),
          compute_infer: d(count, s.batchComputeNs.get(size) ?? 0),
          compute_output: d(p?.count ?? 0, p?.outputNs ?? 0),
        };
      }),
    // onnxruntime-node exposes no session's memory use; Triton leaves the list empty when it cannot tell
    memory_usage: [],
    // one response per request: index "0" holds every request's, once one was answered or failed
    response_stats:
      s.successCount + s.failCount > 0
        ? { '0': { compute_infer: d(s.successCount, s.computeNs), compute_output: computeOutput, success: d(s.successCount, s.successNs), fail: d(s.failCount, s.failNs), empty_response: zero } }
        : {},
  };
}
