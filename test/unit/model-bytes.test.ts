// The bytes a model version takes on disk for sizing: model.onnx plus the external-data files its
// initializers name, each once; nothing counted outside the model's folder or for a missing file.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelBytesOnDisk } from '../../src/repository/model-bytes.js';
import { mlpModel } from '../../tools/onnx-builder.js';
import { withExternalData } from '../helpers/trait-models.js';

async function folder(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'model-bytes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('inline weights: the file alone', async (t) => {
  const dir = await folder(t);
  const bytes = mlpModel([64, 128, 10], 1);
  await writeFile(join(dir, 'model.onnx'), bytes);
  t.equal(await modelBytesOnDisk(join(dir, 'model.onnx')), bytes.length);
});

t.test('external data: the file plus its data file, counted once however many initializers it holds', async (t) => {
  const dir = await folder(t);
  const { model, data } = withExternalData(mlpModel([64, 128, 10], 2), 'weights.bin');
  await writeFile(join(dir, 'model.onnx'), model);
  await writeFile(join(dir, 'weights.bin'), data);
  t.ok(data.length > 10 * model.length, 'the weights are in the data file');
  t.equal(await modelBytesOnDisk(join(dir, 'model.onnx')), model.length + data.length);
});

t.test('a missing data file, an unreadable model, a missing model: what can be read, never a throw', async (t) => {
  const dir = await folder(t);
  const { model } = withExternalData(mlpModel([8, 16, 3], 3), 'gone.bin');
  await writeFile(join(dir, 'model.onnx'), model);
  t.equal(await modelBytesOnDisk(join(dir, 'model.onnx')), model.length, 'the missing data file counts 0 (the load reports it)');
  await writeFile(join(dir, 'junk.onnx'), Buffer.from('not a protobuf at all \xff\xff\xff'));
  t.equal(await modelBytesOnDisk(join(dir, 'junk.onnx')), (await import('node:fs')).statSync(join(dir, 'junk.onnx')).size, 'junk: its size');
  t.equal(await modelBytesOnDisk(join(dir, 'nothing.onnx')), 0, 'no file: 0');
});

t.test('a location outside the folder is not counted', async (t) => {
  const dir = await folder(t);
  const inner = join(dir, 'm');
  await (await import('node:fs/promises')).mkdir(inner);
  const { model, data } = withExternalData(mlpModel([8, 16, 3], 4), '../outside.bin');
  await writeFile(join(inner, 'model.onnx'), model);
  await writeFile(join(dir, 'outside.bin'), data);
  t.equal(await modelBytesOnDisk(join(inner, 'model.onnx')), model.length);
});
