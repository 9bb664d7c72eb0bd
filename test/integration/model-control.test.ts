// Model control through the real server: the admin token's answers (off 403, missing or wrong
// 401, right 200, from a file too), model control off in mode none, explicit load and unload with
// readiness, listings and metrics following, hostile model names, a config override, a failing
// load that leaves the serving version, a reload under an open loop of requests with no failure,
// poll mode following a folder added, changed and removed, and the log settings.
import t from 'tap';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { makeRepo, startServer, getJson, waitUntil, type JsonResponse } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';

const TOKEN = 'test-admin-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const input = [Array.from(seededFloats(4, 1))];

async function post(url: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const res = await request(url, {
    method: 'POST',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const predict = (base: string, model: string, version?: string) => post(`${base}/v1/predict`, { model, ...(version ? { version } : {}), inputs: { input } });
const metricsText = async (base: string) => (await request(`${base}/metrics`)).body.text();

t.test('admin auth: off without a token (403), 401 without or with a wrong one', async (t) => {
  const repo = await makeRepo(t, { m: { onnx: mlpModel([4, 3], 1) } });
  const off = await startServer(t, repo);
  for (const path of ['/v2/repository/models/m/load', '/v2/repository/models/m/unload', '/v2/logging']) {
    const res = await post(`${off.url}${path}`, {}, auth);
    t.equal(res.status, 403, `${path}: 403 with no token configured`);
    t.match(res.body.error, /--admin-token.*--admin-token-file.*ONNX_SERVE_ADMIN_TOKEN/, `${path}: says how to enable it`);
  }
  const index = await post(`${off.url}/v2/repository/index`);
  t.equal(index.status, 200, 'the index needs no token');
  t.same(index.body, [{ name: 'm', version: '1', state: 'READY', reason: '' }]);
  t.equal((await getJson(`${off.url}/v2/logging`)).status, 200, 'GET /v2/logging needs no token');
  t.ok((await getJson(`${off.url}/v2`)).body.extensions.includes('model_repository'), 'server metadata lists model_repository');

  const dir = await mkdtemp(join(tmpdir(), 'onnx-serve-token-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'token'), `${TOKEN}\n`);
  const on = await startServer(t, repo, ['--admin-token-file', join(dir, 'token')]);
  const missing = await post(`${on.url}/v2/repository/models/m/load`);
  t.equal(missing.status, 401, 'no Authorization: 401');
  t.match(missing.headers['www-authenticate'], /^Bearer/);
  t.match(missing.body.error, /Authorization: Bearer/, 'names the header');
  const wrong = await post(`${on.url}/v2/repository/models/m/load`, undefined, { authorization: 'Bearer nope' });
  t.equal(wrong.status, 401, 'a wrong token: 401');
  t.match(wrong.headers['www-authenticate'], /invalid_token/);
  const basic = await post(`${on.url}/v2/logging`, {}, { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` });
  t.equal(basic.status, 401, 'Basic is not Bearer');
  const none = await post(`${on.url}/v2/repository/models/m/load`, undefined, auth);
  t.equal(none.status, 400, 'the token from the file passes; model control is off in mode none');
  t.match(none.body.error, /--model-control explicit or poll/);
  t.equal((await post(`${on.url}/v2/repository/models/m/unload`, undefined, auth)).status, 400);
  t.equal((await predict(on.url, 'm')).status, 200, 'm still serves');

  t.test('log settings: GET open, POST with the token changes the level', async (t) => {
    const before = await getJson(`${on.url}/v2/logging`);
    t.match(before.body, { log_file: '', log_info: false, log_verbose_level: 0, log_format: 'default', log_level: 'silent' });
    const set = await post(`${on.url}/v2/logging`, { log_verbose_level: 1 }, auth);
    t.equal(set.status, 200);
    t.match(set.body, { log_info: true, log_warnings: true, log_errors: true, log_verbose_level: 1, log_level: 'debug' }, 'every setting answered');
    t.equal(on.app.log.level, 'debug', "the app's logger follows");
    t.equal((await getJson(`${on.url}/v2/logging`)).body.log_level, 'debug');
    const bad = await post(`${on.url}/v2/logging`, { log_file: '/etc/passwd' }, auth);
    t.equal(bad.status, 400);
    t.match(bad.body.error, /log_file/);
    t.equal((await post(`${on.url}/v2/logging`, 'not json', auth)).status, 400);
    t.equal((await post(`${on.url}/v2/logging`, { log_level: 'silent' }, auth)).body.log_level, 'silent');
  });
});

t.test('explicit model control: load and unload, readiness, listings and metrics follow', async (t) => {
  const outside = await mkdtemp(join(tmpdir(), 'onnx-serve-outside-'));
  t.teardown(() => rm(outside, { recursive: true, force: true }));
  await mkdir(join(outside, 'evil'));
  await writeFile(join(outside, 'evil', 'model.onnx'), mlpModel([4, 3], 9));
  const repo = await makeRepo(t, {
    a: { onnx: mlpModel([4, 3], 1) },
    b: { versions: { '1': mlpModel([4, 3], 2) } },
    linked: { config: {} },
  });
  await symlink(join(outside, 'evil'), join(repo, 'evil'));
  await symlink(join(outside, 'evil', 'model.onnx'), join(repo, 'linked', 'model.onnx'));
  const served = await startServer(t, repo, ['--model-control', 'explicit', '--load-model', 'a', '--admin-token', TOKEN]);
  const base = served.url;

  t.equal((await getJson(`${base}/v2/health/ready`)).status, 200, 'ready with a loaded, b not');
  t.equal((await predict(base, 'a')).status, 200, 'a (--load-model) serves');
  t.equal((await predict(base, 'b')).status, 404, 'b is not loaded');
  const index = (await post(`${base}/v2/repository/index`, {})).body;
  t.same(index.find((e: { name: string }) => e.name === 'b'), { name: 'b', version: '1', state: 'UNAVAILABLE', reason: 'not loaded' }, 'the index lists b, not loaded');
  t.same((await post(`${base}/v2/repository/index`, { ready: true })).body.map((e: { name: string }) => e.name), ['a'], 'ready: true keeps the READY ones');
  t.equal((await post(`${base}/v2/repository/index`, { ready: 'yes' })).status, 400);

  const load = await post(`${base}/v2/repository/models/b/load`, undefined, auth);
  t.equal(load.status, 200, 'load b');
  t.same(load.body, { name: 'b', versions: [{ version: '1', state: 'READY' }] });
  t.equal((await getJson(`${base}/v2/models/b/ready`)).status, 200, 'b ready');
  t.equal((await predict(base, 'b')).status, 200, 'b serves');
  t.ok((await getJson(`${base}/v1/models`)).body.models.some((m: { name: string }) => m.name === 'b'), '/v1/models lists b');
  t.match(await metricsText(base), /onnx_serve_inferences_total\{model="b",version="1",variant=""\} 1/, 'b has metrics');

  const unload = await post(`${base}/v2/repository/models/b/unload`, {}, auth);
  t.equal(unload.status, 200, 'unload b');
  const ready = await getJson(`${base}/v2/models/b/ready`);
  t.equal(ready.status, 503, 'b: not ready once unloaded');
  t.equal(ready.body.ready, false);
  const gone = await predict(base, 'b');
  t.equal(gone.status, 503);
  t.match(gone.body.error.message, /not loaded \(unloaded\).*\/v2\/repository\/models\/b\/load/, 'the message says how to load it');
  t.notOk((await getJson(`${base}/v1/models`)).body.models.some((m: { name: string }) => m.name === 'b'), '/v1/models drops b');
  t.notMatch(await metricsText(base), /model="b"/, "b's metric series are gone");
  t.same((await post(`${base}/v2/repository/index`)).body.find((e: { name: string }) => e.name === 'b'), { name: 'b', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
  t.equal((await getJson(`${base}/v2/health/ready`)).status, 200, 'the server stays ready');
  t.equal((await post(`${base}/v2/repository/models/b/unload`, undefined, auth)).status, 200, 'unloading an unloaded model: nothing to do');
  t.equal((await post(`${base}/v2/repository/models/b/load`, undefined, auth)).status, 200, 'b loads again');
  t.match(await metricsText(base), /onnx_serve_inferences_total\{model="b",version="1",variant=""\} 0/, 'its series start again at 0');

  t.test('loads and unloads of one model run one at a time, in order', async (t) => {
    // called in this order in one tick (HTTP requests on separate connections may arrive in any order)
    const repository = served.app.serving.repository;
    const order: string[] = [];
    await Promise.all([
      repository.loadModel('b').then(() => order.push('load')),
      repository.unloadModel('b').then(() => order.push('unload')),
      repository.loadModel('b').then(() => order.push('load again')),
    ]);
    t.same(order, ['load', 'unload', 'load again'], 'each waited for the one before');
    t.equal((await getJson(`${base}/v2/models/b/ready`)).status, 200, 'the last one (a load) wins');
    t.equal(served.app.serving.repository.find('b').length, 1, 'one set of versions serves');
  });

  t.test('hostile or unknown names never leave the repository', async (t) => {
    // a URL parser (undici's, WHATWG) resolves ".." and "%2e%2e" segments before sending: another route, or none (404)
    for (const [name, status] of [
      ['%2e%2e', 404],
      ['..', 404],
      ['x%2f..%2f..', 400],
      ['..%2f..%2fetc', 400],
      ['%2fetc', 400],
      ['a%00b', 400],
      ['.hidden', 400],
      ['node_modules', 400],
      ['evil', 400],
      ['nope', 404],
    ] as const) {
      for (const op of ['load', 'unload']) {
        const res = await post(`${base}/v2/repository/models/${name}/${op}`, undefined, auth);
        t.equal(res.status, status, `${op} ${name}: ${status}`);
        t.type(res.body?.error, 'string');
        t.notMatch(res.body?.error ?? '', /\/tmp\//, 'no absolute path in the message');
      }
    }
    const linked = await post(`${base}/v2/repository/models/linked/load`, undefined, auth);
    t.equal(linked.status, 400, 'a model.onnx that links out of the repository');
    t.match(linked.body.error, /outside the model repository/);
    t.notMatch(linked.body.error, /\/tmp\//);
  });

  t.test('a config override; a failing load leaves what served', async (t) => {
    const over = await post(`${base}/v2/repository/models/a/load`, { parameters: { config: JSON.stringify({ maxBatchSize: 2 }) } }, auth);
    t.equal(over.status, 200, 'reload a with parameters.config');
    const a = (await getJson(`${base}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'a');
    t.equal(a.versions[0].batching.maxBatchSize, 2, 'the override is the config');

    const badKey = await post(`${base}/v2/repository/models/a/load`, { parameters: { config: JSON.stringify({ maxBatchSise: 2 }) } }, auth);
    t.equal(badKey.status, 400);
    t.match(badKey.body.error, /unknown key "maxBatchSise".*still serve/);
    t.equal((await post(`${base}/v2/repository/models/a/load`, { parameters: { config: '{not json' } }, auth)).status, 400, 'parameters.config that is not JSON');
    t.equal((await post(`${base}/v2/repository/models/a/load`, { params: {} }, auth)).status, 400, 'an unknown key');
    const files = await post(`${base}/v2/repository/models/a/load`, { parameters: { 'file:1/model.onnx': 'AAAA' } }, auth);
    t.equal(files.status, 400, "Triton's file: parameters (model files in the request) are refused");
    t.match(files.body.error, /parameter "file:1\/model.onnx" is not supported/);

    // Triton's own form, as tritonclient's load_model(config=...) sends it
    const triton = { name: 'a', platform: 'onnxruntime_onnx', max_batch_size: 4, instance_group: [{ kind: 'KIND_CPU', count: 1 }], dynamic_batching: { max_queue_delay_microseconds: 0, default_queue_policy: { default_timeout_microseconds: 5_000_000, max_queue_size: 16 } } };
    t.equal((await post(`${base}/v2/repository/models/a/load`, { parameters: { config: JSON.stringify(triton) } }, auth)).status, 200, "a Triton-form config");
    const ta = (await getJson(`${base}/v1/models`)).body.models.find((m: { name: string }) => m.name === 'a').versions[0];
    t.match(ta.batching, { maxBatchSize: 4, policy: 'adaptive', timeoutMs: 5000, maxQueueSize: 16 }, 'mapped onto config.json keys');
    const wrongName = await post(`${base}/v2/repository/models/a/load`, { parameters: { config: JSON.stringify({ ...triton, name: 'b' }) } }, auth);
    t.equal(wrongName.status, 400);
    t.match(wrongName.body.error, /not the model's name/);

    await mkdir(join(repo, 'a', '2'));
    await writeFile(join(repo, 'a', '2', 'model.onnx'), 'not an onnx file');
    await writeFile(join(repo, 'a', '1', 'model.onnx'), mlpModel([4, 3], 1)).catch(() => undefined);
    const broken = await post(`${base}/v2/repository/models/a/load`, undefined, auth);
    t.equal(broken.status, 400, 'version 2 does not load: 400');
    t.match(broken.body.error, /model "a" failed to load: version 2/);
    t.notMatch(broken.body.error, /\/tmp\//, 'no absolute path');
    const still = await predict(base, 'a');
    t.equal(still.status, 200, 'a still serves');
    t.equal(still.body.version, '1', 'the version that served before');
    t.equal((await getJson(`${base}/v2/models/a/ready`)).status, 200);
    t.equal((await getJson(`${base}/v2/health/ready`)).status, 200, 'the server stays ready');
  });
});

t.test('a reload under an open loop of requests: no request fails', async (t) => {
  const repo = await makeRepo(t, { r: { versions: { '1': mlpModel([4, 3], 1) } } });
  const served = await startServer(t, repo, ['--model-control', 'explicit', '--load-model', 'r', '--admin-token', TOKEN]);
  const statuses = new Map<number, number>();
  const versions = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const RATE_MS = 20; // 50 req/s
  // a bound on the whole loop; once version 2 is in, it is cut to 30 more requests
  let max = 1000;
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= max) return;
    sent++;
    const p = predict(served.url, 'r').then(
      (res) => {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) versions.set(res.body.version, (versions.get(res.body.version) ?? 0) + 1);
      },
      () => void statuses.set(0, (statuses.get(0) ?? 0) + 1),
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }, RATE_MS);
  t.teardown(() => clearInterval(timer));
  await new Promise((r) => setTimeout(r, 700));
  await mkdir(join(repo, 'r', '2'));
  await writeFile(join(repo, 'r', '2', 'model.onnx'), mlpModel([4, 3], 2));
  await rm(join(repo, 'r', '1'), { recursive: true });
  const load = await post(`${served.url}/v2/repository/models/r/load`, undefined, auth);
  t.equal(load.status, 200, 'version 2 loaded, version 1 gone');
  t.same(load.body.versions, [{ version: '2', state: 'READY' }]);
  // a slow machine may take seconds over the load: the requests after it are counted from it
  max = sent + 30;
  await waitUntil(() => sent >= max, '30 more requests after the switch', 10_000);
  clearInterval(timer);
  await Promise.all([...inFlight]);
  t.comment(`statuses ${JSON.stringify([...statuses])}, versions ${JSON.stringify([...versions])}`);
  t.same([...statuses.keys()], [200], `every one of ${sent} requests answered 200`);
  t.ok((versions.get('1') ?? 0) > 0 && (versions.get('2') ?? 0) > 0, 'version 1 answered before the switch, version 2 after');
  t.equal((await getJson(`${served.url}/v2/models/r/versions/1/ready`)).status, 404, 'version 1 is gone');
  t.notMatch(await metricsText(served.url), /model="r",version="1"/, "version 1's metric series are gone");
});

t.test('poll model control: a folder added, a version added, a folder removed', async (t) => {
  const repo = await makeRepo(t, { p: { versions: { '1': mlpModel([4, 3], 1) } } });
  const served = await startServer(t, repo, ['--model-control', 'poll', '--repository-poll-secs', '1', '--admin-token', TOKEN]);
  const base = served.url;
  const ready = async (path: string) => (await getJson(`${base}${path}`)).status;
  const until = async (what: string, cond: () => Promise<boolean>) => {
    const deadline = Date.now() + 10_000;
    while (!(await cond()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    t.ok(await cond(), what);
  };
  t.equal(await ready('/v2/models/p/ready'), 200, 'p loads at start');

  await mkdir(join(repo, 'q'));
  await writeFile(join(repo, 'q', 'model.onnx'), mlpModel([4, 3], 3));
  await until('a new folder q serves within the poll', async () => (await ready('/v2/models/q/ready')) === 200);

  const p1 = served.app.serving.repository.find('p', '1')[0];
  await mkdir(join(repo, 'p', '2'));
  await writeFile(join(repo, 'p', '2', 'model.onnx'), mlpModel([4, 3], 4));
  await until('a new version folder p/2 serves', async () => (await predict(base, 'p')).body?.version === '2');
  t.equal(served.app.serving.repository.find('p', '1')[0], p1, 'version 1, unchanged, served on as it was (not reloaded)');
  t.equal((await predict(base, 'p', '1')).status, 200);

  await rm(join(repo, 'p', '1'), { recursive: true });
  await until('a removed version folder is unloaded', async () => (await ready('/v2/models/p/versions/1/ready')) === 404);
  t.equal((await predict(base, 'p')).body?.version, '2', 'version 2 serves on');

  await rm(join(repo, 'q'), { recursive: true });
  await until('a removed folder is unloaded', async () => (await ready('/v2/models/q/ready')) === 404);
  // the series go once its queue has drained and its workers ended, just after it stops being listed
  await until("q's metric series are gone", async () => !/model="q"/.test(await metricsText(base)));
  t.equal((await getJson(`${base}/v2/health/ready`)).status, 200, 'the server stays ready');
  t.equal((await post(`${base}/v2/repository/models/p/unload`, undefined, auth)).status, 200, 'explicit unload works in poll mode too');
});
