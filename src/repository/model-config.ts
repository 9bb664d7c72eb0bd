// A model's config.json: one schema, defaults, validated once at load with errors that name
// the file, the key, the bad value and what is allowed. Pure: takes parsed JSON, returns a frozen config.

export interface DynamicBatchingConfig {
  maxQueueDelayMs: number;
  preferredBatchSizes: number[];
  maxQueueSize: number;
  /** Default per-request queue deadline; a request may override it with x-request-timeout-ms. */
  timeoutMs: number;
}

export interface ModelConfig {
  /** undefined: derived from the model (32 when every input and output has a variable first dimension, else 0). */
  maxBatchSize: number | undefined;
  dynamicBatching: DynamicBatchingConfig;
  instances: number;
  intraOpThreads: number;
  /**
   * Compressed siblings (name → file in the version folder): each loads with its own workers and
   * answers requests that name it (src/repository/variants.ts); routing to them under load is future work.
   */
  variants: Record<string, string>;
}

export const DEFAULT_BATCHING: Readonly<DynamicBatchingConfig> = Object.freeze({
  maxQueueDelayMs: 2,
  preferredBatchSizes: [],
  maxQueueSize: 1024,
  timeoutMs: 10_000,
});

/** Default maxBatchSize for a model whose first dimension is variable everywhere. */
export const DEFAULT_MAX_BATCH_SIZE = 32;

export interface ConfigDefaults {
  instances: number;
  intraOpThreads: number;
}

export class ModelConfigError extends Error {}

const TOP_KEYS = ['maxBatchSize', 'dynamicBatching', 'instances', 'intraOpThreads', 'variants'];
const BATCHING_KEYS = ['maxQueueDelayMs', 'preferredBatchSizes', 'maxQueueSize', 'timeoutMs'];

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
  const int = (key: string, v: unknown, min: number, max: number, dflt: number): number => {
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
  const config: ModelConfig = {
    maxBatchSize,
    dynamicBatching: {
      maxQueueDelayMs: num('dynamicBatching.maxQueueDelayMs', b.maxQueueDelayMs, 0, 60_000, DEFAULT_BATCHING.maxQueueDelayMs),
      preferredBatchSizes: [...new Set(preferred)].sort((x, y) => x - y),
      maxQueueSize: int('dynamicBatching.maxQueueSize', b.maxQueueSize, 1, 1_000_000, DEFAULT_BATCHING.maxQueueSize),
      timeoutMs: int('dynamicBatching.timeoutMs', b.timeoutMs, 1, 3_600_000, DEFAULT_BATCHING.timeoutMs),
    },
    instances: int('instances', top.instances, 1, 64, defaults.instances),
    intraOpThreads: int('intraOpThreads', top.intraOpThreads, 1, 256, defaults.intraOpThreads),
    variants: parseVariants(top.variants, fail),
  };
  return deepFreeze(config);
}

function parseVariants(v: unknown, fail: (key: string, value: unknown, allowed: string) => never): Record<string, string> {
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

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
