// Unit tests for the error catalogue: each code has one status, the designed one; ServeError
// carries code/status/headers; and README.md's error table lists exactly the catalogue.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS, ServeError, isErrorCode, scrubPaths, type ErrorCode } from '../../src/errors.js';

/** The stable codes and their one status each, as designed (the HTTP surface's catalogue). */
const CATALOGUE: Record<string, number> = {
  INVALID_JSON: 400,
  INVALID_INPUT: 400,
  SHAPE_MISMATCH: 400,
  DTYPE_MISMATCH: 400,
  BATCH_TOO_LARGE: 400,
  INVALID_MODEL_NAME: 400, // an admin route's model name that is a path or a link out of the repository
  MODEL_LOAD_FAILED: 400, // Triton answers a failed load 400; what served before serves on
  MODEL_CONTROL_DISABLED: 400,
  INVALID_LOG_SETTINGS: 400,
  UNAUTHORIZED: 401,
  ADMIN_DISABLED: 403,
  MODEL_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404, // an unknown path answers from the same catalogue
  FORBIDDEN: 403, // plugin errors (the docs' static files) keep their status
  PRECONDITION_FAILED: 412,
  INVALID_ENCODING: 400, // a gzip / deflate body that does not decode
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_ENCODING: 415, // a Content-Encoding other than gzip, deflate, identity
  RANGE_NOT_SATISFIABLE: 416,
  INPUT_REJECTED: 422, // a request that onnxruntime refuses when it runs alone
  QUEUE_FULL: 429,
  RATE_LIMITED: 429, // --rate-limit: too many requests from one client IP in the window
  REQUEST_CANCELLED: 499, // the client left before its request ran (nginx's "client closed request")
  MODEL_NOT_READY: 503,
  SHUTTING_DOWN: 503,
  SERVER_BUSY: 503, // --max-body-bytes-in-flight: too many body bytes being read at once
  QUEUE_TIMEOUT: 504,
  NOT_IMPLEMENTED: 501, // Triton's shared-memory routes: said, not a 404
  INFERENCE_FAILED: 500,
};

t.test('the catalogue holds exactly the designed codes', async (t) => {
  t.strictSame(Object.keys(ERRORS).sort(), Object.keys(CATALOGUE).sort());
});

t.test('each code maps to exactly one status, the designed one', async (t) => {
  for (const [code, entry] of Object.entries(ERRORS)) {
    t.equal(typeof entry.status, 'number', `${code}: one numeric status`);
    t.ok(Number.isInteger(entry.status) && entry.status >= 400 && entry.status <= 599, `${code}: an HTTP error status`);
    t.equal(entry.status, CATALOGUE[code], `${code} is ${CATALOGUE[code]}`);
    t.ok(typeof entry.doc === 'string' && entry.doc.trim().length > 10, `${code}: has a doc line`);
  }
});

t.test('ServeError carries code, status and headers', async (t) => {
  for (const code of Object.keys(CATALOGUE) as ErrorCode[]) {
    const e = new ServeError(code, `message for ${code}`);
    t.ok(e instanceof Error, `${code}: is an Error`);
    t.equal(e.code, code, `${code}: .code`);
    t.equal(e.status, CATALOGUE[code], `${code}: .status from the catalogue`);
    t.equal(e.message, `message for ${code}`, `${code}: .message`);
    t.strictSame(e.headers, {}, `${code}: no headers by default`);
  }
  const full = new ServeError('QUEUE_FULL', 'retry later', { 'retry-after': '1' });
  t.strictSame(full.headers, { 'retry-after': '1' }, 'headers are kept');
  t.equal(full.status, 429);
});

t.test('isErrorCode', async (t) => {
  for (const code of Object.keys(CATALOGUE)) t.ok(isErrorCode(code), code);
  for (const s of ['', 'queue_full', 'NOT_A_CODE', 'toString', '__proto__', 'constructor']) t.notOk(isErrorCode(s), JSON.stringify(s));
});

