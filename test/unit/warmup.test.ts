// Unit tests for the warm-up and batch-axis rules (pure): which signatures can batch along
// dimension 0 and why not, made-up inputs, doubling a sample, the batch-2 check on dims and
// values, and how config.json's maxBatchSize and the check combine.
import t from 'tap';
import { batchAxisProblem, checkBatchAxis, doubled, madeUpFeeds, rowsOf } from '../../src/pool/warmup.js';
import { isNamedDim, type TensorSignature } from '../../src/signature.js';
import { batchAxisAfterWarmup, batchAxisFromSignature } from '../../src/repository/batch-axis.js';
import { ModelConfigError } from '../../src/repository/model-config.js';
import { fromNested } from '../../src/tensors/decode.js';
import { thrown } from '../helpers/thrown.js';

const sig = (name: string, dims: (number | string)[], dtype: TensorSignature['dtype'] = 'float32'): TensorSignature => ({ name, dtype, dims });

t.test('batchAxisProblem: every input and output needs a variable dimension 0', async (t) => {
  t.equal(batchAxisProblem({ inputs: [sig('x', ['batch', 4])], outputs: [sig('y', ['batch', 2])] }), undefined);
  t.equal(batchAxisProblem({ inputs: [sig('x', ['', 4])], outputs: [sig('y', ['-1', 2])] }), undefined, 'unnamed variable dims count as variable');
  t.match(batchAxisProblem({ inputs: [sig('x', ['batch', 4]), sig('sr', [], 'int64')], outputs: [sig('y', ['batch'])] }), /input "sr" is a scalar \(0-d\)/);
  t.match(
    batchAxisProblem({ inputs: [sig('x', ['batch', 8]), sig('h', [2, 'batch', 8])], outputs: [sig('y', ['batch', 8])] }),
    /input "h" has a fixed dimension 0 \(dims \[2,"batch",8\]\); its batch dimension "batch" is dimension 1, not 0/,
  );
  t.match(batchAxisProblem({ inputs: [sig('x', [1, 3, 224, 224])], outputs: [sig('y', [1, 10])] }), /input "x" has a fixed dimension 0 \(dims \[1,3,224,224\]\)$/);
  t.match(batchAxisProblem({ inputs: [sig('x', ['n', 3])], outputs: [sig('loss', [])] }), /output "loss" is a scalar/);
});

t.test('isNamedDim: only real names stand for one size across the model', async (t) => {
  for (const d of ['batch', 'seq', 'batch_size']) t.ok(isNamedDim(d), d);
  for (const d of ['', '-1', '?', 'unk__12', 3]) t.notOk(isNamedDim(d), JSON.stringify(d));
});

t.test('madeUpFeeds: ones, one row, other variable dims at the size asked, bounded', async (t) => {
  const inputs = [sig('ids', ['batch', 'seq'], 'int64'), sig('mask', ['batch', 'seq'], 'bool'), sig('h', [2, 'batch', 4]), sig('half', ['batch', 2], 'float16')];
  const f = madeUpFeeds(inputs, 512)!;
  t.strictSame(f.ids!.dims, [1, 512], 'dimension 0 one row; seq at the size');
  t.strictSame(f.h!.dims, [2, 1, 4], 'a dim named like some input\'s dimension 0 is a row too');
  t.ok([...(f.ids!.data as BigInt64Array)].every((v) => v === 1n), 'int64 ones (never a zero divisor)');
  t.ok([...(f.mask!.data as Uint8Array)].every((v) => v === 1), 'bools true');
  t.ok([...(f.h!.data as Float32Array)].every((v) => v === 1), 'floats 1');
  t.equal(f.half!.data[0], 0x3c00, 'float16 1.0');
  t.equal(madeUpFeeds([sig('big', ['batch', 'a', 'b', 'c'])], 512), undefined, 'too large to make up: undefined');
  t.strictSame(madeUpFeeds([sig('big', ['batch', 'a', 'b'])], 1)!.big!.dims, [1, 1, 1]);
});

