// Unit tests for parseModelConfig: defaults, errors that name the file, key, bad value and what
// is allowed, unknown keys, preferred sizes vs maxBatchSize, and a deeply frozen result.
import t from 'tap';
import { DEFAULT_BATCHING, ModelConfigError, parseModelConfig } from '../../src/repository/model-config.js';
import { DEFAULT_SESSION_SETTINGS, sessionOptions } from '../../src/pool/session-options.js';
import { thrown } from '../helpers/thrown.js';

const FILE = 'models/digits/config.json';
const DEFAULTS = { instances: 2, intraOpThreads: 3 };


t.test('defaults when there is no config.json', async (t) => {
  const c = parseModelConfig(undefined, FILE, DEFAULTS);
  t.strictSame(c, {
    maxBatchSize: undefined,
    dynamicBatching: {
      policy: 'adaptive',
      maxQueueDelayMs: 0,
      preferredBatchSizes: [],
      maxQueueSize: 1024,
      maxQueueWaitMs: 250,
      timeoutMs: 10_000,
      latencyTargetMs: undefined,
      priorityLevels: 3,
      defaultPriorityLevel: 2,
    },
    instances: 2,
    intraOpThreads: 3,
    variants: {},
    warmup: undefined,
    sessionOptions: { executionProviders: ['cpu'], graphOptimizationLevel: 'all', extra: { 'session.intra_op.allow_spinning': '0' } },
    padding: {},
  });
  t.equal(c.maxBatchSize, undefined, 'maxBatchSize left to be derived from the model');
  t.strictSame(parseModelConfig({}, FILE, DEFAULTS), c, 'an empty object gives the same defaults');
  t.strictSame(parseModelConfig({ dynamicBatching: {} }, FILE, DEFAULTS).dynamicBatching, c.dynamicBatching);
  t.strictSame(DEFAULT_BATCHING, c.dynamicBatching, 'defaults are the exported DEFAULT_BATCHING');
});

t.test('valid values are kept', async (t) => {
  const c = parseModelConfig(
    { maxBatchSize: 16, dynamicBatching: { maxQueueDelayMs: 0.5, preferredBatchSizes: [16, 4, 8, 4], maxQueueSize: 10, timeoutMs: 250 }, instances: 1, intraOpThreads: 4 },
    FILE,
    DEFAULTS,
  );
  t.equal(c.maxBatchSize, 16);
  t.equal(c.dynamicBatching.maxQueueDelayMs, 0.5, 'the delay may be fractional');
  t.equal(c.dynamicBatching.policy, 'static', 'a delay given is a choice of the static policy');
  t.equal(parseModelConfig({ dynamicBatching: { maxQueueDelayMs: 0 } }, FILE, DEFAULTS).dynamicBatching.policy, 'static', 'even 0 (never wait, Triton\'s default)');
  const targeted = parseModelConfig({ dynamicBatching: { latencyTargetMs: 100, priorityLevels: 5, defaultPriorityLevel: 4 } }, FILE, DEFAULTS).dynamicBatching;
  t.strictSame([targeted.policy, targeted.latencyTargetMs, targeted.priorityLevels, targeted.defaultPriorityLevel], ['adaptive', 100, 5, 4]);
  t.equal(parseModelConfig({ dynamicBatching: { priorityLevels: 1 } }, FILE, DEFAULTS).dynamicBatching.defaultPriorityLevel, 1, 'the default level fits the levels');
  t.strictSame(c.dynamicBatching.preferredBatchSizes, [4, 8, 16], 'preferred sizes ascending (the policy relies on it), duplicates dropped');
  t.equal(c.dynamicBatching.maxQueueSize, 10);
  t.equal(parseModelConfig({ dynamicBatching: { maxQueueWaitMs: 40 } }, FILE, DEFAULTS).dynamicBatching.maxQueueWaitMs, 40, 'maxQueueWaitMs as given');
  t.equal(c.dynamicBatching.timeoutMs, 250);
  t.equal(c.instances, 1);
  t.equal(c.intraOpThreads, 4);
  t.equal(parseModelConfig({ maxBatchSize: 0 }, FILE, DEFAULTS).maxBatchSize, 0, 'maxBatchSize 0: the model does not batch');
  t.strictSame(parseModelConfig({ padding: { input_ids: 0, attention_mask: 0, mask: false, x: -1.5 } }, FILE, DEFAULTS).padding, { input_ids: 0, attention_mask: 0, mask: false, x: -1.5 }, 'padding values kept as given (checked against the inputs at load)');
});

