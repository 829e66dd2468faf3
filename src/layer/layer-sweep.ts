/**
 * Time against L: the layer run both ways at each context length, for a
 * decode step (s_q 1) and a prefill chunk, each point checked as every run
 * is. The weights and hidden states are drawn once, for the longest L.
 */
import type { GpuContext } from '../gpu/device';
import type { LayerConfig } from './layer-config';
import { firstTokens, generateLayer } from './layer-inputs';
import { type LayerRunConfig, runLayer } from './layer-run';
import { layerCosts, layerPasses, wayMs } from './layer-report';
import { stepCost } from './layer-costs';
import type { CoreDims } from './layer-reference';

export interface SweepPoint {
  readonly keys: number;
  readonly sQ: number;
  readonly mhaMs: number;
  readonly mqaMs: number;
  /** FLOPs and cache bytes of the absorbed way over MHA recomputing from the latent. */
  readonly flopRatio: number;
  readonly pass: boolean;
}

/** Multiply-adds each sweep point's reference may spend: the checks stay, sampled, and the sweep stays quick. */
const SWEEP_REFERENCE_BUDGET = 2 ** 28;

export async function sweepLayer(ctx: GpuContext, config: LayerConfig, lengths: readonly number[], queryTokens: readonly number[], seed: number, run: Omit<LayerRunConfig, 'time'>, onPoint?: (p: SweepPoint, done: number, total: number) => void): Promise<SweepPoint[]> {
  if (lengths.length === 0) throw new Error('a sweep needs at least one context length');
  const longest = generateLayer(config, Math.max(...lengths), 1, seed);
  const points: SweepPoint[] = [];
  const total = lengths.length * queryTokens.length;
  for (const sQ of queryTokens) {
    for (const keys of lengths) {
      const r = await runLayer(ctx, firstTokens(longest, keys, Math.min(sQ, keys)), { referenceBudget: SWEEP_REFERENCE_BUDGET, ...run, time: true });
      const costs = layerCosts(r);
      const flops = (way: string) => costs.find((c) => c.way === way)!.flops;
      const point: SweepPoint = { keys, sQ: r.sQ, mhaMs: wayMs(r, 'mha')!, mqaMs: wayMs(r, 'mqa')!, flopRatio: flops('absorbed') / flops('mha-recomputed'), pass: layerPasses(r) };
      points.push(point);
      onPoint?.(point, points.length, total);
    }
  }
  return points;
}

/** Per context length: the chunk of query tokens from which MHA mode (K and V recomputed) beats the absorbed MQA mode. */
export interface ChunkCrossover {
  readonly keys: number;
  /** Measured: the largest chunk timed where MQA mode was faster and the smallest where MHA mode was (undefined when none). */
  readonly mqaUpTo?: number;
  readonly mhaFrom?: number;
  /** From the FLOPs alone (layer-costs.ts): the smallest chunk where recomputing does less work. */
  readonly byFlops?: number;
}

/**
 * The smallest chunk of query tokens at the end of `keys` cached tokens
 * where MHA mode recomputing K and V does fewer FLOPs than the absorbed way:
 * decompressing costs per cached token what absorbing costs per query
 * token, while each attended pair costs 2h (192 + 128) against 2h (576 + 512).
 */
export function flopCrossoverChunk(dims: CoreDims, keys: number, most = keys): number | undefined {
  for (let sQ = 1; sQ <= Math.min(most, keys); sQ++) {
    if (stepCost('mha-recomputed', dims, keys, sQ, 2, 0).flops < stepCost('absorbed', dims, keys, sQ, 2, 0).flops) return sQ;
  }
  return undefined;
}

export function chunkCrossovers(points: readonly SweepPoint[], dims: CoreDims): ChunkCrossover[] {
  const lengths = [...new Set(points.map((p) => p.keys))];
  return lengths.map((keys) => {
    const here = points.filter((p) => p.keys === keys && p.sQ > 1).sort((a, b) => a.sQ - b.sQ);
    const mqa = here.filter((p) => p.mqaMs <= p.mhaMs).map((p) => p.sQ);
    const mha = here.filter((p) => p.mhaMs < p.mqaMs).map((p) => p.sQ);
    return { keys, mqaUpTo: mqa.length ? Math.max(...mqa) : undefined, mhaFrom: mha.length ? Math.min(...mha) : undefined, byFlops: flopCrossoverChunk(dims, keys) };
  });
}

export function describeChunkCrossover(c: ChunkCrossover): string {
  const measured = c.mhaFrom === undefined ? `MQA mode faster at every chunk timed (up to ${c.mqaUpTo})`
    : c.mqaUpTo === undefined || c.mqaUpTo > c.mhaFrom ? `MHA mode faster from ${c.mhaFrom} query tokens${c.mqaUpTo !== undefined ? ` (MQA again at ${c.mqaUpTo}: noise or the kernels' blocks)` : ' (at every chunk timed)'}`
      : `MQA mode faster up to ${c.mqaUpTo} query tokens, MHA mode from ${c.mhaFrom}`;
  return `L ${c.keys}: measured: ${measured}; by FLOPs: MHA mode from ${c.byFlops ?? `past ${c.keys}`}`;
}
