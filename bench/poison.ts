// Section poison: what a request that onnxruntime refuses costs its batch-mates. An embedding MLP
// (token ids → Gather → mean → 3 Gemm layers) under closed-loop load, clean, and with one body in
// POISON_EVERY holding an id outside the vocabulary (answered 422 after the batch is split down to
// it), batching on and off; rows interleaved in rounds, ok answers per second compared per round.
import { buildModel, seededFloats } from '../tools/onnx-builder.js';
import type { Measurement } from './measure.js';
import { pairedRatio, rowsOf } from './results.js';

export const POISON_MODEL = 'emb-mlp';
export const POISON_MODEL_UNBATCHED = 'emb-mlp-unbatched';
export const MODE_CLEAN = 'clean, batching on';
export const MODE_POISONED_ON = 'poisoned, batching on';
export const MODE_POISONED_OFF = 'poisoned, batching off';
/** One body in this many is poisoned. */
export const POISON_EVERY = 32;

const VOCAB = 1000;
const WIDTH = 128;
const SEQ = 16;

/** ids int64 [batch, 16] → embeddings [1000, 128] → mean over the sequence → 128→1024→1024→10. */
export function embeddingMlp(): Uint8Array {
  const layer = (i: number, fin: number, fout: number) => [
    { name: `w${i}`, dtype: 'float32' as const, dims: [fin, fout], data: seededFloats(fin * fout, 20 + i, 1 / Math.sqrt(fin)) },
    { name: `b${i}`, dtype: 'float32' as const, dims: [fout], data: seededFloats(fout, 40 + i, 0.1) },
  ];
  return buildModel({
    inputs: [{ name: 'ids', dtype: 'int64', dims: ['batch', 'seq'] }],
    outputs: [{ name: 'logits', dtype: 'float32', dims: ['batch', 10] }],
    nodes: [
      { op: 'Gather', inputs: ['table', 'ids'], outputs: ['emb'], attributes: { axis: 0 } },
      { op: 'ReduceMean', inputs: ['emb'], outputs: ['pooled'], attributes: { axes: [1], keepdims: 0 } },
      { op: 'Gemm', inputs: ['pooled', 'w0', 'b0'], outputs: ['h0p'] },
      { op: 'Relu', inputs: ['h0p'], outputs: ['h0'] },
      { op: 'Gemm', inputs: ['h0', 'w1', 'b1'], outputs: ['h1p'] },
      { op: 'Relu', inputs: ['h1p'], outputs: ['h1'] },
      { op: 'Gemm', inputs: ['h1', 'w2', 'b2'], outputs: ['logits'] },
    ],
    initializers: [{ name: 'table', dtype: 'float32', dims: [VOCAB, WIDTH], data: seededFloats(VOCAB * WIDTH, 9) }, ...layer(0, WIDTH, 1024), ...layer(1, 1024, 1024), ...layer(2, 1024, 10)],
    opset: 17,
    name: 'emb-mlp',
  });
}

/** POISON_EVERY /v1 bodies of one row of ids each; with `poisoned`, the last holds an id past the vocabulary. */
export function poisonBodies(model: string, poisoned: boolean): Buffer[] {
  return Array.from({ length: POISON_EVERY }, (_, i) => {
    const ids = Array.from({ length: SEQ }, (_, k) => (i * 31 + k * 7) % VOCAB);
    if (poisoned && i === POISON_EVERY - 1) ids[5] = VOCAB + 5;
    return Buffer.from(JSON.stringify({ model, inputs: { ids: [ids] } }));
  });
}

/** The table and the ratios of the section, from its rows. */
export function poisonReport(rows: readonly Measurement[], top: number, table: (head: string[], rows: string[][]) => string): string {
  const f = (n: number | undefined, d = 1): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
  const median = (ms: Measurement[], pick: (m: Measurement) => number): number | undefined => {
    const v = ms.map(pick).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)] : undefined;
  };
  const of = (model: string, mode: string): Measurement[] => rowsOf([...rows], model, mode, top);
  const clean = of(POISON_MODEL, MODE_CLEAN);
  const on = of(POISON_MODEL, MODE_POISONED_ON);
  const off = of(POISON_MODEL_UNBATCHED, MODE_POISONED_OFF);
  const line = (mode: string, ms: Measurement[]): string[] => [
    mode,
    String(top),
    f(median(ms, (m) => m.load.reqPerS)),
    f(median(ms, (m) => m.load.expected / m.load.windowS)),
    f(median(ms, (m) => m.load.latency.p50), 2),
    f(median(ms, (m) => m.load.latency.p99), 2),
    f(median(ms, (m) => m.batch?.mean ?? NaN), 2),
    f(median(ms, (m) => m.load.errors), 0),
  ];
  const ratio = (a: Measurement[], b: Measurement[]): string => {
    const p = pairedRatio(a, b);
    return p ? `**${p.ratio.toFixed(2)}**${p.perRound.length > 1 ? ` (rounds ${p.perRound.map((x) => x.toFixed(2)).join(', ')})` : ''}` : '–';
  };
  return [
    `An embedding MLP (int64 ids [batch, ${SEQ}] → Gather from ${VOCAB}×${WIDTH} → mean → ${WIDTH}→1024→1024→10), one row per request, closed loop at c=${top}. ` +
      `"Poisoned": one body in ${POISON_EVERY} holds an id outside the vocabulary, which onnxruntime refuses; with batching on, the batch holding it is split in halves until it runs alone and gets 422, and every other request is answered. ` +
      '"Batching off" is the same model with `maxBatchSize` 0, where a bad request costs one run and nothing else, but nothing is batched. ok req/s counts 200 answers only; rejected/s the 422s.',
    '',
    table(['traffic', 'c', 'ok req/s', 'rejected/s', 'p50 ms (ok)', 'p99 ms (ok)', 'mean batch', 'errors'], [line(MODE_CLEAN, clean), line(MODE_POISONED_ON, on), line(MODE_POISONED_OFF, off)]),
    '',
    `- poisoned / clean, batching on (what the split costs the good requests): ${ratio(on, clean)}`,
    `- poisoned with batching on / poisoned with batching off (what batching still buys under poison): ${ratio(on, off)}`,
  ].join('\n');
}
