// Unit tests for the execution provider choice: which providers run, which are skipped and why,
// and when the list leaves nothing (the load error, naming each provider).
import t from 'tap';
import { PROBE_MODEL, cannotStart, chooseProviders, notInBuild, type Backend } from '../../src/pool/providers.js';
import { buildModel } from '../../tools/onnx-builder.js';

const LINUX: Backend[] = [
  { name: 'cpu', bundled: true },
  { name: 'webgpu', bundled: true },
  { name: 'cuda', bundled: false },
  { name: 'tensorrt', bundled: false },
];

t.test('the probe model is the builder\'s one-Identity model', async (t) => {
  const built = buildModel({ inputs: [{ name: 'x', dtype: 'float32', dims: [1] }], outputs: [{ name: 'y', dtype: 'float32', dims: [1] }], nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }], name: 'probe' });
  t.strictSame(Buffer.from(PROBE_MODEL).toString('base64'), Buffer.from(built).toString('base64'));
});

t.test('every provider available: all in use, in the order asked', async (t) => {
  t.strictSame(chooseProviders(['cuda', 'cpu'], new Map()), { inUse: ['cuda', 'cpu'], skipped: [] });
});

t.test('a list that falls back: the unavailable one skipped with its reason', async (t) => {
  const why = cannotStart('cuda', LINUX[2], 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library');
  t.strictSame(chooseProviders(['tensorrt', 'cuda', 'cpu'], new Map([['tensorrt', 'no trt'], ['cuda', why]])), {
    inUse: ['cpu'],
    skipped: [
      { name: 'tensorrt', reason: 'no trt' },
      { name: 'cuda', reason: why },
    ],
  });
  t.strictSame(chooseProviders(['cuda', 'webgpu'], new Map([['cuda', why]])), { inUse: ['webgpu'], skipped: [{ name: 'cuda', reason: why }] }, 'any later provider, not only cpu');
});

t.test('nothing left: the error is the reason, naming each provider', async (t) => {
  const one = chooseProviders(['dml'], new Map([['dml', notInBuild('dml', LINUX)]]));
  t.strictSame(one, { error: 'execution provider "dml" is not in this onnxruntime build (it has: cpu, webgpu, cuda, tensorrt)' });
  const two = chooseProviders(['cuda', 'dml'], new Map([['cuda', 'A'], ['dml', 'B']]));
  t.strictSame(two, { error: 'no execution provider of ["cuda","dml"] is available: A; B' });
});

t.test('why a provider did not start', async (t) => {
  const missing = cannotStart('cuda', LINUX[2], 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library');
  t.match(missing, /^execution provider "cuda" is not available in this onnxruntime install: its library did not load \(onnxruntime-node downloads it at npm install unless --onnxruntime-node-install=skip.*\): OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library$/);
  const noAdapter = cannotStart('webgpu', LINUX[1], 'webgpu_context.cc:136 Failed to get a WebGPU adapter: No supported adapters\n');
  t.equal(noAdapter, 'execution provider "webgpu" cannot start on this machine: webgpu_context.cc:136 Failed to get a WebGPU adapter: No supported adapters', 'a bundled provider: the machine lacks it; one line');
  t.match(cannotStart('cuda', LINUX[2], 'CUDA failure 100: no CUDA-capable device is detected'), /cannot start on this machine: CUDA failure 100/, 'its library loaded: the device is missing');
});
