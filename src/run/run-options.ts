/**
 * Run options by name (CLI flags, the page's URL and form), and how they become a
 * shape and a run configuration. Every flag value is checked with a message
 * naming the flag and what it allows.
 */
import { type MlaShape, PRESET_NAMES, SHAPE_LIMITS, ShapeError, maxBlocksPerSeq, presetShape, validateShape } from '../mla/shape';
import { KV_FORMATS, type KvFormat, kvLayout } from '../mla/kv-layout';
import { KERNEL_CHOICES, type KernelChoice } from '../kernels/versions';
import { INPUT_DISTRIBUTIONS, type InputDistribution, type InputOptions, type MlaInputs, generateInputs } from '../mla/inputs';
import type { RunConfig } from './runner';
import { planRequestGroups } from './request-groups';
import { MAX_SPLITS } from '../kernels/split-kv';
import { KEY_READS, type KeyReads, QUERY_READS, type QueryReads } from '../kernels/kernel-plan';
import { MATMUL_SCORE_BLOCKS, OUT_BLOCKS, type MatmulScoreBlockName, type OutBlockName } from '../kernels/register-blocks';
import type { DeviceLimits } from '../gpu/device';
import { checkCacheSize, checkHostMemory, generatedPages, generatesStraightIntoFormat } from './run-size';

export const SHAPE_FLAGS = {
  preset: { type: 'string', default: 'v32' },
  'd-qk': { type: 'string' },
  'd-nope': { type: 'string' },
  'd-rope': { type: 'string' },
  'd-v': { type: 'string' },
  'h-q': { type: 'string' },
  's-q': { type: 'string' },
  batch: { type: 'string' },
  seqlens: { type: 'string' },
  'page-block-size': { type: 'string' },
  topk: { type: 'string' },
  'no-causal': { type: 'boolean', default: false },
  'softmax-scale': { type: 'string' },
  sink: { type: 'boolean', default: false },
  kv: { type: 'string', default: 'fp8' },
  kernel: { type: 'string', default: 'flash' },
  splits: { type: 'string', default: 'auto' },
  'tile-n': { type: 'string' },
  'heads-per-workgroup': { type: 'string' },
  'dot-parts': { type: 'string' },
  keys: { type: 'string' },
  queries: { type: 'string' },
  'score-block': { type: 'string' },
  'out-block': { type: 'string' },
  'shard-mib': { type: 'string' },
  'scale-rounding': { type: 'string', default: 'pow2' },
  seed: { type: 'string', default: '0' },
  distribution: { type: 'string', default: 'normal' },
  samples: { type: 'string' },
  warmup: { type: 'string' },
} as const;

export type FlagValues = Record<string, string | boolean | undefined>;

/** Every shape flag's default, as the CLI's parser fills them in. */
export const SHAPE_FLAG_DEFAULTS: FlagValues = Object.fromEntries(Object.entries(SHAPE_FLAGS).flatMap(([k, f]) => ('default' in f ? [[k, f.default]] : [])));

