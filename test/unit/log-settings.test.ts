// Unit tests for Triton's log settings over pino's level: the switches each level shows, and
// the level a POST body folds to (the lowest it enables), with bad bodies refused by key.
import t from 'tap';
import { levelAfter, settingsOf } from '../../src/log-settings.js';
import { ServeError } from '../../src/errors.js';
import { thrown } from '../helpers/thrown.js';

t.test('settingsOf: the switches of each level', async (t) => {
  t.same(settingsOf('info'), { log_file: '', log_info: true, log_warnings: true, log_errors: true, log_verbose_level: 0, log_format: 'default', log_level: 'info' });
  t.match(settingsOf('debug'), { log_info: true, log_verbose_level: 1 });
  t.match(settingsOf('trace'), { log_verbose_level: 2 });
  t.match(settingsOf('warn'), { log_info: false, log_warnings: true, log_errors: true });
  t.match(settingsOf('error'), { log_info: false, log_warnings: false, log_errors: true });
  t.match(settingsOf('silent'), { log_info: false, log_warnings: false, log_errors: false, log_verbose_level: 0 });
});

t.test('levelAfter: the lowest level the switches enable', async (t) => {
  t.equal(levelAfter('info', { log_verbose_level: 1 }), 'debug');
  t.equal(levelAfter('info', { log_verbose_level: 3 }), 'trace');
  t.equal(levelAfter('debug', { log_verbose_level: 0 }), 'info');
  t.equal(levelAfter('info', { log_info: false }), 'warn');
  t.equal(levelAfter('info', { log_info: false, log_warnings: false }), 'error');
  t.equal(levelAfter('info', { log_info: false, log_warnings: false, log_errors: false }), 'silent');
  t.equal(levelAfter('error', { log_info: true }), 'info');
  t.equal(levelAfter('fatal', {}), 'fatal', 'nothing asked: the level stays');
  t.equal(levelAfter('fatal', { log_info: false }), 'fatal', 'switches as they are: the level stays');
  t.equal(levelAfter('info', { log_level: 'debug' }), 'debug', "pino's own name");
  t.equal(levelAfter('info', { log_file: '', log_format: 'default' }), 'info');
});

t.test('levelAfter refuses bad bodies with INVALID_LOG_SETTINGS naming the key', async (t) => {
  const cases: [unknown, RegExp][] = [
    [[], /JSON object/],
    [null, /JSON object/],
    [{ log_colour: true }, /unknown log setting "log_colour"/],
    [{ log_info: 'yes' }, /"log_info" is "yes"/],
    [{ log_verbose_level: -1 }, /log_verbose_level/],
    [{ log_verbose_level: 1.5 }, /log_verbose_level/],
    [{ log_file: '/tmp/x.log' }, /log_file/],
    [{ log_format: 'ISO8601' }, /log_format/],
    [{ log_level: 'loud' }, /log_level/],
    [{ log_level: 'debug', log_info: true }, /not both/],
  ];
  for (const [body, re] of cases) {
    const e = thrown(() => levelAfter('info', body));
    t.ok(e instanceof ServeError && e.code === 'INVALID_LOG_SETTINGS', `${JSON.stringify(body)}: INVALID_LOG_SETTINGS`);
    t.match((e as Error).message, re);
  }
});
