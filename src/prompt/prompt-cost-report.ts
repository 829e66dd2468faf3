/** A prompt's cost in words and tables: the measured points, the fit, the curves to a million tokens (prompt-cost.ts). */
import { fmtMs } from '../run/report';
import { LAYER_WAYS, type LayerWay, PROMPT_STAGES, type PromptModel, type PromptStage, type StageFit, predictDense, predictDsa, predictStage } from './cost-model';
import type { FitError, PromptCostPoint, PromptCostReport } from './prompt-cost';
import { MIN_SHARED_PAGE } from '../prefill/prefill-call';

export const STAGE_LABELS: Readonly<Record<PromptStage, string>> = {
  dense: 'dense causal (absorbed, over the latent)',
  indexer: 'lightning indexer',
  topk: 'top-k',
  sparse: 'sparse prefill',
};

/** Prompt lengths the model is carried to: doublings from 1K to 1M, and the measured ones. */
export function modelLengths(measured: readonly number[]): number[] {
  const doublings = Array.from({ length: 11 }, (_, k) => 1024 << k);
  return [...new Set([...doublings, ...measured])].sort((a, b) => a - b);
}

export interface CurvePoint {
  readonly keys: number;
  readonly denseMs: number;
  readonly dsaMs: number;
  /** The layer's ways over the prompt, when measured. */
  readonly layerMhaMs?: number;
  readonly layerMqaMs?: number;
  /** Whether the times are measured (else the model's). */
  readonly measured: boolean;
}

