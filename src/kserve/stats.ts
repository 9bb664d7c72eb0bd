// Triton's statistics extension: one model version's counters (its VersionStats) in the
// shape of GET /v2/models/{m}[/versions/{v}]/stats. Durations are whole nanoseconds. A version's
// variants are nested in its entry (`variants`), so that clients summing entries per model and
// version count each request once.
import type { ModelVersion } from '../repository/model-version.js';

export interface StatDuration {
  count: number;
  ns: number;
}

export interface ModelStats {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: { success: StatDuration; fail: StatDuration; queue: StatDuration; compute_infer: StatDuration };
  batch_stats: { batch_size: number; compute_infer: StatDuration }[];
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
  if (!s) {
    const zero = d(0, 0);
    return {
      name: mv.name, version: mv.version, last_inference: 0, inference_count: 0, execution_count: 0,
      inference_stats: { success: zero, fail: zero, queue: zero, compute_infer: zero }, batch_stats: [],
    };
  }
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
      compute_infer: d(s.successCount, s.computeNs),
    },
    batch_stats: [...s.batchSizes.entries()]
      .sort(([a], [b]) => a - b)
      .map(([size, count]) => ({ batch_size: size, compute_infer: d(count, s.batchComputeNs.get(size) ?? 0) })),
  };
}
