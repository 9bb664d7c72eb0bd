// `npm run soak` flags, checked once: a problem is a LoadError (exit 2) naming the flag, the value
// and what is allowed. Pure.
import { parseArgs } from 'node:util';
import { num, oneOf } from '../load/runner/options.js';
import { LoadError } from '../load/runner/types.js';

export interface SoakOptions {
  minutes: number;
  model: 'heavy' | 'seed';
  /** Offered req/s, valid and invalid together; undefined: 70 % of the capacity measured first. */
  rate?: number;
  invalidShare: number;
  /** Where SOAK.md and soak.svg go; undefined: the repository root. */
  out?: string;
}

export const SOAK_USAGE = 'usage: npm run soak -- [--minutes 10] [--model heavy|seed] [--rate R] [--invalid-share 0.1] [--out DIR]';

const FLAGS = {
  minutes: { type: 'string', default: '10' },
  model: { type: 'string', default: 'heavy' },
  rate: { type: 'string' },
  'invalid-share': { type: 'string', default: '0.1' },
  out: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

/** Parses argv (after `--`); undefined for --help. */
export function parseSoakOptions(argv: readonly string[]): SoakOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new LoadError(`${(err as Error).message.split('\n')[0]} (${SOAK_USAGE})`, 2);
  }
  if (values.help) return undefined;
  return {
    // 0.25 min: five windows of 3 s, the shortest run whose windows still hold enough answers
    minutes: num('minutes', values.minutes, 0.25, 24 * 60),
    model: oneOf('model', values.model, ['heavy', 'seed'] as const),
    ...(values.rate !== undefined ? { rate: num('rate', values.rate, 0.1, 1_000_000) } : {}),
    invalidShare: num('invalid-share', values['invalid-share'], 0, 0.9),
    ...(values.out !== undefined ? { out: values.out } : {}),
  };
}
