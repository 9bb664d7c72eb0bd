// onnx-serve's own package folder: the first one up from this module whose package.json is named
// "onnx-serve", so that files shipped beside dist/ (package.json, proto/) are found the same from
// dist/src/ (the build, the Docker image, an npm install) or src/ (the sources).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OwnPackage {
  dir: string;
  name: string;
  version: string;
}

let found: OwnPackage | undefined;

export function ownPackage(): OwnPackage {
  if (found) return found;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'onnx-serve') return (found = { dir, name: pkg.name, version: pkg.version });
    }
    if (dirname(dir) === dir) throw new Error(`no package.json named "onnx-serve" in ${start} or any folder above it`);
  }
}