t.test('doubled and rowsOf', async (t) => {
  const x = fromNested([[1, 2]], 'float32');
  const s = fromNested(3, 'float32');
  const d = doubled({ x, s });
  t.strictSame(d.x!.dims, [2, 2]);
  t.strictSame([...d.x!.data], [1, 2, 1, 2]);
  t.equal(d.s, s, 'a 0-d input is passed as is');
  t.equal(rowsOf({ x: fromNested([[1], [2], [3]], 'float32') }), 3);
  t.equal(rowsOf({ s }), 1);
});

t.test('checkBatchAxis: dims follow the rows and each half of the doubled answer equals the single one', async (t) => {
  const one = { y: { dims: [1, 2], data: new Float32Array([0.5, -1]) } };
  t.strictSame(checkBatchAxis(1, one, { y: { dims: [2, 2], data: new Float32Array([0.5, -1, 0.5000001, -1]) } }), { ok: true }, 'float rounding is tolerated');
  t.match(checkBatchAxis(1, one, { y: { dims: [1, 2], data: new Float32Array([0.5, -1]) } }), { ok: false, reason: /dimension 0 of 1 for 1 row\(s\) and 1 for 2/ });
  t.match(checkBatchAxis(1, { y: { dims: [3, 2], data: new Float32Array(6) } }, { y: { dims: [6, 2], data: new Float32Array(12) } }), { ok: false, reason: /dimension 0 of 3/ });
  t.match(checkBatchAxis(1, one, { y: { dims: [2, 2], data: new Float32Array([0.5, -1, 1, -2]) } }), { ok: false, reason: /answers differently from the sample alone/ }, 'rows that mix');
  t.match(checkBatchAxis(1, { s: { dims: [], data: new Float32Array([1]) } }, { s: { dims: [], data: new Float32Array([2]) } }), { ok: false, reason: /none \(0-d\)/ });
  const ints = { k: { dims: [1], data: new BigInt64Array([5n]) } };
  t.strictSame(checkBatchAxis(1, ints, { k: { dims: [2], data: new BigInt64Array([5n, 5n]) } }), { ok: true });
  t.match(checkBatchAxis(1, ints, { k: { dims: [2], data: new BigInt64Array([5n, 6n]) } }), { ok: false });
  const nan = { y: { dims: [1], data: new Float32Array([NaN]) } };
  t.strictSame(checkBatchAxis(1, nan, { y: { dims: [2], data: new Float32Array([NaN, NaN]) } }), { ok: true }, 'NaN equals NaN here');
});

t.test('batch axis: config.json, the signature rule and the batch-2 check', async (t) => {
  const batching = { inputs: [sig('x', ['batch', 4])], outputs: [sig('y', ['batch', 2])] };
  const scalar = { inputs: [sig('x', ['batch', 4]), sig('sr', [])], outputs: [sig('y', ['batch', 2])] };
  t.strictSame(batchAxisFromSignature(undefined, batching, 'm/config.json'), { maxBatchSize: 32 });
  t.strictSame(batchAxisFromSignature(8, batching, 'm/config.json'), { maxBatchSize: 8 });
  t.match(batchAxisFromSignature(undefined, scalar, 'm/config.json'), { maxBatchSize: 0, unbatchedReason: /scalar/ });
  t.match(batchAxisFromSignature(0, batching, 'm/config.json'), { maxBatchSize: 0, unbatchedReason: /config\.json sets "maxBatchSize": 0/ });
  const e = thrown(() => batchAxisFromSignature(4, scalar, 'm/config.json'));
  t.ok(e instanceof ModelConfigError);
  t.match((e as Error).message, /^m\/config\.json: "maxBatchSize" is 4; allowed: 0 for this model, whose input "sr" is a scalar/);
  t.strictSame(batchAxisAfterWarmup({ maxBatchSize: 32 }, { ok: true }), { maxBatchSize: 32 });
  t.strictSame(batchAxisAfterWarmup({ maxBatchSize: 32 }, undefined), { maxBatchSize: 32 }, 'no check ran (the warm-up failed): the rule stands');
  t.match(batchAxisAfterWarmup({ maxBatchSize: 32 }, { ok: false, reason: 'output "y" mixes' }), { maxBatchSize: 0, unbatchedReason: /batch-2 check failed: output "y" mixes/ });
});
