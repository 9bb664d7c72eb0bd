// A model's config.json: one schema, defaults, validated once at load with errors that name
// the file, the key, the bad value and what is allowed. Pure: takes parsed JSON, returns a frozen config.
import { DEFAULT_SESSION_EXTRA, DEFAULT_SESSION_SETTINGS, EXECUTION_PROVIDERS, GRAPH_OPTIMIZATION_LEVELS, type SessionSettings } from '../pool/session-options.js';

export interface DynamicBatchingConfig {
  /**
   * adaptive (the default): a batch waits for more rows only when the cost model says the wait
   * pays. static: the oldest request waits up to maxQueueDelayMs, chosen by giving that key.
   */
  policy: 'adaptive' | 'static';
  /** The static policy's delay; 0 under the adaptive policy. */
  maxQueueDelayMs: number;
  preferredBatchSizes: number[];
  maxQueueSize: number;
  /**
   * The longest predicted wait in the queue a request is admitted to, ms (never less than two
   * full batches' runs): the queue is bounded by time as well as by count, so that under overload
   * an accepted request is answered soon and the rest are refused at once (429, Retry-After).
   */
  maxQueueWaitMs: number;
  /** Default per-request queue deadline; a request may override it with x-request-timeout-ms. */
  timeoutMs: number;
  /** A latency target: the deadline of requests that give none, refused at once (429) when they cannot meet it. */
  latencyTargetMs: number | undefined;
  /** Priority levels a request may ask for (1 the most urgent), and the level of one that asks for none. */
  priorityLevels: number;
  defaultPriorityLevel: number;
}

export interface ModelConfig {
  /** undefined: derived from the model (32 when every input and output has a variable first dimension, else 0). */
  maxBatchSize: number | undefined;
  dynamicBatching: DynamicBatchingConfig;
  /** config.json's, else the CLI's; undefined: auto, chosen per version at load (src/repository/sizing.ts). */
  instances: number | undefined;
  intraOpThreads: number | undefined;
  /**
   * Compressed siblings (name → file in the version folder): each loads with its own workers and
   * answers requests that name it (src/repository/variants.ts); routing to them under load is future work.
   */
  variants: Record<string, string>;
  /**
   * Triton's model_warmup: undefined runs made-up inputs (a failure is a warning), false runs
   * none, a list holds the model's own samples and a string names a JSON file of them beside
   * config.json (a failing sample makes the model UNAVAILABLE). Samples are checked against the
   * signature at load, once it is known.
   */
  warmup: false | string | readonly WarmupSample[] | undefined;
  /** onnxruntime session options: providers in order of preference, optimization level, config entries (defaults merged in). */
  sessionOptions: SessionSettings;
  /**
   * Input name → pad value: requests whose padded inputs differ only in symbolic dims share a
   * batch, padded to the longest. Empty: no padding. Checked against the signature at load
   * (src/repository/padding.ts), where the inputs and their dtypes are known.
   */
  padding: Readonly<Record<string, number | boolean>>;
}

/** One warm-up sample: inputs by name, each as /v1 takes them, or `{"dims", "fill"}` for a constant tensor. */
export interface WarmupSample {
  name?: string;
  inputs: Readonly<Record<string, unknown>>;
}

/** Most samples a warm-up may list: each one runs at every load of every worker. */
export const MAX_WARMUP_SAMPLES = 64;

export const DEFAULT_BATCHING: Readonly<DynamicBatchingConfig> = Object.freeze({
  policy: 'adaptive',
  maxQueueDelayMs: 0,
  preferredBatchSizes: [],
  maxQueueSize: 1024,
  maxQueueWaitMs: 250,
  timeoutMs: 10_000,
  latencyTargetMs: undefined,
  priorityLevels: 3,
  defaultPriorityLevel: 2,
});

/** Default maxBatchSize for a model whose first dimension is variable everywhere. */
export const DEFAULT_MAX_BATCH_SIZE = 32;