export function oneOf<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`--${flag} ${JSON.stringify(value)} is not allowed: --${flag} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/**
 * A comma-separated list flag, each item one of `all` (undefined or empty:
 * all of them); an item outside `all` is refused with the flag and what is allowed.
 */
export function listFlag<T extends string | number>(flag: string, value: string | undefined, all: readonly T[]): readonly T[] {
  const text = value?.trim();
  if (!text) return all;
  return text.split(',').map((x) => {
    const v = all.find((a) => String(a) === x.trim());
    if (v === undefined) throw new Error(`--${flag} "${x.trim()}" is not allowed: --${flag} must be one of ${all.join(', ')} (or a comma-separated list of them)`);
    return v;
  });
}

/**
 * An integer flag from min to max. Without a max the flag's largest value is
 * not a fixed number (a kernel's tile on this device): it is checked later,
 * with the kernel, and the message here says so rather than name a limit no
 * one can use.
 */
export function intFlag(flag: string, value: unknown, min: number, max?: number): number | undefined {
  if (value === undefined) return undefined;
  // Plain decimal digits only: "0x10", "1e3", " 5" and "1.0" are refused, not read as 16, 1000, 5 and 1.
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `an integer of at least ${min} (its largest value depends on the kernel and this device, and is checked with them)` : `an integer from ${min} to ${max}`;
    throw new Error(`--${flag} ${JSON.stringify(value)} is not allowed: --${flag} must be ${range}`);
  }
  return n;
}

/** --samples and --warmup of a command that times (undefined: the command's default). */
export function timingFlags(values: { samples?: unknown; warmup?: unknown }): { samples?: number; warmup?: number } {
  return { samples: intFlag('samples', values.samples, 1, 1000), warmup: intFlag('warmup', values.warmup, 0, 1000) };
}

export function numberFlag(flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const decimal = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const n = typeof value === 'string' && decimal.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new Error(`--${flag} ${JSON.stringify(value)} is not allowed: --${flag} must be a decimal number, e.g. 0.0417`);
  return n;
}

export function intList(flag: string, value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = String(value).split(',');
  return parts.map((p) => {
    const n = /^\d+$/.test(p.trim()) ? Number(p) : NaN;
    if (!Number.isSafeInteger(n)) {
      throw new Error(`--${flag} ${JSON.stringify(value)} is not allowed: --${flag} must be a comma-separated list of integers >= 0, e.g. 512,300`);
    }
    return n;
  });
}

/** The shape the flags describe, checked; an error names the flag. */
export function shapeFromFlags(v: FlagValues): MlaShape {
  try {
    return validateShape(shapeFieldsFromFlags(v));
  } catch (e) {
    throw e instanceof ShapeError ? flagError(e) : e;
  }
}

/** The shape fields the flags give (preset first, then each explicit field), each flag's value checked, the whole not. */
export function shapeFieldsFromFlags(v: FlagValues): MlaShape {
  const preset = oneOf('preset', v.preset, PRESET_NAMES);
  const batch = intFlag('batch', v.batch, 1, SHAPE_LIMITS.maxBatch);
  let seqlens = intList('seqlens', v.seqlens) ?? [1024];
  if (batch !== undefined) {
    if (v.seqlens !== undefined && seqlens.length !== 1 && seqlens.length !== batch) {
      throw new Error(`--seqlens has ${seqlens.length} values but --batch is ${batch}: give one seqlen, or one per request`);
    }
    if (seqlens.length === 1) seqlens = Array(batch).fill(seqlens[0]);
  }
  const overrides: Partial<{ -readonly [K in keyof MlaShape]: MlaShape[K] }> = { seqlens, batch: seqlens.length };
  const set = <K extends keyof MlaShape>(key: K, value: MlaShape[K] | undefined) => { if (value !== undefined) overrides[key] = value; };
  set('dQk', intFlag('d-qk', v['d-qk'], 4, SHAPE_LIMITS.maxHeadDim));
  set('dNope', intFlag('d-nope', v['d-nope'], 0, SHAPE_LIMITS.maxHeadDim));
  set('dRope', intFlag('d-rope', v['d-rope'], 0, SHAPE_LIMITS.maxHeadDim));
  set('dV', intFlag('d-v', v['d-v'], 4, SHAPE_LIMITS.maxHeadDim));
  set('hQ', intFlag('h-q', v['h-q'], 1, SHAPE_LIMITS.maxHeads));
  set('sQ', intFlag('s-q', v['s-q'], 1, SHAPE_LIMITS.maxQueryTokens));
  set('pageBlockSize', intFlag('page-block-size', v['page-block-size'], 1, SHAPE_LIMITS.maxPageBlockSize));
  set('topk', intFlag('topk', v.topk, 0, SHAPE_LIMITS.maxTopk));
  set('softmaxScale', numberFlag('softmax-scale', v['softmax-scale']));
  overrides.causal = !v['no-causal'];
  overrides.attentionSink = Boolean(v.sink);
  return presetShape(preset, overrides);
}

/** Shape fields by the flag that sets them. */
const FIELD_FLAGS: Record<string, string> = {
  dQk: 'd-qk', dNope: 'd-nope', dRope: 'd-rope', dV: 'd-v', hQ: 'h-q', sQ: 's-q', batch: 'batch', seqlens: 'seqlens',
  pageBlockSize: 'page-block-size', topk: 'topk', softmaxScale: 'softmax-scale',
};

/** A shape field's error in the words of its flag: "--h-q 2000 is not allowed: --h-q must be ...". */
function flagError(e: ShapeError): Error {
  const field = e.field.replace(/\[\d+\]$/, '');
  const flag = FIELD_FLAGS[field];
  if (!flag) return e;
  if (field !== e.field) return new Error(`--${flag}: ${e.message}`); // seqlens[b]: keep which one
  return new Error(`--${flag} ${Array.isArray(e.value) ? e.value.join(',') : String(e.value)} is not allowed: --${flag} must be ${e.allowed}`);
}

export function configFromFlags(v: FlagValues): RunConfig {
  const kernel = oneOf<KernelChoice>('kernel', v.kernel, KERNEL_CHOICES);
  const kvFormat = oneOf<KvFormat>('kv', v.kv, KV_FORMATS);
  const splits = v.splits === 'auto' || v.splits === undefined ? 'auto' : intFlag('splits', v.splits, 1, MAX_SPLITS);
  const shardMib = numberFlag('shard-mib', v['shard-mib']);
  if (shardMib !== undefined && !(shardMib > 0)) throw new Error(`--shard-mib ${v['shard-mib']} is not allowed: --shard-mib must be a size in MiB above 0, e.g. 16 or 0.5`);
  return {
    shardBytes: shardMib === undefined ? undefined : Math.floor(shardMib * 2 ** 20),
    kernel,
    kvFormat, splits,
    tileN: intFlag('tile-n', v['tile-n'], 1),
    headsPerWorkgroup: intFlag('heads-per-workgroup', v['heads-per-workgroup'], 1),
    dotParts: intFlag('dot-parts', v['dot-parts'], 1),
    keys: v.keys === undefined ? undefined : oneOf<KeyReads>('keys', v.keys, KEY_READS),
    queries: v.queries === undefined ? undefined : oneOf<QueryReads>('queries', v.queries, QUERY_READS),
    scoreBlock: v['score-block'] === undefined ? undefined : oneOf<MatmulScoreBlockName>('score-block', v['score-block'], MATMUL_SCORE_BLOCKS),
    outBlock: v['out-block'] === undefined ? undefined : oneOf<OutBlockName>('out-block', v['out-block'], OUT_BLOCKS),
    scaleRounding: oneOf('scale-rounding', v['scale-rounding'], ['pow2', 'plain'] as const),
  };
}

export function seedFromFlags(v: FlagValues): number {
  return intFlag('seed', v.seed, 0, 0xffffffff) ?? 0;
}

export function distributionFromFlags(v: FlagValues): InputDistribution {
  return oneOf('distribution', v.distribution, INPUT_DISTRIBUTIONS);
}

/** Host memory a run may take, and where that figure comes from (for the message). */
export interface MemoryBudget {
  readonly bytes: number;
  readonly where: string;
}

/** The page's budget: a browser tab holds a few GiB at most. */
export const PAGE_MEMORY_BUDGET: MemoryBudget = { bytes: 1 << 30, where: 'the page allows (1 GiB)' };

/** What generateInputs is to be called with: the shape and its options (no callbacks: it can be posted to a worker). */
export interface GenerationRequest {
  readonly shape: MlaShape;
  readonly options: Omit<InputOptions, 'onProgress'>;
}

/**
 * The generated inputs the flags ask for, after checking that the shape fits
 * the memory budget and the call fits the device (every buffer, shard and
 * binding): nothing is allocated for a shape that cannot run. A cache too
 * large to keep in f32 is generated straight into its format (run-size.ts,
 * F32_CACHE_LIMIT).
 */
export function generationFromFlags(v: FlagValues, limits: DeviceLimits, budget: MemoryBudget): GenerationRequest {
  const shape = shapeFromFlags(v);
  const config = configFromFlags(v);
  checkCacheSize(shape, kvLayout(config.kvFormat, shape, shape.pageBlockSize), limits, config.shardBytes);
  const { layout } = planRequestGroups(shape, generatedPages(shape), maxBlocksPerSeq(shape), config, limits).planned;
  checkHostMemory(shape, layout, budget.bytes, budget.where);
  return {
    shape,
    options: {
      seed: seedFromFlags(v), distribution: distributionFromFlags(v),
      cacheLayout: generatesStraightIntoFormat(shape) ? layout : undefined, scaleRounding: config.scaleRounding,
    },
  };
}

/** Generated inputs (seeded) for the flags, checked first (generationFromFlags). */
export function inputsFromFlags(v: FlagValues, limits: DeviceLimits, budget: MemoryBudget, onProgress?: InputOptions['onProgress']): MlaInputs {
  const { shape, options } = generationFromFlags(v, limits, budget);
  return generateInputs(shape, { ...options, onProgress });
}