/** [config, key named in the error, the bad value]. */
const BAD: [unknown, string, unknown][] = [
  [{ maxBatchSize: -1 }, 'maxBatchSize', -1],
  [{ maxBatchSize: 1.5 }, 'maxBatchSize', 1.5],
  [{ maxBatchSize: '8' }, 'maxBatchSize', '8'],
  [{ maxBatchSize: null }, 'maxBatchSize', null],
  [{ dynamicBatching: { maxQueueDelayMs: -1 } }, 'dynamicBatching.maxQueueDelayMs', -1],
  [{ dynamicBatching: { maxQueueDelayMs: '2' } }, 'dynamicBatching.maxQueueDelayMs', '2'],
  [{ dynamicBatching: { maxQueueDelayMs: 1e9 } }, 'dynamicBatching.maxQueueDelayMs', 1e9],
  [{ dynamicBatching: { maxQueueSize: 0 } }, 'dynamicBatching.maxQueueSize', 0],
  [{ dynamicBatching: { maxQueueSize: 2.5 } }, 'dynamicBatching.maxQueueSize', 2.5],
  [{ dynamicBatching: { maxQueueWaitMs: 0 } }, 'dynamicBatching.maxQueueWaitMs', 0],
  [{ dynamicBatching: { maxQueueWaitMs: '100' } }, 'dynamicBatching.maxQueueWaitMs', '100'],
  [{ dynamicBatching: { timeoutMs: 0 } }, 'dynamicBatching.timeoutMs', 0],
  [{ dynamicBatching: { timeoutMs: true } }, 'dynamicBatching.timeoutMs', true],
  [{ dynamicBatching: { latencyTargetMs: 0 } }, 'dynamicBatching.latencyTargetMs', 0],
  [{ dynamicBatching: { latencyTargetMs: 2.5 } }, 'dynamicBatching.latencyTargetMs', 2.5],
  [{ dynamicBatching: { priorityLevels: 0 } }, 'dynamicBatching.priorityLevels', 0],
  [{ dynamicBatching: { priorityLevels: 17 } }, 'dynamicBatching.priorityLevels', 17],
  [{ dynamicBatching: { priorityLevels: 2, defaultPriorityLevel: 3 } }, 'dynamicBatching.defaultPriorityLevel', 3],
  [{ dynamicBatching: { preferredBatchSizes: 8 } }, 'dynamicBatching.preferredBatchSizes', 8],
  [{ dynamicBatching: { preferredBatchSizes: [4, 0] } }, 'dynamicBatching.preferredBatchSizes[1]', 0],
  [{ dynamicBatching: { preferredBatchSizes: ['4'] } }, 'dynamicBatching.preferredBatchSizes[0]', '4'],
  [{ dynamicBatching: 5 }, 'dynamicBatching', 5],
  [{ dynamicBatching: [] }, 'dynamicBatching', []],
  [{ instances: 0 }, 'instances', 0],
  [{ instances: 65 }, 'instances', 65],
  [{ intraOpThreads: 0 }, 'intraOpThreads', 0],
  [{ intraOpThreads: 'two' }, 'intraOpThreads', 'two'],
  [{ sessionOptions: 'fast' }, 'sessionOptions', 'fast'],
  [{ sessionOptions: { executionProviders: 'cuda' } }, 'sessionOptions.executionProviders', 'cuda'],
  [{ sessionOptions: { executionProviders: [] } }, 'sessionOptions.executionProviders', []],
  [{ sessionOptions: { executionProviders: ['cuda', 7] } }, 'sessionOptions.executionProviders[1]', 7],
  [{ sessionOptions: { executionProviders: ['gpu'] } }, 'sessionOptions.executionProviders[0]', 'gpu'],
  [{ sessionOptions: { executionProviders: ['wasm'] } }, 'sessionOptions.executionProviders[0]', 'wasm'],
  [{ sessionOptions: { executionProviders: ['cuda', 'cpu', 'cuda'] } }, 'sessionOptions.executionProviders[2]', 'cuda'],
  [{ sessionOptions: { executionProviders: ['cpu', 'cuda'] } }, 'sessionOptions.executionProviders', ['cpu', 'cuda']],
  [{ sessionOptions: { graphOptimizationLevel: 'max' } }, 'sessionOptions.graphOptimizationLevel', 'max'],
  [{ sessionOptions: { graphOptimizationLevel: 99 } }, 'sessionOptions.graphOptimizationLevel', 99],
  [{ sessionOptions: { graphOptimizationLevel: 'ALL' } }, 'sessionOptions.graphOptimizationLevel', 'ALL'],
  [{ sessionOptions: { extra: 'session.x=1' } }, 'sessionOptions.extra', 'session.x=1'],
  [{ sessionOptions: { extra: ['a'] } }, 'sessionOptions.extra', ['a']],
  [{ sessionOptions: { extra: { 'session.intra_op.allow_spinning': 1 } } }, 'sessionOptions.extra.session.intra_op.allow_spinning', 1],
  [{ sessionOptions: { extra: { session: { set_denormal_as_zero: true } } } }, 'sessionOptions.extra.session.set_denormal_as_zero', true],
  [{ sessionOptions: { extra: { 'session.x': null } } }, 'sessionOptions.extra.session.x', null],
  [{ sessionOptions: { extra: { spinning: '1' } } }, 'sessionOptions.extra.spinning', '1'],
  [{ sessionOptions: { extra: { 'session.has space': '1' } } }, 'sessionOptions.extra.session.has space', '1'],
  [{ sessionOptions: { extra: { [`session.${'k'.repeat(1030)}`]: '1' } } }, `sessionOptions.extra.session.${'k'.repeat(1030)}`, '1'],
  [{ padding: 5 }, 'padding', 5],
  [{ padding: [0] }, 'padding', [0]],
  [{ padding: { input_ids: '0' } }, 'padding.input_ids', '0'],
  [{ padding: { input_ids: null } }, 'padding.input_ids', null],
  [{ padding: { input_ids: [0] } }, 'padding.input_ids', [0]],
];

