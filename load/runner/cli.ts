// `npm run load -- …`: parse flags, run (or sweep), print a k6-like summary, write --out, and exit
// 0 when the thresholds held, 99 when one was crossed (as k6 does), 2 for a bad flag, 1 when the
// run could not happen. Every failure is one line on stderr, never a stack trace.
import { writeFile } from 'node:fs/promises';
import { parseLoadOptions, USAGE, type LoadOptions } from './options.js';
import { ms, summaryText, sweepText } from './report.js';
import type { Recorder } from './recorder.js';
import { prepare, runOnce, runSweep } from './run.js';
import { finish } from './types.js';

/** The live line: on a terminal it rewrites itself each second; elsewhere it is not printed. */
function progressLine(rec: Recorder, elapsedMs: number, totalMs: number): void {
  const r = rec.takeRecent();
  const line = `  ${(elapsedMs / 1000).toFixed(0)}s/${(totalMs / 1000).toFixed(0)}s  sent ${rec.sent}  ok ${rec.ok}  errors ${rec.errors}  timeouts ${rec.timeouts}  dropped ${rec.dropped}  last second: ${r.done} done, p99 ${ms(r.p99)}`;
  process.stderr.write(`\r${line.padEnd(110)}`);
}

async function main(argv: string[]): Promise<number> {
  const o: LoadOptions | undefined = parseLoadOptions(argv);
  if (!o) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const progress = !o.quiet && process.stderr.isTTY ? progressLine : undefined;
  const endLine = (): void => void (progress && process.stderr.write('\n'));
  const p = await prepare(o);
  if (o.sweep) {
    const s = await runSweep(o, p, progress, (st) => {
      endLine();
      if (!o.quiet) process.stderr.write(`  step ${st.rate} req/s: p99 ${ms(st.p99Ms)}, ${st.achieved.toFixed(1)} req/s answered: ${st.held ? 'held' : `broke (${st.why})`}\n`);
    });
    process.stdout.write(`${sweepText(s)}\n`);
    if (o.out) await writeFile(o.out, JSON.stringify(s, null, 2) + '\n');
    return 0;
  }
  const r = await runOnce(o, p, progress);
  endLine();
  process.stdout.write(`${summaryText(r)}\n`);
  if (o.out) await writeFile(o.out, JSON.stringify(r, null, 2) + '\n');
  return r.thresholds.every((t) => t.ok) ? 0 : 99;
}

finish('onnx-serve load', main(process.argv.slice(2)));
