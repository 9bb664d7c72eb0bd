// The pure helpers of the bench's split (default config), padding, memory and cpu sections, and
// their targets (bench/padding.ts, memory.ts, codec.ts, results.ts); h2load's output (bench/h2load.ts). No server, no onnxruntime run.
import t from 'tap';
import { PAD_MAX_LEN, PAD_MIN_LEN, PAD_TOLERANCE, answerDiff, parseSeqAnswer, seqBody, seqCheck, seqRows } from '../../bench/padding.js';
import { mlpParams, parseVmRss } from '../../bench/memory.js';
import { decodeAfter, decodeBefore, encodeAfter, encodeBefore, flattenNested, outputTensor } from '../../bench/codec.js';
import { makeBodies } from '../../bench/fixtures.js';
import type { Measurement } from '../../bench/measure.js';
import type { CeilingResult } from '../../bench/ceiling.js';
import { MODE_BARE, MODE_EXACT, MODE_GRPC, MODE_GRPC_H2LOAD, MODE_MEM_AUTO, MODE_MEM_TWO, MODE_ON, MODE_PADDED, MODE_V1, MODE_V2_BIN, MODE_V2_BIN_H2LOAD, bestSplitCeiling, targets, verdict, type Results } from '../../bench/results.js';
import { parseH2load } from '../../bench/h2load.js';

function results(extra: Partial<Results> = {}): Results {
  const settings = { durationS: 1, warmupS: 0, concurrency: [64], only: [], maxRequests: 1, ceilingS: 1, quietWaitS: 0, rounds: 3, heavySizes: [4, 2], curveStepS: 1, curveRounds: 1, kneeStepS: 1, kneeP99Ms: 100, overloadStepS: 1, faultsS: 1 };
  return { command: '', startedAt: new Date(0), settings, machine: {}, cores: 2, measurements: [], ceilings: [], split: { batch: 32, inproc: [], server: [] }, v2: [], v2BodySizes: {}, compression: [], compressionServer: [], curve: [], curveCapacity: [], overload: [], batchCurve: [], knees: [], poison: [], failures: [], ...extra };
}

function row(model: string, mode: string, reqPerS: number, o: { c?: number; round?: number; batchMean?: number } = {}): Measurement {
  const latency = { mean: 1, p50: 1, p90: 1, p99: 1, max: 1 };
  const load = { concurrency: o.c ?? 64, requests: reqPerS, errors: 0, errorSamples: [], expected: 0, windowS: 1, reqPerS, latency, queueMs: 0, computeMs: 0, batchSeenMean: 1, capped: false };
  const m: Measurement = { model, mode, load };
  if (o.round !== undefined) m.round = o.round;
  if (o.batchMean !== undefined) m.batch = { executions: 1, inferences: 1, mean: o.batchMean, dominant: 1, dominantShare: 1, sizes: {} };
  return m;
}

const ceiling = (instances: number, intraOpThreads: number, rowsPerS: number, batch = 32): CeilingResult => ({ instances, intraOpThreads, batch, rowsPerS, runMeanMs: 1, runP50Ms: 1, runs: 1 });

t.test('seqRows: seeded, lengths and ids within their ranges', async (t) => {
  const a = seqRows(200, 7);
  t.same(a, seqRows(200, 7), 'the same seed gives the same rows');
  t.not(JSON.stringify(a), JSON.stringify(seqRows(200, 8)));
  const lens = a.map((r) => r.ids.length);
  t.ok(lens.every((n) => n >= PAD_MIN_LEN && n <= PAD_MAX_LEN));
  t.ok(new Set(lens).size > 30, 'lengths spread over the range');
  t.equal(Math.min(...lens), PAD_MIN_LEN, 'both ends reached in 200 rows');
  t.equal(Math.max(...lens), PAD_MAX_LEN);
  t.ok(a.every((r) => r.ids.every((id) => Number.isInteger(id) && id >= 1 && id <= 999)));
});

t.test('seqBody: one row of ids and a mask of ones, same length', async (t) => {
  const j = JSON.parse(seqBody('m', { ids: [5, 6, 7] }).toString());
  t.same(j, { model: 'm', inputs: { input_ids: [[5, 6, 7]], attention_mask: [[1, 1, 1]] } });
});

