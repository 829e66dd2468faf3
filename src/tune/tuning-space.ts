/**
 * The tuning space: the two versions a tuner searches, every knob each has,
 * the values each knob may take, and the candidates that fit a device for
 * one call. Version 4, "tiled" (shaders/v4_tiled.wgsl), has six knobs: its
 * two register blocks, where keys and queries are read, the head block and
 * the tile. Version 6, "matmuls" (shaders/v6_*.wgsl), has two: its register
 * blocks (every operand a texel, no tile, no workgroup memory). A candidate
 * is a version and its plan options; the default ("flash" with nothing set,
 * whatever version it picks) is always one of them, so a tuned pick is never
 * slower than the default as measured.
 */
import type { AttentionSpec } from '../kernels/attention-spec';
import { type KeyReads, KEY_READS, type DeviceLimits, type KernelPlan, QUERY_READS, type QueryReads } from '../kernels/kernel-plan';
import { MATMUL_SCORE_BLOCKS, OUT_BLOCKS, type MatmulScoreBlockName, type OutBlockName } from '../kernels/register-blocks';
import { resolveKernel } from '../kernels/versions';
import { listFlag } from '../run/run-options';

/** The versions the tuner searches: v4 and v6 (versions.ts names). */
export const TUNED_KERNELS = ['tiled', 'matmuls'] as const;
export type TunedKernel = (typeof TUNED_KERNELS)[number];

/**
 * One configuration: kernel "flash" alone is the default; "tiled" with its
 * six knobs is a tuned v4, "matmuls" with its two blocks a tuned v6 (the
 * knobs it does not have are left out).
 */
export interface TuningConfig {
  readonly kernel: 'flash' | TunedKernel;
  readonly scoreBlock?: MatmulScoreBlockName;
  readonly outBlock?: OutBlockName;
  readonly headsPerWorkgroup?: number;
  readonly tileN?: number;
  readonly keys?: KeyReads;
  readonly queries?: QueryReads;
}

/**
 * The axes of the space: the version, then its knobs (the pruned search
 * searches each version on its own, walking its knobs in tuner.ts's
 * WALK_STEPS order).
 */
export const TUNING_AXES = ['kernel', 'scoreBlock', 'outBlock', 'keys', 'queries', 'headsPerWorkgroup', 'tileN'] as const;
export type TuningAxis = (typeof TUNING_AXES)[number];
/** The axes a configuration of a version sets, its version aside. */
export type TuningKnob = Exclude<TuningAxis, 'kernel'>;

/** Each version's knobs: v6 has its two register blocks only (it reads keys and queries from textures and has no tile). */
export const KNOBS: Readonly<Record<TunedKernel, readonly TuningKnob[]>> = {
  tiled: ['scoreBlock', 'outBlock', 'keys', 'queries', 'headsPerWorkgroup', 'tileN'],
  matmuls: ['scoreBlock', 'outBlock'],
};

/** The values each axis may take. */
export interface TuningSpace {
  readonly kernel: readonly TunedKernel[];
  readonly scoreBlock: readonly MatmulScoreBlockName[];
  readonly outBlock: readonly OutBlockName[];
  readonly keys: readonly KeyReads[];
  readonly queries: readonly QueryReads[];
  readonly headsPerWorkgroup: readonly number[];
  readonly tileN: readonly number[];
}

/**
 * Everything the two versions allow: v4's score blocks x output blocks
 * (register-blocks.ts) x key reads (KEY_READS) x query reads (QUERY_READS) x
 * 4 head blocks x 4 tiles, and v6's score blocks (v4's and 32x32) x output
 * blocks, before fitting (v4 refuses the 32x32 score block).
 */
export const FULL_SPACE: TuningSpace = {
  kernel: TUNED_KERNELS, scoreBlock: MATMUL_SCORE_BLOCKS, outBlock: OUT_BLOCKS, keys: KEY_READS, queries: QUERY_READS, headsPerWorkgroup: [8, 16, 32, 64], tileN: [8, 16, 32, 64],
};

