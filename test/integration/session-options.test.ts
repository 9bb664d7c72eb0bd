// config.json "sessionOptions" through the real server: the level and a config entry reach
// onnxruntime (a GELU that onnxruntime approximates only when both allow it), /v1/models shows
// the effective options and the providers in use, and a provider this install lacks (cuda: the
// package was installed without its CUDA download) is a load error of that model alone, or
// skipped when the list falls back to cpu. Bad names and levels are config errors naming them.
import t from 'tap';
import { makeRepo, startServer, postJson, getJson } from '../helpers/server.js';
import { buildModel, mlpModel, seededFloats } from '../../tools/onnx-builder.js';

/** y = 0.5·x·(1 + erf(x/√2)): the pattern onnxruntime fuses into Gelu from the "extended" level up. */
function erfGeluModel(): Uint8Array {
  const scalar = (name: string, v: number) => ({ name, dtype: 'float32' as const, dims: [], data: new Float32Array([v]) });
  return buildModel({
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 8] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 8] }],
    nodes: [
      { op: 'Div', inputs: ['x', 'sqrt2'], outputs: ['d'] },
      { op: 'Erf', inputs: ['d'], outputs: ['e'] },
      { op: 'Add', inputs: ['e', 'one'], outputs: ['a'] },
      { op: 'Mul', inputs: ['x', 'a'], outputs: ['m'] },
      { op: 'Mul', inputs: ['m', 'half'], outputs: ['y'] },
    ],
    initializers: [scalar('sqrt2', Math.SQRT2), scalar('one', 1), scalar('half', 0.5)],
    name: 'erf-gelu',
  });
}

const X = [-3, -2, -1, -0.5, 0.5, 1, 2, 3];
/** The tanh form onnxruntime's FastGelu computes. */
const tanhGelu = X.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
const APPROX = { 'optimization.enable_gelu_approximation': '1' };
const maxDiff = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

interface Version {
  state: string;
  reason?: string;
  sessionOptions: { executionProviders: string[]; graphOptimizationLevel: string; extra: Record<string, string> };
  providers: { inUse: string[]; skipped: { name: string; reason: string }[] } | null;
}