t.test('each bad value: ModelConfigError naming the file, the key, the bad value and what is allowed', async (t) => {
  for (const [raw, key, value] of BAD) {
    const err = thrown(() => parseModelConfig(raw, FILE, DEFAULTS));
    const label = `${key} = ${JSON.stringify(value)}`;
    t.ok(err instanceof ModelConfigError, `${label}: ModelConfigError`);
    const msg = err instanceof Error ? err.message : '';
    t.ok(msg.includes(FILE), `${label}: names the file (${msg})`);
    t.ok(msg.includes(`"${key}"`), `${label}: names the key`);
    t.ok(msg.includes(JSON.stringify(value)), `${label}: shows the bad value`);
    t.match(msg, /allowed/i, `${label}: says what is allowed`);
    t.notOk(msg.includes('\n'), `${label}: one line`);
  }
});

t.test('the allowed range is spelled out', async (t) => {
  const msg = (raw: unknown): string => (thrown(() => parseModelConfig(raw, FILE, DEFAULTS)) as Error).message;
  t.match(msg({ instances: 0 }), /1\D+64/, 'instances: 1 to 64');
  t.match(msg({ dynamicBatching: { maxQueueDelayMs: -1 } }), /0\D+60000/, 'delay: 0 to 60000');
  t.match(msg({ maxBatchSize: -1 }), /integer/, 'maxBatchSize: an integer');
});

