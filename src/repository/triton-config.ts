// A load request's `parameters.config` in Triton's own form (the JSON of its ModelConfig
// message, as `GET /v2/models/{m}/config` answers and tritonclient's load_model(config=…)
// sends) turned into this server's config.json keys. What Triton's message can say (batch size,
// dynamic batching, instances, execution providers, the batching policy) replaces config.json's;
// what it cannot (variants, padding, a warm-up file, session config entries) stays config.json's.
// Inputs and outputs are not settings here: the ONNX file's signature is what serves. Pure.
import { ModelConfigError } from './model-config.js';

/** Top-level keys of Triton's ModelConfig that this mapping reads or may ignore. */
const READ = ['name', 'platform', 'backend', 'version_policy', 'max_batch_size', 'dynamic_batching', 'instance_group', 'parameters'];
/** Descriptive keys that change nothing here (the ONNX file says what they would). */
const IGNORED = ['input', 'output', 'optimization', 'model_warmup', 'default_model_filename', 'runtime', 'model_transaction_policy', 'response_cache'];
/** Features this server does not have: refused rather than dropped. */
const UNSUPPORTED = ['sequence_batching', 'ensemble_scheduling', 'batch_input', 'batch_output', 'model_repository_agents', 'cc_model_filenames', 'metric_tags'];

/** True when a parsed config looks like Triton's (snake_case keys of its ModelConfig), not config.json's. */
export function isTritonConfig(raw: unknown): raw is Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  return Object.keys(raw).some((k) => READ.includes(k) || IGNORED.includes(k) || UNSUPPORTED.includes(k));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const US_PER_MS = 1000;

/** config.json's content for a load with Triton's `config`, over the folder's config.json (`base`). */
export function fromTritonConfig(triton: Obj, model: string, base: unknown): Obj {
  const where = "the load request's parameters.config (Triton's model config)";
  const fail = (msg: string): never => {
    throw new ModelConfigError(`${where}: ${msg}`);
  };
  for (const k of Object.keys(triton)) {
    if (UNSUPPORTED.includes(k)) fail(`"${k}" is not supported by this server`);
    if (!READ.includes(k) && !IGNORED.includes(k)) fail(`unknown key "${k}"; Triton's keys read here: ${READ.join(', ')}`);
  }
  if (triton.name !== undefined && triton.name !== model) fail(`"name" is ${JSON.stringify(triton.name)}, not the model's name "${model}"`);
  if (triton.platform !== undefined && triton.platform !== 'onnxruntime_onnx') fail(`"platform" is ${JSON.stringify(triton.platform)}; this server runs onnxruntime_onnx`);
  if (triton.backend !== undefined && triton.backend !== 'onnxruntime') fail(`"backend" is ${JSON.stringify(triton.backend)}; this server runs onnxruntime`);
  if (triton.version_policy !== undefined && !(isObj(triton.version_policy) && Object.keys(triton.version_policy).length === 1 && isObj(triton.version_policy.all))) {
    fail('"version_policy" must be {"all": {}}: every version in the folder serves');
  }
  const out: Obj = isObj(base) ? { ...base } : {};
  if (triton.max_batch_size !== undefined) out.maxBatchSize = triton.max_batch_size;

  const params = isObj(triton.parameters) ? triton.parameters : {};
  const param = (key: string): string | undefined => {
    const p = params[key];
    if (p === undefined) return undefined;
    if (!isObj(p) || typeof p.string_value !== 'string') return fail(`parameters.${key} must be {"string_value": "..."}`);
    return p.string_value;
  };
  const policy = param('batching_policy');
  if (policy !== undefined && policy !== 'adaptive' && policy !== 'static') fail(`parameters.batching_policy is ${JSON.stringify(policy)}; use "adaptive" or "static"`);
  const latency = param('latency_target_ms');

  if (triton.dynamic_batching !== undefined) {
    const d = triton.dynamic_batching;
    if (!isObj(d)) return fail('"dynamic_batching" must be an object');
    const batching: Obj = isObj(out.dynamicBatching) ? { ...out.dynamicBatching } : {};
    const delayUs = d.max_queue_delay_microseconds;
    // the static rule is chosen by giving a delay; 0 under the adaptive policy (as the config route shows it) gives none
    delete batching.maxQueueDelayMs;
    if (typeof delayUs === 'number' && (policy === 'static' || (policy === undefined && delayUs > 0))) batching.maxQueueDelayMs = delayUs / US_PER_MS;
    else if (delayUs !== undefined && typeof delayUs !== 'number') batching.maxQueueDelayMs = delayUs; // config.json's check names the bad value
    if (d.preferred_batch_size !== undefined) batching.preferredBatchSizes = d.preferred_batch_size;
    if (d.priority_levels !== undefined && d.priority_levels !== 0) batching.priorityLevels = d.priority_levels;
    if (d.default_priority_level !== undefined && d.default_priority_level !== 0) batching.defaultPriorityLevel = d.default_priority_level;
    const q = d.default_queue_policy;
    if (q !== undefined) {
      if (!isObj(q)) return fail('"dynamic_batching.default_queue_policy" must be an object');
      const t = q.default_timeout_microseconds;
      if (typeof t === 'number' && t > 0) batching.timeoutMs = Math.ceil(t / US_PER_MS);
      if (typeof q.max_queue_size === 'number' && q.max_queue_size > 0) batching.maxQueueSize = q.max_queue_size;
    }
    out.dynamicBatching = batching;
  }
  if (latency !== undefined) {
    const n = Number(latency);
    out.dynamicBatching = { ...(isObj(out.dynamicBatching) ? out.dynamicBatching : {}), latencyTargetMs: /^\d+$/.test(latency) ? n : latency };
  }

  if (triton.instance_group !== undefined) {
    const groups = triton.instance_group;
    if (!Array.isArray(groups) || groups.length === 0) return fail('"instance_group" must be a non-empty list, e.g. [{"count": 2, "kind": "KIND_CPU"}]');
    let count = 0;
    for (const g of groups) {
      if (!isObj(g)) return fail('each "instance_group" entry must be an object');
      const c = g.count ?? 1;
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 1) return fail(`instance_group count is ${JSON.stringify(c)}; use a positive integer`);
      count += c;
    }
    out.instances = count;
  }
  const providers = param('execution_providers');
  if (providers !== undefined && providers !== '') {
    out.sessionOptions = { ...(isObj(out.sessionOptions) ? out.sessionOptions : {}), executionProviders: providers.split(',').map((p) => p.trim()) };
  }
  return out;
}
