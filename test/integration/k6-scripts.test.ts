// The k6 load scripts and the library they share with the Node runner. k6 itself cannot run
// here, so: every script parses (node --check), each script has the k6 shape, the scripts run
// under Node with stub k6 modules (options, setup, iteration), and the payloads they send are
// answered 200 by a real onnx-serve for every protocol, batch, variant and datatype.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { ROOT, SHIPPED_MODELS, getJson, makeRepo, startServer, type Asserts } from '../helpers/server.js';
import { PROTOCOLS, buildPayload, type ModelMetadata, type Payload, type Protocol } from '../../load/lib/payload.js';
import { identityModel } from '../../tools/onnx-builder.js';
import { DTYPES, type DType } from '../../src/tensors/dtypes.js';
import { f16ToF32, f32ToF16 } from '../../src/float16.js';

const LOAD = join(ROOT, 'load');
const SCRIPTS = ['constant', 'ramp', 'spike'] as const;
// one server on the shipped models for the tests that need it, shut down when the file ends
const shipped = await startServer(t, SHIPPED_MODELS);
const jsIn = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => join(dir, f));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  buf: Buffer;
}

async function send(origin: string, p: Pick<Payload, 'path' | 'body' | 'headers'>): Promise<Answer> {
  const res = await request(origin + p.path, { method: 'POST', headers: p.headers, body: p.body });
  return { status: res.statusCode, headers: res.headers, buf: Buffer.from(await res.body.arrayBuffer()) };
}

/** A binary v2 answer's JSON header and each output's bytes. */
function splitAnswer(t: Asserts, a: Answer): { json: any; outputs: Map<string, Buffer> } {
  const raw = a.headers['inference-header-content-length'];
  const n = Number(raw);
  t.ok(Number.isInteger(n) && n > 0 && n <= a.buf.length, `inference-header-content-length ${String(raw)} fits the answer`);
  const json = JSON.parse(a.buf.subarray(0, n).toString('utf8'));
  const outputs = new Map<string, Buffer>();
  let offset = n;
  for (const o of json.outputs) {
    const size = o.parameters?.binary_data_size as number;
    outputs.set(o.name, a.buf.subarray(offset, offset + size));
    offset += size;
  }
  t.equal(offset, a.buf.length, 'the outputs fill the rest of the answer');
  return { json, outputs };
}

t.test('every load script parses (node --check)', async (t) => {
  const files = [...jsIn(LOAD), ...jsIn(join(LOAD, 'k6')), ...jsIn(join(LOAD, 'lib'))];
  t.ok(files.length >= 6, `found ${files.length} files`);
  for (const file of files) {
    const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    t.equal(r.status, 0, `${file.slice(ROOT.length + 1)} ${r.stderr}`);
  }
});

t.test('each k6 script imports the common module and exports options, setup and a default function', async (t) => {
  for (const name of SCRIPTS) {
    const text = readFileSync(join(LOAD, `${name}.js`), 'utf8');
    t.match(text, /import\s*\{[^}]*\}\s*from\s*'\.\/k6\/common\.js'/, `${name}: imports ./k6/common.js`);
    t.match(text, /export\s+const\s+options\s*=\s*\w+\(\s*'(\w+)'\s*\)/, `${name}: exports options`);
    t.ok(text.includes(`('${name}')`), `${name}: options for its own scenario`);
    t.match(text, /export\s+default\s+function/, `${name}: exports a default function`);
    t.match(text, /export\s*\{\s*setup\s*\}/, `${name}: exports setup`);
  }
  const common = readFileSync(join(LOAD, 'k6', 'common.js'), 'utf8');
  t.notOk(common.includes('@ts-check'), 'the k6-only module is not type-checked');
  for (const lib of ['payload.js', 'scenarios.js']) {
    const text = readFileSync(join(LOAD, 'lib', lib), 'utf8');
    t.ok(text.startsWith('// @ts-check'), `${lib} starts with // @ts-check`);
    t.notMatch(text, /^\s*import\s/m, `${lib} imports nothing (k6 and Node load it alike)`);
  }
});

