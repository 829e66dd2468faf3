/**
 * What a prompt costs on this device, dense against DeepSeek's sparse
 * attention (docs/prefill.md, "What a prompt costs"). For each prompt length
 * L, one seeded prompt (every token a query token, each seeing the tokens up
 * to its own) runs two ways on the same q and cache:
 *
 *   dense   causal attention, the absorbed (MQA) way over the latent
 *           (prefill/dense-prompt.ts)
 *   DSA     the lightning indexer over the tokens each query token sees,
 *           top-k, the sparse prefill on the chosen keys
 *           (indexer/prompt-pipeline.ts), each stage timed
 *
 * each checked on sampled query tokens. The model (cost-model.ts) is fitted
 * to the measured stage times and carries the curves to a million tokens;
 * the crossover is read off the measured points as well as the model.
 */
import type { GpuContext } from '../gpu/device';
import type { RunConfig } from '../run/runner';
import { type HeadDims, sharedFlatPage } from '../prefill/prefill-call';
import { runDensePrompt } from '../prefill/dense-prompt';
import { generatePromptCase, runPromptPipeline } from '../indexer/prompt-pipeline';
import { promptPasses } from '../indexer/prompt-report';
import { PROMPT_STAGES, type PromptModel, type PromptStage, fitStage, modelledCrossover, predictDense, predictDsa, predictLayerMha, predictStage } from './cost-model';
import { type LayerPromptResult, checkLayerPrompt, measureLayerPrompt } from './layer-prompt';
import { MODEL1_LAYER_NOTE } from '../layer/layer-config';
import { HEAD_PRESETS } from '../mla/shape';
import { summarize } from '../timing/timer';

export interface PromptCostOptions {
  readonly dims: HeadDims;
  /** Prompt lengths to measure (tokens). */
  readonly lengths: readonly number[];
  readonly hQ: number;
  readonly topk: number;
  readonly seed?: number;
  /** Query tokens checked a prompt, each way (default 4). */
  readonly checkTokens?: number;
  /** Also run the prompt through the layer in chunks of this many query tokens, MHA mode and MQA mode (V3.2's head only). */
  readonly layerChunk?: number;
  readonly onProgress?: (step: string) => void;
  /** Called with every length's point as it is measured. */
  readonly onPoint?: (point: PromptCostPoint, done: number, total: number) => void;
  /**
   * The device's speed now: the plain matmul yardstick's GFLOP/s
   * (timing/device-ceilings.ts yardstickTimer), timed before and after each
   * way at each length. A software adapter's speed moves 10-40 % within a
   * run of minutes; with the probe, the report gives the speeds and the
   * error of a fit to the times brought to the run's median speed.
   */
  readonly speedProbe?: () => Promise<number>;
  readonly signal?: AbortSignal;
}

export interface PromptCostPoint {
  readonly keys: number;
  /** Stage times, ms: dense, and DSA's indexer, top-k and sparse prefill. */
  readonly ms: Readonly<Record<PromptStage, number>>;
  /** DSA's three stages summed, ms. */
  readonly dsaMs: number;
  readonly densePass: boolean;
  readonly dsaPass: boolean;
  readonly kernel: string;
  /** The flat cache's page as the kernels saw it (one for every length where sharedFlatPage finds one). */
  readonly pageSize: number;
  readonly chunkTokens: { readonly dense: number; readonly dsa: number };
  /** The layer's two ways in chunks (layer-prompt.ts), when asked for. */
  readonly layer?: LayerPromptResult & { readonly chunk: number };
  /** With a speed probe: the yardstick's GFLOP/s while each way ran (the mean of the probes before and after it). */
  readonly speed?: { readonly dense: number; readonly dsa: number; readonly layer?: number };
}

export interface PromptCostReport {
  readonly dims: HeadDims;
  readonly hQ: number;
  readonly topk: number;
  readonly layout: string;
  readonly points: readonly PromptCostPoint[];
  readonly model: PromptModel;
  /** The model against the measured points: the largest |model - measured| / measured of each way. */
  readonly fitError: FitError;
  /**
   * When every point has its speed: the speeds' range, and the error of a
   * model fitted to the times brought to the run's median yardstick speed
   * (time x speed while it ran / the median). A diagnostic beside the model,
   * not the model: measured on llvmpipe it helped one way and hurt the other
   * (docs/prefill.md), a probe before and after a stage of minutes being a
   * poor measure of the speed during it.
   */
  readonly speedCorrection?: { readonly medianGflops: number; readonly minGflops: number; readonly maxGflops: number; readonly correctedFitError: FitError };
  /** Measured: the longest prompt where dense was faster, the shortest where DSA was, and whether the order is clean. */
  readonly measuredCrossover: { readonly denseUpTo?: number; readonly dsaFrom?: number; readonly clean: boolean };
  readonly modelledCrossover?: number;
  /** The same against the layer's MHA mode, when measured. */
  readonly modelledCrossoverMha?: number;
}

