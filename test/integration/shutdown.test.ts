// Graceful shutdown of the real CLI process: SIGTERM with 100 requests in flight answers all
// 100 with 200, refuses new connections, ends the workers and exits 0.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { once } from 'node:events';
import { Agent, request } from 'undici';
import { makeRepo, postJson, getJson, ROOT } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';

t.test('SIGTERM with 100 requests in flight: all answered 200, exit code 0', async (t) => {
  // requests wait up to 5 s for rows, so all 100 are surely queued when the signal lands (even on a
  // loaded CI machine); the drain flushes the queue at once, so the test does not wait that long
  const repo = await makeRepo(t, {
    mlp: { onnx: mlpModel([32, 64, 4], 9), config: { instances: 2, maxBatchSize: 128, dynamicBatching: { maxQueueDelayMs: 5000 } } },
  });
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--models', repo, '--port', '0', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const deadline = Date.now() + 30_000;
  while (!/listening on (http:\S+)/.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  const url = /listening on (http:\S+)/.exec(stdout)?.[1];
  t.ok(url, `server printed its URL (stderr: ${stderr.slice(0, 200)})`);
  if (!url) return;

  const dispatcher = new Agent({ connections: 128 });
  t.teardown(() => dispatcher.close());
  const inputs = Array.from({ length: 100 }, (_, i) => [Array.from(seededFloats(32, i))]);
  const inflight = inputs.map((input) =>
    request(`${url}/v1/predict`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mlp', inputs: { input } }) }).then(
      async (r) => ({ status: r.statusCode, body: (await r.body.json()) as { outputs?: { output?: number[][] } } }),
      (e: Error) => ({ status: 0, body: { error: e.message } as never }),
    ),
  );
  let depth = 0;
  for (let i = 0; i < 300 && depth < 100; i++) {
    const models = (await getJson(`${url}/v1/models`)).body.models;
    depth = models[0].versions[0].stats.queueDepth;
    if (depth < 100) await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(depth, 100, 'all 100 requests are queued before the signal');

  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 30));
  const refused = await postJson(`${url}/v1/predict`, { model: 'mlp', inputs: { input: inputs[0] } }).then(
    (r) => `answered ${r.status}`,
    (e: Error & { code?: string }) => e.code ?? e.message,
  );
  t.match(refused, /ECONNREFUSED|SHUTTING_DOWN|answered 503/, `a new request after SIGTERM is refused (${refused})`);

  const answers = await Promise.all(inflight);
  t.same(answers.map((a) => a.status), Array(100).fill(200), 'all 100 in-flight requests answered 200');
  t.ok(answers.every((a) => a.body.outputs?.output?.[0]?.length === 4), 'each with its output');
  const [code, signal] = (await exited) as [number | null, string | null];
  t.equal(code, 0, `exit code 0 (signal ${signal}, stderr: ${stderr.slice(-300)})`);
  t.notMatch(stderr, /Napi::Error|terminate called|Aborted/, 'no native abort at exit');
});
