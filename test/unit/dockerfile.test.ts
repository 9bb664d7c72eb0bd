// The Dockerfile's rules (stages, base image, production install, non-root user, env, port,
// healthcheck, tini, command, what is copied) and .dockerignore's agreement with its COPYs,
// checked statically: no Docker engine runs in CI.
import t from 'tap';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Copy, type Instruction } from 'dockerfile-ast';
import { content, dockerfile, runtimeStage, stages } from '../helpers/dockerfile.js';
import { ROOT } from '../helpers/server.js';

const df = dockerfile;
const last = runtimeStage;
const of = (stage: Instruction[], keyword: string) => stage.filter((i) => i.getKeyword() === keyword);
/** Exec form is JSON; Docker falls back to a shell silently when it is not, so parse it strictly. */
const execForm = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};
const copies = (stage: Instruction[]) => stage.filter((i): i is Copy => i instanceof Copy);
const copyArgs = (c: Copy) => c.getArguments().map((a) => a.getValue());
const runIndex = (stage: Instruction[], re: RegExp) => stage.findIndex((i) => i.getKeyword() === 'RUN' && re.test(content(i)));
const copyIndex = (stage: Instruction[], src: string) => stage.findIndex((i) => i instanceof Copy && copyArgs(i).slice(0, -1).includes(src));

t.test('stages and base images', async (t) => {
  t.ok(stages.length >= 2, `multi-stage (${stages.length} stages)`);
  const froms = df.getFROMs();
  t.ok(froms.length > 0, 'has FROM');
  for (const f of froms) {
    t.equal(f.getImageName(), 'node', `${f.getImage()}: the official node image`);
    t.match(f.getImageTag() ?? '', /^22(?:[.-]|$)/, `${f.getImage()}: Node 22 LTS`);
  }
  t.equal(froms[0]?.getBuildStage(), 'build', 'the first stage is named build');
});

t.test('build stage: dependencies layer before sources, then tsc', async (t) => {
  const build = stages[0] ?? [];
  const ci = runIndex(build, /\bnpm ci\b/);
  t.ok(ci > 0, 'runs npm ci');
  t.ok(copyIndex(build, 'package-lock.json') > 0 && copyIndex(build, 'package-lock.json') < ci, 'copies the lockfile before npm ci');
  t.ok(copyIndex(build, 'src') > ci, 'copies src after npm ci, so a code change reuses the dependency layer');
  t.ok(runIndex(build, /\btsc\b/) > copyIndex(build, 'src'), 'runs tsc after copying src');
});

t.test('runtime stage: production dependencies only, root-owned files', async (t) => {
  const ci = of(last, 'RUN').map(content).find((c) => /\bnpm ci\b/.test(c)) ?? '';
  t.match(ci, /npm ci\b[^&]*--omit=dev/, 'npm ci --omit=dev');
  t.match(ci, /npm ci\b[^&]*--ignore-scripts/, 'npm ci --ignore-scripts (prepare would run tsc, a dev dependency)');
  t.notOk(of(last, 'RUN').some((i) => /\bnpm (install|i)\b/.test(content(i))), 'no npm install (it may change the lockfile)');
  t.match(ci, /find node_modules\/onnxruntime-node\/bin .*rm -rf/, 'prunes other platforms\' onnxruntime binaries in the same layer as the install');
  t.notOk(copies(last).some((c) => c.getFlags().some((f) => f.getName() === 'chown' || f.getName() === 'chmod')), 'no --chown/--chmod: files stay root-owned, unwritable by the app');
  const user = content(of(last, 'USER').at(-1)).split(':')[0] ?? '';
  t.ok(user !== '' && user !== 'root' && user !== '0', `runs as a non-root user (${user || 'none'})`);
  t.equal(content(of(last, 'WORKDIR').at(-1)), '/app', 'WORKDIR /app');
});

t.test('runtime stage: environment, port, signals', async (t) => {
  const env = new Map<string, string>();
  for (const e of df.getENVs().filter((e) => last.includes(e))) for (const p of e.getProperties()) env.set(p.getName(), p.getValue() ?? '');
  t.equal(env.get('HOST'), '0.0.0.0', 'HOST=0.0.0.0: reachable from outside the container');
  t.equal(env.get('PORT'), '8080', 'PORT=8080');
  t.equal(env.get('NODE_ENV'), 'production', 'NODE_ENV=production');
  t.equal(env.get('ONNX_SERVE_MODELS'), '/app/models', 'ONNX_SERVE_MODELS=/app/models');
  const modelsCopy = copies(last).find((c) => copyArgs(c)[0] === 'models' && !c.getFromFlag());
  t.ok(modelsCopy, 'copies the shipped models from the context');
  t.match(modelsCopy ? copyArgs(modelsCopy).at(-1) ?? '' : '', /^(\.\/|\/app\/)models\/?$/, 'to where ONNX_SERVE_MODELS points');
  t.same(of(last, 'EXPOSE').flatMap((i) => i.getArguments().map((a) => a.getValue())), ['8080'], 'EXPOSE 8080');
  t.equal(content(of(last, 'STOPSIGNAL').at(-1)), 'SIGTERM', 'STOPSIGNAL SIGTERM');
});