t.test('sessionOptions', async (t) => {
  const repo = await makeRepo(t, {
    exact: { onnx: erfGeluModel() },
    basic: { onnx: erfGeluModel(), config: { sessionOptions: { graphOptimizationLevel: 'basic', extra: APPROX } } },
    approx: { onnx: erfGeluModel(), config: { sessionOptions: { graphOptimizationLevel: 'all', extra: APPROX } } },
    plain: { onnx: mlpModel([4, 3], 1) },
    gpuonly: { onnx: mlpModel([4, 3], 1), config: { sessionOptions: { executionProviders: ['cuda'] } } },
    gpufirst: { onnx: mlpModel([4, 3], 1), config: { sessionOptions: { executionProviders: ['cuda', 'cpu'] } } },
    windows: { onnx: mlpModel([4, 3], 1), config: { sessionOptions: { executionProviders: ['dml'] } } },
    typo: { onnx: mlpModel([4, 3], 1), config: { sessionOptions: { executionProviders: ['cdua', 'cpu'] } } },
    badlevel: { onnx: mlpModel([4, 3], 1), config: { sessionOptions: { graphOptimizationLevel: 'max' } } },
    ortformat: { onnx: mlpModel([4, 3], 1), config: { sessionOptions: { extra: { 'session.load_model_format': 'ORT' } } } },
  });
  const served = await startServer(t, repo);
  const predict = (model: string, inputs: unknown) => postJson(`${served.url}/v1/predict`, { model, inputs });
  const models = (await getJson(`${served.url}/v1/models`)).body.models as { name: string; state?: string; reason?: string; versions: Version[] }[];
  const model = (name: string) => models.find((m) => m.name === name)!;
  const version = (name: string): Version => model(name).versions[0]!;

  t.test('the level and a config entry reach onnxruntime', async (t) => {
    const y = async (name: string): Promise<number[]> => {
      const res = await predict(name, { x: [X] });
      t.equal(res.status, 200, `${name} serves (${JSON.stringify(res.body).slice(0, 200)})`);
      return (res.body.outputs.y as number[][])[0]!;
    };
    const [exact, basic, approx] = [await y('exact'), await y('basic'), await y('approx')];
    t.ok(maxDiff(exact, tanhGelu) > 1e-4, `the erf form differs from the tanh form (by ${maxDiff(exact, tanhGelu)})`);
    t.ok(maxDiff(approx, tanhGelu) < 1e-5, `"all" with the entry: onnxruntime fused and approximated it (off the tanh form by ${maxDiff(approx, tanhGelu)})`);
    t.ok(maxDiff(basic, exact) < 1e-6, `"basic" with the same entry: no fusion, so no approximation (off the erf form by ${maxDiff(basic, exact)})`);
    t.strictSame(version('basic').sessionOptions, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'basic',
      extra: { 'session.intra_op.allow_spinning': '0', 'optimization.enable_gelu_approximation': '1' },
    }, '/v1/models: the effective options, the default entry merged under the model\'s');
    t.strictSame(version('basic').providers, { inUse: ['cpu'], skipped: [] });
    t.strictSame(version('plain').sessionOptions, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', extra: { 'session.intra_op.allow_spinning': '0' } }, 'no sessionOptions: the defaults');
  });

  t.test('a provider this install lacks: a load error of that model alone, naming the provider', async (t) => {
    const gpu = version('gpuonly');
    t.equal(gpu.state, 'UNAVAILABLE');
    t.match(gpu.reason, /execution provider "cuda"/, `the reason names cuda (${gpu.reason})`);
    t.notMatch(gpu.reason, /(^|[\s'"(])\/\w/, 'no absolute path in it');
    t.equal(gpu.providers, null, 'no providers in use: it did not load');
    const res = await predict('gpuonly', { input: [Array.from(seededFloats(4, 1))] });
    t.equal(res.status, 503);
    t.equal(res.body.error.code, 'MODEL_NOT_READY');
    t.match(res.body.error.message, /cuda/, 'the 503 says why');
    t.equal((await predict('plain', { input: [Array.from(seededFloats(4, 1))] })).status, 200, 'the other models serve');
    const win = version('windows');
    t.equal(win.state, 'UNAVAILABLE');
    t.match(win.reason, /execution provider "dml" is not in this onnxruntime build \(it has: [a-z, ]*cpu/, `dml: not built for Linux (${win.reason})`);
  });

  t.test('a list that falls back: the provider is skipped, said so, and the next one runs', async (t) => {
    const v = version('gpufirst');
    t.equal(v.state, 'READY');
    t.strictSame(v.sessionOptions.executionProviders, ['cuda', 'cpu'], 'as asked');
    t.strictSame(v.providers?.inUse, ['cpu'], 'in use: cpu only');
    t.equal(v.providers?.skipped.length, 1);
    t.equal(v.providers?.skipped[0]?.name, 'cuda');
    t.match(v.providers?.skipped[0]?.reason, /execution provider "cuda"/);
    t.equal((await predict('gpufirst', { input: [Array.from(seededFloats(4, 1))] })).status, 200);
  });

  t.test('an unknown provider, a bad level: config errors naming them', async (t) => {
    t.equal(model('typo').state, 'UNAVAILABLE');
    t.match(model('typo').reason, /"sessionOptions\.executionProviders\[0\]" is "cdua"; allowed: one of onnxruntime-node's providers: cpu, cuda/);
    t.equal(model('badlevel').state, 'UNAVAILABLE');
    t.match(model('badlevel').reason, /"sessionOptions\.graphOptimizationLevel" is "max"; allowed: disabled, basic, extended, all/);
  });

  t.test("an entry onnxruntime refuses at load is that model's load error", async (t) => {
    const v = version('ortformat');
    t.equal(v.state, 'UNAVAILABLE');
    t.match(v.reason, /ORT model verification failed/, `with onnxruntime's message: an ONNX file read as ORT format (${v.reason})`);
    t.equal((await predict('plain', { input: [Array.from(seededFloats(4, 1))] })).status, 200, 'the others serve');
  });
});
