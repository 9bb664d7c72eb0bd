// The repo's Dockerfile parsed once with dockerfile-ast and grouped by stage, for the tests that
// check its rules and replay its steps.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ROOT } from './server.js';

export const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));

/** Instructions grouped by stage; each group starts with its FROM. */
export const stages: Instruction[][] = [];
for (const i of dockerfile.getInstructions()) {
  if (i.getKeyword() === 'FROM') stages.push([]);
  stages.at(-1)?.push(i);
}

/** The runtime stage: the image that ships. */
export const runtimeStage: Instruction[] = stages.at(-1) ?? [];

/** An instruction's arguments as written ('' when there is none). */
export const content = (i: Instruction | undefined): string => i?.getArgumentsContent() ?? '';