/** The CLI's values, for models whose config.json does not say; undefined: auto. */
export interface ConfigDefaults {
  instances: number | undefined;
  intraOpThreads: number | undefined;
}

/** A bad config.json (or warmup sample): the model is UNAVAILABLE with this message as its reason. */
export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
  readonly code = 'ONNX_SERVE_ERR_MODEL_CONFIG';
}

const TOP_KEYS = ['maxBatchSize', 'dynamicBatching', 'instances', 'intraOpThreads', 'variants', 'warmup', 'sessionOptions', 'padding'];
const SESSION_KEYS = ['executionProviders', 'graphOptimizationLevel', 'extra'];
const BATCHING_KEYS = ['maxQueueDelayMs', 'preferredBatchSizes', 'maxQueueSize', 'maxQueueWaitMs', 'timeoutMs', 'latencyTargetMs', 'priorityLevels', 'defaultPriorityLevel'];

export function parseModelConfig(raw: unknown, file: string, defaults: ConfigDefaults): ModelConfig {
  const fail = (key: string, value: unknown, allowed: string): never => {
    throw new ModelConfigError(`${file}: "${key}" is ${JSON.stringify(value)}; allowed: ${allowed}`);
  };
  const obj = (key: string, v: unknown, keys: string[]): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(key, v, 'a JSON object');
    for (const k of Object.keys(v)) {
      if (!keys.includes(k)) throw new ModelConfigError(`${file}: unknown key "${key && key !== '(top level)' ? `${key}.` : ''}${k}"; allowed keys: ${keys.join(', ')}`);
    }
    return v as Record<string, unknown>;
  };
  const int = <D extends number | undefined>(key: string, v: unknown, min: number, max: number, dflt: D): number | D => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return fail(key, v, `an integer from ${min} to ${max}`);
    return v;
  };
  const num = (key: string, v: unknown, min: number, max: number, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return fail(key, v, `a number from ${min} to ${max}`);
    return v;
  };

  const top = obj('(top level)', raw ?? {}, TOP_KEYS);
  const maxBatchSize = top.maxBatchSize === undefined ? undefined : int('maxBatchSize', top.maxBatchSize, 0, 65536, 0);
  const b = obj('dynamicBatching', top.dynamicBatching ?? {}, BATCHING_KEYS);
  const preferredRaw = b.preferredBatchSizes ?? [];
  const preferred = Array.isArray(preferredRaw)
    ? preferredRaw.map((p, i) => int(`dynamicBatching.preferredBatchSizes[${i}]`, p, 1, 65536, 1))
    : fail('dynamicBatching.preferredBatchSizes', preferredRaw, 'an array of positive integers');
  if (maxBatchSize !== undefined) {
    const over = preferred.find((p) => p > Math.max(maxBatchSize, 1));
    if (over !== undefined) fail('dynamicBatching.preferredBatchSizes', preferredRaw, `sizes no larger than maxBatchSize (${maxBatchSize})`);
  }
  const priorityLevels = int('dynamicBatching.priorityLevels', b.priorityLevels, 1, 16, DEFAULT_BATCHING.priorityLevels);
  const config: ModelConfig = {
    maxBatchSize,
    dynamicBatching: {
      // an explicit delay is a choice of the static rule; without one the adaptive policy decides
      policy: b.maxQueueDelayMs === undefined ? 'adaptive' : 'static',
      maxQueueDelayMs: num('dynamicBatching.maxQueueDelayMs', b.maxQueueDelayMs, 0, 60_000, DEFAULT_BATCHING.maxQueueDelayMs),
      preferredBatchSizes: [...new Set(preferred)].sort((x, y) => x - y),
      maxQueueSize: int('dynamicBatching.maxQueueSize', b.maxQueueSize, 1, 1_000_000, DEFAULT_BATCHING.maxQueueSize),
      maxQueueWaitMs: int('dynamicBatching.maxQueueWaitMs', b.maxQueueWaitMs, 1, 3_600_000, DEFAULT_BATCHING.maxQueueWaitMs),
      timeoutMs: int('dynamicBatching.timeoutMs', b.timeoutMs, 1, 3_600_000, DEFAULT_BATCHING.timeoutMs),
      latencyTargetMs: b.latencyTargetMs === undefined ? undefined : int('dynamicBatching.latencyTargetMs', b.latencyTargetMs, 1, 3_600_000, 1),
      priorityLevels,
      defaultPriorityLevel: int('dynamicBatching.defaultPriorityLevel', b.defaultPriorityLevel, 1, priorityLevels, Math.min(priorityLevels, DEFAULT_BATCHING.defaultPriorityLevel)),
    },
    instances: int('instances', top.instances, 1, 64, defaults.instances),
    intraOpThreads: int('intraOpThreads', top.intraOpThreads, 1, 256, defaults.intraOpThreads),
    variants: parseVariants(top.variants, fail),
    warmup: parseWarmup(top.warmup, 'warmup', fail),
    sessionOptions: parseSessionOptions(obj('sessionOptions', top.sessionOptions ?? {}, SESSION_KEYS), fail),
    padding: parsePadding(top.padding, fail),
  };
  return deepFreeze(config);
}

