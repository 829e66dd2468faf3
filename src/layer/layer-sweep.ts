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
