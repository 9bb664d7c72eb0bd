// Instances × intra-op threads as the real server chooses and reports them in /v1/models: auto
// for a small model with no config (a reason that says why), config.json's instances kept and
// reported as not auto, and explicit instances over the memory budget loaded anyway with a
// warning in the reason and one log line.
import t from 'tap';
import { availableParallelism } from 'node:os';
import { makeRepo, startServer, getJson, postJson } from '../helpers/server.js';
import { mlpModel } from '../../tools/onnx-builder.js';
import { withExternalData } from '../helpers/trait-models.js';
import { estimateCopyBytes, formatBytes } from '../../src/repository/sizing.js';

interface VersionView {
  state: string;
  instances: number;
  intraOpThreads: number;
  sizing: { instances: number; intraOpThreads: number; auto: boolean; reason: string };
  stats: { executions: number } | null;
}

async function versionOf(url: string, model: string): Promise<VersionView> {
  const res = await getJson(`${url}/v1/models`);
  const m = (res.body.models as { name: string; versions: VersionView[] }[]).find((x) => x.name === model);
  if (!m) throw new Error(`no model ${model} in /v1/models`);
  return m.versions[0]!;
}

t.test('auto for a small model without config; config.json instances kept and not auto', async (t) => {
  const repo = await makeRepo(t, {
    small: { onnx: mlpModel([64, 32, 10], 1) },
    pinned: { onnx: mlpModel([64, 32, 10], 2), config: { instances: 2 } },
  });
  const served = await startServer(t, repo, ['--instances', 'auto']);

  const small = await versionOf(served.url, 'small');
  const expected = Math.min(2, Math.max(1, availableParallelism() - 1));
  t.equal(small.state, 'READY');
  t.same(small.sizing.auto, true, 'chosen by onnx-serve');
  t.equal(small.sizing.instances, expected, `min(2, cores − 1) workers for a small model on ${availableParallelism()} cores`);
  t.equal(small.sizing.intraOpThreads, 1, 'one thread: a small model is HTTP-bound');
  t.match(small.sizing.reason, /\d+ cores?, 1 for the main thread, \d+ for compute; model [\d.]+ KiB < 16 MiB: small, HTTP-bound; a copy ≈ .* budget .* fits (\d+|100\+): auto instances \d/);
  t.same([small.instances, small.intraOpThreads], [small.sizing.instances, small.sizing.intraOpThreads], 'the top-level fields agree with sizing');

  const pinned = await versionOf(served.url, 'pinned');
  t.equal(pinned.state, 'READY');
  t.same([pinned.instances, pinned.sizing.instances, pinned.sizing.auto], [2, 2, false], "config.json's instances, not auto");
  t.match(pinned.sizing.reason, /instances 2 from config\.json, auto intraOpThreads 1/);
  t.notMatch(pinned.sizing.reason, /warning/, 'two small copies fit the default budget');

  const ok = await postJson(`${served.url}/v1/predict`, { model: 'pinned', inputs: { input: [new Array(64).fill(0.5)] } });
  t.equal(ok.status, 200, 'the pinned model serves');
});

t.test('--instances over the memory budget: loaded anyway, the reason warns, one log line', async (t) => {
  // ≈ 1.1 MB of weights: one copy (≈ 1.6 MiB) is already over a 1 MiB budget
  const repo = await makeRepo(t, { big: { onnx: mlpModel([256, 1024, 16], 3) } });
  const lines: string[] = [];
  const served = await startServer(t, repo, ['--instances', '2', '--memory-budget', '1MiB', '--log-level', 'warn'], { logStream: { write: (l) => lines.push(l) } });

  const big = await versionOf(served.url, 'big');
  t.equal(big.state, 'READY', 'the operator asked: the load does not fail');
  t.same([big.instances, big.sizing.auto], [2, false]);
  t.match(big.sizing.reason, /instances 2 from --instances.*; warning: 2 instances × [\d.]+ MiB = [\d.]+ MiB exceeds the memory budget of 1\.0 MiB$/);
  const ok = await postJson(`${served.url}/v1/predict`, { model: 'big', inputs: { input: [new Array(256).fill(0.1)] } });
  t.equal(ok.status, 200, 'it serves');
  const warned = lines.map((l) => JSON.parse(l) as { msg: string; model?: string; reason?: string }).filter((l) => /memory budget/.test(l.msg));
  t.equal(warned.length, 1, 'logged once');
  t.match(warned[0], { model: 'big', reason: /exceeds the memory budget of 1\.0 MiB/ });
});

t.test("the budget is the server's: each version's sizing gets what the others' first copies leave", async (t) => {
  const a = mlpModel([256, 1024, 16], 4);
  const b = mlpModel([256, 512, 16], 5);
  const repo = await makeRepo(t, { a: { onnx: a }, b: { onnx: b } });
  const budget = 8 * 1024 ** 2;
  const served = await startServer(t, repo, ['--instances', 'auto', '--memory-budget', '8MiB']);
  for (const [name, own, other] of [['a', a, b], ['b', b, a]] as const) {
    const v = await versionOf(served.url, name);
    const left = budget - estimateCopyBytes(other.byteLength);
    const fits = Math.floor(left / estimateCopyBytes(own.byteLength));
    t.equal(v.state, 'READY');
    t.match(v.sizing.reason, `budget ${formatBytes(left)} fits ${fits}:`, `${name}: 8 MiB less the other model's copy (${formatBytes(estimateCopyBytes(other.byteLength))})`);
  }
});

t.test('weights in an external data file count against the budget like inline ones', async (t) => {
  const inline = mlpModel([256, 1024, 16], 6);
  const { model, data } = withExternalData(inline, 'model.onnx.data');
  const repo = await makeRepo(t, { ext: { onnx: model, files: { 'model.onnx.data': data } } });
  // one copy of ≈ 1.1 MB of weights fits 3 MiB once; model.onnx alone (a few hundred bytes) would fit 100+
  const served = await startServer(t, repo, ['--instances', 'auto', '--memory-budget', '3MiB']);
  const v = await versionOf(served.url, 'ext');
  t.equal(v.state, 'READY');
  t.match(v.sizing.reason, `a copy ≈ ${formatBytes(estimateCopyBytes(model.length + data.length))}`, 'the copy is the weights, not the graph file');
  t.match(v.sizing.reason, /fits 1:/);
  t.equal(v.sizing.instances, 1);
  const ok = await postJson(`${served.url}/v1/predict`, { model: 'ext', inputs: { input: [new Array(256).fill(0.2)] } });
  t.equal(ok.status, 200, 'it serves');
});