export interface FitError {
  readonly dense: number;
  readonly dsa: number;
  readonly layerMha?: number;
  readonly layerMqa?: number;
}

/** The largest relative error of `predict` on the measured `ms` of each point. */
function worstError(points: readonly PromptCostPoint[], measured: (p: PromptCostPoint) => number, predict: (L: number) => number): number {
  return Math.max(...points.map((p) => Math.abs(predict(p.keys) - measured(p)) / measured(p)));
}

export function validateLengths(lengths: readonly number[], flag = 'lengths'): number[] {
  if (lengths.length === 0) throw new Error(`${flag} needs at least one prompt length`);
  for (const L of lengths) if (!Number.isInteger(L) || L < 2 || L > 1 << 20) throw new Error(`${flag}: ${L} is not allowed: a prompt length must be an integer from 2 to ${1 << 20}`);
  return [...new Set(lengths)].sort((a, b) => a - b);
}

/** The model and its error on `points` as given. */
function fitPoints(points: readonly PromptCostPoint[], topk: number): { model: PromptModel; fitError: FitError } {
  const fits = Object.fromEntries(PROMPT_STAGES.map((s) => [s, fitStage(s, points.map((p) => ({ keys: p.keys, ms: p.ms[s] })), topk)])) as PromptModel['fits'];
  const layered = points.every((p) => p.layer) ? points.map((p) => ({ keys: p.keys, ...p.layer! })) : undefined;
  const layer = layered && {
    'layer-mha': fitStage('layer-mha', layered.map((p) => ({ keys: p.keys, ms: p.mhaMs })), topk),
    'layer-mqa': fitStage('layer-mqa', layered.map((p) => ({ keys: p.keys, ms: p.mqaMs })), topk),
  };
  const model: PromptModel = { topk, fits, layer };
  return {
    model,
    fitError: {
      dense: worstError(points, (p) => p.ms.dense, (L) => predictDense(model, L)), dsa: worstError(points, (p) => p.dsaMs, (L) => predictDsa(model, L)),
      ...(layer ? { layerMha: worstError(points, (p) => p.layer!.mhaMs, (L) => predictStage(layer['layer-mha'], L, topk)), layerMqa: worstError(points, (p) => p.layer!.mqaMs, (L) => predictStage(layer['layer-mqa'], L, topk)) } : {}),
    },
  };
}

/** Each way's times brought to `gflops`, the speed they would have taken at (time x its speed / gflops). */
export function atSpeed(p: PromptCostPoint, gflops: number): PromptCostPoint {
  const speed = p.speed;
  if (!speed) throw new Error(`prompt length ${p.keys} has no speed measured`);
  const d = speed.dense / gflops;
  const s = speed.dsa / gflops;
  const ms = { dense: p.ms.dense * d, indexer: p.ms.indexer * s, topk: p.ms.topk * s, sparse: p.ms.sparse * s };
  const l = (speed.layer ?? gflops) / gflops;
  return { ...p, ms, dsaMs: ms.indexer + ms.topk + ms.sparse, layer: p.layer && { ...p.layer, mhaMs: p.layer.mhaMs * l, mqaMs: p.layer.mqaMs * l } };
}

/**
 * The model, its error and the crossovers of measured points (pure: the page
 * and the tests use it on points they hold). When every point has its speed,
 * the error of a fit at the run's median speed is given beside it.
 */
export function modelPromptCost(points: readonly PromptCostPoint[], topk: number): Pick<PromptCostReport, 'model' | 'fitError' | 'speedCorrection' | 'measuredCrossover' | 'modelledCrossover' | 'modelledCrossoverMha'> {
  const speeds = points.every((p) => p.speed) ? points.flatMap((p) => [p.speed!.dense, p.speed!.dsa, ...(p.speed!.layer === undefined ? [] : [p.speed!.layer])]) : [];
  const reference = speeds.length ? summarize(speeds).median : undefined;
  const fitted = fitPoints(points, topk);
  const { model } = fitted;
  const dense = points.filter((p) => p.ms.dense <= p.dsaMs).map((p) => p.keys);
  const dsa = points.filter((p) => p.dsaMs < p.ms.dense).map((p) => p.keys);
  const denseUpTo = dense.length ? Math.max(...dense) : undefined;
  const dsaFrom = dsa.length ? Math.min(...dsa) : undefined;
  return {
    model,
    fitError: fitted.fitError,
    speedCorrection: reference === undefined ? undefined
      : { medianGflops: reference, minGflops: Math.min(...speeds), maxGflops: Math.max(...speeds), correctedFitError: fitPoints(points.map((p) => atSpeed(p, reference)), topk).fitError },
    measuredCrossover: { denseUpTo, dsaFrom, clean: denseUpTo === undefined || dsaFrom === undefined || denseUpTo < dsaFrom },
    modelledCrossover: modelledCrossover(model),
    modelledCrossoverMha: model.layer ? modelledCrossover(model, 1 << 20, predictLayerMha) : undefined,
  };
}

