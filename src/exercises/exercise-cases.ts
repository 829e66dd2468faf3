/**
 * The cases an attempt is run on: small and large, ragged lengths, and the
 * edge cases the shipped kernels handle (FlashMLA's invalid indices, rows
 * with no key, NaN in every unused cache slot, large logits, a sink, page
 * sizes that are not powers of two). Each case carries tags saying what is
 * special about it; the diagnosis (diagnose.ts) reads which tags the failing
 * cases share and the passing ones lack.
 */
import { type MlaShape, type PresetName, presetShape } from '../mla/shape';
import { type MlaInputs, generateInputs } from '../mla/inputs';
import type { KvFormat } from '../mla/kv-layout';
import type { PlanOptions } from '../kernels/kernel-plan';
import { SeededRandom } from '../random/seeded-random';

export const CASE_TAGS = [
  'large-logits', 'multi-tile', 'skipped-keys', 'empty-row', 'empty-split', 'several-requests', 'sink', 'fp8', 'narrow-value', 'model1', 'query-tokens',
  'wide-score-block', 'ties', 'short-rows', 'negative-scores',
] as const;
export type CaseTag = (typeof CASE_TAGS)[number];

export interface ExerciseCase {
  readonly name: string;
  /**
   * What is special about the case. Four are added at run time (caseTags):
   * 'multi-tile' when a row's keys pass one tile of the plan, 'narrow-value'
   * when the value is narrower than the key (V3.2: d_v 512 < d_qk 576),
   * 'model1' for MODEL1's shape (d_qk 512, 448 latent), 'query-tokens' when
   * a request has several query tokens.
   */
  readonly tags: readonly CaseTag[];
  readonly preset: PresetName;
  readonly shape: Partial<MlaShape>;
  readonly kvFormat: KvFormat;
  readonly seed: number;
  /** q is multiplied by this: logits far past exp's range in f32. */
  readonly qScale?: number;
  /** Sparse: the fraction of indices replaced by FlashMLA's invalid ones, and rows (b * s_q + i) with none valid. */
  readonly invalidIndexFraction?: number;
  readonly allInvalidRows?: readonly number[];
  /** Tuning the run takes for this case (e.g. a 16 x 16 score block for version 4). */
  readonly plan?: PlanOptions;
}

export function caseShape(c: ExerciseCase): MlaShape {
  return presetShape(c.preset, c.shape);
}

/** The case's tags with those its shape and the run's tile length imply. */
export function caseTags(c: ExerciseCase, tileN: number): CaseTag[] {
  const shape = caseShape(c);
  const rowKeys = shape.topk > 0 ? shape.topk : Math.max(...shape.seqlens);
  return [
    ...c.tags, ...(tileN > 0 && rowKeys > tileN ? ['multi-tile' as const] : []), ...(shape.dV < shape.dQk ? ['narrow-value' as const] : []),
    ...(c.preset === 'model1' ? ['model1' as const] : []), ...(shape.sQ > 1 ? ['query-tokens' as const] : []),
  ];
}

/** The case's inputs (seeded: the same bits on every run and in the browser). */
export function caseInputs(c: ExerciseCase): MlaInputs {
  const inputs = generateInputs(caseShape(c), { seed: c.seed, invalidIndexFraction: c.invalidIndexFraction, allInvalidRows: c.allInvalidRows });
  if (c.qScale !== undefined) for (let k = 0; k < inputs.q.length; k++) inputs.q[k] *= c.qScale;
  return inputs;
}