/**
 * Each axis's values in the order a search tries them, likeliest first, and
 * so the values the pruned search's first pass moves to (tuner.ts
 * walkOrder). The versions: v6 first (its plain matrix products were the
 * closest to the yardstick on both software adapters: docs/kernels.md,
 * "Version 6"); the search times each version's start in this order, then
 * searches the version whose start was faster first. For the knobs, the
 * most work per value read first: the larger register
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
  kernel: ['matmuls', 'tiled'],
  scoreBlock: ['32x32', '32x16', '16x16', '16x8', '8x16', '8x8'],
  outBlock: ['32x64', '32x32', '16x32', '8x64', '16x16', '8x32', '16x8', '8x16', '8x8'],
  keys: ['texture', 'cache', 'tile', 'tile-bf16', 'tile-storage'],
  queries: ['texture', 'storage'],
  headsPerWorkgroup: [64, 32, 16, 8],
  tileN: [64, 32, 16, 8],
};

/** The list flags (command line) and fields (page) that narrow the space, one per axis. */
export const SPACE_FLAGS: Readonly<Record<TuningAxis, string>> = {
  kernel: 'kernels', scoreBlock: 'score-blocks', outBlock: 'out-blocks', keys: 'keys', queries: 'queries', headsPerWorkgroup: 'heads-per-workgroup', tileN: 'tile-n',
};

/**
 * The space narrowed by comma-separated lists, keyed by SPACE_FLAGS (a knob
 * without one keeps all its values); a value outside the full space is
 * refused with the flag and what is allowed.
 */
export function spaceFromLists(lists: Readonly<Record<string, string | undefined>>): TuningSpace {
  const pick = <T extends string | number>(axis: TuningAxis, all: readonly T[]): readonly T[] => listFlag(SPACE_FLAGS[axis], lists[SPACE_FLAGS[axis]], all);
  return {
    kernel: pick('kernel', FULL_SPACE.kernel), scoreBlock: pick('scoreBlock', FULL_SPACE.scoreBlock), outBlock: pick('outBlock', FULL_SPACE.outBlock), keys: pick('keys', FULL_SPACE.keys),
    queries: pick('queries', FULL_SPACE.queries), headsPerWorkgroup: pick('headsPerWorkgroup', FULL_SPACE.headsPerWorkgroup), tileN: pick('tileN', FULL_SPACE.tileN),
  };
}

export const DEFAULT_CONFIG: TuningConfig = { kernel: 'flash' };

/** A short name for a configuration, for tables and progress lines. */
export function configName(c: TuningConfig): string {
  if (c.kernel === 'flash') return 'default (flash)';
  if (c.kernel === 'matmuls') return `matmuls S ${c.scoreBlock} O ${c.outBlock}`;
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

/** Every tuned configuration of the space (each version's knobs in every combination), with the default first. */
export function allConfigs(space: TuningSpace): TuningConfig[] {
  const out: TuningConfig[] = [DEFAULT_CONFIG];
  for (const kernel of space.kernel) {
    out.push(...KNOBS[kernel].reduce<TuningConfig[]>((configs, knob) => configs.flatMap((c) => space[knob].map((v) => ({ ...c, [knob]: v }))), [{ kernel }]));
  }
  return out;
}

/** The configurations of the space that fit this device for this call (the plan accepts them). */
export function fittingConfigs(space: TuningSpace, spec: AttentionSpec, limits: DeviceLimits): TuningConfig[] {
  return allConfigs(space).filter((c) => !('error' in planOf(c, spec, limits)));
}

/**
 * A configuration with one knob moved: the default becomes a v4
 * configuration with the plan's own choices; a knob the version does not
 * have leaves it as it is.
 */
export function withAxis(c: TuningConfig, axis: TuningKnob, value: TuningConfig[TuningKnob]): TuningConfig {
  const kernel = c.kernel === 'flash' ? 'tiled' : c.kernel;
  return KNOBS[kernel].includes(axis) ? { ...c, kernel, [axis]: value } : c;
}

/** The tuned configuration a plan of v4 or v6 amounts to (the starting point of the pruned search); undefined for another version. */
export function configOfPlan(plan: KernelPlan): TuningConfig | undefined {
  if (plan.kernel === 'matmuls') return { kernel: 'matmuls', scoreBlock: plan.scoreBlock, outBlock: plan.outBlock };
  if (plan.kernel !== 'tiled') return undefined;
  return {
    kernel: 'tiled', scoreBlock: plan.scoreBlock, outBlock: plan.outBlock, keys: plan.keys, queries: plan.queries,
    headsPerWorkgroup: plan.headsPerWorkgroup, tileN: plan.tileN,
  };
}

/** Same configuration (every knob equal). */
export const sameConfig = (a: TuningConfig, b: TuningConfig) => configName(a) === configName(b);
