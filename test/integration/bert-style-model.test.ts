// tools/onnx-builder.ts bertStyleModel: the answers of a row do not depend on padding with mask 0
// (what the bench's padding section relies on), run in onnxruntime-node alone and padded.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { bertStyleModel } from '../../tools/onnx-builder.js';
import { answerDiff, runPadded, seqRows } from '../../bench/padding.js';

t.test('one row alone vs padded with id 0 and mask 0: the same logits and token_scores', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bert-style-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'model.onnx');
  await writeFile(path, bertStyleModel(17));
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  t.teardown(() => session.release());
  t.same(session.inputNames, ['input_ids', 'attention_mask']);
  t.same(session.outputNames, ['logits', 'token_scores']);
  let worst = 0;
  for (const row of seqRows(12, 3)) {
    const alone = await runPadded(session, row.ids, 0);
    t.equal(alone.logits.length, 2);
    t.equal(alone.tokenScores.length, row.ids.length);
    for (const pad of [1, 7, 64 - row.ids.length + 5]) worst = Math.max(worst, answerDiff(alone, await runPadded(session, row.ids, pad)));
  }
  t.ok(worst <= 1e-5, `max abs difference ${worst} ≤ 1e-5`);
  // the answers depend on the ids: not a model that ignores its input
  const [a, b] = [await runPadded(session, [1, 2, 3, 4, 5, 6, 7, 8], 0), await runPadded(session, [9, 9, 9, 9, 9, 9, 9, 9], 0)];
  t.ok(answerDiff(a, b) > 1e-3, 'different ids give different answers');
});
