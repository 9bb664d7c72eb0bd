// Section padding: a BERT-style model (tools/onnx-builder.ts bertStyleModel) under requests of
// mixed sequence lengths, served twice by one server — with `padding` (requests of any length
// share a batch) and without (only equal lengths do) — and a correctness pass: every answer of
// the padded server against the same row run alone in this process.
import * as ort from 'onnxruntime-node';

export const PAD_MODEL = 'bert-padded';
export const PAD_MODEL_EXACT = 'bert-exact';
export const PAD_VOCAB = 1000;
export const PAD_MIN_LEN = 8;
export const PAD_MAX_LEN = 64;
export const PAD_BODIES = 64;
/** The server config of the padded model. */
export const PADDING_CONFIG = { padding: { input_ids: 0, attention_mask: 0 } };

/** One request's row: token ids (all unmasked, mask 1). */
export interface SeqRow {
  ids: number[];
}

/** A deterministic generator (mulberry32) of integers in [lo, hi]. */
function ints(seed: number): (lo: number, hi: number) => number {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + Math.floor(u * (hi - lo + 1));
  };
}

/** `count` rows of lengths uniform in [minLen, maxLen], ids uniform in [1, vocab - 1], seeded. */
export function seqRows(count: number, seed: number, minLen = PAD_MIN_LEN, maxLen = PAD_MAX_LEN, vocab = PAD_VOCAB): SeqRow[] {
  const next = ints(seed);
  return Array.from({ length: count }, () => ({ ids: Array.from({ length: next(minLen, maxLen) }, () => next(1, vocab - 1)) }));
}

/** The /v1/predict body of one row for a model name: input_ids and attention_mask [1, len]. */
export function seqBody(model: string, row: SeqRow): Buffer {
  const mask = row.ids.map(() => 1);
  return Buffer.from(`{"model":${JSON.stringify(model)},"inputs":{"input_ids":[[${row.ids.join(',')}]],"attention_mask":[[${mask.join(',')}]]}}`);
}

export interface SeqAnswer {
  logits: number[];
  tokenScores: number[];
}

/** The answer of a /v1 body: one row of logits (2) and one of token_scores (the request's own length). */
export function parseSeqAnswer(body: Buffer | string): SeqAnswer | undefined {
  const j = JSON.parse(body.toString()) as { outputs?: { logits?: number[][]; token_scores?: number[][] } };
  const logits = j.outputs?.logits?.[0];
  const tokenScores = j.outputs?.token_scores?.[0];
  return Array.isArray(logits) && Array.isArray(tokenScores) ? { logits, tokenScores } : undefined;
}

/** A check for measure(): a row of 2 logits and a non-empty token_scores row (lengths are checked in the correctness pass). */
export function seqCheck(body: Buffer): string | undefined {
  const a = parseSeqAnswer(body);
  return a && a.logits.length === 2 && a.tokenScores.length >= PAD_MIN_LEN ? undefined : `unexpected answer ${body.toString('utf8', 0, 200)}`;
}

/**
 * Largest absolute difference between two answers, Infinity when their shapes differ (a
 * token_scores row not cut back to the request's length is a wrong answer, not a small error).
 */
export function answerDiff(a: SeqAnswer, b: SeqAnswer): number {
  if (a.logits.length !== b.logits.length || a.tokenScores.length !== b.tokenScores.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.logits.length; i++) d = Math.max(d, Math.abs(a.logits[i]! - b.logits[i]!));
  for (let i = 0; i < a.tokenScores.length; i++) d = Math.max(d, Math.abs(a.tokenScores[i]! - b.tokenScores[i]!));
  return Number.isNaN(d) ? Infinity : d;
}

/** Runs rows through the model in this process: each row alone, at its own length (the reference). */
export async function referenceAnswers(modelPath: string, rows: readonly SeqRow[]): Promise<SeqAnswer[]> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out: SeqAnswer[] = [];
    for (const row of rows) out.push(await runPadded(session, row.ids, 0));
    return out;
  } finally {
    await session.release();
  }
}

/** One row with `pad` positions of id 0 and mask 0 appended; token_scores cut back to the row's length. */
export async function runPadded(session: ort.InferenceSession, ids: readonly number[], pad: number): Promise<SeqAnswer> {
  const n = ids.length + pad;
  const idData = new BigInt64Array(n);
  const maskData = new BigInt64Array(n);
  ids.forEach((v, i) => {
    idData[i] = BigInt(v);
    maskData[i] = 1n;
  });
  const res = await session.run({ input_ids: new ort.Tensor('int64', idData, [1, n]), attention_mask: new ort.Tensor('int64', maskData, [1, n]) });
  return { logits: Array.from(res.logits!.data as Float32Array), tokenScores: Array.from((res.token_scores!.data as Float32Array).subarray(0, ids.length)) };
}

export interface PaddingCheck {
  /** Answers compared (bodies × rounds). */
  answers: number;
  /** Answers that did not come back as 200 with the expected shapes, or differ by more than the tolerance. */
  wrong: number;
  maxAbsDiff: number;
  tolerance: number;
  /** Mean rows per execution the padded model formed during the pass. */
  batchMean?: number;
  /** Up to 3 examples of what went wrong. */
  samples: string[];
}

export const PAD_TOLERANCE = 1e-4;
