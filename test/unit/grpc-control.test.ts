// The gRPC extensions' message mapping (src/grpc/control.ts): load parameters as HTTP's
// parameters.config, LogSettings values as POST /v2/logging's body and back, the admin token
// from the call's metadata.
import t from 'tap';
import { Metadata } from '@grpc/grpc-js';
import { adminHeaders, checkRepositoryName, loadOverride, logSettingsBody, logSettingsMessage } from '../../src/grpc/control.js';
import { settingsOf } from '../../src/log-settings.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

t.test('loadOverride: parameters["config"] as a string_param, nothing else', async (t) => {
  t.equal(loadOverride({}), undefined, 'no parameters: config.json');
  t.same(loadOverride({ config: { parameter_choice: 'string_param', string_param: '{"maxBatchSize": 2}' } }), { maxBatchSize: 2 });
  t.throws(() => loadOverride({ config: { parameter_choice: 'bool_param', bool_param: true } }), /must be a string_param.*bool_param/);
  t.throws(() => loadOverride({ config: {} }), /no value/);
  t.throws(() => loadOverride({ config: { parameter_choice: 'string_param', string_param: '{x' } }), /not valid JSON/);
  t.throws(() => loadOverride({ 'file:1/model.onnx': { parameter_choice: 'bytes_param', bytes_param: Buffer.from('x') } }), /parameter "file:1\/model.onnx" is not supported/);
  t.equal(code(() => loadOverride({ x: {} })), 'INVALID_INPUT');
});

t.test('logSettingsBody and logSettingsMessage', async (t) => {
  t.same(logSettingsBody({}), {});
  t.same(
    logSettingsBody({ log_info: { parameter_choice: 'bool_param', bool_param: false }, log_verbose_level: { parameter_choice: 'uint32_param', uint32_param: 2 }, log_level: { parameter_choice: 'string_param', string_param: 'warn' } }),
    { log_info: false, log_verbose_level: 2, log_level: 'warn' },
  );
  t.equal(code(() => logSettingsBody({ log_info: {} })), 'INVALID_LOG_SETTINGS', 'a setting with no value');
  const m = logSettingsMessage(settingsOf('debug'));
  t.same(m.settings.log_info, { bool_param: true });
  t.same(m.settings.log_verbose_level, { uint32_param: 1 });
  t.same(m.settings.log_level, { string_param: 'debug' });
  t.same(Object.keys(m.settings), Object.keys(settingsOf('debug')), 'every setting');
});

t.test('adminHeaders and checkRepositoryName', async (t) => {
  const md = new Metadata();
  t.same(adminHeaders(md), { headers: {} }, 'no authorization');
  md.set('authorization', 'Bearer abc');
  t.same(adminHeaders(md), { headers: { authorization: 'Bearer abc' } });
  t.doesNotThrow(() => checkRepositoryName(''));
  t.equal(code(() => checkRepositoryName('models')), 'INVALID_INPUT');
});