/** The decode cases of the exercises on one whole call (versions 1 and 2). */
export const DECODE_CASES: readonly ExerciseCase[] = [
  { name: 'small: 1 request of 20 keys, 4 heads', tags: [], preset: 'v32', shape: { seqlens: [20], hQ: 4 }, kvFormat: 'f32', seed: 1 },
  {
    name: 'ragged: 3 requests of 2, 45 and 300 keys, 2 query tokens each (causal), 3 heads', tags: ['several-requests'],
    preset: 'v32', shape: { seqlens: [2, 45, 300], hQ: 3, sQ: 2 }, kvFormat: 'f32', seed: 2,
  },
  {
    name: 'MODEL1 (d_qk 512), FP8 cache, pages of 53 tokens, a sink per head', tags: ['fp8', 'sink'],
    preset: 'model1', shape: { seqlens: [130], hQ: 5, pageBlockSize: 53, attentionSink: true }, kvFormat: 'fp8', seed: 3,
  },
  {
    name: 'sparse: 2 query tokens of 64 indices, a quarter invalid (-1, past the cache), token 1 with none valid', tags: ['skipped-keys', 'empty-row'],
    preset: 'v32', shape: { seqlens: [200], hQ: 4, sQ: 2, topk: 64 }, kvFormat: 'bf16', seed: 4, invalidIndexFraction: 0.25, allInvalidRows: [1],
  },
  { name: 'large logits: q times 40', tags: ['large-logits'], preset: 'v32', shape: { seqlens: [100], hQ: 4 }, kvFormat: 'f32', seed: 5, qScale: 40 },
  { name: 'large: 2 requests of 2000 and 1500 keys, 16 heads', tags: ['several-requests'], preset: 'v32', shape: { seqlens: [2000, 1500], hQ: 16 }, kvFormat: 'f32', seed: 6 },
];

/** Cases for the split-KV merge: several splits, one with no keys, rows with none. */
export const MERGE_CASES: readonly ExerciseCase[] = [
  ...DECODE_CASES,
  { name: 'short rows: 2 requests of 3 and 9 keys in 4 splits (some splits empty)', tags: ['empty-split', 'several-requests'], preset: 'v32', shape: { seqlens: [3, 9], hQ: 2 }, kvFormat: 'f32', seed: 7 },
];

/** The dense cases alone: which keys a row reads through the block table. */
export const DENSE_CASES: readonly ExerciseCase[] = DECODE_CASES.filter((c) => caseShape(c).topk === 0);

/** Sparse calls: FlashMLA's invalid indices, an all-invalid row, several query tokens, pages of 53. */
export const SPARSE_CASES: readonly ExerciseCase[] = [
  ...DECODE_CASES.filter((c) => caseShape(c).topk > 0),
  {
    name: 'sparse, MODEL1 FP8 cache, pages of 53: 2 requests of 128 indices, a tenth invalid', tags: ['skipped-keys', 'several-requests', 'fp8'],
    preset: 'model1', shape: { seqlens: [300, 200], hQ: 4, topk: 128, pageBlockSize: 53 }, kvFormat: 'fp8', seed: 8, invalidIndexFraction: 0.1,
  },
  { name: 'sparse, every index valid: 2 query tokens of 256 indices over 500 keys', tags: [], preset: 'v32', shape: { seqlens: [500], hQ: 4, sQ: 2, topk: 256 }, kvFormat: 'f32', seed: 9, invalidIndexFraction: 0 },
  {
    name: 'sparse, pages of 2 tokens, a sink per head: 32 indices, a tenth invalid', tags: ['skipped-keys', 'sink'],
    preset: 'v32', shape: { seqlens: [90], hQ: 3, topk: 32, pageBlockSize: 2, attentionSink: true }, kvFormat: 'f32', seed: 11, invalidIndexFraction: 0.1,
  },
  { name: 'sparse with large logits (q times 40), a tenth invalid', tags: ['large-logits', 'skipped-keys'], preset: 'v32', shape: { seqlens: [300], hQ: 2, topk: 64 }, kvFormat: 'f32', seed: 10, qScale: 40, invalidIndexFraction: 0.1 },
];

/** FP8 caches of both models: V3.2's 656-byte record (f32 scales per 128 values), MODEL1's (ue8m0 scales per 64), dense and sparse. */
export const FP8_CASES: readonly ExerciseCase[] = [
  { name: 'V3.2 FP8: 1 request of 20 keys, 4 heads', tags: ['fp8'], preset: 'v32', shape: { seqlens: [20], hQ: 4 }, kvFormat: 'fp8', seed: 21 },
  ...DECODE_CASES.filter((c) => c.kvFormat === 'fp8'),
  {
    name: 'V3.2 FP8, ragged: 3 requests of 2, 45 and 300 keys, 2 query tokens each (causal), 3 heads', tags: ['fp8', 'several-requests'],
    preset: 'v32', shape: { seqlens: [2, 45, 300], hQ: 3, sQ: 2 }, kvFormat: 'fp8', seed: 22,
  },
  ...SPARSE_CASES.filter((c) => c.kvFormat === 'fp8'),
  { name: 'MODEL1 FP8, large logits: q times 40, 200 keys', tags: ['fp8', 'large-logits'], preset: 'model1', shape: { seqlens: [200], hQ: 4 }, kvFormat: 'fp8', seed: 23, qScale: 40 },
];

