// Triton's model configuration as JSON (src/kserve/model-config.ts): types, dims without the
// batch dimension, the guessed input format, dynamic batching and instances; and the checks
// Triton's image_client.py makes of metadata + config, against a CNN-like signature.
import t from 'tap';
import { configDims, inputFormat, tritonDataType, tritonModelConfig, type ConfigSource } from '../../src/kserve/model-config.js';
import { DEFAULT_BATCHING } from '../../src/repository/model-config.js';
import { DTYPES, type DType } from '../../src/tensors/dtypes.js';
import { imageClientParse } from '../helpers/triton-image-client.js';

const cnn: ConfigSource = {
  name: 'cnn',
  signature: { inputs: [{ name: 'input', dtype: 'float32', dims: ['batch', 3, 224, 224] }], outputs: [{ name: 'output', dtype: 'float32', dims: ['batch', 10] }] },
  maxBatchSize: 32,
  batching: { ...DEFAULT_BATCHING, preferredBatchSizes: [8, 16] },
  instances: 2,
  providers: ['cpu'],
};

t.test('data types: TYPE_* for every dtype, TYPE_STRING for BYTES', async (t) => {
  for (const d of Object.keys(DTYPES) as DType[]) t.match(tritonDataType(d), /^TYPE_[A-Z0-9]+$/, d);
  t.equal(tritonDataType('float32'), 'TYPE_FP32');
  t.equal(tritonDataType('int64'), 'TYPE_INT64');
  t.equal(tritonDataType('float16'), 'TYPE_FP16');
  t.equal(tritonDataType('bool'), 'TYPE_BOOL');
  t.equal(tritonDataType('bytes'), 'TYPE_STRING');
});

t.test('dims: the batch dimension dropped only when the model batches; symbolic dims are -1', async (t) => {
  t.strictSame(configDims(['batch', 3, 224, 224], true), [3, 224, 224]);
  t.strictSame(configDims(['batch', 'seq'], true), [-1]);
  t.strictSame(configDims([1, 3, 'h', 'w'], false), [1, 3, -1, -1]);
  t.strictSame(configDims(['n'], true), []);
});

t.test('input format: NCHW / NHWC for image-like inputs, else FORMAT_NONE', async (t) => {
  t.equal(inputFormat([3, 224, 224]), 'FORMAT_NCHW');
  t.equal(inputFormat([1, 28, 28]), 'FORMAT_NCHW');
  t.equal(inputFormat([3, -1, -1]), 'FORMAT_NCHW');
  t.equal(inputFormat([224, 224, 3]), 'FORMAT_NHWC');
  t.equal(inputFormat([3, 3, 3]), 'FORMAT_NONE', 'ambiguous');
  t.equal(inputFormat([64]), 'FORMAT_NONE');
  t.equal(inputFormat([2, 64, 64]), 'FORMAT_NONE');
});

t.test('a batching CNN: the whole configuration', async (t) => {
  const c = tritonModelConfig(cnn);
  t.equal(c.name, 'cnn');
  t.equal(c.platform, 'onnxruntime_onnx');
  t.equal(c.backend, 'onnxruntime');
  t.equal(c.max_batch_size, 32);
  t.strictSame(c.input, [{ name: 'input', data_type: 'TYPE_FP32', dims: [3, 224, 224], format: 'FORMAT_NCHW' }]);
  t.strictSame(c.output, [{ name: 'output', data_type: 'TYPE_FP32', dims: [10] }]);
  t.strictSame(c.dynamic_batching, {
    max_queue_delay_microseconds: 0,
    preferred_batch_size: [8, 16],
    priority_levels: 3,
    default_priority_level: 2,
    default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 10_000_000, allow_timeout_override: true, max_queue_size: 1024 },
  });
  t.strictSame(c.instance_group, [{ name: 'cnn_0', kind: 'KIND_CPU', count: 2 }]);
  t.strictSame(c.parameters.batching_policy, { string_value: 'adaptive' });
  t.notOk('latency_target_ms' in c.parameters);
});

t.test('static delay, latency target, labels, GPU, no batching', async (t) => {
  const c = tritonModelConfig({ ...cnn, batching: { ...DEFAULT_BATCHING, policy: 'static', maxQueueDelayMs: 2.5, latencyTargetMs: 100 }, labelFile: 'labels.txt', providers: ['cuda', 'cpu'] });
  t.equal(c.dynamic_batching?.max_queue_delay_microseconds, 2500);
  t.equal(c.dynamic_batching?.default_queue_policy.default_timeout_microseconds, 100_000, "the latency target is the default deadline");
  t.strictSame(c.parameters.latency_target_ms, { string_value: '100' });
  t.equal(c.output[0]!.label_filename, 'labels.txt');
  t.strictSame(c.instance_group, [{ name: 'cnn_0', kind: 'KIND_GPU', count: 2, gpus: [0] }]);
  const u = tritonModelConfig({ ...cnn, maxBatchSize: 0, signature: { inputs: [{ name: 'x', dtype: 'int64', dims: [1, 3, 224, 224] }], outputs: [{ name: 'y', dtype: 'float64', dims: [1, 10] }] } });
  t.equal(u.max_batch_size, 0);
  t.notOk('dynamic_batching' in u, 'no dynamic batcher for a model that does not batch');
  t.strictSame(u.input[0]!.dims, [1, 3, 224, 224], 'the whole shape');
  t.equal(u.input[0]!.data_type, 'TYPE_INT64');
});

t.test("image_client.py's checks pass on the CNN's metadata and config", async (t) => {
  const metadata = { name: 'cnn', inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 224, 224] }], outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 10] }] };
  t.strictSame(imageClientParse(metadata, tritonModelConfig(cnn)), { maxBatchSize: 32, c: 3, h: 224, w: 224, format: 'FORMAT_NCHW' });
});
