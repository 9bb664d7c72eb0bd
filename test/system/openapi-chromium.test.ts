// Swagger UI at /docs of the real server (assets served locally) renders the operations of its
// OpenAPI document in headless Chromium (Debian's /usr/bin/chromium, or $CHROMIUM). The document
// itself is checked in test/integration/openapi.test.ts.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHIPPED_MODELS, startServer } from '../helpers/server.js';
import { CHROMIUM, found } from './binaries.js';

const CHROMIUM_TIMEOUT_MS = 60_000;

t.test('Swagger UI renders the operations in headless Chromium', async (t) => {
  const served = await startServer(t, SHIPPED_MODELS);
  t.ok(found(CHROMIUM), `${CHROMIUM} is installed (apt-get install -y chromium)`);
  if (!found(CHROMIUM)) return;
  const profile = await mkdtemp(join(tmpdir(), 'onnx-serve-chromium-'));
  t.teardown(() => rm(profile, { recursive: true, force: true }));
  const dom = await dumpDom(CHROMIUM, profile, `${served.url}/docs/`);
  t.match(dom, /class="opblock opblock-post"[^]*?data-path="\/v1\/predict"/, 'POST /v1/predict rendered');
  const opblocks = dom.split('<div class="opblock ').slice(1);
  const rendered = (method: string, path: string): boolean =>
    opblocks.some((b) => b.startsWith(`opblock-${method}`) && new RegExp(`data-path="${path.replace(/[{}/]/g, '\\$&')}"`).test(b.slice(0, 2000)));
  t.ok(rendered('post', '/v1/predict'), 'opblock for POST /v1/predict');
  t.ok(rendered('post', '/v2/models/{model_name}/infer'), 'opblock for POST /v2/models/{model_name}/infer');
  t.ok(rendered('get', '/metrics'), 'opblock for GET /metrics');
});

/** Chromium's --dump-dom of `url` (the DOM after its scripts ran), killed after CHROMIUM_TIMEOUT_MS. */
function dumpDom(chromium: string, profile: string, url: string): Promise<string> {
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--dump-dom', '--virtual-time-budget=10000', url,
  ];
  return new Promise((resolve, reject) => {
    // its own process group, so that the kill reaches every chromium process
    const child = spawn(chromium, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`chromium did not finish within ${CHROMIUM_TIMEOUT_MS} ms; stderr: ${err}`));
    }, CHROMIUM_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      kill(); // helpers (zygote, gpu) that outlive the browser process
      const dom = Buffer.concat(out).toString('utf8');
      if (!dom) reject(new Error(`chromium exited ${code} with no DOM; stderr: ${err}`));
      else resolve(dom);
    });
  });
}
