// The onnxruntime session options every inference worker uses (and the benchmark's ceiling,
// so that it measures the same thing).
import type { InferenceSession } from 'onnxruntime-node';

export function sessionOptions(intraOpThreads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // fatal only: onnxruntime would print every failed run to stderr in colour beside the JSON log;
    // the failure reaches the log once, from the scheduler, with the model's name
    logSeverityLevel: 4,
    // spinning intra-op threads steal the core the main thread needs for HTTP and JSON (measured in BENCHMARKS.md)
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}