t.test('a config that is not a JSON object is rejected', async (t) => {
  for (const raw of [42, 'x', [], true]) {
    const err = thrown(() => parseModelConfig(raw, FILE, DEFAULTS));
    t.ok(err instanceof ModelConfigError, `${JSON.stringify(raw)}: ModelConfigError`);
    t.ok(err instanceof Error && err.message.includes(FILE), `${JSON.stringify(raw)}: names the file`);
  }
});

t.test('unknown keys are rejected, listing the allowed keys', async (t) => {
  const top = thrown(() => parseModelConfig({ maxBatchSize: 8, batchSize: 8 }, FILE, DEFAULTS));
  t.ok(top instanceof ModelConfigError);
  const m = top instanceof Error ? top.message : '';
  t.ok(m.includes(FILE), 'names the file');
  t.ok(m.includes('batchSize'), 'names the unknown key');
  for (const k of ['maxBatchSize', 'dynamicBatching', 'instances', 'intraOpThreads', 'sessionOptions']) t.ok(m.includes(k), `lists allowed key ${k}`);

  const nested = thrown(() => parseModelConfig({ dynamicBatching: { maxDelayMs: 3 } }, FILE, DEFAULTS));
  t.ok(nested instanceof ModelConfigError);
  const n = nested instanceof Error ? nested.message : '';
  t.ok(n.includes('dynamicBatching.maxDelayMs'), 'names the unknown key with its path');
  for (const k of ['maxQueueDelayMs', 'preferredBatchSizes', 'maxQueueSize', 'timeoutMs']) t.ok(n.includes(k), `lists allowed key ${k}`);
});

t.test('preferredBatchSizes larger than maxBatchSize are rejected', async (t) => {
  const err = thrown(() => parseModelConfig({ maxBatchSize: 16, dynamicBatching: { preferredBatchSizes: [8, 32] } }, FILE, DEFAULTS));
  t.ok(err instanceof ModelConfigError, 'ModelConfigError');
  const m = err instanceof Error ? err.message : '';
  t.ok(m.includes(FILE), 'names the file');
  t.ok(m.includes('dynamicBatching.preferredBatchSizes'), 'names the key');
  t.ok(m.includes('32'), 'shows the offending size');
  t.ok(m.includes('16'), 'says the limit');
  t.doesNotThrow(() => parseModelConfig({ maxBatchSize: 16, dynamicBatching: { preferredBatchSizes: [8, 16] } }, FILE, DEFAULTS), 'equal to maxBatchSize is fine');
});

t.test('the result is deeply frozen', async (t) => {
  const c = parseModelConfig({ maxBatchSize: 8, dynamicBatching: { preferredBatchSizes: [4, 8] } }, FILE, DEFAULTS);
  t.ok(Object.isFrozen(c), 'top level');
  t.ok(Object.isFrozen(c.dynamicBatching), 'dynamicBatching');
  t.ok(Object.isFrozen(c.dynamicBatching.preferredBatchSizes), 'preferredBatchSizes');
  t.throws(() => {
    (c.dynamicBatching.preferredBatchSizes as number[]).push(16);
  }, 'cannot grow preferredBatchSizes');
  const d = parseModelConfig(undefined, FILE, DEFAULTS);
  t.ok(Object.isFrozen(d) && Object.isFrozen(d.dynamicBatching) && Object.isFrozen(d.dynamicBatching.preferredBatchSizes), 'defaults are frozen too');
  // parsing must not freeze the caller's object
  const raw = { dynamicBatching: { preferredBatchSizes: [2] } };
  parseModelConfig(raw, FILE, DEFAULTS);
  t.notOk(Object.isFrozen(raw.dynamicBatching.preferredBatchSizes), "the caller's arrays stay mutable");
});

