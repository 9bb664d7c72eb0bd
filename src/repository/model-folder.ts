// Turns a model name that came from a request (an admin route's path) into its folder inside
// the repository, and checks that every file a load would open stays inside the repository:
// no name is ever a path ("..", "/", NUL, a dotfile), and no link leads out of the folder.
import { lstat, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ServeError } from '../errors.js';
import { MODEL_NAME } from './scan.js';

/** Longest model name taken from a request (fastify's path parameters stop at 100 anyway). */
const MAX_NAME = 100;

/** Throws INVALID_MODEL_NAME unless `name` can only be a folder directly in the repository. */
export function checkModelName(name: string): void {
  if (name.length === 0 || name.length > MAX_NAME || !MODEL_NAME.test(name) || name === 'node_modules') {
    throw new ServeError(
      'INVALID_MODEL_NAME',
      `model name ${JSON.stringify(name.slice(0, MAX_NAME))} is not allowed; a model is a folder of the repository named by letters, digits, "_", "." and "-", starting with a letter or digit`,
    );
  }
}

/**
 * The model's folder: a real folder (not a link) directly in `root`. Throws INVALID_MODEL_NAME
 * for a name that is a path or a link, MODEL_NOT_FOUND when no such folder exists.
 */
export async function modelFolder(root: string, name: string): Promise<string> {
  checkModelName(name);
  const dir = join(root, name);
  const st = await lstat(dir).catch(() => undefined);
  if (!st || !st.isDirectory()) {
    if (st?.isSymbolicLink()) throw new ServeError('INVALID_MODEL_NAME', `model folder "${name}" is a symbolic link; the repository serves only folders that are in it`);
    throw new ServeError('MODEL_NOT_FOUND', `no model folder "${name}" in the repository; POST /v2/repository/index lists the models`);
  }
  return dir;
}

/** The first of `files` (existing ones) whose real path is outside `root`, else undefined. */
export async function fileOutside(root: string, files: readonly string[]): Promise<string | undefined> {
  const inside = `${await realpath(root)}${sep}`;
  for (const f of files) {
    const real = await realpath(f).catch(() => undefined);
    if (real !== undefined && !real.startsWith(inside)) return f;
  }
  return undefined;
}