t.test('runtime stage: healthcheck, tini, command, copied build output', async (t) => {
  const hc = df.getHEALTHCHECKs().filter((h) => last.includes(h)).at(-1);
  t.equal(hc?.getSubcommand()?.getValue(), 'CMD', 'HEALTHCHECK CMD');
  const hcCmd = execForm(content(hc).replace(/^CMD\s+/, ''));
  t.ok(Array.isArray(hcCmd), 'healthcheck in exec form (valid JSON)');
  t.equal((hcCmd as string[])[0], 'node', 'healthcheck runs node (no curl in slim images)');
  t.match((hcCmd as string[]).join(' '), /\/v2\/health\/ready/, 'healthcheck asks readiness');
  const flags = Object.fromEntries((hc?.getFlags() ?? []).map((f) => [f.getName(), f.getValue()]));
  t.same(flags, { interval: '10s', timeout: '3s', 'start-period': '30s', retries: '3' }, 'healthcheck timings');

  t.same(execForm(content(of(last, 'ENTRYPOINT').at(-1))), ['/usr/bin/tini', '--'], 'ENTRYPOINT tini: forwards SIGTERM, reaps zombies');
  const apt = of(last, 'RUN').map(content).find((c) => /apt-get install/.test(c)) ?? '';
  t.match(apt, /apt-get install[^&]*--no-install-recommends[^&]*\btini\b/, 'installs tini with --no-install-recommends');
  t.match(apt, /rm -rf \/var\/lib\/apt\/lists/, 'cleans the apt lists');
  t.same(execForm(content(of(last, 'CMD').at(-1))), ['node', 'dist/src/cli.js', 'serve'], 'CMD node dist/src/cli.js serve');

  const fromBuild = copies(last).filter((c) => c.getFromFlag()?.getValue() === 'build');
  t.ok(fromBuild.some((c) => /^\/app\/dist\/src\/?$/.test(copyArgs(c)[0] ?? '') && /^(\.\/|\/app\/)dist\/src\/?$/.test(copyArgs(c).at(-1) ?? '')), 'COPY --from=build /app/dist/src ./dist/src');
  t.notOk(copies(last).some((c) => !c.getFromFlag() && copyArgs(c).slice(0, -1).some((s) => s === 'src' || s.startsWith('dist'))), 'no sources or local dist copied into the runtime stage');
});

/** .dockerignore with Docker's rules: root-anchored globs, `**`, `!` re-includes, last match wins, a match on a parent folder excludes its contents. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).trim().replace(/^\/+|\/+$/g, '').replace(/^\.\//, '');
      const source = pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => ({ '**/': '(?:.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    const selfAndParents = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const r of rules) if (selfAndParents.some((p) => r.re.test(p))) ignored = !r.negate;
    return ignored;
  };
}

t.test('the .dockerignore matcher follows Docker semantics', async (t) => {
  const m = dockerignore('*.md\n**/*.log\ndocs\n!docs/keep.txt\n');
  t.ok(m('README.md'), '*.md matches at the root');
  t.notOk(m('models/README.md'), '*.md is anchored at the root');
  t.ok(m('a/b/c.log'), '**/ matches any depth');
  t.ok(m('docs/x/y.txt'), 'a folder excludes its contents');
  t.notOk(m('docs/keep.txt'), '! re-includes');
  t.notOk(m('src/app.ts'), 'unmatched paths stay');
});

t.test('.dockerignore keeps out what the image does not need, and nothing the Dockerfile copies', async (t) => {
  const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  for (const p of ['node_modules/fastify/package.json', 'dist/src/cli.js', '.git/HEAD', 'test/unit/x.test.ts', 'bench/run.ts', 'load/lib/x.ts']) t.ok(ignored(p), `excludes ${p}`);
  const sources = [...new Set(copies(stages.flat()).filter((c) => !c.getFromFlag()).flatMap((c) => copyArgs(c).slice(0, -1)))];
  for (const s of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'src', 'models']) t.ok(sources.includes(s), `the Dockerfile copies ${s}`);
  const walk = (p: string): string[] => (statSync(p).isDirectory() ? readdirSync(p).flatMap((e) => walk(join(p, e))) : [p]);
  for (const s of sources) {
    t.ok(existsSync(join(ROOT, s)), `${s} exists in the context`);
    const excluded = walk(join(ROOT, s)).map((f) => relative(ROOT, f).split('\\').join('/')).filter(ignored);
    t.same(excluded, [], `.dockerignore excludes nothing copied by COPY ${s}`);
  }
});
