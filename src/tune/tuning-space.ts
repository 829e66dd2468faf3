/**
 * The tuning space of the tiled kernel (v4, shaders/v4_tiled.wgsl): every
 * knob a tuner may turn, the values each may take, and the candidates that
 * fit a device for one call. A candidate is a set of plan options; the
 * default ("flash" with nothing set, whatever version it picks) is always
 * one of them, so a tuned pick is never slower than the default as measured.
 */
import type { AttentionSpec } from '../kernels/attention-spec';
import { type KeyReads, KEY_READS, type DeviceLimits, type KernelPlan, QUERY_READS, type QueryReads } from '../kernels/kernel-plan';
import { OUT_BLOCKS, SCORE_BLOCKS, type OutBlockName, type ScoreBlockName, parseScoreBlock } from '../kernels/register-blocks';
import { resolveKernel } from '../kernels/versions';
import { listFlag } from '../run/run-options';

/** One configuration: kernel "flash" alone is the default; "tiled" with its options is a tuned v4. */
export interface TuningConfig {
  readonly kernel: 'flash' | 'tiled';
  readonly scoreBlock?: ScoreBlockName;
  readonly outBlock?: OutBlockName;
  readonly headsPerWorkgroup?: number;
  readonly tileN?: number;
  readonly keys?: KeyReads;
  readonly queries?: QueryReads;
}

/** The knobs (the pruned search walks them in tuner.ts's WALK_STEPS order). */
export const TUNING_AXES = ['scoreBlock', 'outBlock', 'keys', 'queries', 'headsPerWorkgroup', 'tileN'] as const;
export type TuningAxis = (typeof TUNING_AXES)[number];

/** The values each knob may take. */
export interface TuningSpace {
  readonly scoreBlock: readonly ScoreBlockName[];
  readonly outBlock: readonly OutBlockName[];
  readonly keys: readonly KeyReads[];
  readonly queries: readonly QueryReads[];
  readonly headsPerWorkgroup: readonly number[];
  readonly tileN: readonly number[];
}

/** Everything v4 allows: its score blocks x output blocks (register-blocks.ts) x key reads (KEY_READS) x query reads (QUERY_READS) x 4 head blocks x 4 tiles, before fitting. */
export const FULL_SPACE: TuningSpace = {
  scoreBlock: SCORE_BLOCKS, outBlock: OUT_BLOCKS, keys: KEY_READS, queries: QUERY_READS, headsPerWorkgroup: [8, 16, 32, 64], tileN: [8, 16, 32, 64],
};

/**
 * Each knob's values in the order a search tries them, likeliest first, and
 * so the values the pruned search's first pass moves to (tuner.ts
 * walkOrder). The most work per value read first: the larger register
 * block (more heads on equal size), head block and tile: the 64-value
 * output blocks first where the device takes them (refused elsewhere:
 * DeviceLimits.maxOutValues; the first pass then moves to the likeliest
 * value that fits). Queries from a
 * texture before storage (a texel read cost a seventh of a storage read on
 * llvmpipe, about the same on SwiftShader); keys from the texture, then
 * the cache, before the tiles (with 32-head blocks each key is decoded for
 * 32 heads at once; the texture, filled by a copy, was the fastest of the
 * two in all six shapes on llvmpipe and beat the cache for FP8 on
 * SwiftShader, docs/tuning.md "Keys from a texture"). Measured on the two
 * software adapters only
 * (docs/tuning.md); a search without a budget times every value of a
 * step whatever the order. Each list holds its knob's FULL_SPACE values
 * (a test says so).
 */
export const LIKELIEST_FIRST: TuningSpace = {
  scoreBlock: ['32x16', '16x16', '16x8', '8x16', '8x8'],
  outBlock: ['32x64', '32x32', '16x32', '8x64', '16x16', '8x32', '16x8', '8x16', '8x8'],
  keys: ['texture', 'cache', 'tile', 'tile-bf16', 'tile-storage'],
  queries: ['texture', 'storage'],
  headsPerWorkgroup: [64, 32, 16, 8],
  tileN: [64, 32, 16, 8],
};