function parseVariants(v: unknown, fail: Fail): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('variants', v, 'an object mapping a variant name to an .onnx file in the model folder');
  const out: Record<string, string> = {};
  for (const [name, file] of Object.entries(v)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) fail(`variants`, name, 'variant names of letters, digits, "_" and "-"');
    if (typeof file !== 'string' || !/^[^/\\]+\.onnx$/.test(file)) fail(`variants.${name}`, file, 'a file name ending in .onnx, inside the model folder');
    out[name] = file as string;
  }
  return out;
}

type Fail = (key: string, value: unknown, allowed: string) => never;

/** Longest config key onnxruntime accepts (its ConfigOptions limit). */
const MAX_EXTRA_KEY = 1024;

function parseSessionOptions(s: Record<string, unknown>, fail: Fail): SessionSettings {
  const known = EXECUTION_PROVIDERS.join(', ');
  let providers: string[] = [...DEFAULT_SESSION_SETTINGS.executionProviders];
  if (s.executionProviders !== undefined) {
    const list = s.executionProviders;
    if (!Array.isArray(list) || list.length === 0) return fail('sessionOptions.executionProviders', list, `a non-empty list of provider names in order of preference, e.g. ["cuda", "cpu"]`);
    providers = list.map((p: unknown, i): string => {
      const key = `sessionOptions.executionProviders[${i}]`;
      if (typeof p !== 'string') return fail(key, p, `a provider name (a string): ${known}`);
      if (!(EXECUTION_PROVIDERS as readonly string[]).includes(p)) {
        // Python's and Triton's spellings ("CUDAExecutionProvider", "CUDA") name the same provider
        const near = EXECUTION_PROVIDERS.find((k) => p.toLowerCase().replace(/executionprovider$/, '') === k);
        return fail(key, p, `one of onnxruntime-node's providers: ${known}${near ? ` (did you mean "${near}"?)` : ''}`);
      }
      const first = list.indexOf(p);
      if (first !== i) return fail(key, p, `each provider once (it is already at [${first}])`);
      return p;
    });
    // onnxruntime gives each node to the first provider that can run it: after "cpu", none is left
    const cpu = providers.indexOf('cpu');
    if (cpu !== -1 && cpu < providers.length - 1) fail('sessionOptions.executionProviders', list, `"cpu" last: it runs every node, so the providers after it would get none`);
  }
  const level = s.graphOptimizationLevel ?? DEFAULT_SESSION_SETTINGS.graphOptimizationLevel;
  if (typeof level !== 'string' || !(GRAPH_OPTIMIZATION_LEVELS as readonly string[]).includes(level)) {
    return fail('sessionOptions.graphOptimizationLevel', level, GRAPH_OPTIMIZATION_LEVELS.join(', '));
  }
  const extra: Record<string, string> = { ...DEFAULT_SESSION_EXTRA };
  if (s.extra !== undefined) {
    if (typeof s.extra !== 'object' || s.extra === null || Array.isArray(s.extra)) {
      return fail('sessionOptions.extra', s.extra, 'an object of onnxruntime session config entries, e.g. {"session.intra_op.allow_spinning": "1"}');
    }
    flattenExtra(s.extra as Record<string, unknown>, '', extra, fail);
  }
  return { executionProviders: providers, graphOptimizationLevel: level as SessionSettings['graphOptimizationLevel'], extra };
}

