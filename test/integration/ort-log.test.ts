// onnxruntime's own log stays out of stderr: the real CLI serves a model whose warm-up fails and
// that refuses some inputs; each failure appears once, as a JSON log line naming the model, and
// stderr holds none of onnxruntime's coloured "[E:onnxruntime:…]" lines.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, makeRepo, postJson } from '../helpers/server.js';
import { embeddingModel, longConvModel } from '../helpers/trait-models.js';

const cli = join(ROOT, 'dist', 'src', 'cli.js');

t.test("a failed warm-up and a refused input are one JSON line each; onnxruntime's own lines never reach stderr", async (t) => {
  const repo = await makeRepo(t, { conv: { onnx: longConvModel() }, emb: { onnx: embeddingModel() } });
  const child = spawn(process.execPath, [cli, 'serve', '--models', repo, '--port', '0', '--instances', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline && child.exitCode === null) {
    url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(url, `the server started (stdout: ${stdout.slice(0, 300)}; stderr: ${stderr.slice(0, 300)})`);
  if (!url) return;
  const rejected = await postJson(`${url}/v1/predict`, { model: 'emb', inputs: { ids: [[1, 99]] } });
  t.equal(rejected.status, 422);
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'a clean exit on SIGTERM');

  t.notMatch(stderr, /onnxruntime|\[E:|\x1b\[/, `nothing from onnxruntime on stderr (got: ${JSON.stringify(stderr.slice(0, 400))})`);
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; model?: string; reason?: string; code?: string });
  const warmup = lines.filter((l) => l.model === 'conv' && /warm-up/.test(l.msg));
  t.equal(warmup.length, 1, 'the failed warm-up: one line');
  t.equal(warmup[0]?.level, 40, 'at warn level');
  t.match(warmup[0]?.reason, /Conv/, "with onnxruntime's message");
  const refused = lines.filter((l) => l.model === 'emb' && l.code === 'INPUT_REJECTED');
  t.equal(refused.length, 1, 'the refused input: one line, with the model name');
  t.match(refused[0]?.reason, /Gather|indices/);
});
