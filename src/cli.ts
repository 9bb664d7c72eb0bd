#!/usr/bin/env node
// onnx-serve command line: `onnx-serve serve [--models DIR] [--host H] [--port N] …`,
// `onnx-serve compress IN.onnx --out OUT.onnx --method M …` and `onnx-serve inspect MODEL.onnx`.
import { parseServeOptions } from './config.js';
import { OptionError } from './errors.js';
import { serve, exitOnSignals } from './server.js';

const USAGE = `usage: onnx-serve serve [--models DIR] [--host H] [--port N] [--grpc-port N] [--log-level L]
                        [--body-limit SIZE] [--max-body-bytes-in-flight SIZE] [--drain-timeout-ms N] [--backlog N]
                        [--request-timeout-ms N] [--headers-timeout-ms N] [--keep-alive-timeout-ms N]
                        [--instances N|auto] [--isolation thread|process]
                        [--intra-op-threads N|auto] [--memory-budget SIZE]
                        [--response-compression on|off]
                        [--model-control none|explicit|poll] [--load-model NAME]...
                        [--repository-poll-secs N] [--admin-token T | --admin-token-file PATH]
                        [--cors-origin ORIGIN|*]... [--rate-limit N [--rate-limit-window-ms MS]]
       onnx-serve compress IN.onnx --out OUT.onnx --method int8-dynamic|int8-static|fp16|prune
                        [--per-tensor] [--calibration DATA.json] [--calibration-rows N]
                        [--calibrate minmax|percentile] [--percentile 99.99]
                        [--sparsity 0.5] [--structured] [--eval DATA.json] [--report PATH]
                        [--force] [--quiet]
       onnx-serve inspect MODEL.onnx [--json]
environment: ONNX_SERVE_MODELS, HOST, PORT, LOG_LEVEL, ONNX_SERVE_ADMIN_TOKEN, ONNX_SERVE_BODY_LIMIT,
             ONNX_SERVE_DRAIN_TIMEOUT_MS, ONNX_SERVE_INSTANCES, ONNX_SERVE_INTRA_OP_THREADS,
             ONNX_SERVE_MEMORY_BUDGET, ONNX_SERVE_RESPONSE_COMPRESSION, ONNX_SERVE_MODEL_CONTROL,
             ONNX_SERVE_REPOSITORY_POLL_SECS, ONNX_SERVE_ADMIN_TOKEN_FILE, ONNX_SERVE_GRPC_PORT,
             ONNX_SERVE_CORS_ORIGIN, ONNX_SERVE_RATE_LIMIT, ONNX_SERVE_RATE_LIMIT_WINDOW_MS,
             ONNX_SERVE_BACKLOG, ONNX_SERVE_REQUEST_TIMEOUT_MS, ONNX_SERVE_HEADERS_TIMEOUT_MS,
             ONNX_SERVE_KEEP_ALIVE_TIMEOUT_MS, ONNX_SERVE_MAX_BODY_BYTES_IN_FLIGHT, ONNX_SERVE_ISOLATION
data files (--calibration, --eval): {"inputs": [row, …] | {"<input>": [row, …]}, "labels"?: [class, …]};
  int8-static needs --calibration; the report (JSON) goes to --report, default OUT.report.json`;

// compress and inspect load onnxruntime and the graph tools only when asked for
async function compressCommand(args: string[]): Promise<void> {
  const { parseCompressOptions } = await import('./compress/options.js');
  const opts = parseCompressOptions(args);
  const { compress, terminalProgress } = await import('./compress/compress.js');
  const { renderTable } = await import('./compress/report.js');
  const report = await compress(opts, { warn: (line) => console.error(`warning: ${line}`), progress: terminalProgress(process.stderr, !opts.quiet) });
  if (!opts.quiet) console.log(`${renderTable(report)}\nreport: ${opts.report}`);
}

async function inspectCommand(args: string[]): Promise<void> {
  const { parseInspectOptions } = await import('./compress/options.js');
  const opts = parseInspectOptions(args);
  const { inspectModel } = await import('./compress/inspect.js');
  console.log(await inspectModel(opts.model, { json: opts.json }));
}

/** compress and inspect: every failure is one `onnx-serve: …` line, 2 for a bad option, 1 for the rest. */
async function runTool(command: 'compress' | 'inspect', args: string[]): Promise<void> {
  try {
    await (command === 'compress' ? compressCommand(args) : inspectCommand(args));
  } catch (err) {
    const message = (err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    console.error(`onnx-serve: ${message}`);
    process.exit(err instanceof OptionError ? 2 : 1);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (command === 'compress' || command === 'inspect') {
    if (rest.includes('--help') || rest.includes('-h')) console.log(USAGE);
    else await runTool(command, rest);
    return;
  }
  if (command !== 'serve') {
    console.error(`onnx-serve: unknown command "${command}"; allowed: serve, compress, inspect\n${USAGE}`);
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
  const lines = repo.all().flatMap((mv) => [
    `  ${mv.name} v${mv.version}  ${mv.state}  instances ${mv.sizing.instances} × threads ${mv.sizing.intraOpThreads}${mv.sizing.auto ? ' (auto)' : ''}${mv.reason ? `  (${mv.reason})` : ''}`,
    ...[...mv.variants.values()].map((v) => `    variant ${v.variant}  ${v.state}${v.compression?.method ? `  ${v.compression.method}` : ''}${v.reason ? `  (${v.reason})` : ''}`),
  ]);
  for (const b of repo.broken) lines.push(`  ${b.name}  UNAVAILABLE  (${b.reason})`);
  console.log(
    [
      `onnx-serve listening on ${served.url}`,
      ...(served.grpcPort !== undefined ? [`gRPC (KServe v2, inference.GRPCInferenceService) on ${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${served.grpcPort}`] : []),
      `models from ${repo.root}:`,
      ...(lines.length ? lines : [opts.modelControl === 'explicit' ? '  (none loaded: POST /v2/repository/models/<name>/load, see POST /v2/repository/index)' : '  (none found)']),
      ...(opts.modelControl === 'none' ? [] : [`model control: ${opts.modelControl}${opts.modelControl === 'poll' ? ` (every ${opts.repositoryPollSecs} s)` : ''}; admin routes ${opts.adminToken ? 'on' : 'off (no admin token)'}`]),
      `try:    curl -s ${served.url}/v1/models`,
      `docs:   ${served.url}/docs`,
    ].join('\n'),
  );
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`onnx-serve: ${err.message}`);
  process.exit(1);
});
