// Unit tests for poll model control's decisions: planChanges between two snapshots (pure), and
// snapshot's fingerprints following what a load reads (config.json, version files, variants).
import t from 'tap';
import { mkdtemp, mkdir, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planChanges, snapshot } from '../../src/repository/poll.js';

t.test('planChanges: new and changed models load, gone ones unload, the rest stay', async (t) => {
  const before = new Map([
    ['a', 'x'],
    ['b', 'y'],
    ['c', 'z'],
  ]);
  const after = new Map([
    ['a', 'x'],
    ['c', 'z2'],
    ['d', 'w'],
  ]);
  t.same(planChanges(before, after), { load: ['c', 'd'], unload: ['b'] });
  t.same(planChanges(after, after), { load: [], unload: [] }, 'no change, nothing to do');
  t.same(planChanges(new Map(), after), { load: ['a', 'c', 'd'], unload: [] });
  t.same(planChanges(before, new Map()), { load: [], unload: ['a', 'b', 'c'] });
});

t.test('snapshot: a fingerprint per model folder that follows its files', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'onnx-serve-poll-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'm', '1'), { recursive: true });
  await writeFile(join(root, 'm', '1', 'model.onnx'), 'one');
  await mkdir(join(root, 'broken'));
  const s1 = await snapshot(root);
  t.same([...s1.keys()].sort(), ['broken', 'm']);
  t.match(s1.get('broken'), /^error /, 'a folder that does not scan: its error');
  t.same(await snapshot(root), s1, 'the same files, the same fingerprints');

  await mkdir(join(root, 'm', '2'));
  await writeFile(join(root, 'm', '2', 'model.onnx'), 'two');
  const s2 = await snapshot(root);
  t.not(s2.get('m'), s1.get('m'), 'a new version folder');

  await writeFile(join(root, 'm', 'config.json'), JSON.stringify({ maxBatchSize: 4, variants: { int8: 'model.int8.onnx' } }));
  const s3 = await snapshot(root);
  t.not(s3.get('m'), s2.get('m'), 'config.json');

  await writeFile(join(root, 'm', '2', 'model.int8.onnx'), 'v');
  const s4 = await snapshot(root);
  t.not(s4.get('m'), s3.get('m'), "a variant's file");

  await utimes(join(root, 'm', '1', 'model.onnx'), new Date(), new Date(Date.now() + 5000));
  const s5 = await snapshot(root);
  t.not(s5.get('m'), s4.get('m'), 'a model file rewritten (its time)');
});
