// The serve command's log format: JSON lines unless stdout is a terminal outside production, where
// pino-pretty (a dependency, so `npm start` finds it) formats them for a person.
import t from 'tap';
import { createRequire } from 'node:module';
import { loggerOptions } from '../../src/log-format.js';

t.test('JSON lines for pipes, files and production; pino-pretty on a terminal', async (t) => {
  t.strictSame(loggerOptions('info', false, {}), { level: 'info' }, 'not a terminal: JSON');
  t.strictSame(loggerOptions('warn', true, { NODE_ENV: 'production' }), { level: 'warn' }, 'production: JSON even on a terminal');
  const tty = loggerOptions('debug', true, {}) as { level: string; transport: { target: string } };
  t.equal(tty.level, 'debug');
  t.equal(tty.transport.target, 'pino-pretty', 'a terminal: pino-pretty');
  // pino resolves the target from the app: it must be installed beside fastify
  t.ok(createRequire(import.meta.url).resolve('pino-pretty'), 'pino-pretty resolves');
});
