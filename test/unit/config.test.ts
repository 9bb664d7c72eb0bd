// Unit tests for server options: defaults, environment over defaults, flags over environment,
// one-line OptionErrors naming the option and value, and parseBytes.
import t, { type Test } from 'tap';
import { totalmem } from 'node:os';
import { machineMemory, MEMORY_BUDGET_SHARE, parseBytes, parseServeOptions } from '../../src/config.js';
import { OptionError } from '../../src/errors.js';
import { thrown } from '../helpers/thrown.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';


t.test('defaults (no flags, empty environment)', async (t) => {
  const o = parseServeOptions([], {});
  t.equal(o.modelsDir, './models');
  t.equal(o.host, '127.0.0.1');
  t.equal(o.port, 8080);
  t.equal(o.logLevel, 'info');
  t.equal(o.adminToken, undefined, 'no admin token unless configured');
  t.equal(o.bodyLimit, undefined, 'body limit derived from the models unless configured');
  t.equal(o.instances, undefined, 'instances: auto, chosen per model version');
  t.equal(o.intraOpThreads, undefined, 'intra-op threads: auto');
  t.ok(Number.isInteger(o.memoryBudget) && o.memoryBudget > 0, 'a memory budget from the machine');
  t.ok(Object.isFrozen(o), 'options are frozen');
});

const ENV = {
  ONNX_SERVE_MODELS: '/srv/models',
  HOST: '0.0.0.0',
  PORT: '9090',
  LOG_LEVEL: 'debug',
  ONNX_SERVE_ADMIN_TOKEN: 's3cret',
};

t.test('environment overrides defaults', async (t) => {
  const o = parseServeOptions([], { ...ENV });
  t.equal(o.modelsDir, '/srv/models', 'ONNX_SERVE_MODELS');
  t.equal(o.host, '0.0.0.0', 'HOST');
  t.equal(o.port, 9090, 'PORT (a number)');
  t.equal(o.logLevel, 'debug', 'LOG_LEVEL');
  t.equal(o.adminToken, 's3cret', 'ONNX_SERVE_ADMIN_TOKEN');
});

t.test('an empty environment variable counts as unset', async (t) => {
  const o = parseServeOptions([], { PORT: '', HOST: '', ONNX_SERVE_MODELS: '', LOG_LEVEL: '', ONNX_SERVE_ADMIN_TOKEN: '' });
  t.equal(o.port, 8080);
  t.equal(o.host, '127.0.0.1');
  t.equal(o.modelsDir, './models');
  t.equal(o.logLevel, 'info');
  t.equal(o.adminToken, undefined);
});

t.test('flags override environment', async (t) => {
  const o = parseServeOptions(['--models', 'repo', '--host', '::1', '--port', '7000', '--log-level', 'warn'], { ...ENV });
  t.equal(o.modelsDir, 'repo');
  t.equal(o.host, '::1');
  t.equal(o.port, 7000);
  t.equal(o.logLevel, 'warn');
  t.equal(o.adminToken, 's3cret', 'the admin token still comes from the environment');
  t.equal(parseServeOptions(['--port=7001'], { PORT: '9090' }).port, 7001, '--flag=value form');
  t.equal(parseServeOptions(['--port', '0'], {}).port, 0, 'port 0 (ephemeral) is allowed');
  t.equal(parseServeOptions(['--port', '65535'], {}).port, 65535, 'port 65535 is allowed');
});

/** Asserts an OptionError whose single line names the option and the bad value. */
function badOption(t: Test, argv: string[], env: Record<string, string>, option: string, value: string): void {
  const err = thrown(() => parseServeOptions(argv, env));
  const label = `${option}=${JSON.stringify(value)}`;
  t.ok(err instanceof OptionError, `${label}: OptionError`);
  const msg = err instanceof Error ? err.message : '';
  t.ok(msg.includes(option), `${label}: names the option (${msg})`);
  t.ok(msg.includes(value), `${label}: shows the bad value`);
  t.notOk(msg.includes('\n'), `${label}: one line`);
}

