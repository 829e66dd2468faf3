/**
 * What a prompt of L tokens costs, fitted to measured times (docs/prefill.md,
 * "What a prompt costs"). Every stage's time is modelled as
 *
 *   t(L) = a * work(L) + b * L
 *
 * where work(L) is the stage's (query token, key) pairs and b * L what each
 * query token costs besides (its q, its writes, its share of the dispatches):
 *
 *   dense causal (absorbed, over the latent)   pairs = L (L + 1) / 2, each 2 h_q (d_qk + d_v) FLOPs
 *   indexer                                    pairs = L (L + 1) / 2, each 2 * 64 * 128 FLOPs (FP8 keys)
 *   top-k                                      pairs = L (L + 1) / 2 scores scanned
 *   sparse prefill                             pairs = sum over tokens of min(topk, position + 1)
 *
 * a and b are fitted to the measured points by least squares on the relative
 * error (every point counts alike, short and long); a negative coefficient
 * is dropped and the other refitted alone. The model's error on the measured
 * points is reported beside every prediction past them.
 */
import { INDEXER_FLOPS_PER_TOKEN } from '../mla/indexer-shape';

export type PromptStage = 'dense' | 'indexer' | 'topk' | 'sparse';
export const PROMPT_STAGES: readonly PromptStage[] = ['dense', 'indexer', 'topk', 'sparse'];
/** The layer's two ways over the prompt in chunks (layer-prompt.ts), when measured: dense causal, work = the pairs. */
export type LayerWay = 'layer-mha' | 'layer-mqa';
export const LAYER_WAYS: readonly LayerWay[] = ['layer-mha', 'layer-mqa'];
/** What a fit is of: a stage of the two ways, or a way of the layer. */
export type FittedStage = PromptStage | LayerWay;

/** Pairs a whole causal prompt of L tokens attends densely: token p sees p + 1 tokens. */
export function densePairs(L: number): number {
  return (L * (L + 1)) / 2;
}

/** Pairs a whole prompt attends with top-k: token p reads min(topk, p + 1) tokens. */
export function sparsePairs(L: number, topk: number): number {
  const full = Math.max(0, L - topk); // tokens that see more than topk
  const ramp = Math.min(L, topk); // tokens 0 .. ramp - 1 read p + 1
  return (ramp * (ramp + 1)) / 2 + full * topk;
}

export function stageWork(stage: FittedStage, L: number, topk: number): number {
  return stage === 'sparse' ? sparsePairs(L, topk) : densePairs(L);
}

export interface StageFit {
  readonly stage: FittedStage;
  /** ms per pair. */
  readonly perPair: number;
  /** ms per query token. */
  readonly perToken: number;
}

export interface MeasuredStage {
  readonly keys: number;
  readonly ms: number;
}

/** t = a x + b y minimising sum ((t - m) / m)^2, a, b >= 0. */
function fitTwo(rows: readonly { x: number; y: number; m: number }[]): { a: number; b: number } {
  let sxx = 0, sxy = 0, syy = 0, sxm = 0, sym = 0;
  for (const { x, y, m } of rows) {
    const [u, v] = [x / m, y / m]; // the row divided by its measurement: relative error
    sxx += u * u; sxy += u * v; syy += v * v; sxm += u; sym += v;
  }
  const det = sxx * syy - sxy * sxy;
  if (det > 1e-12 * sxx * syy) {
    const a = (sxm * syy - sym * sxy) / det;
    const b = (sym * sxx - sxm * sxy) / det;
    if (a >= 0 && b >= 0) return { a, b };
  }
  // One term alone: the better of the two.
  const onlyA = { a: sxm / sxx, b: 0 };
  const onlyB = { a: 0, b: sym / syy };
  const err = (f: { a: number; b: number }) => rows.reduce((s, r) => s + ((f.a * r.x + f.b * r.y - r.m) / r.m) ** 2, 0);
  return err(onlyA) <= err(onlyB) ? onlyA : onlyB;
}

export function fitStage(stage: FittedStage, points: readonly MeasuredStage[], topk: number): StageFit {
  const rows = points.filter((p) => p.ms > 0).map((p) => ({ x: stageWork(stage, p.keys, topk), y: p.keys, m: p.ms }));
  if (rows.length === 0) throw new Error(`no measured times of the ${stage} stage to fit`);
  const { a, b } = fitTwo(rows);
  return { stage, perPair: a, perToken: b };
}

export function predictStage(fit: StageFit, L: number, topk: number): number {
  return fit.perPair * stageWork(fit.stage, L, topk) + fit.perToken * L;
}

/** The fitted model of a prompt: the dense way and DSA's three stages. */
export interface PromptModel {
  readonly topk: number;
  readonly fits: Readonly<Record<PromptStage, StageFit>>;
  /** The layer's ways, when every point measured them. */
  readonly layer?: Readonly<Record<LayerWay, StageFit>>;
}

export function predictDense(m: PromptModel, L: number): number {
  return predictStage(m.fits.dense, L, m.topk);
}

export function predictDsa(m: PromptModel, L: number): number {
  return predictStage(m.fits.indexer, L, m.topk) + predictStage(m.fits.topk, L, m.topk) + predictStage(m.fits.sparse, L, m.topk);
}

/** The layer's MHA mode over the prompt, when measured (the way DeepSeek's inference reads a prompt). */
export function predictLayerMha(m: PromptModel, L: number): number {
  if (!m.layer) throw new Error('the model has no layer MHA fit: measure with --mha-chunk');
  return predictStage(m.layer['layer-mha'], L, m.topk);
}

/**
 * The smallest L (to 1 token, up to `most`) where the model's DSA prompt is
 * faster than its dense one (`dense`: the absorbed way, or the layer's MHA mode), found by scanning doublings then bisecting;
 * undefined when dense stays ahead.
 */
export function modelledCrossover(m: PromptModel, most = 1 << 20, dense: (m: PromptModel, L: number) => number = predictDense): number | undefined {
  const dsaWins = (L: number) => predictDsa(m, L) < dense(m, L);
  let lo = 1;
  if (dsaWins(lo)) return lo;
  let hi = 2;
  while (hi <= most && !dsaWins(hi)) { lo = hi; hi *= 2; }
  if (hi > most) return dsaWins(most) ? most : undefined;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (dsaWins(mid)) hi = mid; else lo = mid;
  }
  return hi;
}

/** FLOPs of a whole prompt of L tokens each way, from the shapes alone (a multiply-add is 2 FLOPs). */
export interface PromptFlops {
  readonly dense: number;
  readonly indexer: number;
  readonly sparse: number;
}

/** Dense and sparse attention at h_q heads of `dims`; the indexer at its own 64 heads of 128 (INDEXER_FLOPS_PER_TOKEN a pair). */
export function promptFlops(L: number, hQ: number, dims: { readonly dQk: number; readonly dV: number }, topk: number): PromptFlops {
  const perPair = 2 * hQ * (dims.dQk + dims.dV);
  return { dense: perPair * densePairs(L), indexer: INDEXER_FLOPS_PER_TOKEN * densePairs(L), sparse: perPair * sparsePairs(L, topk) };
}
