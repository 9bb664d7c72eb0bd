// Unit tests for chooseSizing: instances × intra-op threads from the cores, the model's size and
// the memory budget, over a table of machines and models; explicit values always win; a budget
// that the copies exceed is a warning, never a refusal.
import t from 'tap';
import { chooseSizing, estimateCopyBytes, formatBytes, SMALL_MODEL_BYTES, type SizingInput } from '../../src/repository/sizing.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const SEED = 0.8 * MiB; // the shipped seed-mlp
const HEAVY = 96 * MiB; // the heavy MLP of the benchmarks
const HUGE = 3 * GiB;

interface Row {
  name: string;
  input: SizingInput;
  instances: number;
  intraOpThreads: number;
  auto: boolean;
  reason: RegExp;
  warning?: RegExp;
}

const rows: Row[] = [
  { name: '2 cores, small', input: { cores: 2, modelBytes: SEED, budgetBytes: 4 * GiB }, instances: 1, intraOpThreads: 1, auto: true, reason: /2 cores, 1 for the main thread, 1 for compute; model .* small, HTTP-bound/ },
  { name: '2 cores, large: the one compute core', input: { cores: 2, modelBytes: HEAVY, budgetBytes: 4 * GiB }, instances: 1, intraOpThreads: 1, auto: true, reason: /compute-heavy/ },
  { name: '1 core: still one worker', input: { cores: 1, modelBytes: HEAVY, budgetBytes: 4 * GiB }, instances: 1, intraOpThreads: 1, auto: true, reason: /1 core, .* 1 for compute/ },
  { name: '8 cores, small: two single-thread workers', input: { cores: 8, modelBytes: SEED, budgetBytes: 4 * GiB }, instances: 2, intraOpThreads: 1, auto: true, reason: /7 for compute.*auto instances 2 \(more would only wait on the main thread\)/ },
  { name: '8 cores, large: 7 compute cores as 2 × 3', input: { cores: 8, modelBytes: HEAVY, budgetBytes: 4 * GiB }, instances: 2, intraOpThreads: 3, auto: true, reason: /auto intraOpThreads 3 \(the 7 compute cores shared\)/ },
  { name: '8 cores, huge: a second copy does not fit, one instance with every compute thread', input: { cores: 8, modelBytes: HUGE, budgetBytes: 8 * GiB }, instances: 1, intraOpThreads: 7, auto: true, reason: /a second copy does not fit the budget/ },
  { name: '32 cores, large, budget for many copies: ≤ 4 threads each', input: { cores: 32, modelBytes: HEAVY, budgetBytes: 64 * GiB }, instances: 8, intraOpThreads: 3, auto: true, reason: /fits 100\+: auto instances 8 \(≤ 4 threads each\)/ },
  { name: '32 cores, large, budget for 2 copies', input: { cores: 32, modelBytes: HEAVY, budgetBytes: 2 * estimateCopyBytes(HEAVY) }, instances: 2, intraOpThreads: 15, auto: true, reason: /fits 2: auto instances 2 \(a second copy|only 2 copies fit the budget/ },
  { name: '8 cores, large, budget for 1 copy', input: { cores: 8, modelBytes: HEAVY, budgetBytes: estimateCopyBytes(HEAVY) }, instances: 1, intraOpThreads: 7, auto: true, reason: /fits 1: auto instances 1 \(a second copy does not fit the budget\)/ },
  { name: '8 cores, small, budget for 1 copy', input: { cores: 8, modelBytes: SEED, budgetBytes: estimateCopyBytes(SEED) + 1 }, instances: 1, intraOpThreads: 1, auto: true, reason: /a second copy does not fit/ },
  {
    name: 'a budget under one copy: one instance anyway, with a warning',
    input: { cores: 8, modelBytes: HUGE, budgetBytes: GiB },
    instances: 1,
    intraOpThreads: 7,
    auto: true,
    reason: /fits 0/,
    warning: /1 instance × 4.5 GiB = 4.5 GiB exceeds the memory budget of 1.0 GiB/,
  },
  // explicit values win
  { name: 'config.json instances on 8 cores, large: threads share the compute cores', input: { cores: 8, modelBytes: HEAVY, budgetBytes: 4 * GiB, instances: { value: 3, from: 'config.json' } }, instances: 3, intraOpThreads: 2, auto: false, reason: /instances 3 from config\.json, auto intraOpThreads 2/ },
  { name: '--instances on 2 cores, small', input: { cores: 2, modelBytes: SEED, budgetBytes: 4 * GiB, instances: { value: 4, from: '--instances' } }, instances: 4, intraOpThreads: 1, auto: false, reason: /instances 4 from --instances/ },
  { name: 'explicit threads only: instances fill the compute cores left', input: { cores: 8, modelBytes: HEAVY, budgetBytes: 4 * GiB, intraOpThreads: { value: 2, from: 'ONNX_SERVE_INTRA_OP_THREADS' } }, instances: 3, intraOpThreads: 2, auto: true, reason: /auto instances 3 .*intraOpThreads 2 from ONNX_SERVE_INTRA_OP_THREADS/ },
  { name: 'both explicit, beyond the cores: kept', input: { cores: 2, modelBytes: HEAVY, budgetBytes: 4 * GiB, instances: { value: 4, from: 'config.json' }, intraOpThreads: { value: 8, from: 'config.json' } }, instances: 4, intraOpThreads: 8, auto: false, reason: /instances 4 from config\.json, intraOpThreads 8 from config\.json$/ },
  {
    name: 'explicit instances over the budget: kept, with a warning',
    input: { cores: 8, modelBytes: HEAVY, budgetBytes: 2 * estimateCopyBytes(HEAVY), instances: { value: 6, from: 'config.json' } },
    instances: 6,
    intraOpThreads: 1,
    auto: false,
    reason: /instances 6 from config\.json.*; warning: 6 instances × 144 MiB = 864 MiB exceeds the memory budget of 288 MiB$/,
    warning: /^6 instances × 144 MiB = 864 MiB exceeds the memory budget of 288 MiB$/,
  },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    const s = chooseSizing(row.input);
    t.equal(s.instances, row.instances, 'instances');
    t.equal(s.intraOpThreads, row.intraOpThreads, 'intraOpThreads');
    t.equal(s.auto, row.auto, 'auto');
    t.match(s.reason, row.reason, 'reason');
    if (row.warning) t.match(s.warning, row.warning, 'warning');
    else t.equal(s.warning, undefined, 'no warning: the copies fit the budget');
    if (!row.input.instances && !row.input.intraOpThreads) {
      t.ok(s.instances * s.intraOpThreads <= Math.max(1, row.input.cores - 1), 'auto never uses the main thread\'s core');
    }
  });
}

t.test('the threshold sits between the shipped small model and the heavy one', async (t) => {
  t.ok(SEED < SMALL_MODEL_BYTES && HEAVY >= SMALL_MODEL_BYTES);
  t.equal(chooseSizing({ cores: 8, modelBytes: SMALL_MODEL_BYTES - 1, budgetBytes: 4 * GiB }).intraOpThreads, 1, 'just under: small');
  t.equal(chooseSizing({ cores: 8, modelBytes: SMALL_MODEL_BYTES, budgetBytes: 4 * GiB }).intraOpThreads, 3, 'at the threshold: compute-heavy');
});

t.test('a copy is 1.5 × the file; sizes print in binary units', async (t) => {
  t.equal(estimateCopyBytes(100), 150);
  t.equal(formatBytes(512), '512 B');
  t.equal(formatBytes(812 * 1024), '812 KiB');
  t.equal(formatBytes(1.5 * MiB), '1.5 MiB');
  t.equal(formatBytes(4 * GiB), '4.0 GiB');
});