t.test('bad values: one-line OptionError naming the option and value', async (t) => {
  badOption(t, ['--port', '70000'], {}, '--port', '70000');
  badOption(t, ['--port', 'http'], {}, '--port', 'http');
  badOption(t, ['--port=-1'], {}, '--port', '-1');
  badOption(t, ['--port', '80.5'], {}, '--port', '80.5');
  badOption(t, [], { PORT: 'eighty' }, 'PORT', 'eighty');
  badOption(t, ['--log-level', 'verbose'], {}, '--log-level', 'verbose');
  badOption(t, [], { LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'loud');
  badOption(t, ['--body-limit', 'lots'], {}, '--body-limit', 'lots');
  badOption(t, ['--body-limit', '10'], {}, '--body-limit', '10');
  badOption(t, ['--body-limit=-5mb'], {}, '--body-limit', '-5mb');
  badOption(t, ['--instances', '0'], {}, '--instances', '0');
  badOption(t, ['--drain-timeout-ms', 'soon'], {}, '--drain-timeout-ms', 'soon');
  // a flag overriding a bad environment value is fine
  t.equal(parseServeOptions(['--port', '8081'], { PORT: 'eighty' }).port, 8081);
});

t.test('body limit', async (t) => {
  t.equal(parseServeOptions(['--body-limit', '8mb'], {}).bodyLimit, 8 * 1024 * 1024);
  t.equal(parseServeOptions(['--body-limit', '1048576'], {}).bodyLimit, 1048576);
  t.equal(parseServeOptions(['--body-limit', '1kb'], {}).bodyLimit, 1024, 'the 1kb minimum is allowed');
});

t.test('instances and intra-op threads: auto by default, or an integer with where it came from', async (t) => {
  const auto = parseServeOptions(['--instances', 'auto', '--intra-op-threads', 'auto'], { ONNX_SERVE_INSTANCES: '3' });
  t.equal(auto.instances, undefined, '--instances auto overrides the environment');
  t.equal(auto.instancesFrom, undefined);
  const env = parseServeOptions([], { ONNX_SERVE_INSTANCES: '3', ONNX_SERVE_INTRA_OP_THREADS: 'auto' });
  t.same([env.instances, env.instancesFrom, env.intraOpThreads], [3, 'ONNX_SERVE_INSTANCES', undefined]);
  const flag = parseServeOptions(['--instances', '2', '--intra-op-threads', '4'], { ONNX_SERVE_INSTANCES: '3' });
  t.same([flag.instances, flag.instancesFrom, flag.intraOpThreads, flag.intraOpThreadsFrom], [2, '--instances', 4, '--intra-op-threads']);
  badOption(t, ['--instances', 'many'], {}, '--instances', 'many');
  badOption(t, [], { ONNX_SERVE_INTRA_OP_THREADS: '0' }, 'ONNX_SERVE_INTRA_OP_THREADS', '0');
  t.match(thrown(() => parseServeOptions(['--instances', '65'], {})), { message: /use "auto" or an integer from 1 to 64/ });
});

t.test('memory budget: a size with a unit, from the flag or the environment', async (t) => {
  const GiB = 1024 ** 3;
  t.equal(parseServeOptions(['--memory-budget', '4GiB'], {}).memoryBudget, 4 * GiB);
  t.equal(parseServeOptions(['--memory-budget', '512MiB'], {}).memoryBudget, 512 * 1024 ** 2);
  t.equal(parseServeOptions(['--memory-budget', '2GB'], {}).memoryBudget, 2 * GiB, 'GB is a binary multiple, as for --body-limit');
  t.equal(parseServeOptions(['--memory-budget', '1.5gib'], {}).memoryBudget, 1.5 * GiB, 'case-insensitive, fractions');
  t.equal(parseServeOptions(['--memory-budget', '3221225472'], {}).memoryBudget, 3 * GiB, 'plain bytes');
  t.equal(parseServeOptions([], { ONNX_SERVE_MEMORY_BUDGET: '768MiB' }).memoryBudget, 768 * 1024 ** 2, 'ONNX_SERVE_MEMORY_BUDGET');
  t.equal(parseServeOptions(['--memory-budget', '1GiB'], { ONNX_SERVE_MEMORY_BUDGET: '768MiB' }).memoryBudget, GiB, 'the flag wins');
  badOption(t, ['--memory-budget', 'lots'], {}, '--memory-budget', 'lots');
  badOption(t, ['--memory-budget', '4 TiB'], {}, '--memory-budget', '4 TiB');
  badOption(t, ['--memory-budget', '512kb'], {}, '--memory-budget', '512kb');
  badOption(t, ['--memory-budget=-1GiB'], {}, '--memory-budget', '-1GiB');
  badOption(t, [], { ONNX_SERVE_MEMORY_BUDGET: '4 gigs' }, 'ONNX_SERVE_MEMORY_BUDGET', '4 gigs');
  t.match(thrown(() => parseServeOptions(['--memory-budget', '0'], {})), { message: /at least 1MiB, e\.g\. 4GiB, 512MiB or 2gb/ });
});

t.test('default memory budget: half of the machine, or of a smaller cgroup limit', async (t) => {
  const dflt = parseServeOptions([], {}).memoryBudget;
  t.ok(dflt <= Math.floor(totalmem() * MEMORY_BUDGET_SHARE), `${dflt} is at most half of the machine's memory`);
  t.equal(dflt, Math.floor(machineMemory() * MEMORY_BUDGET_SHARE));
  const files = (v2: string | undefined, v1?: string) => (p: string) => (p.endsWith('memory.max') ? v2 : p.endsWith('limit_in_bytes') ? v1 : undefined);
  t.equal(machineMemory(files('2147483648\n')), Math.min(totalmem(), 2 * 1024 ** 3), 'a cgroup v2 limit');
  t.equal(machineMemory(files('max\n')), totalmem(), '"max": no limit');
  t.equal(machineMemory(files(undefined)), totalmem(), 'no cgroup file');
  t.equal(machineMemory(files(undefined, '1073741824')), Math.min(totalmem(), 1024 ** 3), 'a cgroup v1 limit');
  t.equal(machineMemory(files(String(totalmem() * 4))), totalmem(), 'a limit above the machine: the machine');
});

t.test('parseBytes', async (t) => {
  t.equal(parseBytes('1048576'), 1048576, 'plain bytes');
  t.equal(parseBytes('100b'), 100);
  t.equal(parseBytes('512kb'), 512 * 1024);
  t.equal(parseBytes('8mb'), 8 * 1024 * 1024);
  t.equal(parseBytes('1gb'), 1024 ** 3);
  t.equal(parseBytes('8MB'), 8 * 1024 * 1024, 'case-insensitive');
  t.equal(parseBytes(' 2 kb '), 2048, 'spaces around and between');
  t.equal(parseBytes('1.5kb'), 1536, 'fractions');
  t.equal(parseBytes('512KiB'), 512 * 1024, 'IEC spellings');
  t.equal(parseBytes('4GiB'), 4 * 1024 ** 3);
  t.equal(parseBytes('8 mib'), 8 * 1024 ** 2);
  for (const bad of ['', 'mb', 'lots', '-1', '8 tb', '1e6', '0x10', '8mbs']) t.equal(parseBytes(bad), undefined, `${JSON.stringify(bad)} is not a size`);
});

t.test('unknown flags and positionals throw OptionError', async (t) => {
  for (const argv of [['--prot', '8080'], ['--verbose'], ['extra']]) {
    const err = thrown(() => parseServeOptions(argv, {}));
    t.ok(err instanceof OptionError, `${argv.join(' ')}: OptionError`);
    if (argv[0]!.startsWith('--')) t.ok(err instanceof Error && err.message.includes(argv[0]!), `${argv.join(' ')}: names the flag`);
  }
});

t.test('--response-compression: off by default, on or off from the flag or the environment', async (t) => {
  t.equal(parseServeOptions([], {}).responseCompression, false, 'off: gzip costs main-thread CPU');
  t.equal(parseServeOptions(['--response-compression', 'on'], {}).responseCompression, true);
  t.equal(parseServeOptions([], { ONNX_SERVE_RESPONSE_COMPRESSION: 'on' }).responseCompression, true);
  t.equal(parseServeOptions(['--response-compression', 'off'], { ONNX_SERVE_RESPONSE_COMPRESSION: 'on' }).responseCompression, false, 'the flag wins');
  badOption(t, ['--response-compression', 'yes'], {}, '--response-compression', 'yes');
  badOption(t, [], { ONNX_SERVE_RESPONSE_COMPRESSION: 'gzip' }, 'ONNX_SERVE_RESPONSE_COMPRESSION', 'gzip');
});

t.test('model control: mode, poll interval, --load-model', async (t) => {
  const d = parseServeOptions([], {});
  t.equal(d.modelControl, 'none', 'default: none (everything loads at start)');
  t.equal(d.repositoryPollSecs, 15);
  t.same(d.loadModels, []);
  const e = parseServeOptions(['--model-control', 'explicit', '--load-model', 'a', '--load-model', 'b.2'], {});
  t.equal(e.modelControl, 'explicit');
  t.same(e.loadModels, ['a', 'b.2'], '--load-model is repeatable');
  const p = parseServeOptions([], { ONNX_SERVE_MODEL_CONTROL: 'poll', ONNX_SERVE_REPOSITORY_POLL_SECS: '2' });
  t.equal(p.modelControl, 'poll');
  t.equal(p.repositoryPollSecs, 2);
  badOption(t, ['--model-control', 'auto'], {}, '--model-control', 'auto');
  badOption(t, ['--repository-poll-secs', '0'], {}, '--repository-poll-secs', '0');
  badOption(t, ['--load-model', 'a'], {}, '--load-model', 'a');
  badOption(t, ['--model-control', 'explicit', '--load-model', '../x'], {}, '--load-model', '../x');
  t.same(parseServeOptions(['--model-control', 'explicit', '--load-model', '*'], {}).loadModels, ['*'], '"*": every model');
  t.ok(thrown(() => parseServeOptions(['--model-control', 'explicit', '--load-model', '*', '--load-model', 'a'], {})) instanceof OptionError, '"*" only alone');
});

t.test('admin token: flag, file (one trailing newline trimmed), environment; bad files stop the start', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'onnx-serve-token-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  await writeFile(file, 'from-file\n');
  t.equal(parseServeOptions(['--admin-token', 'flag'], { ONNX_SERVE_ADMIN_TOKEN: 'env' }).adminToken, 'flag', 'the flag wins');
  t.equal(parseServeOptions(['--admin-token-file', file], { ONNX_SERVE_ADMIN_TOKEN: 'env' }).adminToken, 'from-file', 'the file flag wins over the environment');
  t.equal(parseServeOptions([], { ONNX_SERVE_ADMIN_TOKEN_FILE: file }).adminToken, 'from-file', 'ONNX_SERVE_ADMIN_TOKEN_FILE');
  t.equal(parseServeOptions([], { ONNX_SERVE_ADMIN_TOKEN_FILE: file, ONNX_SERVE_ADMIN_TOKEN: 'env' }).adminToken, 'env', 'the token variable wins over the file variable');
  await writeFile(file, 'crlf\r\n');
  t.equal(parseServeOptions(['--admin-token-file', file], {}).adminToken, 'crlf');
  await writeFile(file, '\n');
  badOption(t, ['--admin-token-file', file], {}, '--admin-token-file', file);
  t.match((thrown(() => parseServeOptions(['--admin-token-file', file], {})) as Error).message, /holds no token/);
  await writeFile(file, 'a\nb\n');
  t.match((thrown(() => parseServeOptions(['--admin-token-file', file], {})) as Error).message, /more than one line/);
  const missing = join(dir, 'nope');
  badOption(t, ['--admin-token-file', missing], {}, '--admin-token-file', missing);
  t.match((thrown(() => parseServeOptions(['--admin-token-file', missing], {})) as Error).message, /cannot be read \(ENOENT\)/, 'says why');
  t.ok(thrown(() => parseServeOptions(['--admin-token', 'a', '--admin-token-file', file], {})) instanceof OptionError, 'both: refused');
  t.ok(thrown(() => parseServeOptions(['--admin-token', ''], {})) instanceof OptionError, 'an empty token flag: refused');
});

