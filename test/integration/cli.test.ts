// The command line: a bad option stops the process at once with one line that names it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/server.js';

const cli = join(ROOT, 'dist', 'src', 'cli.js');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '', ...env } });

t.test('bad options stop the process with one line naming the option, the value and what is allowed', async (t) => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['serve', '--port', 'eighty'], {}, /--port: "eighty" is not allowed; use an integer from 0 to 65535/],
    [['serve'], { PORT: '70000' }, /PORT: "70000" is not allowed; use an integer from 0 to 65535/],
    [['serve', '--log-level', 'loud'], {}, /--log-level: "loud" is not allowed; use one of fatal, error, warn, info/],
    [['serve', '--body-limit', 'huge'], {}, /--body-limit: "huge" is not allowed/],
    [['serve', '--memory-budget', '4 gigs'], {}, /--memory-budget: "4 gigs" is not allowed; use a size of at least 1MiB, e\.g\. 4GiB/],
    [['serve'], { ONNX_SERVE_MEMORY_BUDGET: '-2GiB' }, /ONNX_SERVE_MEMORY_BUDGET: "-2GiB" is not allowed/],
    [['serve', '--colour'], {}, /Unknown option '--colour'/],
    [['serve', '--cors-origin', 'https://app.example/path'], {}, /--cors-origin: "https:\/\/app\.example\/path" is not allowed; use an origin such as https:\/\/app\.example\.com/],
    [['serve'], { ONNX_SERVE_CORS_ORIGIN: 'https://ok.example,evil' }, /ONNX_SERVE_CORS_ORIGIN: "evil" is not allowed/],
    [['serve', '--rate-limit', 'lots'], {}, /--rate-limit: "lots" is not allowed; use an integer from 0 to 1000000000/],
    [['serve', '--rate-limit', '10', '--rate-limit-window-ms', '0'], {}, /--rate-limit-window-ms: "0" is not allowed; use an integer from 1 to 86400000/],
    [['serve', '--backlog', 'lots'], {}, /--backlog: "lots" is not allowed; use an integer from 1 to 65535/],
    [['serve', '--max-body-bytes-in-flight', '10'], {}, /--max-body-bytes-in-flight: "10" is not allowed; use a size of at least 1kb/],
    [['serve', '--headers-timeout-ms', '40000'], {}, /--headers-timeout-ms: "40000" is not allowed; use at most the request timeout \(30000 ms\)/],
    [['launch'], {}, /unknown command "launch"; allowed: serve/],
  ];
  for (const [args, env, message] of cases) {
    const r = run(args, env);
    t.equal(r.status, 2, `${args.join(' ')} ${JSON.stringify(env)}: exit code 2`);
    t.match(r.stderr, message, `${args.join(' ')}: says what is wrong`);
    t.equal(r.stderr.trim().split('\n')[0]!.startsWith('onnx-serve: '), true, 'the first line is the error');
  }
});

t.test('a models folder that does not exist stops the process with its path', async (t) => {
  const r = run(['serve', '--models', '/nonexistent/models', '--port', '0', '--log-level', 'silent']);
  t.equal(r.status, 1);
  t.match(r.stderr, /model repository \/nonexistent\/models cannot be read/);
});

t.test('--help prints the usage', async (t) => {
  const r = run(['--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /usage: onnx-serve serve \[--models DIR\]/);
});

t.test('the usage names every environment variable the serve options read', async (t) => {
  const usage = run(['--help']).stdout;
  const config = readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8');
  const names = new Set([...config.matchAll(/'((?:ONNX_SERVE|HOST|PORT|LOG_LEVEL)[A-Z_]*)'/g)].map((m) => m[1]!));
  t.ok(names.size >= 8, `config.ts reads ${[...names].join(', ')}`);
  for (const n of names) t.match(usage, new RegExp(`\\b${n}\\b`), `--help names ${n}`);
});