/**
 * Version 4's register blocks: the decode cases with the default 8 x 8 score
 * block, the large one (16 heads) with 16 x 16. Each case with a plan of its
 * own is a pipeline of its own, which a software adapter takes seconds to
 * compile on every check of a learner's file: the 16 x 16 block rides on a
 * case the exercise runs anyway.
 */
export const BLOCK_CASES: readonly ExerciseCase[] = DECODE_CASES.map((c) => (caseShape(c).hQ < 16 ? c : {
  ...c, name: `${c.name}, a 16 x 16 score block`, tags: [...c.tags, 'wide-score-block' as const], plan: { scoreBlock: '16x16' as const },
}));

/**
 * A top-k case: scores shaped like the lightning indexer's, [s_q, keys], one
 * causal row per query token (row i sees keys - s_q + i + 1 tokens), the k
 * to choose, and the attention cache's pages (the chosen tokens are written
 * as FlashMLA's slots through a shuffled block table).
 */
export interface TopkCase {
  readonly kind: 'topk';
  readonly name: string;
  readonly tags: readonly CaseTag[];
  readonly keys: number;
  readonly sQ: number;
  readonly k: number;
  readonly page: number;
  readonly seed: number;
  /** How scores are drawn: normal; normal rounded to steps of 0.5 (hundreds equal); normal made negative (-|x| - 1). */
  readonly scores: 'normal' | 'steps' | 'negative';
}

/** Any exercise's case. */
export type AnyCase = ExerciseCase | TopkCase;

export function isTopkCase(c: AnyCase): c is TopkCase {
  return 'kind' in c && c.kind === 'topk';
}

/** The case's scores [sQ, keys] (seeded). */
export function topkScores(c: TopkCase): Float32Array {
  const rng = new SeededRandom(c.seed);
  return Float32Array.from({ length: c.sQ * c.keys }, () => {
    const x = rng.normal();
    return c.scores === 'steps' ? Math.round(2 * x) / 2 : c.scores === 'negative' ? -Math.abs(x) - 1 : x;
  });
}

/** The case's block table: its pages shuffled (seeded). */
export function topkBlockTable(c: TopkCase): Int32Array {
  return Int32Array.from(new SeededRandom(c.seed + 1000).permutation(Math.ceil(c.keys / c.page)));
}

/**
 * Top-k: positive and negative scores, ties at the boundary, rows seeing
 * fewer tokens than k, pages of 53. 'negative-scores' marks a case whose
 * chosen tokens include negative scores (the short rows choose 123 to 128
 * of their 130 normal scores).
 */
export const TOPK_CASES: readonly TopkCase[] = [
  { kind: 'topk', name: 'top 100 of 3000 normal scores, 1 query token', tags: [], keys: 3000, sQ: 1, k: 100, page: 64, seed: 31, scores: 'normal' },
  { kind: 'topk', name: 'causal: 4 query tokens over 500 tokens, top 64, pages of 53', tags: [], keys: 500, sQ: 4, k: 64, page: 53, seed: 32, scores: 'normal' },
  { kind: 'topk', name: 'ties: scores in steps of 0.5 (hundreds equal), top 300 of 2000', tags: ['ties'], keys: 2000, sQ: 2, k: 300, page: 64, seed: 33, scores: 'steps' },
  { kind: 'topk', name: 'every score negative: top 50 of 1500', tags: ['negative-scores'], keys: 1500, sQ: 1, k: 50, page: 64, seed: 34, scores: 'negative' },
  { kind: 'topk', name: 'short rows: top 128 of 130 tokens, 8 query tokens (rows see 123 to 130: -1 padding)', tags: ['short-rows', 'negative-scores'], keys: 130, sQ: 8, k: 128, page: 16, seed: 35, scores: 'normal' },
];
