// Unit tests for server options: defaults, environment over defaults, flags over environment,
// one-line OptionErrors naming the option and value, and parseBytes.
import t, { type Test } from 'tap';
import { parseBytes, parseServeOptions } from '../../src/config.js';
import { OptionError } from '../../src/errors.js';
import { thrown } from '../helpers/thrown.js';


t.test('defaults (no flags, empty environment)', async (t) => {
  const o = parseServeOptions([], {});
  t.equal(o.modelsDir, './models');
  t.equal(o.host, '127.0.0.1');
  t.equal(o.port, 8080);
  t.equal(o.logLevel, 'info');
  t.equal(o.adminToken, undefined, 'no admin token unless configured');
  t.equal(o.bodyLimit, undefined, 'body limit derived from the models unless configured');
  t.ok(Number.isInteger(o.instances) && o.instances >= 1, 'instances is a positive integer');
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

t.test('parseBytes', async (t) => {
  t.equal(parseBytes('1048576'), 1048576, 'plain bytes');
  t.equal(parseBytes('100b'), 100);
  t.equal(parseBytes('512kb'), 512 * 1024);
  t.equal(parseBytes('8mb'), 8 * 1024 * 1024);
  t.equal(parseBytes('1gb'), 1024 ** 3);
  t.equal(parseBytes('8MB'), 8 * 1024 * 1024, 'case-insensitive');
  t.equal(parseBytes(' 2 kb '), 2048, 'spaces around and between');
  t.equal(parseBytes('1.5kb'), 1536, 'fractions');
  for (const bad of ['', 'mb', 'lots', '-1', '8 tb', '1e6', '0x10', '8mbs']) t.equal(parseBytes(bad), undefined, `${JSON.stringify(bad)} is not a size`);
});

t.test('unknown flags and positionals throw OptionError', async (t) => {
  for (const argv of [['--prot', '8080'], ['--verbose'], ['extra']]) {
    const err = thrown(() => parseServeOptions(argv, {}));
    t.ok(err instanceof OptionError, `${argv.join(' ')}: OptionError`);
    if (argv[0]!.startsWith('--')) t.ok(err instanceof Error && err.message.includes(argv[0]!), `${argv.join(' ')}: names the flag`);
  }
});
