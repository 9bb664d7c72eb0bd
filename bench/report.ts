// Renders a run's results as BENCHMARKS.md: settings and machine, a table per model, the
// in-process ceilings, the cores split, the targets with pass/fail, the per-request overhead
// and notes on noise. Pure: results in, markdown out.
import type { Measurement } from './measure.js';
import type { Plots } from './plots.js';
import { poisonReport } from './poison.js';
import { faultsTable, GOOD_MS, type FaultsResult } from './faults-report.js';
import { CURVE_FRACTIONS, type CurvePoint } from './open-loop.js';
import { goodput, rejectedShare, type LaneResult, type RunSide, type TimingSummary } from './overload.js';
import {
  curveMedians,
  BUSY_CORES,
  ceilingFor,
  curveRatios,
  find,
  findV2,
  formRates,
  formSpeedup,
  HIGH_SHARE,
  OVERLOAD_MULTIPLES,
  MODE_ADAPTIVE,
  MODE_STATIC_0,
  MODE_STATIC_2,
  pairedRatio,
  rowsOf,
  type CompressionEntry,
  MODE_BARE,
  MODE_NAIVE,
  bestSplitCeiling,
  MODE_OFF,
  MODE_ON,
  MODE_V1,
  MODE_GRPC,
  MODE_GRPC_H2LOAD,
  MODE_V2_BIN_H2LOAD,
  MODE_V2_BIN,
  MODE_V2_JSON,
  MODE_PROCESS,
  MODE_THREAD,
  medianRow,
  targets,
  topConcurrency,
  verdict,
  type Results,
} from './results.js';

const f = (n: number | undefined, d = 1): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
const pct = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : `${(n * 100).toFixed(Math.abs(n) < 0.1 ? 1 : 0)} %`);
/** Other processes' CPU during a row, bold when it makes the row suspect. */
const other = (cores: number | undefined): string => (cores === undefined ? '–' : cores >= BUSY_CORES ? `**${pct(cores)}**` : pct(cores));

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Share of one core a thread group used over the window, e.g. "97 %". */
function coreShare(m: Measurement, which: 'serverMain' | 'serverOther' | 'client'): string {
  const cpu = which === 'client' ? m.clientCpu : m.serverCpu;
  if (!cpu || cpu.wallS <= 0) return '–';
  const s = which === 'serverOther' ? cpu.otherS : which === 'serverMain' ? cpu.mainS : cpu.mainS + cpu.otherS;
  return pct(s / cpu.wallS);
}

function modelTable(r: Results, model: string): string {
  return measurementTable(r, r.measurements.filter((m) => m.model === model));
}

function measurementTable(r: Results, ms: Measurement[], first: 'mode' | 'model and protocol' = 'mode'): string {
  const rows = ms
    .map((m) => {
      const ceil = ceilingFor(r, m);
      return [
        (first === 'mode' ? m.mode : `${m.model}, ${m.mode}`) + (m.round === undefined ? '' : ` (round ${m.round + 1})`),
        String(m.load.concurrency),
        f(m.load.reqPerS, 1),
        f(m.load.reqPerS, 1), // one row per request
        f(m.load.latency.p50, 2),
        f(m.load.latency.p99, 2),
        m.batch ? f(m.batch.mean, 2) : '–',
        m.batch ? `${m.batch.dominant} (${pct(m.batch.dominantShare)})` : '–',
        f(m.load.queueMs, 2),
        f(m.load.computeMs, 2),
        ceil ? pct(m.load.reqPerS / ceil.result.rowsPerS) : '–',
        m.workerBusyShare === undefined ? '–' : pct(m.workerBusyShare),
        coreShare(m, 'serverMain'),
        coreShare(m, 'serverOther'),
        coreShare(m, 'client'),
        other(m.otherCores),
        String(m.load.errors),
      ];
    });
  return table(
    [first, 'c', 'req/s', 'rows/s', 'p50 ms', 'p99 ms', 'mean batch', 'dominant batch (rows share)', 'queue ms', 'compute ms', '% of ceiling', 'workers busy', 'server main thread', 'server other threads', 'client (bench)', 'other processes', 'errors'],
    rows,
  );
}