t.test("the README's example config.json parses", async (t) => {
  // the documented, all-optional config.json
  const example = {
    maxBatchSize: 32,
    dynamicBatching: { maxQueueDelayMs: 2, preferredBatchSizes: [8, 16, 32], maxQueueSize: 1024, timeoutMs: 10000 },
    instances: 1,
    intraOpThreads: 1,
    variants: { int8: 'model.int8.onnx' },
    sessionOptions: { executionProviders: ['cuda', 'cpu'], graphOptimizationLevel: 'all', extra: { 'session.set_denormal_as_zero': '1' } },
  };
  const err = thrown(() => parseModelConfig(example, FILE, DEFAULTS));
  t.equal(err, undefined, `accepted (got: ${err instanceof Error ? err.message : 'no error'})`);
});

t.test('warmup: false, a list of samples, or a JSON file beside config.json', async (t) => {
  t.equal(parseModelConfig({ warmup: false }, FILE, DEFAULTS).warmup, false, 'false: no warm-up');
  t.equal(parseModelConfig({ warmup: 'warmup.json' }, FILE, DEFAULTS).warmup, 'warmup.json', 'a file name');
  const samples = [{ name: 'speech', inputs: { input: { dims: [1, 512], fill: 0.1 }, sr: 16000 } }, { inputs: { input: [[1, 2]] } }];
  t.strictSame(parseModelConfig({ warmup: samples }, FILE, DEFAULTS).warmup, samples, 'samples kept as written (decoded against the signature at load)');
  const bad: [unknown, RegExp][] = [
    [true, /"warmup" is true; allowed: false, a list of at most 64 samples/],
    ['../elsewhere.json', /"warmup" is "\.\.\/elsewhere\.json"; allowed: .*a \.json file name inside the model folder/],
    ['warmup.txt', /"warmup" is "warmup\.txt"/],
    [[{ inputs: {} }], /"warmup\[0\]\.inputs" is \{\}; allowed: an object with one entry per model input/],
    [[{ inputs: { x: [1] }, batch_size: 1 }], /"warmup\[0\]\.batch_size" is 1; allowed: no such key/],
    [[{ name: 3, inputs: { x: [1] } }], /"warmup\[0\]\.name" is 3; allowed: a string/],
    [[7], /"warmup\[0\]" is 7; allowed: an object/],
    [Array.from({ length: 65 }, () => ({ inputs: { x: [1] } })), /a list of 65 samples.*at most 64/],
  ];
  for (const [value, message] of bad) {
    const e = thrown(() => parseModelConfig({ warmup: value }, FILE, DEFAULTS));
    t.ok(e instanceof ModelConfigError, `${JSON.stringify(value).slice(0, 40)}: ModelConfigError`);
    t.match((e as Error).message, message, `${JSON.stringify(value).slice(0, 40)}: names the key and what is allowed`);
    t.match((e as Error).message, /^models\/digits\/config\.json: /, 'names the file');
  }
});