/** The list flags (command line) and fields (page) that narrow the space, one per knob. */
export const SPACE_FLAGS: Readonly<Record<TuningAxis, string>> = {
  scoreBlock: 'score-blocks', outBlock: 'out-blocks', keys: 'keys', queries: 'queries', headsPerWorkgroup: 'heads-per-workgroup', tileN: 'tile-n',
};

/**
 * The space narrowed by comma-separated lists, keyed by SPACE_FLAGS (a knob
 * without one keeps all its values); a value outside the full space is
 * refused with the flag and what is allowed.
 */
export function spaceFromLists(lists: Readonly<Record<string, string | undefined>>): TuningSpace {
  const pick = <T extends string | number>(axis: TuningAxis, all: readonly T[]): readonly T[] => listFlag(SPACE_FLAGS[axis], lists[SPACE_FLAGS[axis]], all);
  return {
    scoreBlock: pick('scoreBlock', FULL_SPACE.scoreBlock), outBlock: pick('outBlock', FULL_SPACE.outBlock), keys: pick('keys', FULL_SPACE.keys),
    queries: pick('queries', FULL_SPACE.queries), headsPerWorkgroup: pick('headsPerWorkgroup', FULL_SPACE.headsPerWorkgroup), tileN: pick('tileN', FULL_SPACE.tileN),
  };
}

export const DEFAULT_CONFIG: TuningConfig = { kernel: 'flash' };

/** A short name for a configuration, for tables and progress lines. */
export function configName(c: TuningConfig): string {
  if (c.kernel === 'flash') return 'default (flash)';
  return `S ${c.scoreBlock} O ${c.outBlock} keys ${c.keys} queries ${c.queries} heads ${c.headsPerWorkgroup} tile ${c.tileN}`;
}

/** The plan a configuration gets on this device, or why it does not fit. */
export function planOf(config: TuningConfig, spec: AttentionSpec, limits: DeviceLimits): { plan: KernelPlan; version: string } | { error: string } {
  const { kernel, ...options } = config;
  try {
    const r = resolveKernel(kernel, spec, limits, options);
    return { plan: r.plan, version: `${r.version.id} ${r.version.name}` };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Every tuned configuration of the space, with the default first. */
export function allConfigs(space: TuningSpace): TuningConfig[] {
  const out: TuningConfig[] = [DEFAULT_CONFIG];
  for (const scoreBlock of space.scoreBlock) for (const outBlock of space.outBlock) for (const keys of space.keys) for (const queries of space.queries)
    for (const headsPerWorkgroup of space.headsPerWorkgroup) for (const tileN of space.tileN)
      out.push({ kernel: 'tiled', scoreBlock, outBlock, keys, queries, headsPerWorkgroup, tileN });
  return out;
}

/** The configurations of the space that fit this device for this call (the plan accepts them). */
export function fittingConfigs(space: TuningSpace, spec: AttentionSpec, limits: DeviceLimits): TuningConfig[] {
  return allConfigs(space).filter((c) => !('error' in planOf(c, spec, limits)));
}

/** A configuration with one knob moved (the default first becomes a v4 configuration with the plan's own choices). */
export function withAxis(c: TuningConfig, axis: TuningAxis, value: TuningConfig[TuningAxis]): TuningConfig {
  return { ...c, kernel: 'tiled', [axis]: value };
}

/** The v4 configuration a plan amounts to (the starting point of the pruned search). */
export function configOfPlan(plan: KernelPlan): TuningConfig {
  return {
    kernel: 'tiled', scoreBlock: plan.scoreBlock === undefined ? undefined : parseScoreBlock(plan.scoreBlock), outBlock: plan.outBlock, keys: plan.keys, queries: plan.queries,
    headsPerWorkgroup: plan.headsPerWorkgroup, tileN: plan.tileN,
  };
}

/** Same configuration (every knob equal). */
export const sameConfig = (a: TuningConfig, b: TuningConfig) => configName(a) === configName(b);