/** Dotted keys, or nested objects as onnxruntime-web's docs write them ({"session": {"x": "1"}} is "session.x"). */
function flattenExtra(o: Record<string, unknown>, prefix: string, out: Record<string, string>, fail: Fail): void {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix + k;
    const where = `sessionOptions.extra.${key}`;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      flattenExtra(v as Record<string, unknown>, `${key}.`, out, fail);
      continue;
    }
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(key) || key.length > MAX_EXTRA_KEY) {
      fail(where, v, `a dotted onnxruntime config key of at most ${MAX_EXTRA_KEY} characters, such as "session.intra_op.allow_spinning"`);
    }
    if (typeof v !== 'string') {
      const quoted = typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? '1' : '0') : undefined;
      fail(where, v, `a string${quoted === undefined ? '' : ` such as ${JSON.stringify(quoted)}: onnxruntime config values are strings`}`);
    }
    out[key] = v as string;
  }
}

/** "padding": input name → a number (or false/true for a bool input: which inputs exist is checked at load). */
function parsePadding(v: unknown, fail: Fail): Record<string, number | boolean> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('padding', v, 'an object mapping an input name to its pad value, e.g. {"input_ids": 0, "attention_mask": 0}');
  const out: Record<string, number | boolean> = {};
  for (const [name, value] of Object.entries(v)) {
    if (typeof value !== 'boolean' && (typeof value !== 'number' || !Number.isFinite(value))) {
      fail(`padding.${name}`, value, 'a number to pad the input with (false or 0 for a bool input)');
    }
    out[name] = value as number | boolean;
  }
  return out;
}

/** The "warmup" key; also reads a warm-up file's parsed content (key names the file then). */
export function parseWarmup(v: unknown, key: string, fail: Fail): ModelConfig['warmup'] {
  if (v === undefined || v === false) return v;
  if (typeof v === 'string') {
    if (key !== 'warmup') return fail(key, v, 'a list of samples (a file cannot name another file)');
    if (!/^[^/\\]+\.json$/.test(v)) return fail(key, v, 'false, a list of samples, or a .json file name inside the model folder');
    return v;
  }
  if (!Array.isArray(v) || v.length > MAX_WARMUP_SAMPLES) {
    return fail(key, Array.isArray(v) ? `a list of ${v.length} samples` : v, `false, a list of at most ${MAX_WARMUP_SAMPLES} samples {"inputs": {...}}, or a .json file name inside the model folder`);
  }
  return v.map((sample, i): WarmupSample => {
    const where = `${key}[${i}]`;
    if (typeof sample !== 'object' || sample === null || Array.isArray(sample)) return fail(where, sample, 'an object {"name"?: "...", "inputs": {"<input>": [...]}}');
    const { name, inputs, ...rest } = sample as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) return fail(`${where}.${extra}`, rest[extra], 'no such key; a sample has "name" and "inputs"');
    if (name !== undefined && typeof name !== 'string') return fail(`${where}.name`, name, 'a string');
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs) || Object.keys(inputs).length === 0) {
      return fail(`${where}.inputs`, inputs, 'an object with one entry per model input: a nested array, {"dims", "data"} or {"dims", "fill"}');
    }
    return name === undefined ? { inputs: inputs as Record<string, unknown> } : { name, inputs: inputs as Record<string, unknown> };
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
