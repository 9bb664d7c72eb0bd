// Unit tests for a load request's config in Triton's form: what maps onto config.json's keys
// (over the folder's config.json), what is ignored, and what is refused with the key named.
import t from 'tap';
import { fromTritonConfig, isTritonConfig } from '../../src/repository/triton-config.js';
import { ModelConfigError, parseModelConfig } from '../../src/repository/model-config.js';
import { thrown } from '../helpers/thrown.js';

/** What GET /v2/models/{m}/config answers for a batching model (the config route's shape). */
const FROM_CONFIG_ROUTE = {
  name: 'm',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  version_policy: { all: {} },
  max_batch_size: 8,
  input: [{ name: 'input', data_type: 'TYPE_FP32', dims: [4], format: 'FORMAT_NONE' }],
  output: [{ name: 'output', data_type: 'TYPE_FP32', dims: [3] }],
  dynamic_batching: {
    max_queue_delay_microseconds: 0,
    preferred_batch_size: [4],
    priority_levels: 3,
    default_priority_level: 2,
    default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 5_000_000, allow_timeout_override: true, max_queue_size: 64 },
  },
  instance_group: [{ name: 'm_0', kind: 'KIND_CPU', count: 2 }],
  parameters: { batching_policy: { string_value: 'adaptive' }, execution_providers: { string_value: 'cpu' } },
};

t.test('isTritonConfig tells the two forms apart', async (t) => {
  t.ok(isTritonConfig(FROM_CONFIG_ROUTE));
  t.ok(isTritonConfig({ max_batch_size: 4 }));
  t.notOk(isTritonConfig({ maxBatchSize: 4 }), "config.json's keys");
  t.notOk(isTritonConfig({}));
  t.notOk(isTritonConfig([1]));
  t.notOk(isTritonConfig('x'));
});

t.test("the config route's answer maps back, over config.json's other keys", async (t) => {
  const base = { variants: { int8: 'model.int8.onnx' }, padding: { ids: 0 }, dynamicBatching: { maxQueueDelayMs: 2, latencyTargetMs: 50 } };
  const raw = fromTritonConfig(FROM_CONFIG_ROUTE, 'm', base);
  t.same(raw, {
    variants: { int8: 'model.int8.onnx' },
    padding: { ids: 0 },
    maxBatchSize: 8,
    dynamicBatching: { latencyTargetMs: 50, preferredBatchSizes: [4], priorityLevels: 3, defaultPriorityLevel: 2, timeoutMs: 5000, maxQueueSize: 64 },
    instances: 2,
    sessionOptions: { executionProviders: ['cpu'] },
  });
  const config = parseModelConfig(raw, 'x', { instances: undefined, intraOpThreads: undefined });
  t.equal(config.dynamicBatching.policy, 'adaptive', 'a 0 delay under the adaptive policy stays adaptive');
  t.equal(config.maxBatchSize, 8);
});

t.test('a delay chooses the static policy; latency target and providers come from parameters', async (t) => {
  const raw = fromTritonConfig(
    { max_batch_size: 4, dynamic_batching: { max_queue_delay_microseconds: 1500 }, parameters: { latency_target_ms: { string_value: '80' }, execution_providers: { string_value: 'cuda,cpu' } } },
    'm',
    undefined,
  );
  t.same(raw, { maxBatchSize: 4, dynamicBatching: { maxQueueDelayMs: 1.5, latencyTargetMs: 80 }, sessionOptions: { executionProviders: ['cuda', 'cpu'] } });
  const statik = fromTritonConfig({ dynamic_batching: { max_queue_delay_microseconds: 0 }, parameters: { batching_policy: { string_value: 'static' } } }, 'm', {});
  t.same(statik, { dynamicBatching: { maxQueueDelayMs: 0 } }, 'static with no delay, as asked');
});

t.test('refusals name the key', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ name: 'other' }, /"name" is "other", not the model's name "m"/],
    [{ platform: 'tensorrt_plan' }, /platform/],
    [{ backend: 'python' }, /backend/],
    [{ version_policy: { latest: { num_versions: 1 } } }, /version_policy/],
    [{ sequence_batching: {} }, /sequence_batching" is not supported/],
    [{ max_batch_size: 4, colour: 'blue' }, /unknown key "colour"/],
    [{ instance_group: [] }, /instance_group/],
    [{ instance_group: [{ count: 0 }] }, /count is 0/],
    [{ dynamic_batching: 3 }, /dynamic_batching/],
    [{ parameters: { batching_policy: 'static' } }, /string_value/],
    [{ parameters: { batching_policy: { string_value: 'eager' } } }, /batching_policy/],
  ];
  for (const [cfg, re] of cases) {
    const e = thrown(() => fromTritonConfig(cfg, 'm', {}));
    t.ok(e instanceof ModelConfigError, `${JSON.stringify(cfg)}: ModelConfigError`);
    t.match((e as Error).message, re);
  }
});
