// The onnxruntime session options every inference worker uses (and the benchmark's ceiling,
// so that it measures the same thing), with what a model's config.json "sessionOptions" may set.
import type { InferenceSession } from 'onnxruntime-node';

/** onnxruntime-node's execution provider names; each platform's build has some of them (listSupportedBackends). */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'dml', 'coreml', 'webgpu', 'qnn'] as const;

export const GRAPH_OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptimizationLevel = (typeof GRAPH_OPTIMIZATION_LEVELS)[number];

/** What a model may choose (config.json "sessionOptions"); the rest is fixed below. */
export interface SessionSettings {
  /** In order of preference; one this build or machine lacks is skipped when another of the list is available (src/pool/providers.ts). */
  executionProviders: readonly string[];
  graphOptimizationLevel: GraphOptimizationLevel;
  /** onnxruntime session config entries by dotted key ("session.intra_op.allow_spinning"), over DEFAULT_SESSION_EXTRA. */
  extra: Readonly<Record<string, string>>;
}

/** Spinning intra-op threads steal the core the main thread needs for HTTP and JSON (measured in BENCHMARKS.md). */
export const DEFAULT_SESSION_EXTRA: Readonly<Record<string, string>> = Object.freeze({ 'session.intra_op.allow_spinning': '0' });

export const DEFAULT_SESSION_SETTINGS: Readonly<SessionSettings> = Object.freeze({
  executionProviders: Object.freeze(['cpu']),
  graphOptimizationLevel: 'all',
  extra: DEFAULT_SESSION_EXTRA,
});

export function sessionOptions(intraOpThreads: number, settings: SessionSettings = DEFAULT_SESSION_SETTINGS): InferenceSession.SessionOptions {
  return {
    executionProviders: [...settings.executionProviders],
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: settings.graphOptimizationLevel,
    // fatal only: onnxruntime would print every failed run to stderr in colour beside the JSON log;
    // the failure reaches the log once, from the scheduler, with the model's name
    logSeverityLevel: 4,
    // flat dotted keys: the binding joins nested keys with "." too, so both spell the same entry
    extra: { ...DEFAULT_SESSION_EXTRA, ...settings.extra },
  };
}
