// Scans a model repository folder (Triton layout) into model entries: which versions exist,
// where their files are, and the config.json text. Reads the file system only; loads nothing.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface ScannedVersion {
  version: string;
  path: string;
}

export interface ScannedModel {
  name: string;
  dir: string;
  configFile: string;
  /** Parsed config.json, undefined when the file is absent. JSON syntax errors are thrown as ScanError. */
  rawConfig: unknown;
  /** Ascending by version number. */
  versions: ScannedVersion[];
}

/** An unreadable repository (serve exits 1) or model folder (the model is UNAVAILABLE with this message as its reason). */
export class ScanError extends Error {
  override name = 'ScanError';
  readonly code = 'ONNX_SERVE_ERR_SCAN';
}

/** A model folder's name: a plain name, never a path. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A regular file (following links) at `p`; false when there is nothing there, or a folder. */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** A file's size and modification time as text ("missing" when it cannot be read): equal stamps, the same file for a reload's purposes. */
export async function fileStamp(p: string): Promise<string> {
  return stat(p).then((s) => `${s.size}@${s.mtimeMs}`, () => 'missing');
}

/** One model folder: `model.onnx` is version "1"; numbered subfolders each with `model.onnx` are versions. */
export async function scanModel(dir: string, name: string): Promise<ScannedModel> {
  const configFile = join(dir, 'config.json');
  let rawConfig: unknown;
  try {
    rawConfig = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ScanError(`${configFile}: ${(err as Error).message}`);
  }
  const versions: ScannedVersion[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && /^[1-9]\d*$/.test(entry.name) && (await isFile(join(dir, entry.name, 'model.onnx')))) {
      versions.push({ version: entry.name, path: join(dir, entry.name, 'model.onnx') });
    }
  }
  if (versions.length === 0 && (await isFile(join(dir, 'model.onnx')))) versions.push({ version: '1', path: join(dir, 'model.onnx') });
  if (versions.length === 0) throw new ScanError(`${dir}: no model.onnx and no numbered version folder holding one`);
  versions.sort((a, b) => Number(a.version) - Number(b.version));
  return { name, dir, configFile, rawConfig, versions };
}

/** Every folder of the repository is a model; folders that cannot be read come back as errors. */
export async function scanRepository(root: string): Promise<{ models: ScannedModel[]; errors: { name: string; message: string }[] }> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw new ScanError(`model repository ${root} cannot be read: ${(err as Error).message}`);
  }
  const models: ScannedModel[] = [];
  const errors: { name: string; message: string }[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isDirectory() || e.name.startsWith('.') || e.name.startsWith('_') || e.name === 'node_modules') continue;
    if (!MODEL_NAME.test(e.name)) {
      errors.push({ name: e.name, message: `model folder name "${e.name}" must match ${MODEL_NAME}` });
      continue;
    }
    try {
      models.push(await scanModel(join(root, e.name), e.name));
    } catch (err) {
      errors.push({ name: e.name, message: (err as Error).message });
    }
  }
  return { models, errors };
}