const kb = (n: number | undefined): string => (n === undefined ? '–' : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/** Section v2: the three protocols side by side per model and concurrency, then the detail rows. */
function v2Section(r: Results): string {
  const keys = [...new Set(r.v2.map((m) => `${m.model}|${m.load.concurrency}`))];
  const rows = keys.map((k) => {
    const [model, cs] = k.split('|') as [string, string];
    const c = Number(cs);
    const v1 = findV2(r, model, MODE_V1, c);
    const json = findV2(r, model, MODE_V2_JSON, c);
    const bin = findV2(r, model, MODE_V2_BIN, c);
    const cells = (m: Measurement | undefined): string[] => (m ? [f(m.load.reqPerS, 1), f(m.load.latency.p50, 2), f(m.load.latency.p99, 2)] : ['–', '–', '–']);
    const ratio = (a: string, b: string): string => {
      const p = pairedRatio(rowsOf(r.v2, model, a, c), rowsOf(r.v2, model, b, c));
      return p ? `**${f(p.ratio, 2)}**${p.perRound.length > 1 ? ` (${p.perRound.map((x) => f(x, 2)).join(', ')})` : ''}` : '–';
    };
    return [model, cs, ...cells(v1), ...cells(json), ...cells(bin), ratio(MODE_V2_BIN, MODE_V2_JSON), ratio(MODE_V2_JSON, MODE_V1)];
  });
  const side = table(
    ['model', 'c', '/v1 JSON req/s', 'p50 ms', 'p99 ms', 'v2 JSON req/s', 'p50 ms', 'p99 ms', 'v2 binary req/s', 'p50 ms', 'p99 ms', 'v2 binary / v2 JSON', 'v2 JSON / v1 JSON'],
    rows,
  );
  const sizes = Object.entries(r.v2BodySizes)
    .map(([model, z]) => `${model}: /v1 JSON ${kb(z.v1)}, v2 JSON ${kb(z.v2json)}, v2 binary ${kb(z.v2binary)}`)
    .join('; ');
  return [
    'One onnx-serve server with the default config (batching on) serving both models; one image (one row) per request. *tiny-cnn* is generated at run time: input `[batch, 3, 224, 224]` float32 → Conv 3→8 (3×3, stride 2) + Relu → Conv 8→16 (3×3, stride 2) + Relu → GlobalAveragePool → Flatten → Gemm 16→10, opset 17, seeded weights. ' +
      'Each protocol sends the same pre-built inputs (4 random images for tiny-cnn, 8 rows for seed-mlp, values with 6 decimals): `/v1/predict` with `{"dims", "data"}` (nested arrays for seed-mlp), `POST /v2/models/{m}/infer` with JSON `data`, and the same route with the binary tensor extension (`Inference-Header-Content-Length`, raw little-endian float32 in, `binary_data_output: true` so the output comes back as raw bytes too). ' +
      `The protocols are measured one after the other at each concurrency, in ${r.settings.rounds} interleaved rounds at c=${topConcurrency(r)} (the side-by-side table shows the median row of each protocol, and the ratio is the median of the per-round ratios, listed in brackets); seed-mlp only at c=${topConcurrency(r)}. Body sizes: ${sizes}.`,
    '',
    side,
    '',
    'Detail (same rows):',
    '',
    measurementTable(r, r.v2, 'model and protocol'),
  ].join('\n');
}

/** Section grpc: gRPC ModelInfer (raw contents) and HTTP v2 binary side by side, per client, then the detail rows. */
function grpcSection(r: Results): string {
  const rows = r.grpc ?? [];
  const keys = [...new Set(rows.map((m) => `${m.model}|${m.load.concurrency}`))];
  const pairs: [string, string, string][] = [
    ['undici / grpc-js', MODE_V2_BIN, MODE_GRPC],
    ['h2load', MODE_V2_BIN_H2LOAD, MODE_GRPC_H2LOAD],
  ];
  const h2load = rows.some((m) => m.mode === MODE_GRPC_H2LOAD);
  const side = table(
    ['model', 'c', 'client', 'v2 binary req/s', 'p50 ms', 'p99 ms', 'gRPC req/s', 'p50 ms', 'p99 ms', 'gRPC / v2 binary', 'server CPU µs per call, v2 binary / gRPC'],
    keys.flatMap((k) => {
      const [model, cs] = k.split('|') as [string, string];
      const c = Number(cs);
      return pairs
        .filter(([, http]) => rowsOf(rows, model, http, c).length > 0)
        .map(([client, http, grpc]) => {
          const cells = (mode: string): string[] => {
            const m = medianRow(rowsOf(rows, model, mode, c));
            return m ? [f(m.load.reqPerS, 1), f(m.load.latency.p50, 2), f(m.load.latency.p99, 2)] : ['–', '–', '–'];
          };
          const p = pairedRatio(rowsOf(rows, model, grpc, c), rowsOf(rows, model, http, c));
          const cpu = (mode: string): string => {
            const m = medianRow(rowsOf(rows, model, mode, c));
            return m?.serverCpu && m.load.requests > 0 ? f(((m.serverCpu.mainS + m.serverCpu.otherS) / (m.load.reqPerS * m.serverCpu.wallS)) * 1e6, 0) : '–';
          };
          return [model, cs, client, ...cells(http), ...cells(grpc), p ? `**${f(p.ratio, 2)}**${p.perRound.length > 1 ? ` (${p.perRound.map((x) => f(x, 2)).join(', ')})` : ''}` : '–', `${cpu(http)} / ${cpu(grpc)}`];
        });
    }),
  );
  return [
    'One onnx-serve server (default config, `--grpc-port 0`) serving tiny-cnn and seed-mlp (as in the v2 section), the same pre-built inputs through `POST /v2/models/{m}/infer` with the binary tensor extension (raw float32 in and out, one connection per client, one request at a time on it) and through gRPC `ModelInfer` with `raw_input_contents` (answers in `raw_output_contents`, one HTTP/2 connection per 16 concurrent calls). ' +
      `The two are measured one after the other at each concurrency, in ${r.settings.rounds} interleaved rounds at c=${topConcurrency(r)} (median rows; the ratio is the median of the per-round ratios, in brackets). ` +
      'Each pair is measured twice. First with Node clients, undici for HTTP and @grpc/grpc-js for gRPC, which check the answers. On this shared 2-core machine the client takes CPU from the server, and grpc-js takes several times what undici does per call (the client column below). ' +
      (h2load
        ? 'Then with h2load (nghttp2\'s C load generator; `--h1` for HTTP), one cheap client for both protocols: the target reads this pair. h2load reads HTTP statuses only, so a gRPC failure (a 200 with an error status in its trailers) is counted from the server\'s `onnx_serve_requests_total`, and these rows have no batch size or Server-Timing as seen by the client. '
        : 'h2load (Debian: nghttp2-client) was not installed, so there is no same-client pair and the target reads the Node clients\' rows. ') +
      'Server CPU per call is the whole server process (all threads) over the window, divided by the answers.',
    '',
    side,
    '',
    'Detail (same rows):',
    '',
    measurementTable(r, rows, 'model and protocol'),
  ].join('\n');
}

function ceilingTable(r: Results): string {
  const rows = r.ceilings.map((e) => {
    const users = r.measurements.filter((m) => ceilingFor(r, m) === e).map((m) => `${m.mode} c=${m.load.concurrency}: ${pct(m.load.reqPerS / e.result.rowsPerS)}`);
    return [e.model, String(e.result.batch), `${e.result.instances} × ${e.result.intraOpThreads}`, f(e.result.rowsPerS, 0), f(e.result.runMeanMs, 2), f(e.result.runP50Ms, 2), other(e.result.otherCores), users.join('; ') || '–'];
  });
  return table(['model', 'batch', 'workers × intra-op threads', 'ceiling rows/s', 'run mean ms', 'run p50 ms', 'other processes', 'server at this batch (% of ceiling)'], rows);
}

function splitTables(r: Results): string {
  const s = r.split;
  const base = s.inproc.find((c) => c.instances === 1 && c.intraOpThreads === 1)?.rowsPerS;
  const inproc = table(
    ['workers × intra-op threads', 'rows/s', 'ratio to 1 × 1', 'run mean ms', 'other processes'],
    s.inproc.map((c) => [`${c.instances} × ${c.intraOpThreads}`, f(c.rowsPerS, 0), base ? f(c.rowsPerS / base, 2) : '–', f(c.runMeanMs, 1), other(c.otherCores)]),
  );
  const sbase = s.server.find((m) => m.info?.instances === 1 && m.info.intraOpThreads === 1)?.load.reqPerS;
  const server = table(
    ['server instances × intra-op threads', 'c', 'req/s (= rows/s)', 'ratio to 1 × 1', 'p50 ms', 'p99 ms', 'mean batch', 'compute ms', 'server main thread', 'server other threads', 'client (bench)', 'other processes'],
    s.server.map((m) => [
      m.mode,
      String(m.load.concurrency),
      f(m.load.reqPerS, 1),
      sbase ? f(m.load.reqPerS / sbase, 2) : '–',
      f(m.load.latency.p50, 1),
      f(m.load.latency.p99, 1),
      m.batch ? f(m.batch.mean, 2) : '–',
      f(m.load.computeMs, 1),
      coreShare(m, 'serverMain'),
      coreShare(m, 'serverOther'),
      coreShare(m, 'client'),
      other(m.otherCores),
    ]),
  );
  const best = bestSplitCeiling(r);
  const auto = s.auto?.length
    ? `\n\nThe default config (no config.json: auto-sized${s.autoSizing ? ` to **${s.autoSizing.instances} × ${s.autoSizing.intraOpThreads}**: ${s.autoSizing.reason}` : ''}), /v1 JSON and v2 binary tensors in interleaved rounds; % of the better two-core ceiling (${best ? `${best.instances} × ${best.intraOpThreads}, ${f(best.rowsPerS, 0)} rows/s` : 'not measured'}):\n\n` +
      table(
        ['protocol', 'c', 'req/s (= rows/s)', '% of best ceiling', 'p50 ms', 'p99 ms', 'mean batch', 'server main thread', 'server other threads', 'client (bench)', 'other processes', 'errors'],
        s.auto.map((m) => [
          m.mode + (m.round === undefined ? '' : ` (round ${m.round + 1})`),
          String(m.load.concurrency),
          f(m.load.reqPerS, 1),
          best ? pct(m.load.reqPerS / best.rowsPerS) : '–',
          f(m.load.latency.p50, 1),
          f(m.load.latency.p99, 1),
          m.batch ? f(m.batch.mean, 2) : '–',
          coreShare(m, 'serverMain'),
          coreShare(m, 'serverOther'),
          coreShare(m, 'client'),
          other(m.otherCores),
          String(m.load.errors),
        ]),
      )
    : '';
  return `In process (no HTTP), heavy-mlp at batch ${s.batch}:\n\n${inproc}\n\nThrough the server, heavy-mlp, batching on:\n\n${server}${auto}`;
}

/** Section padding: the same model padded and not, the rounds, and the correctness pass. */
function paddingSection(r: Results): string {
  const p = r.padding!;
  const rows = p.measurements.map((m) => [
    `${m.mode} (round ${(m.round ?? 0) + 1})`,
    String(m.load.concurrency),
    f(m.load.reqPerS, 1),
    f(m.load.latency.p50, 2),
    f(m.load.latency.p99, 2),
    m.batch ? f(m.batch.mean, 2) : '–',
    m.batch ? `${m.batch.dominant} (${pct(m.batch.dominantShare)})` : '–',
    f(m.load.computeMs, 2),
    coreShare(m, 'serverMain'),
    coreShare(m, 'serverOther'),
    other(m.otherCores),
    String(m.load.errors),
  ]);
  const k = p.check;
  return [
    `A BERT-style model generated in the bench (\`bertStyleModel\` in tools/onnx-builder.ts: input_ids and attention_mask [batch, seq] int64 → embedding 1000 × 64 → two per-token dense layers 64→128→64 → masked mean pooling → a head 64→2048→2048 → logits [batch, 2], and token_scores [batch, seq] that the server cuts back per request; a lone request's run is weight-bound, as a transformer's is), served twice by one server: with \`"padding": {"input_ids": 0, "attention_mask": 0}\` and without. ${p.lengths.bodies} bodies with lengths uniform in ${p.lengths.min}..${p.lengths.max} (seeded), closed loop, rows interleaved in rounds.`,
    '',
    table(['model', 'c', 'req/s', 'p50 ms', 'p99 ms', 'mean batch', 'dominant batch (rows share)', 'compute ms', 'server main thread', 'server other threads', 'other processes', 'errors'], rows),
    '',
    k
      ? `Correctness: every body sent at once to the padded model, ${k.answers} answers in all (mean batch ${f(k.batchMean, 2)}), each compared with the same row run alone in the bench process (onnxruntime-node, no padding): max abs difference **${k.maxAbsDiff.toExponential(2)}** (tolerance ${k.tolerance}), **${k.wrong} wrong**${k.samples.length ? `: ${k.samples.join('; ')}` : ''}.`
      : 'Correctness pass not run.',
  ].join('\n');
}

const mibText = (n: number | undefined): string => (n === undefined ? '–' : `${(n / 2 ** 20).toFixed(0)} MiB`);

/** Section memory: RSS and throughput of the large MLP with the default config and with 2 instances. */
function memorySection(r: Results): string {
  const m = r.memory!;
  return [
    `A generated MLP of ${mibText(m[0]?.modelBytes)} of float32 weights, served one configuration at a time; VmRSS of the server process after load and a few warm requests (several at once, so every instance has run), and again after the closed loop.`,
    '',
    table(
      ['config', 'instances × threads', 'RSS after warm-up', 'RSS after load', 'req/s', 'c', 'p99 ms', 'mean batch', 'sizing reason'],
      m.map((e) => [
        e.mode,
        e.sizing ? `${e.sizing.instances} × ${e.sizing.intraOpThreads}${e.sizing.auto ? ' (auto)' : ''}` : '–',
        mibText(e.rssBytes),
        mibText(e.rssAfterLoadBytes),
        f(e.load?.load.reqPerS, 1),
        e.load ? String(e.load.load.concurrency) : '–',
        f(e.load?.load.latency.p99, 1),
        e.load?.batch ? f(e.load.batch.mean, 2) : '–',
        e.sizing?.reason ?? '–',
      ]),
    ),
  ].join('\n');
}

/** Section cpu: main-thread CPU per request from the runs, and the /v1 codec before and after in process. */
function cpuSection(r: Results): string {
  const c = topConcurrency(r);
  const out: string[] = [];
  const served = ['seed-mlp', 'heavy-mlp'].map((model) => find(r, model, MODE_ON, c)).filter((m): m is Measurement => !!m?.serverCpu && m.load.requests > 0);
  if (served.length) {
    out.push(
      `Server main-thread CPU per request, batching on, c=${c} (median row of sections seed and heavy; serverCpu.mainS / requests in the window):`,
      '',
      table(
        ['model', 'req/s', 'main thread µs per request', 'main thread busy', 'other threads µs per request'],
        served.map((m) => [m.model, f(m.load.reqPerS, 1), f((m.serverCpu!.mainS / m.load.requests) * 1e6, 0), coreShare(m, 'serverMain'), f((m.serverCpu!.otherS / m.load.requests) * 1e6, 0)]),
      ),
      '',
    );
  }
  if (r.codec?.length) {
    out.push(
      'The /v1 codec alone, in process, per request (one row), on the same bodies and outputs. Before: `JSON.parse`, flatten the nested arrays, `Float32Array.from`; `JSON.stringify` of the output as plain numbers (17-digit doubles). After: `JSON.parse` then `decodeInputs` (src/signature.ts, src/tensors/decode.ts); the answer written with `toJsonText` (src/tensors/encode.ts, float32-text.ts), as the /v1 route does. Medians of 3 interleaved rounds.',
      '',
      table(
        ['model', 'in / out width', 'decode before µs', 'decode after µs', 'after / before', 'encode before µs', 'encode after µs', 'after / before', 'answer bytes before / after'],
        r.codec.map((e) => [e.model, `${e.inWidth} / ${e.outWidth}`, f(e.decodeBefore, 1), f(e.decodeAfter, 1), f(e.decodeAfter / e.decodeBefore, 2), f(e.encodeBefore, 1), f(e.encodeAfter, 1), f(e.encodeAfter / e.encodeBefore, 2), `${e.answerBytesBefore} / ${e.answerBytesAfter}`]),
      ),
    );
  }
  return out.join('\n');
}

function overhead(r: Results): string {
  const lines: string[] = [];
  const bare1 = find(r, 'seed-mlp', MODE_BARE, 1);
  for (const mode of [MODE_ON, MODE_OFF]) {
    const m = find(r, 'seed-mlp', mode, 1);
    if (!m) continue;
    const l = m.load;
    const cpuPerReq = m.serverCpu ? ((m.serverCpu.mainS + m.serverCpu.otherS) / l.requests) * 1000 : undefined;
    const mainPerReq = m.serverCpu ? (m.serverCpu.mainS / l.requests) * 1000 : undefined;
    const serverSide = m.serverSideMs !== undefined ? `${f(m.serverSideMs - l.computeMs, 3)} ms (server-side ${f(m.serverSideMs, 3)} ms from /metrics)` : `not exposed by the server; queue alone (Server-Timing) is ${f(l.queueMs, 3)} ms`;
    const residual = bare1 ? l.latency.mean - bare1.load.latency.mean - l.queueMs - l.computeMs : undefined;
    lines.push(
      `- **${mode}, c=1** — client mean ${f(l.latency.mean, 3)} ms (p50 ${f(l.latency.p50, 3)}), compute ${f(l.computeMs, 3)} ms, queue ${f(l.queueMs, 3)} ms.`,
      `  - client-observed latency − compute: **${f(l.latency.mean - l.computeMs, 3)} ms**`,
      `  - server-side latency − compute: ${serverSide}`,
      bare1
        ? `  - bare Fastify round trip at c=1 (same body, JSON parse only): ${f(bare1.load.latency.mean, 3)} ms; what onnx-serve adds beyond that, queue and compute (schema check, decode to Float32Array, pack, postMessage to the worker and back, toNested, encode): **${f(residual, 3)} ms**`
        : '  - bare Fastify not measured',
      `  - server CPU per request: ${f(cpuPerReq, 3)} ms (main thread ${f(mainPerReq, 3)} ms)`,
    );
  }
  const c = topConcurrency(r);
  for (const mode of [MODE_ON, MODE_OFF, MODE_BARE]) {
    const m = find(r, 'seed-mlp', mode, c);
    if (!m) continue;
    const per = 1000 / m.load.reqPerS;
    const mainPerReq = m.serverCpu ? (m.serverCpu.mainS / m.load.requests) * 1000 : undefined;
    const otherPerReq = m.serverCpu ? (m.serverCpu.otherS / m.load.requests) * 1000 : undefined;
    lines.push(
      `- **${mode}, c=${c}** — 1/throughput = **${f(per, 3)} ms per request**; server main thread ${f(mainPerReq, 3)} ms CPU per request (busy ${coreShare(m, 'serverMain')} of a core), other threads ${f(otherPerReq, 3)} ms (${coreShare(m, 'serverOther')}); the bench client used ${coreShare(m, 'client')} of a core.`,
    );
  }
  const on = find(r, 'seed-mlp', MODE_ON, c);
  const off = find(r, 'seed-mlp', MODE_OFF, c);
  const bare = find(r, 'seed-mlp', MODE_BARE, c);
  const mainPer = (m: typeof on): number | undefined => (m?.serverCpu && m.load.requests ? (m.serverCpu.mainS / m.load.requests) * 1000 : undefined);
  if (on && bare) {
    lines.push(
      '',
      `At c=${c} the server is saturated, so 1/throughput is the cost of a request on the busiest resource. The bare Fastify app's main thread spends ${f(mainPer(bare), 3)} ms per request on HTTP and JSON parsing; onnx-serve's spends ${f(mainPer(on), 3)} ms with batching on${off ? ` and ${f(mainPer(off), 3)} ms with batching off` : ''}. ` +
        `The difference to bare Fastify is onnx-serve's own per-request work on the main thread (schema validation, decoding nested arrays to Float32Array, scheduling, slicing and encoding the answer)` +
        (off ? `; the difference between off and on is the per-execution cost (pack, postMessage to the worker, waking it, the result message back), which batching pays once per batch instead of once per request.` : '.'),
    );
  }
  return lines.join('\n');
}

/** Heavy model at the top concurrency: CPU per request on each side against compute per row. */
function cpuBudget(r: Results): string | undefined {
  const c = topConcurrency(r);
  const m = find(r, 'heavy-mlp', MODE_ON, c);
  const ceil = m && ceilingFor(r, m);
  if (!m || !ceil || !m.serverCpu || !m.clientCpu || m.load.requests === 0) return undefined;
  const n = m.load.requests;
  const main = (m.serverCpu.mainS / n) * 1000;
  const others = (m.serverCpu.otherS / n) * 1000;
  const client = ((m.clientCpu.mainS + m.clientCpu.otherS) / n) * 1000;
  const computeCores = ceil.result.instances * ceil.result.intraOpThreads;
  const perRow = (computeCores / ceil.result.rowsPerS) * 1000;
  const bestRows = (r.cores * 1000) / (perRow + main + client);
  const best = bestRows / ceil.result.rowsPerS;
  return [
    `heavy-mlp, batching on, c=${c}, per request (= per row), in CPU time:`,
    '',
    `- server main thread (HTTP, JSON parse, decode, batching, encode): **${f(main, 3)} ms**`,
    `- server other threads (inference workers, onnxruntime, GC): ${f(others, 3)} ms`,
    `- bench client (load generator): ${f(client, 3)} ms`,
    `- compute alone in the ceiling (${ceil.result.instances} × ${ceil.result.intraOpThreads}, batch ${ceil.result.batch}): ${f(perRow, 3)} ms of core time per row`,
    '',
    `Everything shares ${r.cores} cores, so even with perfect scheduling the server could reach at most ${r.cores} / (${f(perRow, 3)} + ${f(main, 3)} + ${f(client, 3)}) ms ≈ ${f(bestRows, 0)} rows/s = **${pct(best)} of the ceiling** here; it reached ${pct(m.load.reqPerS / ceil.result.rowsPerS)}. ${
      best < 0.7
        ? `The 70 % target is out of reach on this machine while the main thread spends ${f(main / perRow, 1)} × a row's compute on each request: it needs a cheaper request path (or cores beyond workers + main thread + client), not a faster model.`
        : 'The CPU budget allows the target; the gap is scheduling and waiting (thread hops, queue delay), not CPU.'
    }`,
  ].join('\n');
}

/** Section compress: one row per form of the heavy MLP, in process and through the server. */
function compressionSection(r: Results): string {
  const base = r.compression.find((e) => e.form === 'fp32');
  const c = topConcurrency(r);
  const serverRows = (e: CompressionEntry): Measurement[] => r.compressionServer.filter((m) => m.model === e.model);
  const rows = r.compression.map((e) => {
    const b1 = formRates(e, 1);
    const b32 = formRates(e, 32);
    const sp1 = formSpeedup(r, e.form, 1);
    const sp32 = formSpeedup(r, e.form, 32);
    const srv = serverRows(e);
    const mid = [...srv].sort((a, b) => a.load.reqPerS - b.load.reqPerS)[(srv.length - 1) >> 1];
    const srvRatio = base && e !== base ? pairedRatio(srv, serverRows(base)) : undefined;
    const list = (p: { ratio: number; perRound: number[] } | undefined): string =>
      p ? `**${f(p.ratio, 2)}**${p.perRound.length > 1 ? ` (${p.perRound.map((x) => f(x, 2)).join(', ')})` : ''}` : '–';
    return [
      e.form,
      `${f(e.bytes / 2 ** 20, 1)} MiB`,
      base ? pct(e.bytes / base.bytes) : '–',
      e.agreement ? pct(e.agreement.top1) : '–',
      e.agreement ? `${e.agreement.maxAbsError.toPrecision(3)} (${pct(e.agreement.relMaxError)})` : '–',
      b1 ? f(b1.median, 0) : '–',
      e === base ? '1' : list(sp1),
      b32 ? f(b32.median, 0) : '–',
      e === base ? '1' : list(sp32),
      mid ? f(mid.load.reqPerS, 1) : '–',
      mid ? `${f(mid.load.latency.p50, 1)} / ${f(mid.load.latency.p99, 1)}` : '–',
      e === base ? '1' : srvRatio ? list(srvRatio) : '–',
      String(e.warnings.length),
    ];
  });
  const warnings = r.compression.flatMap((e) => e.warnings.slice(0, 5).map((w) => `- ${e.form}: ${w}`));
  return [
    `The generated heavy MLP (${r.settings.heavySizes.join('→')}, seeded uniform weights) compressed by the same code \`onnx-serve compress\` runs: int8-dynamic (per-channel int8 weights, activations quantized at run time), int8-static (QDQ, activation ranges calibrated with min-max on 64 random rows), and structured pruning of half the hidden units (no fine-tuning). ` +
      `Agreement is measured against fp32 on 512 other random rows. In process: onnxruntime in a worker thread of the bench, 1 worker × 1 intra-op thread (the server's default here), batch 1 once and batch 32 in ${r.settings.rounds} rounds with the forms alternating; the speed-up is the median of the per-round ratios. ` +
      `Through the server: one onnx-serve serving every form as its own model (default config, batching on), closed loop at c=${c}, ${r.settings.rounds} rounds alternating.`,
    '',
    table(
      ['form', 'file', 'size vs fp32', 'top-1 agreement', 'max abs error (of range)', 'batch 1 rows/s', 'speed-up', 'batch 32 rows/s', 'speed-up', `server req/s c=${c}`, 'p50 / p99 ms', 'server vs fp32', 'warnings'],
      rows,
    ),
    ...(warnings.length ? ['', 'Warnings (first 5 per form):', '', ...warnings] : []),
  ].join('\n');
}