/** The run configuration of each way (the device profile's pick for a dense and for a sparse shape may differ). */
export interface PromptCostConfigs {
  readonly dense: RunConfig;
  readonly sparse: RunConfig;
}

/** The options checked before any work: the lengths sorted, the layer's chunk and head. */
export function checkPromptCost(o: Pick<PromptCostOptions, 'lengths' | 'layerChunk' | 'dims'>): number[] {
  const lengths = validateLengths(o.lengths, '--lengths');
  if (o.layerChunk !== undefined) {
    const v32 = HEAD_PRESETS.v32;
    if (o.dims.dQk !== v32.dQk || o.dims.dNope !== v32.dNope || o.dims.dV !== v32.dV) throw new Error(`--mha-chunk: the layer's MHA mode runs V3.2's head (576 = 512 + 64) only (--preset v32): ${MODEL1_LAYER_NOTE}`);
    checkLayerPrompt({ keys: lengths[lengths.length - 1], chunk: o.layerChunk });
  }
  return lengths;
}

export async function measurePromptCost(ctx: GpuContext, o: PromptCostOptions, configs: PromptCostConfigs): Promise<PromptCostReport> {
  const lengths = checkPromptCost(o);
  const say = o.onProgress ?? (() => {});
  const points: PromptCostPoint[] = [];
  let layout = '';
  const flatPage = sharedFlatPage(lengths);
  for (const L of lengths) {
    o.signal?.throwIfAborted();
    const c = generatePromptCase({ dims: o.dims, keys: L, sQ: L, hQ: o.hQ, topk: o.topk, seed: o.seed ?? 0, flatPage });
    const tag = (s: string) => say(`L ${L}: ${s}`);
    const probe = o.speedProbe;
    const speed0 = await probe?.();
    const dense = await runDensePrompt(ctx, c.call, configs.dense, { checkTokens: o.checkTokens ?? 4, onProgress: tag, signal: o.signal });
    o.signal?.throwIfAborted();
    const speed1 = await probe?.();
    const dsa = await runPromptPipeline(ctx, c, configs.sparse, { checkTokens: o.checkTokens ?? 4, onProgress: tag });
    const speed2 = await probe?.();
    layout = dense.layout;
    const layer = o.layerChunk === undefined ? undefined
      : { ...await measureLayerPrompt(ctx, { keys: L, heads: o.hQ, chunk: o.layerChunk, kvFormat: configs.dense.kvFormat, kernel: configs.dense.kernel, seed: o.seed, onProgress: tag }), chunk: o.layerChunk };
    const speed3 = layer ? await probe?.() : undefined;
    // Each way's speed: the mean of the probes on either side of it (all set when there is a probe).
    const speed = probe && { dense: (speed0! + speed1!) / 2, dsa: (speed1! + speed2!) / 2, ...(layer ? { layer: (speed2! + speed3!) / 2 } : {}) };
    const ms = { dense: dense.ms!, indexer: dsa.ms!.indexer, topk: dsa.ms!.topk, sparse: dsa.ms!.attention };
    points.push({
      keys: L, ms, dsaMs: ms.indexer + ms.topk + ms.sparse, densePass: dense.check.pass, dsaPass: promptPasses(dsa), kernel: dense.kernel, pageSize: c.call.pageSize,
      chunkTokens: { dense: dense.chunkTokens, dsa: dsa.chunkTokens }, layer, ...(speed ? { speed } : {}),
    });
    o.onPoint?.(points[points.length - 1], points.length, lengths.length);
    say(`L ${L}: dense ${ms.dense.toFixed(0)} ms, DSA ${(ms.indexer + ms.topk + ms.sparse).toFixed(0)} ms`);
  }
  return { dims: o.dims, hQ: o.hQ, topk: o.topk, layout, points, ...modelPromptCost(points, o.topk) };
}
