// The report's pure parts: agreement metrics and accuracy from outputs, the report object's
// field names (the serving side reads them), its JSON and the before | after | change table.
import t from 'tap';
import { accuracy, agreement, argmaxRows, median, type EvalReport } from '../../src/compress/evaluate.js';
import { formatBytes, makeReport, renderReportJson, renderTable } from '../../src/compress/report.js';

t.test('agreement: identical outputs agree fully', async (t) => {
  const a = [1, 2, 3, -1, 0.5, 0.25];
  t.same(agreement(a, a, 3), { maxAbsError: 0, meanRelError: 0, cosine: 1, top1Agreement: 1 });
});

t.test('agreement: errors, cosine and top-1 over the last axis', async (t) => {
  const original = [1, 2, 3, 3, 2, 1];
  const compressed = [1, 2.5, 2, 3, 2, 1.5]; // row 0 argmax moves from 2 to 1; row 1 stays 0
  const g = agreement(original, compressed, 3);
  t.equal(g.maxAbsError, 1);
  t.equal(g.meanRelError, 2 / 12, 'Σ|error| / Σ|original|');
  const dot = 1 + 5 + 6 + 9 + 4 + 1.5;
  t.ok(Math.abs(g.cosine - dot / Math.sqrt(28 * (1 + 6.25 + 4 + 9 + 4 + 2.25))) < 1e-12);
  t.equal(g.top1Agreement, 0.5);
  t.equal(agreement([0.1, 0.2], [0.3, 0.2], 1).top1Agreement, null, 'no top-1 for a single output column');
  t.equal(agreement([1, 2], [-1, -2], 2).cosine, -1);
  t.equal(agreement([0, 0], [0, 0], 2).cosine, 1, 'all-zero outputs agree');
  t.ok(Number.isNaN(agreement([1, 2], [NaN, 2], 2).maxAbsError), 'a NaN from the compressed model shows');
  t.throws(() => agreement([1, 2], [1], 1), RangeError);
});

t.test('argmax, accuracy and median', async (t) => {
  t.same(Array.from(argmaxRows([0, 5, 1, 9, 2, 3], 3)), [1, 0]);
  t.equal(accuracy([0, 5, 1, 9, 2, 3, 1, 1, 4], 3, [1, 1, 2]), 2 / 3);
  t.equal(median([5, 1, 3]), 3);
  t.equal(median([4, 1, 3, 2]), 2.5);
});

const evalReport: EvalReport = {
  samples: 360,
  latencyMs: { original: { batch1: 0.04, batch32: 0.5 }, compressed: { batch1: 0.05, batch32: 0.25 } },
  speedup: { batch1: 0.8, batch32: 2 },
  agreement: { maxAbsError: 0.0123, meanRelError: 0.0045, cosine: 0.99999, top1Agreement: 0.9972 },
  accuracy: { original: 350 / 360, compressed: 349 / 360, delta: -1 / 360 },
};

const parts = {
  method: 'int8-dynamic' as const,
  options: { perChannel: true },
  source: { file: 'model.onnx', bytes: 69948 },
  output: { file: 'model.int8.onnx', bytes: 22176 },
  changed: 3,
  warnings: ['node "mm" (MatMul): both inputs are activations; left unchanged'],
  details: { quantizedWeights: 3 },
};

t.test('the report object has the agreed field names, in order', async (t) => {
  const r = makeReport({ ...parts, eval: evalReport });
  t.same(Object.keys(r), ['method', 'options', 'source', 'output', 'sizeRatio', 'changed', 'warnings', 'details', 'eval']);
  t.equal(r.sizeRatio, 22176 / 69948);
  const json = JSON.parse(renderReportJson(r));
  t.same(Object.keys(json.eval), ['samples', 'latencyMs', 'speedup', 'agreement', 'accuracy']);
  t.same(Object.keys(json.eval.agreement), ['maxAbsError', 'meanRelError', 'cosine', 'top1Agreement']);
  t.equal(json.eval.accuracy.delta, -1 / 360);
  const noEval = makeReport(parts);
  t.notOk('eval' in noEval, 'without --eval there is no eval field');
  const broken = makeReport({ ...parts, eval: { ...evalReport, agreement: { ...evalReport.agreement, maxAbsError: NaN } } });
  t.equal(JSON.parse(renderReportJson(broken)).eval.agreement.maxAbsError, null, 'NaN is written as null');
});

t.test('the table shows before | after | change', async (t) => {
  const text = renderTable(makeReport({ ...parts, eval: evalReport }));
  const lines = text.split('\n');
  t.match(lines[0], /^\s+before\s+after\s+change$/);
  t.match(text, /size\s+68\.3 KiB\s+21\.7 KiB\s+0\.32× \(−68\.3 %\)/);
  t.match(text, /latency, batch 1\s+0\.0400 ms\s+0\.0500 ms\s+1\.25× slower/);
  t.match(text, /latency, batch 32\s+0\.500 ms\s+0\.250 ms\s+2\.00× faster/);
  t.match(text, /accuracy \(360 rows\)\s+97\.22 %\s+96\.94 %\s+−0\.28 points/);
  t.match(text, /top-1 99\.72 %, cosine 0\.99999, max abs error 0\.0123, mean rel error 0\.45 %/);
  t.match(text, /int8-dynamic \(perChannel true\): 3 changed, 1 warning$/m);
  const plain = renderTable(makeReport(parts));
  t.notMatch(plain, /latency|accuracy|agreement/, 'no measured rows without --eval');
  t.match(plain, /wrote model\.int8\.onnx/);
});

t.test('sizes', async (t) => {
  t.equal(formatBytes(512), '512 B');
  t.equal(formatBytes(2048), '2.00 KiB');
  t.equal(formatBytes(882427), '861.7 KiB');
  t.equal(formatBytes(5 * 1024 ** 2), '5.00 MiB');
});
