#!/usr/bin/env node
// onnx-serve command line: `onnx-serve serve [--models DIR] [--host H] [--port N] …`.
import { parseServeOptions, OptionError } from './config.js';
import { serve, exitOnSignals } from './server.js';

const USAGE = `usage: onnx-serve serve [--models DIR] [--host H] [--port N] [--log-level L]
                        [--body-limit SIZE] [--drain-timeout-ms N] [--instances N] [--intra-op-threads N]
environment: ONNX_SERVE_MODELS, HOST, PORT, LOG_LEVEL, ONNX_SERVE_ADMIN_TOKEN, ONNX_SERVE_BODY_LIMIT`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (command !== 'serve') {
    console.error(`onnx-serve: unknown command "${command}"; allowed: serve\n${USAGE}`);
    process.exit(2);
  }
  let opts;
  try {
    opts = parseServeOptions(rest);
  } catch (err) {
    if (err instanceof OptionError) {
      console.error(`onnx-serve: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const served = await serve(opts);
  exitOnSignals(served, opts.drainTimeoutMs);
  const repo = served.app.serving.repository;
  const lines = repo.all().map((mv) => `  ${mv.name} v${mv.version}  ${mv.state}${mv.reason ? `  (${mv.reason})` : ''}`);
  for (const b of repo.broken) lines.push(`  ${b.name}  UNAVAILABLE  (${b.reason})`);
  console.log(
    [
      `onnx-serve listening on ${served.url}`,
      `models from ${repo.root}:`,
      ...(lines.length ? lines : ['  (none found)']),
      `try:    curl -s ${served.url}/v1/models`,
      `docs:   ${served.url}/docs`,
    ].join('\n'),
  );
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`onnx-serve: ${err.message}`);
  process.exit(1);
});