t.test('parseSeqAnswer, seqCheck and answerDiff', async (t) => {
  const body = Buffer.from(JSON.stringify({ outputs: { logits: [[0.5, -1]], token_scores: [Array(8).fill(2)] } }));
  const a = parseSeqAnswer(body)!;
  t.same(a, { logits: [0.5, -1], tokenScores: Array(8).fill(2) });
  t.equal(seqCheck(body), undefined);
  t.match(seqCheck(Buffer.from('{"outputs":{}}')), /unexpected answer/);
  t.equal(answerDiff(a, { logits: [0.5, -0.9], tokenScores: Array(8).fill(2) }), 0.09999999999999998);
  t.equal(answerDiff(a, { logits: [0.5, -1], tokenScores: Array(9).fill(2) }), Infinity, 'a token_scores row not cut back is wrong, not close');
  t.equal(answerDiff(a, { logits: [NaN, -1], tokenScores: Array(8).fill(2) }), Infinity, 'NaN is wrong');
});

t.test('parseVmRss and mlpParams', async (t) => {
  t.equal(parseVmRss('Name:\tnode\nVmPeak:\t 999 kB\nVmRSS:\t  123456 kB\nRssAnon: 1 kB\n'), 123456 * 1024);
  t.equal(parseVmRss('Name:\tnode\n'), undefined);
  t.equal(mlpParams([3, 4, 2]), 3 * 4 + 4 + 4 * 2 + 2);
  t.ok(mlpParams([1024, 10240, 8192, 1000]) * 4 > 400e6, 'the memory section model is over 400 MB of float32');
});

t.test('codec before and after decode and encode to the same values', async (t) => {
  t.same(flattenNested([[1, 2], [3, [4]]]), [1, 2, 3, 4]);
  const [body] = makeBodies('seed-mlp', 16, 1);
  const before = decodeBefore(body!);
  const after = decodeAfter(body!, [{ name: 'input', dtype: 'float32', dims: ['batch', 16] }]);
  t.same(before.dims, [1, 16]);
  t.same(after.dims, [1, 16]);
  t.same(Array.from(after.data as Float32Array), Array.from(before.data));
  const out = outputTensor(50, 3);
  const eb = JSON.parse(encodeBefore('m', 'output', out)) as { outputs: { output: number[][] } };
  const ea = JSON.parse(encodeAfter('m', 'output', out)) as { outputs: { output: number[][] } };
  t.same(Float32Array.from(ea.outputs.output[0]!), out.data, 'the short text reads back as the same float32s');
  t.same(Float32Array.from(eb.outputs.output[0]!), out.data);
  t.ok(encodeAfter('m', 'output', out).length < encodeBefore('m', 'output', out).length, 'and is shorter');
});

t.test('split, default config: median over rounds against the better of 2 × 1 and 1 × 2', async (t) => {
  const inproc = [ceiling(1, 1, 2000), ceiling(2, 1, 1500), ceiling(1, 2, 1000), ceiling(2, 1, 9999, 1)];
  const auto = [row('heavy-mlp', MODE_V1, 1000, { round: 0 }), row('heavy-mlp', MODE_V1, 1100, { round: 1 }), row('heavy-mlp', MODE_V1, 1200, { round: 2 }), row('heavy-mlp', MODE_V2_BIN, 1300, { round: 0 })];
  const r = results({ split: { batch: 32, inproc, server: [], auto, autoSizing: { instances: 1, intraOpThreads: 1, auto: true, reason: 'x' } } });
  t.equal(bestSplitCeiling(r)?.rowsPerS, 1500, '1 × 1 and other batch sizes do not count');
  const ts = targets(r).filter((x) => x.name.includes('default config'));
  t.equal(ts.length, 2);
  t.equal(ts[0]!.ratio, 1100 / 1500);
  t.equal(verdict(ts[0]!), 'PASS', '≥ 0.70 for /v1 JSON');
  t.equal(ts[1]!.ratio, 1300 / 1500);
  t.equal(verdict(ts[1]!), 'PASS', '≥ 0.85 for v2 binary');
  t.match(ts[0]!.name, /auto 1 × 1/);
});

t.test('seed vs bare Fastify: one target, goal 0.90', async (t) => {
  const r = results({ measurements: [row('seed-mlp', MODE_ON, 85, { round: 0 }), row('seed-mlp', MODE_BARE, 100, { round: 0 })] });
  const ts = targets(r).filter((x) => x.name.includes('bare Fastify'));
  t.equal(ts.length, 1);
  t.equal(ts[0]!.threshold, 0.9);
  t.equal(verdict(ts[0]!), 'FAIL', '0.85 misses 0.90');
});