t.test("README.md's error table lists every code with its status, and no other", async (t) => {
  // compiled to dist/test/unit: the repository root is three levels up
  const readme = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md');
  t.ok(existsSync(readme), `README.md exists at ${readme}`);
  if (!existsSync(readme)) return;
  const rows = readFileSync(readme, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('|'))
    .map((l) =>
      l
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim().replace(/[`*]/g, '').trim()),
    );
  const codeRows = rows.filter((cells) => cells.some((c) => Object.hasOwn(CATALOGUE, c)));
  t.ok(codeRows.length > 0, 'README.md has an error table');
  // rows of the table whose first cell looks like a code must be catalogue codes: none left over
  const table = rows.filter((cells) => /^[A-Z][A-Z_]+$/.test(cells[0] ?? '') && /^\d{3}$/.test(cells[1] ?? ''));
  for (const cells of table) t.ok(Object.hasOwn(CATALOGUE, cells[0]!), `README.md's error table row ${cells[0]} is a catalogue code`);
  for (const [code, status] of Object.entries(CATALOGUE)) {
    const row = codeRows.find((cells) => cells.includes(code));
    t.ok(row, `README.md's error table has a row for ${code}`);
    if (row) t.ok(row.some((c) => new RegExp(`^${status}\\b`).test(c)), `README.md: ${code} is listed with status ${status} (row: ${row.join(' | ')})`);
  }
});

t.test('scrubPaths: files lose their folders, the server\'s routes stay', async (t) => {
  t.equal(scrubPaths('cannot open /models/m/1/model.onnx', '/models'), 'cannot open m/1/model.onnx', 'under the repository: relative to it');
  t.equal(scrubPaths('cannot open /srv/other/weights.bin'), 'cannot open weights.bin', 'elsewhere: the last part');
  t.equal(scrubPaths('failed at /opt/ort/src/session.cc:12'), 'failed at', 'a source location goes whole');
  t.equal(scrubPaths('model "b" is not loaded; POST /v2/repository/models/b/load loads it', '/srv/models'), 'model "b" is not loaded; POST /v2/repository/models/b/load loads it', 'a /v2 route is kept');
  t.equal(scrubPaths('see /v1/models'), 'see /v1/models');
});

t.test("scrubPaths: onnxruntime's source locations, C++ functions, failed conditions and node names go; what to fix stays", async (t) => {
  // onnxruntime 1.30's own words for a Reshape that cannot fit and a Gather id out of range
  const reshape =
    "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Non-zero status code returned while running Reshape node. Name:'/encoder/layer.0/Reshape' Status Message: " +
    '/onnxruntime_src/onnxruntime/core/providers/cpu/tensor/reshape_helper.h:91 onnxruntime::ReshapeHelper::ReshapeHelper(const onnxruntime::TensorShape&, onnxruntime::TensorShapeVector&, bool) ' +
    'input_shape_size == requested_shape_size was false. The input tensor cannot be reshaped to the requested shape. Input shape:{1,4}, requested shape:{5,5}\n';
  t.equal(
    scrubPaths(reshape),
    '[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Non-zero status code returned while running Reshape node. Status Message: The input tensor cannot be reshaped to the requested shape. Input shape:{1,4}, requested shape:{5,5}',
  );
  const gather =
    "Non-zero status code returned while running Gather node. Name:'Gather_0' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/tensor/gather.cc:112 " +
    'onnxruntime::common::Status onnxruntime::GatherCopyData(const onnxruntime::Tensor*, const uint8_t*, uint8_t*, bool, size_t, size_t, size_t, size_t, size_t, onnxruntime::concurrency::ThreadPool*) [with Tin = long int; size_t = long unsigned int] ' +
    'indices element out of data bounds, idx=15 must be within the inclusive range [-10,9]';
  t.equal(scrubPaths(gather), 'Non-zero status code returned while running Gather node. Status Message: indices element out of data bounds, idx=15 must be within the inclusive range [-10,9]');
  t.equal(
    scrubPaths('[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from /srv/models/m/1/model.onnx failed:Protobuf parsing failed.', '/srv/models'),
    '[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from m/1/model.onnx failed:Protobuf parsing failed.',
    "the model's file relative to the repository; the error prefix stays",
  );
  t.equal(scrubPaths('input "ids" [2, 3]: the value 1.5 is not an int64'), 'input "ids" [2, 3]: the value 1.5 is not an int64', 'a message without internals is untouched');
});

t.test('scrubPaths stays linear on long hostile text (a client can put anything in a name)', async (t) => {
  for (const unit of ['x.h:1 a::b ', 'x.h:1 ', 'x.h:1 a::b(', "Name:'", ' /a/', 'a.']) {
    const text = unit.repeat(Math.ceil(100_000 / unit.length));
    const t0 = performance.now();
    scrubPaths(text, '/srv/models');
    const ms = performance.now() - t0;
    t.ok(ms < 2000, `${JSON.stringify(unit)} × ${Math.ceil(100_000 / unit.length)}: ${ms.toFixed(0)} ms`);
  }
});