/** onnx-serve against the naive hand-written server, per model and concurrency. */
function naiveSection(r: Results): string {
  const keys = [...new Set(r.measurements.filter((m) => m.mode === MODE_NAIVE).map((m) => `${m.model}|${m.load.concurrency}`))];
  const rows = keys.map((k) => {
    const [model, cs] = k.split('|') as [string, string];
    const c = Number(cs);
    const on = find(r, model, MODE_ON, c);
    const nv = find(r, model, MODE_NAIVE, c);
    const p = pairedRatio(rowsOf(r.measurements, model, MODE_ON, c), rowsOf(r.measurements, model, MODE_NAIVE, c));
    const ratio = p ? `**${f(p.ratio, 2)}**${p.perRound.length > 1 ? ` (${p.perRound.map((x) => f(x, 2)).join(', ')})` : ''}` : '–';
    return [model, cs, f(on?.load.reqPerS, 1), f(on?.load.latency.p50, 1), f(on?.load.latency.p99, 1), f(nv?.load.reqPerS, 1), f(nv?.load.latency.p50, 1), f(nv?.load.latency.p99, 1), ratio];
  });
  return [
    'The naive server (`bench/naive-server.ts`) is what a Node developer writes by hand: one Fastify route that parses the same JSON body, one `InferenceSession` with onnxruntime\'s default options on the main thread, `session.run` per request (no batching, no worker threads, no queue limit). onnx-serve runs its default config (batching on). Same bodies, same closed-loop client, rows interleaved with the other servers of the model.',
    '',
    table(['model', 'c', 'onnx-serve req/s', 'p50 ms', 'p99 ms', 'naive req/s', 'p50 ms', 'p99 ms', 'onnx-serve / naive'], rows),
  ].join('\n');
}