t.test('backlog and slow-client timeouts: defaults, environment, flags, and what is refused', async (t) => {
  const d = parseServeOptions([], {});
  t.same([d.backlog, d.requestTimeoutMs, d.headersTimeoutMs, d.keepAliveTimeoutMs], [4096, 30_000, 10_000, 72_000], 'defaults');
  const env = { ONNX_SERVE_BACKLOG: '1024', ONNX_SERVE_REQUEST_TIMEOUT_MS: '60000', ONNX_SERVE_HEADERS_TIMEOUT_MS: '5000', ONNX_SERVE_KEEP_ALIVE_TIMEOUT_MS: '90000' };
  const e = parseServeOptions([], env);
  t.same([e.backlog, e.requestTimeoutMs, e.headersTimeoutMs, e.keepAliveTimeoutMs], [1024, 60_000, 5000, 90_000], 'from the environment');
  const f = parseServeOptions(['--backlog', '128', '--request-timeout-ms', '1000', '--headers-timeout-ms', '1000', '--keep-alive-timeout-ms', '500'], env);
  t.same([f.backlog, f.requestTimeoutMs, f.headersTimeoutMs, f.keepAliveTimeoutMs], [128, 1000, 1000, 500], 'flags over the environment');
  t.match(thrown(() => parseServeOptions(['--backlog', '0'], {})), { message: /--backlog: "0" is not allowed; use an integer from 1 to 65535/ });
  t.match(thrown(() => parseServeOptions(['--request-timeout-ms', 'soon'], {})), { message: /--request-timeout-ms: "soon" is not allowed/ });
  t.match(thrown(() => parseServeOptions([], { ONNX_SERVE_HEADERS_TIMEOUT_MS: '50' })), { message: /ONNX_SERVE_HEADERS_TIMEOUT_MS: "50" is not allowed; use an integer from 100/ });
  t.match(thrown(() => parseServeOptions(['--request-timeout-ms', '5000', '--headers-timeout-ms', '6000'], {})), {
    message: /--headers-timeout-ms: "6000" is not allowed; use at most the request timeout \(5000 ms\), which includes the headers/,
  });
});