t.test('payloads from live metadata are answered 200 for every protocol, batch and variant', async (t) => {
  const served = shipped;
  for (const model of ['digits', 'seed-mlp']) {
    const meta = await getJson(`${served.url}/v2/models/${model}`);
    t.equal(meta.status, 200, `${model} metadata`);
    const outName: string = meta.body.outputs[0].name;
    const variants = model === 'digits' ? [undefined, 'int8'] : [undefined];
    for (const protocol of PROTOCOLS) {
      for (const batch of [1, 3]) {
        for (const variant of variants) {
          const what = `${model} ${protocol} batch ${batch}${variant ? ` variant ${variant}` : ''}`;
          const p = buildPayload(meta.body as ModelMetadata, { protocol, batch, ...(variant ? { variant } : {}) });
          t.equal(p.rows, batch, `${what}: rows`);
          const a = await send(served.url, p);
          t.equal(a.status, 200, `${what}: 200 ${a.status === 200 ? '' : a.buf.toString('utf8').slice(0, 300)}`);
          if (a.status !== 200) continue;
          if (variant) t.equal(a.headers['x-model-variant'], variant, `${what}: the variant answered`);
          if (protocol === 'v1') t.equal(JSON.parse(a.buf.toString('utf8')).outputs[outName].length, batch, `${what}: ${batch} rows of ${outName}`);
          else if (protocol === 'v2-json') t.equal(JSON.parse(a.buf.toString('utf8')).outputs[0].shape[0], batch, `${what}: ${batch} rows`);
          else t.equal(splitAnswer(t, a).json.outputs[0].shape[0], batch, `${what}: ${batch} rows (binary)`);
        }
      }
    }
  }
});

t.test('every datatype reaches the model as the payload builder meant it (identity model)', async (t) => {
  const dtypes = Object.keys(DTYPES) as DType[];
  const repo = await makeRepo(t, { id: { onnx: identityModel(dtypes.map((d) => ({ name: d, dtype: d, dims: ['batch', 3] }))) } });
  const served = await startServer(t, repo);
  const meta = (await getJson(`${served.url}/v2/models/id`)).body as ModelMetadata;
  const expected = JSON.parse(buildPayload(meta, { protocol: 'v2-json', batch: 2, seed: 9 }).body as string).inputs as Array<{ name: string; datatype: string; data: Array<number | boolean> }>;
  // what the model holds: FP16 is rounded to half precision on the way in
  const held = (datatype: string, v: number | boolean): number | boolean => (datatype === 'FP16' ? f16ToF32(f32ToF16(v as number)) : datatype === 'FP32' ? Math.fround(v as number) : v);

  for (const protocol of ['v1', 'v2-json'] as Protocol[]) {
    const a = await send(served.url, buildPayload(meta, { protocol, batch: 2, seed: 9 }));
    t.equal(a.status, 200, `${protocol}: 200 ${a.status === 200 ? '' : a.buf.toString('utf8')}`);
    const body = JSON.parse(a.buf.toString('utf8'));
    for (const input of expected) {
      const out = protocol === 'v1' ? (body.outputs[`${input.name}_out`] as unknown[]).flat() : body.outputs.find((o: { name: string }) => o.name === `${input.name}_out`).data;
      // FP32 answers are their shortest texts: compared once read back as float32
      const got = input.datatype === 'FP32' ? (out as number[]).map(Math.fround) : out;
      t.strictSame(got, input.data.map((v) => held(input.datatype, v)), `${protocol} ${input.datatype}: echoed`);
    }
  }

  const p = buildPayload(meta, { protocol: 'v2-binary', batch: 2, seed: 9 });
  const a = await send(served.url, p);
  t.equal(a.status, 200, `v2-binary: 200 ${a.status === 200 ? '' : a.buf.toString('utf8')}`);
  const { outputs } = splitAnswer(t, a);
  const body = Buffer.from(p.body as Uint8Array);
  let offset = Number(p.headers['inference-header-content-length']);
  for (const input of expected) {
    const sent = body.subarray(offset, offset + outputs.get(`${input.name}_out`)!.length);
    t.strictSame(outputs.get(`${input.name}_out`), sent, `v2-binary ${input.datatype}: the same bytes come back`);
    offset += sent.length;
  }
  t.equal(offset, body.length, 'every input byte accounted for');
});

// Stub k6 modules: the scripts' `k6/http` and `k6` imports resolve to calls on globalThis.__k6.
const hooks = `
export async function resolve(specifier, context, next) {
  const stubs = {
    'k6/http': 'export default { get: (...a) => globalThis.__k6.get(...a), post: (...a) => globalThis.__k6.post(...a) };',
    k6: 'export const check = (...a) => globalThis.__k6.check(...a);',
  };
  if (specifier in stubs) return { url: 'data:text/javascript,' + encodeURIComponent(stubs[specifier]), shortCircuit: true };
  return next(specifier, context);
}`;