/** Where the open-loop sections' capacity came from, in one sentence. */
function capacityText(r: Results): string {
  return r.capacity ? `**${f(r.capacity.reqPerS, 1)} req/s**, ${r.capacity.from}` : 'not measured';
}

/** Open loop: latency percentiles at each offered rate, per batching policy. */
function curveSection(r: Results, plots: Plots): string {
  const modes = [MODE_ADAPTIVE, MODE_STATIC_0, MODE_STATIC_2];
  const medians = curveMedians(r.curve);
  const at = (mode: string, rate: number): CurvePoint | undefined => medians.find((p) => p.mode === mode && p.rate === rate);
  const ratios = new Map(curveRatios(r).map((x) => [x.rate, x.ratio]));
  const roundsOf = (mode: string, rate: number): string =>
    r.curve
      .filter((p) => p.mode === mode && p.rate === rate)
      .sort((a, b) => a.round - b.round)
      .map((p) => f(p.p99, 1))
      .join(', ');
  const cap = r.capacity?.reqPerS;
  const side = [...new Set(r.curve.map((p) => p.rate))]
    .sort((a, b) => a - b)
    .map((rate) => {
      const cells = modes.flatMap((m) => {
        const p = at(m, rate);
        return p ? [`${f(p.p50, 1)} / ${f(p.p99, 1)}`, f(p.meanBatch, 1)] : ['–', '–'];
      });
      const errs = modes.map((m) => pct(at(m, rate)?.errorRate)).join(' / ');
      const s0 = at(MODE_STATIC_0, rate);
      const s2 = at(MODE_STATIC_2, rate);
      return [`${rate}${cap ? ` (${pct(rate / cap)})` : ''}`, ...cells, ratios.has(rate) ? `**${f(ratios.get(rate), 2)}**` : '–', s0 && s2 ? f(s0.p99 / s2.p99, 2) : '–', errs, modes.map((m) => roundsOf(m, rate)).join(' / ')];
    });
  const rows = [...r.curve]
    .sort((a, b) => a.rate - b.rate || a.mode.localeCompare(b.mode) || a.round - b.round)
    .map((p) => [String(p.rate), p.mode, String(p.round), f(p.achieved, 1), f(p.p50, 1), f(p.p90, 1), f(p.p99, 1), f(p.p999, 1), f(p.max, 1), f(p.meanBatch, 2), pct(p.errorRate)]);
  const fr = CURVE_FRACTIONS.map((x) => `${Math.round(x * 100)}`).join(', ');
  return [
    `\`npm run load\`'s open loop (load/runner) against ${r.curve[0]?.model ?? 'heavy-mlp'} served three ways, all up at once: **${MODE_ADAPTIVE}** is the default config (no config.json: a batch waits for more rows only when the cost model says the wait pays), **${MODE_STATIC_0}** is \`{"dynamicBatching": {"maxQueueDelayMs": 0}}\` (a batch goes as soon as a worker is free, with what is queued) and **${MODE_STATIC_2}** is \`{"dynamicBatching": {"maxQueueDelayMs": 2}}\` (the earlier default: the oldest request waits up to 2 ms for company). ` +
      `Offered rates: ${fr} % of one capacity for all three, so that they see the same rates: ${capacityText(r)}. Each rate is sent to each server in turn for ${r.settings.curveStepS} s (\`BENCH_CURVE_STEP_S\`), in ${r.settings.curveRounds} passes over the rates (\`BENCH_CURVE_ROUNDS\`), the servers' order shifting by one at each rate and each pass, 1 s pause after each step; a server's figures at a rate are those of its step with the median p99; requests on a fixed schedule whatever the answers, latency from each request's due time (so queueing, in the server or in the client, counts), 5 s timeout. ` +
      `Batching off is not in the curve, to keep the bench within its time budget (3 servers × ${CURVE_FRACTIONS.length} rates × ${r.settings.curveRounds} passes take ≈ ${f((modes.length * CURVE_FRACTIONS.length * r.settings.curveRounds * (r.settings.curveStepS + 1)) / 60, 1)} min already); its closed-loop figures are in the heavy-mlp table. *errors* counts rejections (429), timeouts and dropped requests among those due; latency percentiles are over the answered ones; *batch* is rows per execution over the step (\`/v1/models\` stats). ` +
      `The target takes, at each rate, adaptive's median p99 over the lower of the two static median p99s, and reports the worst rate. At the lowest rates a p99 is the few slowest of a few hundred answers, so a single step can move it by tens of per cent on this shared machine (the *p99 per pass* column); and the lower of two noisy p99s sits below either's typical value. The *static 0 p99 / static 2 p99* column shows how far two policies drift apart at the same rate.`,
    '',
    ...(plots.latencyVsRate ? [`![p99 latency vs offered rate](${plots.latencyVsRate})`, ''] : []),
    table(['offered req/s (of capacity)', `${MODE_ADAPTIVE} p50 / p99 ms`, 'batch', `${MODE_STATIC_0} p50 / p99 ms`, 'batch', `${MODE_STATIC_2} p50 / p99 ms`, 'batch', 'adaptive p99 / best static p99', 'static 0 p99 / static 2 p99', 'errors (adaptive / static 0 / static 2)', 'p99 per pass ms (adaptive / static 0 / static 2)'], side),
    '',
    ...(r.curveCapacity.length ? [`Capacity rows (closed loop, c=${topConcurrency(r)}, one per server, before the curve):`, '', measurementTable(r, r.curveCapacity), ''] : []),
    'Detail (every step):',
    '',
    table(['offered req/s', 'server', 'pass', 'answered req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'batch', 'errors'], rows),
  ].join('\n');
}

const times = (t: TimingSummary): string => (t.count ? `${t.p50.toFixed(3)} / ${t.p99.toFixed(3)} / ${t.max.toFixed(3)} (${t.count})` : '– (none)');

function laneCells(r: Results, l: LaneResult): string[] {
  const cap = r.capacity?.reqPerS;
  return [
    String(l.rate),
    String(l.due),
    String(l.ok),
    `${f(l.latency.p50, 1)} / ${f(l.latency.p99, 1)} / ${f(l.latency.max, 1)}`,
    f(goodput(l), 1),
    cap ? pct(goodput(l) / cap) : '–',
    pct(rejectedShare(l)),
    String(l.expired),
    String(l.otherFailures),
    `${f(l.queueMs, 1)} / ${f(l.computeMs, 1)}`,
  ];
}

const LANE_HEAD = ['offered req/s', 'due', 'ok (200)', 'ok p50 / p99 / max ms', 'goodput /s', 'goodput of capacity', 'refused (429)', 'expired (504)', 'other failures', 'server queue / compute ms (ok, mean)'];

/** CPU over a run as shares of one core, and the client's event-loop delay. */
function sideCells(x: RunSide): string[] {
  const share = (cpu: number | undefined, wall: number | undefined): string => (cpu === undefined || !wall ? '–' : pct(cpu / wall));
  return [
    share(x.serverCpu?.mainS, x.serverCpu?.wallS),
    share(x.serverCpu?.otherS, x.serverCpu?.wallS),
    share(x.clientCpu && x.clientCpu.mainS + x.clientCpu.otherS, x.clientCpu?.wallS),
    `${f(x.clientLagMs.p99, 1)} / ${f(x.clientLagMs.max, 1)}`,
  ];
}

const SIDE_HEAD = ['server main thread', 'server other threads', 'client (bench)', 'client event-loop delay p99 / max ms'];

function laneText(r: Results, latencyTargetMs: number, coldShown: boolean): string {
  return `heavy-mlp served with \`{"dynamicBatching": {"latencyTargetMs": ${latencyTargetMs}}}\` (the adaptive policy; a request that gives no deadline gets ${latencyTargetMs} ms, and one that the queue ahead would make miss it is refused at once with 429 QUEUE_FULL and a Retry-After). ` +
    `Capacity (the knee): ${capacityText(r)}. The runner's open loop (load/runner/engine.ts, one Recorder per lane), constant rate for ${r.settings.overloadStepS} s per step (\`BENCH_OVERLOAD_STEP_S\`), a 2 s pause before each step; latency from each request's due time, 5 s client timeout, at most 2000 requests in flight (more due are dropped, counted under *other failures*). ` +
    (coldShown
      ? `The server's first step is a *cold* one at ${OVERLOAD_MULTIPLES[0]}× the capacity, shown but not judged (and the priority section's warm-up): a fresh server's first second or two of overload are much slower than later ones, the time going before the scheduler (its queue and compute times stay small), see the cold row. `
      : `Before it, one unrecorded step at ${OVERLOAD_MULTIPLES[0]}× the capacity: a fresh server's first second or two of overload are much slower than later ones. `) +
    `*goodput* is the 200 answers within ${latencyTargetMs} ms of their due time per second of the step. *429 server time* is the \`server-timing: total;dur\` of each refusal (Fastify's elapsed time from the request's start to its answer; the time a request spends in the socket before the server reads it is not in it), read from undici's diagnostics channel: p50 / p99 / max ms (count).`;
}

function overloadSection(r: Results): string {
  const rows = r.overload.map((e) => [`${e.multiple}×${e.cold ? ' (cold, not judged)' : ''}`, ...laneCells(r, e.lane), times(e.rejectTimes)]);
  const cpu = r.overload.map((e) => [`${e.multiple}×${e.cold ? ' (cold)' : ''}`, ...sideCells(e.side)]);
  return [
    laneText(r, r.overload[0]!.latencyTargetMs, true),
    '',
    table(['load', ...LANE_HEAD, '429 server time ms'], rows),
    '',
    `Where the CPU went over each step (shares of one core; the machine has ${r.cores}): every refused request is still read, parsed and decoded on the server's main thread before admission refuses it, beside the inference worker and the load generator on the same cores.`,
    '',
    table(['load', ...SIDE_HEAD], cpu),
  ].join('\n');
}

function prioritySection(r: Results): string {
  const p = r.priority!;
  const rows = [p.high, p.low].map((l) => [`priority ${l.priority}`, ...laneCells(r, l)]);
  return [
    r.overload.length ? `The same server, settings and columns as the overload section, after its steps (${r.settings.overloadStepS} s, 2 s pause before).` : laneText(r, p.latencyTargetMs, false),
    '',
    `Two lanes at once against the one server, ${p.multiple}× the capacity in all: **priority 1** (\`"priority": 1\` in the /v1 body, the most urgent level) with ${HIGH_SHARE * 100} % of the offered load, **priority 3** (the least urgent of the default 3 levels) with the rest. Admission counts for a request only the queued rows of its level and the more urgent ones, so the urgent lane should be answered in time while the other takes the refusals. 429 server time over both lanes: ${times(p.rejectTimes)}.`,
    '',
    table(['lane', ...LANE_HEAD], rows),
    '',
    table(['both lanes', ...SIDE_HEAD], [['', ...sideCells(p.side)]]),
  ].join('\n');
}

function faultsSection(r: Results, x: FaultsResult): string {
  const o = x.overload;
  const core = (v: number | undefined): string => pct(v);
  return [
    `The issue's probes, re-run on this code: ${x.model} (${r.settings.heavySizes.join('→')}) served with the **default config** (no config.json), every client on 127.0.0.1. *Before* is the issue's probe on the older code (the same kind of machine and model, default config, closed-loop capacity 1,622 req/s at c=64), quoted; *after* is this run. ` +
      `Capacity: this server in closed loop at c=64 (1 s warm-up, 3 s measured), ${f(x.capacity, 0)} req/s; the no-load p50 is the median of 20 single requests after it (${f(x.noLoadP50Ms, 2)} ms).`,
    '',
    `- **Overload 3×**: the runner's open loop (load/runner/engine.ts, undici, latency from each request's due time, 10 s client timeout, at most 3000 in flight) at 3× the capacity for ${r.settings.faultsS} s (\`BENCH_FAULTS_S\`). *goodput*: 200 answers within ${GOOD_MS} ms of their due time per second. Client-side rejection time: from undici's request creation to the refusal's headers (diagnostics channel), which includes the Node load generator's own delays; server side: the 429s' \`server-timing: total;dur\`. RSS from /proc/PID/status every 100 ms; *no load* is after the capacity run. Header-only probes: in the middle of the load, ${o?.headerProbes.sent ?? 10} requests 20 ms apart whose headers declare a body that is never sent: a 429 or 503 within 10 s is a refusal before the body (one let in would wait for its body until the request timeout). Recovery: from the end of the offered load, one request at a time every ${50} ms until one is answered within 2× the no-load p50 (at most 10 s).` +
      (o ? ` The load generator shares the machine's ${r.cores} cores with the server: it used ${core(o.clientCpu)} of a core (bench/procstat.ts), its event-loop delay p99 ${f(o.clientLagP99Ms, 1)} ms; the server's main thread ${core(o.serverMainCpu)}, its other threads ${core(o.serverOtherCpu)}; other processes on the machine ${o.otherCores === undefined ? '?' : other(o.otherCores)} of a core (their busy time from /proc/stat minus the server's and the bench's).` : ''),
    ...(x.h2load
      ? [
          `- **The same through h2load** (nghttp2's C client, far cheaper per request than the Node one): after the Node run and its recovery probes, 2 s pause, the same server, \`h2load --h1 -c ${x.h2load.clients} --rps ${x.h2load.rpsPerClient} -D ${x.h2load.seconds}\` with one body and \`--log-file\` (per request: start, status, µs to the end of the answer). A connection holds one request at a time, so it keeps to its ${x.h2load.rpsPerClient} req/s only while its answers take under ${1000 / x.h2load.rpsPerClient} ms; otherwise it sends late, which *sent* shows against the ${x.h2load.rate * x.h2load.seconds} due. Latency counts from the send (h2load has no due time), so this row can hide queueing that the Node row shows. h2load used ${pct(x.h2load.clientCpu)} of a core.`,
        ]
      : []),
    `- **SIGTERM at 2×**: a fresh server per row, 8 warm requests, then an open loop at 2× the capacity on raw sockets (bench/raw-http.ts: an answer, a reset and a clean close told apart) for ${x.shutdown[0]?.sendS ?? 3.5} s, SIGTERM at ${x.shutdown[0]?.signalAtS ?? 3} s (the bench's \`--drain-timeout-ms 10000\`). Pre-opened: ${x.shutdown[0]?.connections ?? 1024} kept-alive connections opened before the load, a request goes on a free one (none free: counted *not written*). New connections: one socket per request (at most 2048 open at once, 5 s connect timeout), closed after its answer. *Listen-queue overflows* is the growth of the machine's TcpExt ListenOverflows (/proc/net/netstat) over the row. A connection refused after the listener closed is not a fault. *Sent … after SIGTERM* is the send time of the reset and unanswered requests (negative: before it). A request written on a new connection that the kernel has completed but the server not yet accepted is reset when the listener closes: the drain waits for the kernel's accept queue to empty (src/http-server.ts), at most 5 s.`,
    `- **Slow clients**, on the overload's server after it, the server's default timeouts (request ${x.requestTimeoutMs} ms, headers 10000 ms; no timeout flag): a body of 31 bytes of a declared 1000, and at once 40 connections each sending 7.9 MB of a declared 8 MB body then stalling (raw sockets). *Cut* is answered and closed. Heap + external is the server's main thread's (prom-client's default metrics on its /metrics; no forced GC), read every 500 ms after the cut until it is back within 64 MiB of before, at most 10 s. An idle server may not run a major GC for a while, so bytes let go of but not yet collected count here as held (test/integration/slow-clients.test.ts forces a GC in process and checks that they are let go of).`,
    `- **Pipelining**: 100 requests written at once on one socket, \`GARBAGE\\r\\n\\r\\n\` at position 50.`,
    '',
    faultsTable(x, table),
  ].join('\n');
}

function batchSection(r: Results, plots: Plots): string {
  const models = [...new Set(r.batchCurve.map((e) => e.model))];
  const batches = [...new Set(r.batchCurve.map((e) => e.result.batch))].sort((a, b) => a - b);
  const rows = models.map((model) => {
    const at = (b: number) => r.batchCurve.find((e) => e.model === model && e.result.batch === b)?.result;
    const one = at(1)?.rowsPerS;
    return [model, ...batches.map((b) => { const c = at(b); return c ? `${f(c.rowsPerS, 0)}${one ? ` (${f(c.rowsPerS / one, 1)}×)` : ''}` : '–'; })];
  });
  const e = r.batchCurve[0]?.result;
  return [
    `onnxruntime \`session.run\` in worker threads of the bench (no HTTP), ${e ? `${e.instances} worker(s) × ${e.intraOpThreads} intra-op thread(s) (the server's default here)` : ''}, a fixed random batch, ${r.settings.ceilingS} s per point. This is what dynamic batching can buy at most: rows/s at batch b against batch 1 (in brackets).`,
    '',
    ...(plots.throughputVsBatch ? [`![throughput vs batch size](${plots.throughputVsBatch})`, ''] : []),
    table(['model', ...batches.map((b) => `batch ${b} rows/s`)], rows),
  ].join('\n');
}

/** Section isolation: thread vs process rows, and the paired ratio per model. */
function isolationSection(r: Results): string {
  const rows = r.isolation!;
  const c = topConcurrency(r);
  const lines = [
    `The default config of each model served twice, \`--isolation thread\` and \`--isolation process\`, both servers up and their rows interleaved over ${r.settings.rounds} rounds at c=${c}, /v1 JSON. Under process isolation each batch's tensors are copied to the child and its outputs back (Node IPC, V8 serialization) instead of moved between threads; the children's CPU is counted as the server's other threads.`,
    '',
  ];
  for (const model of [...new Set(rows.map((m) => m.model))]) {
    const p = pairedRatio(rowsOf(rows, model, MODE_PROCESS, c), rowsOf(rows, model, MODE_THREAD, c));
    lines.push(`- **${model}**: process / thread throughput **${p ? f(p.ratio, 2) : '–'}**${p && p.perRound.length > 1 ? ` (rounds ${p.perRound.map((x) => f(x, 2)).join(', ')})` : ''}.`);
  }
  lines.push('', measurementTable(r, rows, 'model and protocol'));
  return lines.join('\n');
}

function kneeSection(r: Results): string {
  const rows = r.knees.map((k) => {
    const steps = k.sweep.steps.map((st) => `${st.rate}: p99 ${f(st.p99Ms, 1)} ms ${st.held ? '✓' : `✗ (${st.why})`}`).join(', ');
    const at = k.sweep.steps.find((st) => st.rate === k.sweep.knee);
    return [k.model, k.sweep.knee === undefined ? 'none held' : `**${k.sweep.knee}**`, at ? `${f(at.report.latencyMs.p50, 1)} / ${f(at.p99Ms, 1)}` : '–', steps];
  });
  return [
    `\`npm run load -- --sweep --p99 ${r.settings.kneeP99Ms} --step-duration ${r.settings.kneeStepS}s --sweep-start 50\` against \`onnx-serve serve --models models\` (what \`npm start\` serves, default config, v1 JSON, one row per request): constant-rate open-loop steps, doubling until a step breaks (p99 over ${r.settings.kneeP99Ms} ms, any failed or dropped request, or answers below 90 % of the offered rate), then three bisection steps. The knee is the highest rate that held. The load generator shares the machine's ${r.cores} cores with the server.`,
    '',
    table(['model', 'knee req/s', 'p50 / p99 ms at the knee', 'steps (req/s: p99)'], rows),
  ].join('\n');
}

export function renderReport(r: Results, plots: Plots = {}): string {
  const s = r.settings;
  const out: string[] = [];
  out.push(
    '# Benchmarks',
    '',
    `Generated by \`${r.command}\` on ${r.startedAt.toISOString()}${r.finishedAt ? ` (took ${((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000).toFixed(0)} s)` : ''}. Do not edit by hand: re-run the bench.`,
    '',
    table(['', ''], Object.entries(r.machine)),
    '',
    `Settings: closed loop, ${s.warmupS} s warm-up then ${s.durationS} s measured per row (\`BENCH_WARMUP_S\`, \`BENCH_DURATION_S\`), both stretched (up to 6×) for slow rows until every virtual client has had about 2 round trips before and 10 inside the window, at most ${s.maxRequests} requests per row (\`BENCH_MAX_REQUESTS\`); concurrency ${s.concurrency.join(', ')} (\`BENCH_CONCURRENCY\`); sections ${s.only.join(', ')} (\`BENCH_ONLY\`); in-process ceilings ${s.ceilingS} s each (\`BENCH_CEILING_S\`); compared servers run side by side and their rows alternate, ${s.rounds} rounds at the top concurrency (\`BENCH_ROUNDS\`) and, for seed-mlp, at c=1 too (its p50 targets), where a target's ratio is the median of the per-round ratios and tables elsewhere use the median row; before each row the bench waits while other processes keep the machine busy, at most ${s.quietWaitS} s over the whole run (\`BENCH_QUIET_WAIT_S\`). Load: undici Pool from the bench process, one connection per virtual client, no pipelining, 8 pre-serialized bodies per model (one row, 6 decimals per value). Every server is a child process on 127.0.0.1.`,
    '',
    'Batching **on** is the default config (no config.json: maxBatchSize 32, the adaptive policy, which holds a batch for more rows only when the cost model predicts the wait pays, instances and intra-op threads from the server defaults); batching **off** is `{"maxBatchSize": 1}`. *mean batch* is rows per execution from `/v1/models` stats over the window; *dominant batch* is the batch size that carried most rows. *queue/compute ms* are Server-Timing means. *workers busy* is the busy time of the workers (`onnx_serve_worker_busy_seconds_total`, by their own clock) over the window × instances: below 100 % a worker sat idle. CPU columns are the share of one core used over the window (Linux /proc, per thread): the server\'s main thread (HTTP, JSON, batching), its other threads (inference workers, onnxruntime, libuv, GC), and the bench process (load generator).',
    '',
  );
  if (r.failures.length) out.push('## Sections that failed', '', ...r.failures.map((x) => `- ${x}`), '');

  out.push('## Targets', '');
  out.push(table(['target', 'goal', 'measured', 'ratio', 'result'], targets(r).map((t) => [t.name, t.goal, t.detail, t.ratio === undefined ? '–' : f(t.ratio, t.digits ?? 2), verdict(t)])), '');

  for (const [model, title] of [
    ['seed-mlp', '## seed-mlp (1000→200→100→1, shipped): the HTTP path dominates'],
    ['heavy-mlp', `## heavy-mlp (${s.heavySizes.join('→')}, generated at run time): compute dominates`],
  ] as const) {
    if (!r.measurements.some((m) => m.model === model)) continue;
    out.push(title, '', modelTable(r, model), '');
  }
  if (r.measurements.some((m) => m.mode === MODE_NAIVE)) out.push('## onnx-serve vs a naive hand-written server', '', naiveSection(r), '');
  if (r.knees.length) out.push('## Knee of each shipped model (default config)', '', kneeSection(r), '');
  if (r.curve.length) out.push('## Latency vs offered rate: adaptive and static batching (open loop)', '', curveSection(r, plots), '');
  if (r.overload.length) out.push(`## Overload: a latency target, past the capacity (open loop)`, '', overloadSection(r), '');
  if (r.priority) out.push('## Priorities under overload (open loop)', '', prioritySection(r), '');
  if (r.faults) out.push('## Overload and faults: before and after', '', faultsSection(r, r.faults), '');
  if (r.batchCurve.length) out.push('## Throughput vs batch size (in-process ceiling)', '', batchSection(r, plots), '');
  if (r.v2.length) out.push('## KServe v2 infer vs /v1/predict: JSON and binary tensors', '', v2Section(r), '');
  if (r.grpc?.length) out.push('## gRPC ModelInfer vs HTTP v2 binary', '', grpcSection(r), '');
  if (r.isolation?.length) out.push('## Process isolation: what the boundary costs', '', isolationSection(r), '');
  if (r.poison.length) out.push('## A request onnxruntime refuses: what it costs its batch-mates', '', poisonReport(r.poison, topConcurrency(r), table), '');
  if (r.compression.length) out.push('## Compression: fp32 vs int8 vs pruned (heavy-mlp)', '', compressionSection(r), '');
  if (r.padding) out.push('## Padding variable-length inputs (BERT-style)', '', paddingSection(r), '');
  if (r.memory?.length) out.push('## Memory: the auto-sized instance count on a large model', '', memorySection(r), '');
  if (r.codec?.length || r.settings.only.includes('cpu')) out.push('## Main-thread CPU per request, and the /v1 codec before and after', '', cpuSection(r), '');
  if (r.ceilings.length) {
    out.push('## In-process ceiling', '', 'onnxruntime `session.run` in worker threads of the bench process (same session options as the server\'s workers), no HTTP, no JSON, nothing else running; a fixed random batch of the size the server formed most, with the server\'s workers × intra-op threads.', '', ceilingTable(r), '');
  }
  if (r.split.inproc.length || r.split.server.length) out.push('## How workers × intra-op threads split the cores', '', splitTables(r), '');
  if (r.measurements.some((m) => m.model === 'seed-mlp')) out.push('## Server overhead per request (seed-mlp)', '', overhead(r), '');
  const budget = cpuBudget(r);
  if (budget) out.push('## Where the CPU goes (heavy-mlp)', '', budget, '');
  const busy = [...r.measurements, ...r.curveCapacity, ...r.split.server, ...(r.split.auto ?? []), ...(r.padding?.measurements ?? []), ...(r.memory ?? []).flatMap((e) => (e.load ? [e.load] : [])), ...r.v2, ...(r.grpc ?? []), ...r.compressionServer].filter((m) => (m.otherCores ?? 0) >= BUSY_CORES).map((m) => `${m.model} ${m.mode} c=${m.load.concurrency}`);
  const busyCeil = [...r.ceilings.map((e) => e.result), ...r.split.inproc].filter((c) => (c.otherCores ?? 0) >= BUSY_CORES).map((c) => `ceiling batch ${c.batch} ${c.instances} × ${c.intraOpThreads}`);
  const flagged = [...new Set([...busy, ...busyCeil])];
  out.push('## Notes', '', NOTES);
  if (flagged.length) out.push(`- **Other processes used ≥ ${pct(BUSY_CORES)} of a core during:** ${flagged.join('; ')}. Treat those rows as lower bounds and re-run on a quiet machine.`);
  out.push('');
  return out.join('\n');
}

export const NOTES = [
  '- *other processes* is the machine\'s user + system CPU (/proc/stat, interrupts left out) minus the server\'s and the bench\'s own threads over the same window: other work on the machine (a test run, a build) and kernel threads. A few % is normal; rows where it is high were measured on a busy machine.',
  '- Everything shares the machine\'s cores: the load generator (bench process), the server\'s main thread and its inference workers. With 2 cores the client alone can take a large part of one core at high request rates, so absolute numbers are lower than on a dedicated load machine; ratios measured in the same run (on vs off, server vs bare Fastify) are the meaningful part.',
  '- The in-process ceiling runs alone; the server has to fit its main thread (HTTP, JSON parse of ~9–10 KB bodies, batching) and the client beside its workers on the same cores, so it cannot reach 100 % of the ceiling here.',
  '- Shared/virtualised cores: the effective CPU speed of a VM drifts with its neighbours (while this bench was written, the same server and load gave 1.9k–3.1k req/s on seed-mlp at c=64 with identical CPU use). Expect ±10–30 % between runs, more for p99 at c=1 (timer and scheduler granularity); rows are measured one after the other, which is why compared servers alternate in several rounds and targets use the median per-round ratio; a single row still carries the drift, so re-run before acting on a difference smaller than that.',
  '- CPU columns come from the kernel\'s per-thread counters (10 ms ticks): solid over a 5 s window at high load, rough at c=1, where short timer-driven wake-ups (a batch that waits for more rows waits on a timer) can be over- or under-charged.',
  '- Server-side latency per request needs `onnx_serve_request_duration_seconds` on `/metrics`; the bench reads it when the server has it and says so when it does not.',
].join('\n');