/** The two ways' times at each of modelLengths: measured where measured, else modelled. */
export function promptCurves(r: Pick<PromptCostReport, 'points' | 'model'>): CurvePoint[] {
  return modelLengths(r.points.map((p) => p.keys)).map((L) => {
    const p = r.points.find((q) => q.keys === L);
    const layer = r.model.layer;
    if (p) return { keys: L, denseMs: p.ms.dense, dsaMs: p.dsaMs, layerMhaMs: p.layer?.mhaMs, layerMqaMs: p.layer?.mqaMs, measured: true };
    return {
      keys: L, denseMs: predictDense(r.model, L), dsaMs: predictDsa(r.model, L), measured: false,
      layerMhaMs: layer && predictStage(layer['layer-mha'], L, r.model.topk), layerMqaMs: layer && predictStage(layer['layer-mqa'], L, r.model.topk),
    };
  });
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

export const LAYER_WAY_LABELS: Readonly<Record<LayerWay, string>> = {
  'layer-mha': 'layer, MHA mode (K, V recomputed a chunk)',
  'layer-mqa': 'layer, absorbed MQA mode',
};

function fitLine(label: string, f: StageFit): string {
  return `  ${label.padEnd(42)} ${(f.perPair * 1e6).toFixed(3)} ns a pair + ${(f.perToken * 1e3).toFixed(2)} us a query token`;
}

export function describeFit(m: PromptModel): string[] {
  const layer = m.layer;
  return [...PROMPT_STAGES.map((s) => fitLine(STAGE_LABELS[s], m.fits[s])), ...(layer ? LAYER_WAYS.map((w) => fitLine(LAYER_WAY_LABELS[w], layer[w])) : [])];
}

function describeFitError(e: FitError): string {
  return `dense ${pct(e.dense)}, DSA ${pct(e.dsa)}` + (e.layerMha !== undefined ? `, layer MHA ${pct(e.layerMha)}, layer MQA ${pct(e.layerMqa!)}` : '');
}

/** The speed line: the yardstick's range over the run, and the error of a fit to the times brought to one speed. */
export function describeSpeedCorrection(c: NonNullable<PromptCostReport['speedCorrection']>): string {
  return `speed    the plain-matmul yardstick timed before and after each way: ${c.minGflops.toFixed(1)}-${c.maxGflops.toFixed(1)} GFLOP/s; `
    + `fitted instead to the times brought to the run's median, ${c.medianGflops.toFixed(1)} GFLOP/s, the largest error would be: ${describeFitError(c.correctedFitError)}`;
}

export function describePromptCrossover(r: Pick<PromptCostReport, 'measuredCrossover' | 'modelledCrossover' | 'modelledCrossoverMha' | 'points'>): string {
  const c = r.measuredCrossover;
  const measured = c.dsaFrom === undefined ? `dense faster at every length measured (up to ${c.denseUpTo})`
    : c.denseUpTo === undefined ? `DSA faster at every length measured (from ${c.dsaFrom})`
      : c.clean ? `between ${c.denseUpTo} (dense faster) and ${c.dsaFrom} (DSA faster)`
        : `not clean: DSA faster at ${c.dsaFrom} but dense again at ${c.denseUpTo}`;
  const modelled = r.modelledCrossover === undefined ? 'dense stays faster to 1M tokens' : `from ${r.modelledCrossover} tokens`;
  const layer = r.points.every((p) => p.layer);
  const mha = !layer ? '' : `; against the layer's MHA mode: measured ${r.points.some((p) => p.dsaMs < p.layer!.mhaMs) ? `DSA faster from ${Math.min(...r.points.filter((p) => p.dsaMs < p.layer!.mhaMs).map((p) => p.keys))}` : 'MHA mode faster at every length measured'}, `
    + `modelled ${r.modelledCrossoverMha === undefined ? 'MHA mode stays faster to 1M tokens' : `from ${r.modelledCrossoverMha} tokens`}`;
  return `crossover  measured: ${measured}; modelled: ${modelled}${mha}`;
}

function curveTable(r: PromptCostReport): string[] {
  const layered = r.model.layer !== undefined;
  const extra = (c: CurvePoint) => (layered ? ` ${fmtMs(c.layerMhaMs!)} | ${fmtMs(c.layerMqaMs!)} |` : '');
  return [
    `| L | dense | DSA | DSA / dense |${layered ? ' layer MHA | layer MQA |' : ''} |`,
    `|---|---|---|---|${layered ? '---|---|' : ''}---|`,
    ...promptCurves(r).map((c) => `| ${c.keys} | ${fmtMs(c.denseMs)} | ${fmtMs(c.dsaMs)} | ${(c.dsaMs / c.denseMs).toFixed(3)} |${extra(c)} ${c.measured ? 'measured' : 'modelled'} |`),
  ];
}

/** The flat cache's pages: one size at every length (one pipeline of each kernel), or each length its own. */
function describePages(points: readonly PromptCostPoint[]): string {
  const sizes = new Set(points.map((p) => p.pageSize));
  return sizes.size === 1 ? `pages of ${points[0].pageSize} tokens at every length (each kernel compiled once)` : `pages of ${points.map((p) => p.pageSize).join(', ')} tokens (the lengths share no page of ${MIN_SHARED_PAGE} or more)`;
}

export function describePromptCost(r: PromptCostReport): string[] {
  const layered = r.points.every((p) => p.layer);
  const lines = [
    `prompt   every token a query token, seeing the tokens up to its own; d_qk ${r.dims.dQk}, d_v ${r.dims.dV}, h_q ${r.hQ}, top-${r.topk}; cache ${r.layout}, ${describePages(r.points)}`,
    '',
    '| L | dense | indexer | top-k | sparse prefill | DSA (sum) | faster | checks |',
    '|---|---|---|---|---|---|---|---|',
    ...r.points.map((p) => `| ${p.keys} | ${fmtMs(p.ms.dense)} | ${fmtMs(p.ms.indexer)} | ${fmtMs(p.ms.topk)} | ${fmtMs(p.ms.sparse)} | ${fmtMs(p.dsaMs)} | ${p.dsaMs < p.ms.dense ? `DSA ${(p.ms.dense / p.dsaMs).toFixed(2)}x` : `dense ${(p.dsaMs / p.ms.dense).toFixed(2)}x`} | ${p.densePass && p.dsaPass ? 'pass' : `FAIL (${!p.densePass ? 'dense' : ''}${!p.densePass && !p.dsaPass ? ', ' : ''}${!p.dsaPass ? 'DSA' : ''})`} |`),
    '',
    'model    t = a x pairs + b x tokens per stage, fitted to the measured times (relative least squares):',
    ...describeFit(r.model),
    `fit      largest error on the measured points: ${describeFitError(r.fitError)}`,
    ...(r.speedCorrection ? [describeSpeedCorrection(r.speedCorrection)] : []),
    describePromptCrossover(r),
    '',
    ...curveTable(r),
  ];
  if (layered) {
    const chunk = r.points[0].layer!.chunk;
    lines.splice(lines.findIndex((l) => l.startsWith('model ')), 0, ...[
      `The layer (V3's per-head dims, h ${r.hQ}, chunks of ${chunk} query tokens; each chunk checked):`,
      '', '| L | layer MHA mode | layer MQA mode | faster | checks |', '|---|---|---|---|---|',
      ...r.points.map((p) => `| ${p.keys} | ${fmtMs(p.layer!.mhaMs)} | ${fmtMs(p.layer!.mqaMs)} | ${p.layer!.mhaMs < p.layer!.mqaMs ? `MHA ${(p.layer!.mqaMs / p.layer!.mhaMs).toFixed(2)}x` : `MQA ${(p.layer!.mhaMs / p.layer!.mqaMs).toFixed(2)}x`} | ${p.layer!.pass ? 'pass' : 'FAIL'} |`),
      '',
    ]);
  }
  return lines;
}

export function promptCostPasses(r: PromptCostReport): boolean {
  return r.points.every((p) => p.densePass && p.dsaPass && (p.layer?.pass ?? true));
}