interface K6Stub {
  get(url: string): { status: number; body: string };
  post(url: string, body: string | ArrayBuffer, params: { headers: Record<string, string> }): { status: number };
  check(res: unknown, checks: Record<string, (r: unknown) => boolean>): boolean;
}
const g = globalThis as unknown as { __k6: K6Stub; __ENV: Record<string, string>; __VU: number };

t.test('the k6 scripts run with stub k6 modules: options, setup and iterations a real server answers', async (t) => {
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  const served = shipped;
  const metaText = JSON.stringify((await getJson(`${served.url}/v2/models/digits`)).body);
  const gets: string[] = [];
  const posts: Array<{ url: string; body: string | ArrayBuffer; headers: Record<string, string> }> = [];
  const checks: string[] = [];
  g.__k6 = {
    get: (url) => {
      gets.push(url);
      return url.endsWith('/v2/models/digits') ? { status: 200, body: metaText } : { status: 404, body: '{"error":"no such model"}' };
    },
    post: (url, body, params) => {
      posts.push({ url, body, headers: params.headers });
      return { status: 200 };
    },
    check: (res, c) => {
      checks.push(...Object.keys(c));
      return Object.values(c).every((f) => f(res));
    },
  };
  g.__VU = 1;
  const commonUrl = pathToFileURL(join(LOAD, 'k6', 'common.js')).href;

  g.__ENV = {};
  await t.rejects(import(`${commonUrl}?no-model`), /MODEL is not set/, 'MODEL is required at init');
  g.__ENV = { MODEL: 'digits', PROTOCOL: 'grpc' };
  await t.rejects(import(`${commonUrl}?bad-protocol`), /PROTOCOL=grpc is unknown/);
  g.__ENV = { MODEL: 'nope' };
  const missing = await import(`${commonUrl}?missing-model`);
  t.throws(() => missing.setup(), /GET http:\/\/127\.0\.0\.1:8080\/v2\/models\/nope answered 404: \{"error":"no such model"\}/, 'setup names the status and body');

  g.__ENV = { MODEL: 'digits', BASE_URL: `${served.url}/`, PROTOCOL: 'v2-binary', BATCH: '2', VARIANT: 'int8', RATE: '20', DURATION: '1m', P99_MS: '250', MAX_ERROR_RATE: '0.05' };
  const scripts: Record<string, any> = {};
  for (const name of SCRIPTS) scripts[name] = await import(pathToFileURL(join(LOAD, `${name}.js`)).href);

  const { constant, ramp, spike } = scripts as Record<(typeof SCRIPTS)[number], any>;
  t.strictSame(constant.options, {
    scenarios: { constant: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s', duration: '60s', preAllocatedVUs: 50, maxVUs: 500 } },
    thresholds: { http_req_failed: ['rate<0.05'], http_req_duration: ['p(99)<250'] },
  });
  t.strictSame(ramp.options.scenarios.ramp.stages, [{ target: 200, duration: '60s' }], 'MAX_RATE defaults to RATE × 10');
  t.strictSame(ramp.options.thresholds.http_req_duration, [{ threshold: 'p(99)<250', abortOnFail: true, delayAbortEval: '10s' }]);
  t.equal(spike.options.scenarios.spike.executor, 'ramping-arrival-rate');
  t.equal(Math.max(...spike.options.scenarios.spike.stages.map((s: { target: number }) => s.target)), 100, 'spikes to RATE × 5');

  const data = constant.setup();
  t.strictSame(gets.at(-1), `${served.url}/v2/models/digits`);
  for (let i = 0; i < 3; i++) constant.default(JSON.parse(JSON.stringify(data)));
  t.equal(posts.length, 3);
  t.strictSame(checks, ['status is 200', 'status is 200', 'status is 200']);
  const first = posts[0]!;
  t.equal(first.url, `${served.url}/v2/models/digits/infer`);
  t.ok(first.body instanceof ArrayBuffer, 'a binary body is sent as its ArrayBuffer');
  t.equal(posts[1]!.body, first.body, 'the payload is built once per VU');
  const a = await send(served.url, { path: '/v2/models/digits/infer', body: new Uint8Array(first.body as ArrayBuffer), headers: first.headers });
  t.equal(a.status, 200, 'the server answers what the k6 iteration sent');
  t.equal(a.headers['x-model-variant'], 'int8');
  t.equal(splitAnswer(t, a).json.outputs[0].shape[0], 2, 'BATCH rows');
});