t.test('padding targets: batch, paired throughput, correctness', async (t) => {
  const measurements = [0, 1, 2].flatMap((round) => [row('bert-padded', MODE_PADDED, 1500 + round * 100, { c: 32, round, batchMean: 10 + round }), row('bert-exact', MODE_EXACT, 1000, { c: 32, round, batchMean: 3 })]);
  const check = { answers: 192, wrong: 0, maxAbsDiff: 3e-7, tolerance: PAD_TOLERANCE, samples: [] };
  const r = results({ padding: { measurements, check, lengths: { min: 8, max: 64, bodies: 64 } } });
  const ts = targets(r).filter((x) => x.name.startsWith('BERT-style'));
  t.equal(ts.length, 3);
  t.equal(ts[0]!.ratio, 11, 'median mean batch');
  t.equal(verdict(ts[0]!), 'PASS');
  t.equal(ts[1]!.ratio, 1.6, 'median of per-round ratios');
  t.equal(verdict(ts[1]!), 'PASS');
  t.equal(verdict(ts[2]!), 'PASS');
  const bad = results({ padding: { measurements, check: { ...check, wrong: 1 }, lengths: { min: 8, max: 64, bodies: 64 } } });
  t.equal(verdict(targets(bad).find((x) => x.name.includes('answers vs'))!), 'FAIL', 'a wrong answer fails even when the max diff is small');
});

t.test('memory target: auto RSS over 2-instance RSS, and auto must pick one instance', async (t) => {
  const entry = (mode: string, rss: number, instances: number) => ({ mode, rssBytes: rss, modelBytes: 400 * 2 ** 20, sizing: { instances, intraOpThreads: 1, auto: mode === MODE_MEM_AUTO, reason: 'because' } });
  const pass = targets(results({ memory: [entry(MODE_MEM_AUTO, 600, 1), entry(MODE_MEM_TWO, 1000, 2)] })).find((x) => x.name.includes('RSS'))!;
  t.equal(pass.ratio, 0.6);
  t.equal(verdict(pass), 'PASS');
  const two = targets(results({ memory: [entry(MODE_MEM_AUTO, 600, 2), entry(MODE_MEM_TWO, 1000, 2)] })).find((x) => x.name.includes('RSS'))!;
  t.equal(verdict(two), 'FAIL', 'auto with 2 instances fails, whatever the ratio');
  t.match(two.detail, /because/, 'and shows the reason');
});

t.test('codec targets: after / before per model and direction', async (t) => {
  const codec = [{ model: 'seed-mlp', inWidth: 1000, outWidth: 1, decodeBefore: 100, decodeAfter: 80, encodeBefore: 2, encodeAfter: 3, answerBytesBefore: 70, answerBytesAfter: 60 }];
  const ts = targets(results({ codec })).filter((x) => x.name.includes('/v1 '));
  t.same(ts.map((x) => [x.ratio, verdict(x)]), [[0.8, 'PASS'], [1.5, 'FAIL']]);
});

t.test('parseH2load: answers from the log, failures the server counted, the measured time', async (t) => {
  const stdout = 'finished in 2.00s, 3.00 req/s, 1KB/s\nrequests: 8 total, 8 started, 7 done, 6 succeeded, 1 failed, 1 errored, 0 timeout\n';
  const log = ['1764620000000000\t200\t1000', '1764620000001000\t200\t3000', '1764620000002000\t200\t2000', '1764620000003000\t503\t500', '1764620000004000\t200\t2000', '1764620000005000\t200\t2000', '1764620000006000\t200\t2000', ''].join('\n');
  const r = parseH2load(stdout, log, 5, 2);
  t.equal(r.windowS, 2, 'the window is h2load\'s own time');
  t.equal(r.requests, 4, '6 answers in the log with 2xx, 2 of them failures the server counted');
  t.equal(r.errors, 1 + 2 + 1, 'a 503, the 2 counted by the server, 1 errored without an answer');
  t.equal(r.reqPerS, 2);
  t.ok(r.latency.p50 >= 1.99 && r.latency.p50 <= 2.01, `p50 from the log (${r.latency.p50} ms)`);
  t.ok(r.latency.max >= 2.99 && r.latency.max <= 3.01, 'max from the log');
  t.equal(parseH2load('garbage', '', 5, 0).windowS, 5, 'no summary: the nominal duration');
});

t.test('gRPC target: the h2load pair when it ran, else the Node clients', async (t) => {
  const grpc = [row('seed-mlp', MODE_V2_BIN, 100, { round: 0 }), row('seed-mlp', MODE_GRPC, 50, { round: 0 })];
  const withNode = targets(results({ grpc })).find((x) => x.name.startsWith('seed-mlp, c=64: gRPC'));
  t.match(withNode?.name, /grpc-js vs undici/);
  t.equal(withNode?.ratio, 0.5);
  const both = [...grpc, row('seed-mlp', MODE_V2_BIN_H2LOAD, 100, { round: 0 }), row('seed-mlp', MODE_GRPC_H2LOAD, 80, { round: 0 })];
  const withH2load = targets(results({ grpc: both })).find((x) => x.name.startsWith('seed-mlp, c=64: gRPC'));
  t.match(withH2load?.name, /both through h2load/);
  t.equal(withH2load?.ratio, 0.8);
});
