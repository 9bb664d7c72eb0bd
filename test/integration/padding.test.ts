// Padding variable-length inputs (config.json "padding") through the real server and
// onnxruntime: a BERT-like model built on the fly whose answer depends only on unmasked
// positions. Requests of different lengths share batches, and each answer equals the same
// request's answer when it ran alone, cut back to its own length; without padding they do not
// share. A padding that names an input the model lacks makes the model unavailable, naming it.
import t from 'tap';
import { makeRepo, startServer, postJson, getJson } from '../helpers/server.js';
import { mulberry32 } from '../helpers/random.js';
import { maskedSequenceModel } from '../../tools/onnx-builder.js';

interface Sample {
  ids: number[][];
  mask: number[][];
}

/** rows × seq ids in 1..1000, the last `masked` positions of each row masked out (id kept: the model must ignore it). */
function sample(rand: () => number, rows: number, seq: number, masked: number): Sample {
  const ids = Array.from({ length: rows }, () => Array.from({ length: seq }, () => 1 + Math.floor(rand() * 1000)));
  const mask = ids.map((r) => r.map((_, i) => (i < seq - masked ? 1 : 0)));
  return { ids, mask };
}

const close = (a: number[][], b: number[][]): boolean =>
  a.length === b.length && a.every((r, i) => r.length === b[i]!.length && r.every((v, j) => Math.abs(v - b[i]![j]!) <= 1e-4));

t.test('padding', async (t) => {
  const onnx = maskedSequenceModel();
  // a 50 ms static delay: requests sent together meet in the queue even on a busy machine
  const dynamicBatching = { maxQueueDelayMs: 50 };
  const repo = await makeRepo(t, {
    bert: { onnx, config: { padding: { input_ids: 0, attention_mask: 0 }, dynamicBatching } },
    bert_nopad: { onnx, config: { dynamicBatching } },
    bert_badpad: { onnx, config: { padding: { input_ids: 0, attention_mask: 0, token_type_ids: 0 } } },
  });
  const served = await startServer(t, repo);
  const url = `${served.url}/v1/predict`;
  const rand = mulberry32(13);
  const lengths = [8, 13, 64, 20, 31, 5, 40, 17];
  const samples = lengths.map((seq, i) => sample(rand, 1 + (i % 3), seq, i % 4));

  const predict = (model: string, s: Sample) => postJson(url, { model, inputs: { input_ids: s.ids, attention_mask: s.mask } });

  t.test('/v1/models shows the padding with the batching settings', async (t) => {
    const models = (await getJson(`${served.url}/v1/models`)).body.models;
    const bert = models.find((m: { name: string }) => m.name === 'bert').versions[0];
    t.equal(bert.state, 'READY');
    t.strictSame(bert.batching.padding, { input_ids: 0, attention_mask: 0 });
    const nopad = models.find((m: { name: string }) => m.name === 'bert_nopad').versions[0];
    t.notOk('padding' in nopad.batching, 'absent when config.json pads nothing');
  });

  t.test('requests of different lengths share batches and get the answers they get alone', async (t) => {
    const alone: { masked: number[][]; pooled: number[][] }[] = [];
    for (const s of samples) {
      const res = await predict('bert', s);
      t.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
      t.equal(res.headers['x-batch-size'], String(s.ids.length), 'sent one at a time: it ran alone');
      alone.push(res.body.outputs);
    }
    // the model's own arithmetic, to show that the alone answers are the right ones
    samples.forEach((s, i) => {
      const want = s.ids.map((r, a) => r.map((v, j) => v * s.mask[a]![j]!));
      t.strictSame(alone[i]!.masked, want, `request ${i}: masked ids`);
      t.strictSame(alone[i]!.pooled, want.map((r) => [r.reduce((x, y) => x + y, 0)]), `request ${i}: pooled`);
    });

    const together = await Promise.all(samples.map((s) => predict('bert', s)));
    const sizes = together.map((r) => Number(r.headers['x-batch-size']));
    t.ok(sizes.some((n, i) => n > samples[i]!.ids.length), `some requests ran with others (x-batch-size ${sizes.join(', ')})`);
    together.forEach((res, i) => {
      t.equal(res.status, 200);
      const seq = lengths[i]!;
      t.ok(res.body.outputs.masked.every((r: number[]) => r.length === seq), `request ${i}: "masked" cut back to its own length ${seq}`);
      t.ok(close(res.body.outputs.masked, alone[i]!.masked), `request ${i}: "masked" equals its answer alone`);
      t.ok(close(res.body.outputs.pooled, alone[i]!.pooled), `request ${i}: "pooled" equals its answer alone`);
    });

    const stats = (await getJson(`${served.url}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'bert').versions[0].stats;
    const rows = samples.reduce((n, s) => n + s.ids.length, 0);
    t.ok(stats.executions < samples.length * 2, `${stats.executions} executions for ${samples.length * 2} requests of ${lengths.length} different lengths`);
    t.equal(stats.inferences, rows * 2, 'every row computed once per sending');
  });

  t.test('v2 and /v1 requests of different lengths share a batch too', async (t) => {
    const [a, b] = [sample(rand, 1, 6, 1), sample(rand, 2, 11, 3)];
    const v2 = postJson(`${served.url}/v2/models/bert/infer`, {
      inputs: [
        { name: 'input_ids', shape: [1, 6], datatype: 'INT64', data: a.ids.flat() },
        { name: 'attention_mask', shape: [1, 6], datatype: 'INT64', data: a.mask.flat() },
      ],
    });
    const [r2, r1] = await Promise.all([v2, predict('bert', b)]);
    t.equal(r2.status, 200, JSON.stringify(r2.body).slice(0, 300));
    t.equal(r2.headers['x-batch-size'], '3', 'ran with the /v1 request');
    const masked = r2.body.outputs.find((o: { name: string }) => o.name === 'masked');
    t.strictSame(masked.shape, [1, 6], 'cut back to its own length');
    t.strictSame(masked.data, a.ids[0]!.map((v, j) => v * a.mask[0]![j]!));
    t.strictSame(r1.body.outputs.masked, b.ids.map((r, i) => r.map((v, j) => v * b.mask[i]![j]!)));
  });

  t.test('without padding, requests of different lengths never share a batch', async (t) => {
    const picked = samples.slice(0, 4);
    const res = await Promise.all(picked.map((s) => predict('bert_nopad', s)));
    res.forEach((r, i) => {
      t.equal(r.status, 200);
      t.equal(r.headers['x-batch-size'], String(picked[i]!.ids.length), `request ${i} (seq ${lengths[i]}) ran alone`);
    });
  });

  t.test('padding an input the model does not have is a load error that names it', async (t) => {
    const ready = await getJson(`${served.url}/v2/health/ready`);
    const bad = ready.body.models.find((m: { name: string }) => m.name === 'bert_badpad');
    t.equal(bad.state, 'UNAVAILABLE');
    t.match(bad.reason, /config\.json: "padding\.token_type_ids" names no input of the model/);
    const res = await predict('bert_badpad', samples[0]!);
    t.equal(res.status, 503);
    t.match(res.body.error.message, /token_type_ids/, 'the 503 says why');
  });
});
