// labels.txt (src/repository/labels.ts): one label per line, LF or CRLF, the version folder's
// before the model folder's, none when neither has one.
import t from 'tap';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLabels, readLabels } from '../../src/repository/labels.js';

t.test('parseLabels: a line per class; a trailing newline adds none; blank lines keep their index', async (t) => {
  t.strictSame(parseLabels('cat\ndog\n'), ['cat', 'dog']);
  t.strictSame(parseLabels('cat\r\ndog'), ['cat', 'dog']);
  t.strictSame(parseLabels('a\n\nc\n'), ['a', '', 'c']);
  t.strictSame(parseLabels(''), []);
});

t.test('readLabels: the first folder that has labels.txt', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'onnx-serve-labels-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, '1'));
  t.equal(await readLabels([join(root, '1'), root]), undefined, 'none anywhere');
  await writeFile(join(root, 'labels.txt'), 'model\n');
  t.strictSame(await readLabels([join(root, '1'), root]), ['model'], "the model folder's");
  await writeFile(join(root, '1', 'labels.txt'), 'version\n');
  t.strictSame(await readLabels([join(root, '1'), root]), ['version'], "the version folder's wins");
});