t.test('sessionOptions: providers in order, an optimization level, config entries merged over the defaults', async (t) => {
  const c = parseModelConfig(
    { sessionOptions: { executionProviders: ['cuda', 'cpu'], graphOptimizationLevel: 'basic', extra: { 'session.set_denormal_as_zero': '1', session: { intra_op: { allow_spinning: '1' } } } } },
    FILE,
    DEFAULTS,
  ).sessionOptions;
  t.strictSame(c.executionProviders, ['cuda', 'cpu'], 'the order kept: it is the order of preference');
  t.equal(c.graphOptimizationLevel, 'basic');
  t.strictSame(c.extra, { 'session.intra_op.allow_spinning': '1', 'session.set_denormal_as_zero': '1' }, "nested keys join with \".\" (as the binding does) and override the default of the same key");
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.executionProviders) && Object.isFrozen(c.extra), 'frozen like the rest');
  for (const level of ['disabled', 'basic', 'extended', 'all']) {
    t.equal(parseModelConfig({ sessionOptions: { graphOptimizationLevel: level } }, FILE, DEFAULTS).sessionOptions.graphOptimizationLevel, level, `level ${level}`);
  }
  const only = parseModelConfig({ sessionOptions: { extra: { 'session.use_env_allocators': '1' } } }, FILE, DEFAULTS).sessionOptions;
  t.strictSame(only.extra, { 'session.intra_op.allow_spinning': '0', 'session.use_env_allocators': '1' }, 'an entry of its own keeps the default beside it');
  t.strictSame(only.executionProviders, ['cpu'], 'providers default to cpu');
  t.equal(parseModelConfig({ sessionOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'] } }, FILE, DEFAULTS).sessionOptions.executionProviders.length, 3);
  t.strictSame(parseModelConfig({}, FILE, DEFAULTS).sessionOptions, DEFAULT_SESSION_SETTINGS, 'no key: the exported defaults');
});

t.test('sessionOptions errors say what to write instead', async (t) => {
  const msg = (raw: unknown): string => (thrown(() => parseModelConfig({ sessionOptions: raw }, FILE, DEFAULTS)) as Error).message;
  t.match(msg({ executionProviders: ['gpu'] }), /allowed: one of onnxruntime-node's providers: cpu, cuda, tensorrt, dml, coreml, webgpu, qnn$/, 'lists the names');
  t.match(msg({ executionProviders: ['CUDAExecutionProvider', 'cpu'] }), /"CUDAExecutionProvider".*\(did you mean "cuda"\?\)/, "Python's spelling: the node name suggested");
  t.match(msg({ executionProviders: ['CPU'] }), /did you mean "cpu"/);
  t.match(msg({ executionProviders: ['cpu', 'cuda'] }), /"cpu" last/, 'cpu before another provider would leave it nothing');
  t.match(msg({ executionProviders: ['cuda', 'cuda'] }), /each provider once \(it is already at \[0\]\)/);
  t.match(msg({ graphOptimizationLevel: 'max' }), /allowed: disabled, basic, extended, all$/);
  t.match(msg({ extra: { 'session.intra_op.allow_spinning': 0 } }), /allowed: a string such as "0": onnxruntime config values are strings/, 'a number: quote it');
  t.match(msg({ extra: { 'session.x': true } }), /a string such as "1"/, 'true: "1"');
  t.match(msg({ extra: { spinning: '1' } }), /a dotted onnxruntime config key/);
  t.match(msg({ intraOpNumThreads: 2 }), /unknown key "sessionOptions\.intraOpNumThreads"; allowed keys: executionProviders, graphOptimizationLevel, extra/);
});

t.test('sessionOptions() builds onnxruntime options from the settings; the defaults are what workers always used', async (t) => {
  const dflt = sessionOptions(3);
  t.strictSame(dflt, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 3,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4,
    extra: { 'session.intra_op.allow_spinning': '0' },
  });
  const c = parseModelConfig({ sessionOptions: { executionProviders: ['cuda', 'cpu'], graphOptimizationLevel: 'extended', extra: { 'session.x': 'y' } } }, FILE, DEFAULTS);
  const o = sessionOptions(2, c.sessionOptions);
  t.strictSame(o.executionProviders, ['cuda', 'cpu']);
  t.equal(o.graphOptimizationLevel, 'extended');
  t.strictSame(o.extra, { 'session.intra_op.allow_spinning': '0', 'session.x': 'y' });
  t.notOk(Object.isFrozen(o.executionProviders), 'a fresh list: onnxruntime may filter it');
  t.strictSame(sessionOptions(1, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', extra: {} }).extra, { 'session.intra_op.allow_spinning': '0' }, 'settings without entries still get the default');
});
