// Unit tests for the catalogue mapping of errors that do not come from our routes (src/errors.ts):
// fastify's own errors, plugins' HTTP errors by status, and Node's HTTP parser errors.
import t from 'tap';
import type { FastifyError } from 'fastify';
import { ServeError, isErrorCode, toServeError, clientError, isV2Url, errorBody } from '../../src/errors.js';

/** An error as fastify and http-errors make them: a message, maybe a code, a statusCode/status. */
function httpError(status: number, message: string, extra: Record<string, unknown> = {}): FastifyError {
  return Object.assign(new Error(message), { statusCode: status, status, ...extra }) as unknown as FastifyError;
}

t.test('plugin errors keep their status when the catalogue has it', async (t) => {
  const cases: [number, string][] = [
    [400, 'INVALID_INPUT'],
    [403, 'FORBIDDEN'],
    [404, 'ROUTE_NOT_FOUND'],
    [412, 'PRECONDITION_FAILED'],
    [413, 'PAYLOAD_TOO_LARGE'],
    [416, 'RANGE_NOT_SATISFIABLE'],
  ];
  for (const [status, code] of cases) {
    const e = toServeError(httpError(status, 'Some Status'), 1024);
    t.equal(e.code, code, `${status} → ${code}`);
    t.equal(e.status, status, `${status} stays ${status}`);
  }
  // 415 (an unsupported media type): the catalogue's answer is INVALID_JSON, a 400 that says to send JSON
  const media = toServeError(httpError(415, 'Unsupported Media Type'), 1);
  t.same([media.code, media.status], ['INVALID_JSON', 400], '415 → INVALID_JSON');
  // http-errors sets `status` too; an error with only `status` maps the same
  const onlyStatus = Object.assign(new Error('Forbidden'), { status: 403 }) as unknown as FastifyError;
  t.equal(toServeError(onlyStatus, 1).code, 'FORBIDDEN', 'status without statusCode');
  for (const status of [405, 408, 414, 431, 451]) {
    const e = toServeError(httpError(status, `client error ${status}`), 1);
    t.equal(e.code, 'INVALID_INPUT', `${status}: no better code, INVALID_INPUT`);
    t.equal(e.message, `client error ${status}`, `${status}: the client's problem, told as the plugin said it`);
  }
  const range = toServeError(httpError(416, 'Range Not Satisfiable', { headers: { 'Content-Range': 'bytes */1234' } }), 1);
  t.strictSame(range.headers, { 'content-range': 'bytes */1234' }, "416 keeps send's Content-Range");
});

t.test('a real 5xx stays INFERENCE_FAILED and its internals stay in the log', async (t) => {
  for (const err of [httpError(500, "EACCES: permission denied, stat '/work/main/node_modules/x/index.html'"), new Error('at Object.<anonymous> (/root/x.cc:12)') as FastifyError]) {
    const e = toServeError(err, 1);
    t.equal(e.code, 'INFERENCE_FAILED');
    t.equal(e.status, 500);
    t.notMatch(e.message, /\/work\/|\/root\/|node_modules|\.cc:/, `no internals in ${JSON.stringify(e.message)}`);
  }
  const own = new ServeError('QUEUE_FULL', 'full', { 'retry-after': '1' });
  t.equal(toServeError(own, 1), own, 'a ServeError is itself');
});

t.test("fastify's client errors map to catalogue codes", async (t) => {
  const fst = (code: string, status: number, message: string) => httpError(status, message, { code });
  const cases: [FastifyError, string, number][] = [
    [fst('FST_ERR_BAD_URL', 400, "'/v1/%' is not a valid url component"), 'INVALID_INPUT', 400],
    [fst('FST_ERR_MAX_PARAM_LENGTH', 414, "'/v2/models/aaa' is exceeding the max param length"), 'INVALID_INPUT', 400],
    [fst('FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 'Request body size did not match Content-Length'), 'INVALID_INPUT', 400],
    [fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'Unsupported Media Type'), 'INVALID_JSON', 400],
    [fst('FST_ERR_CTP_BODY_TOO_LARGE', 413, 'Request body is too large'), 'PAYLOAD_TOO_LARGE', 413],
    [fst('FST_ERR_CTP_EMPTY_JSON_BODY', 400, "Body cannot be empty when content-type is set to 'application/json'"), 'INVALID_JSON', 400],
  ];
  for (const [err, code, status] of cases) {
    const e = toServeError(err, 2048);
    t.equal(e.code, code, `${err.code}: ${code}`);
    t.equal(e.status, status, `${err.code}: ${status}`);
  }
  t.match(toServeError(cases[0]![0], 1).message, /%25/, 'a bad percent-encoding says how to write "%"');
  t.match(toServeError(cases[4]![0], 2048).message, /2048 bytes/, 'the body limit is named');
});

t.test("Node's HTTP parser errors are INVALID_INPUT with the parser's reason", async (t) => {
  const parse = (code: string, reason: string) => Object.assign(new Error(`Parse Error: ${reason}`), { code, reason });
  for (const [code, reason, fragment] of [
    ['HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length', 'Content-Length'],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length', 'Content-Length'],
    ['HPE_INVALID_TRANSFER_ENCODING', "Transfer-Encoding can't be present with Content-Length", 'Transfer-Encoding'],
    ['HPE_HEADER_OVERFLOW', 'Header overflow', 'headers'],
    ['HPE_INVALID_METHOD', 'Invalid method encountered', 'Invalid method encountered'],
  ]) {
    const e = clientError(parse(code!, reason!));
    t.equal(e.code, 'INVALID_INPUT', `${code}: INVALID_INPUT`);
    t.ok(isErrorCode(e.code) && e.status === 400, `${code}: 400`);
    t.ok(e.message.includes(fragment!), `${code}: ${JSON.stringify(e.message)} mentions ${fragment}`);
  }
});

t.test('error bodies: /v2 paths get the protocol shape, every other path the catalogue shape', async (t) => {
  for (const url of ['/v2', '/v2/', '/v2/models/m/infer', '/v2?x=1']) t.ok(isV2Url(url), url);
  for (const url of ['/v1/predict', '/v20', '/docs/static/x', '/', '/metrics', '/x/v2/']) t.notOk(isV2Url(url), url);
  const e = new ServeError('FORBIDDEN', 'no');
  t.strictSame(JSON.parse(errorBody(e, true)), { error: 'no' });
  t.strictSame(JSON.parse(errorBody(e, false)), { error: { code: 'FORBIDDEN', message: 'no' } });
});
