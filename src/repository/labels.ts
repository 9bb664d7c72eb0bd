// Classification labels (Triton's label_filename): `labels.txt` in the version folder, else in
// the model folder; line i names class i. Read once at load; a missing file means no labels.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LABELS_FILE = 'labels.txt';

/** Labels of a text file: one per line (CRLF or LF), a trailing newline adds no empty label. */
export function parseLabels(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The first labels.txt among `dirs`, parsed; undefined when none exists. */
export async function readLabels(dirs: readonly string[]): Promise<string[] | undefined> {
  for (const dir of dirs) {
    try {
      return parseLabels(await readFile(join(dir, LABELS_FILE), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
  }
  return undefined;
}
