// Unit tests for the stable `code` of the errors outside HTTP (fastify's and undici's habit):
// each class carries its one ONNX_SERVE_ERR_* code and its own name; ServeClientError's code is
// the server's catalogue code, or HTTP_<status> when the answer carries none. README.md lists them.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptionError } from '../../src/errors.js';
import { ModelConfigError } from '../../src/repository/model-config.js';
import { ScanError } from '../../src/repository/scan.js';
import { CompressError } from '../../src/compress/onnx-file.js';
import { LoadError } from '../../load/runner/types.js';
import { Client, ServeClientError } from '../../src/client/index.js';

const CODES: [new (message: string) => Error & { code: string }, string, string][] = [
  [OptionError, 'OptionError', 'ONNX_SERVE_ERR_OPTION'],
  [ModelConfigError, 'ModelConfigError', 'ONNX_SERVE_ERR_MODEL_CONFIG'],
  [ScanError, 'ScanError', 'ONNX_SERVE_ERR_SCAN'],
  [CompressError, 'CompressError', 'ONNX_SERVE_ERR_COMPRESS'],
  [LoadError, 'LoadError', 'ONNX_SERVE_ERR_LOAD'],
];

t.test('each error class carries its stable code and name, and is an Error', async (t) => {
  for (const [Class, name, code] of CODES) {
    const e = new Class('what to fix');
    t.ok(e instanceof Error, `${name}: is an Error`);
    t.ok(e instanceof Class, `${name}: is a ${name}`);
    t.equal(e.name, name, `${name}: .name`);
    t.equal(e.code, code, `${name}: .code`);
    t.equal(e.message, 'what to fix', `${name}: .message unchanged`);
    t.equal(String(e), `${name}: what to fix`, `${name}: String()`);
  }
  t.equal(new Set(CODES.map(([, , code]) => code)).size, CODES.length, 'the codes are distinct');
  t.equal(new LoadError('bad flag', 2).exitCode, 2, 'LoadError keeps its exit code');
  t.equal(new LoadError('down').exitCode, 1, 'LoadError exits 1 by default');
});

t.test('ServeClientError: the catalogue code, else HTTP_<status>, always a string', async (t) => {
  const direct = new ServeClientError(429, 'QUEUE_FULL', 'retry later');
  t.ok(direct instanceof Error);
  t.equal(direct.name, 'ServeClientError');
  t.strictSame([direct.status, direct.code, direct.message], [429, 'QUEUE_FULL', 'retry later']);

  // metadata(name) GETs /v2/models/{name}: the name picks the test server's answer
  const answers: Record<string, [number, string]> = {
    '/v2/models/catalogue': [429, JSON.stringify({ error: { code: 'QUEUE_FULL', message: 'the queue is full' } })],
    '/v2/models/protocol': [400, JSON.stringify({ error: 'bad tensor' })],
    '/v2/models/no-code': [500, JSON.stringify({ error: { message: 'no code here' } })],
    '/v2/models/proxy': [502, '<html>Bad Gateway</html>'],
  };
  const server = createServer((req, res) => {
    const [status, body] = answers[req.url ?? ''] ?? [404, ''];
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.teardown(async () => {
    await client.close();
    server.close();
  });
  const expected: Record<string, [number, string, string]> = {
    catalogue: [429, 'QUEUE_FULL', 'the queue is full'],
    protocol: [400, 'HTTP_400', 'bad tensor'],
    'no-code': [500, 'HTTP_500', 'no code here'],
    proxy: [502, 'HTTP_502', '<html>Bad Gateway</html>'],
  };
  for (const [model, [status, code, message]] of Object.entries(expected)) {
    const err = await client.metadata(model).catch((e: unknown) => e);
    t.ok(err instanceof ServeClientError, `${model}: a ServeClientError`);
    const e = err as ServeClientError;
    t.strictSame([e.status, e.code, e.message], [status, code, message], model);
  }
});

t.test("README.md's table of error codes outside HTTP lists each class with its code", async (t) => {
  // compiled to dist/test/unit: the repository root is three levels up
  const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md'), 'utf8');
  for (const [, name, code] of CODES) {
    t.ok(readme.split('\n').some((l) => l.startsWith('|') && l.includes(`\`${name}\``) && l.includes(`\`${code}\``)), `README.md: a row with ${name} and ${code}`);
  }
  t.ok(readme.split('\n').some((l) => l.startsWith('|') && l.includes('`ServeClientError`') && l.includes('HTTP_')), 'README.md: a row for ServeClientError');
});
