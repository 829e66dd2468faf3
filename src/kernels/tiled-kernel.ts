/**
 * Host side of shaders/v4_tiled.wgsl (version 4, the GEMM shape): choose the
 * register blocks, the head block, the key tile and the slices of the score
 * step for the device. A thread's blocks of S and of O are chosen among the
 * sizes of register-blocks.ts (8x8 and 8x16 unless told); what is fitted to
 * the device here is how many of them a workgroup holds. Workgroup memory is
 * read from the shader's declarations (gpu/wgsl-layout.ts).
 */
import { composeShader } from '../gpu/shader-source';
import { storageBuffersDeclared } from '../gpu/bindings';
import { wgslValue, workgroupBytesOf } from '../gpu/wgsl-layout';
import {
  type AttentionBuffers, type DeviceLimits, type CallPass, type KernelPlan, type KeyReads, type PlanOptions, PlanDoesNotFit, QUERY_READS, STORAGE_TILE_LABEL,
  CACHE_ROWS_LABEL, cacheCopiesStraight, cacheRowLoads, cacheTextureRows, quadsCacheTexture, queryTextureSize,
} from './kernel-plan';
import type { KvFormat } from '../mla/kv-layout';
import { type AttentionSpec, sharedConstants } from './attention-spec';
import { type LoopCost, chooseSplits, fusedFiles, fusedPasses, splitScratch } from './split-kv';
import { type BlockPair, blockConstants, blockSize, defaultBlocks, parseOutBlock, parseScoreBlock } from './register-blocks';

/** This version's own WGSL files (its own first), composed after the shared ones. */
export const TILED_FILES = ['v4_tiled.wgsl', 'tiled_blocks.wgsl', 'head_quads.wgsl', 'key_tile.wgsl'] as const;

/** Heads of the smallest register block, and the step of the head block and the key tile. */
export const TILED_BLOCK = 8;
/** Most heads sharing a tile, and most keys per tile. */
const MAX_HEADS = 64;
const MAX_TILE_N = 64;

/**
 * Where v4 reads keys unless told (--keys). Decoding once into workgroup
 * memory pays where decoding costs more than reading: FP8 (a byte per value,
 * bit operations and a scale each), decoded into a tile held in bf16 (half
 * the bytes of f32, so twice the keys a tile and a 16-key score block;
 * exact for power-of-two scales; a cache whose scales are not powers of two
 * falls back to the f32 tile, runner.ts); measured in docs/tuning.md,
 * "FP8's cost".
 * An f32 or bf16 key costs one read either way, and a read from the cache is
 * no dearer than one from workgroup memory (llvmpipe) or several times
 * cheaper (SwiftShader: docs/kernels.md, "What a read costs"), so those are
 * read where used, and the tile can hold 64 keys: 4 barriers per 64 keys
 * instead of per 8. Measured (V3.2, h_q 64, seqlen 4096; docs/kernels.md,
 * "Keys from the tile or the cache").
 */
export const DEFAULT_KEY_READS: Readonly<Record<KvFormat, KeyReads>> = { f32: 'cache', bf16: 'cache', fp8: 'tile-bf16' };

export const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** The register blocks asked for, or this device's defaults for keys read this way (register-blocks.ts); a name outside register-blocks.ts is refused. */
export function chosenBlocks(options: PlanOptions, limits: DeviceLimits, keys: KeyReads): BlockPair {
  const defaults = defaultBlocks(limits.cpuThreads, keys);
  const pair = {
    score: parseScoreBlock(options.scoreBlock ?? defaults.score),
    out: parseOutBlock(options.outBlock ?? defaults.out),
  };
  const values = blockSize(pair.out).cols;
  if (values > limits.maxOutValues) {
    throw new PlanDoesNotFit(`output block ${pair.out} holds ${values} values of the output row a thread, over the ${limits.maxOutValues} this device's shader compiler is known to take (maxOutValues: only Mesa llvmpipe takes 64); use an output block of ${limits.maxOutValues} values or fewer`);
  }
  return pair;
}

/**
 * Head block and workgroup size of a tiled version (v4, v5): a multiple of
 * both blocks' heads; one thread per OUT_HEADS heads x DIM_GROUPS (the output
 * row in OUT_VALUES-wide pieces).
 */
export function tiledHeads(
  spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions, code: string, kernel: string, blocks: Record<string, number>,
): { heads: number; threads: number } {
  const { shape } = spec;
  const dimGroups = wgslValue(code, 'DIM_GROUPS', { ...sharedConstants(spec), D_V: shape.dV, ...blocks });
  const outHeads = blocks.OUT_HEADS;
  const step = Math.max(blocks.SCORE_HEADS, outHeads);
  const maxThreads = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const maxHeads = Math.floor(Math.min(MAX_HEADS, Math.floor(maxThreads / dimGroups) * outHeads) / step) * step;
  if (maxHeads < step) {
    throw new PlanDoesNotFit(`d_v = ${shape.dV} needs ${dimGroups} threads per ${outHeads} heads (output block ${outHeads}x${blocks.OUT_VALUES}), but this device allows ${maxThreads} per workgroup`);
  }
  const heads = options.headsPerWorkgroup ?? Math.min(maxHeads, roundUp(shape.hQ, step));
  if (!Number.isInteger(heads) || heads < step || heads > maxHeads || heads % step !== 0) {
    throw new Error(`headsPerWorkgroup = ${heads} is not allowed: headsPerWorkgroup must be a multiple of ${step} (the register blocks' heads) from ${step} to ${maxHeads} for kernel ${kernel} on this device`);
  }
  return { heads, threads: (heads / outHeads) * dimGroups };
}

/** What sets a tiled version's loop count per tile (tiledLoops). */
export interface TiledLoopShape {
  readonly tileN: number;
  readonly heads: number;
  readonly threads: number;
  /** Quads of d_qk. */
  readonly dq4: number;
  /** Score tasks of `perTask` iterations each, spread over the threads. */
  readonly tasks: number;
  readonly perTask: number;
  /** Partial scores the softmax sums per key. */
  readonly slices: number;
  /** Whether the tile is decoded into workgroup memory (false: keys read from the cache where used). */
  readonly decoded: boolean;
}

/**
 * Loop iterations per tile of a tiled version's thread (v4, v5): list the
 * tile, decode it (unless its keys are read from the cache), the score
 * tasks, the softmax loops of a head over the tile's quads, and P.V's four
 * keys a step.
 */
export function tiledLoops(t: TiledLoopShape): LoopCost {
  const c = (n: number) => Math.ceil(n / t.threads);
  const softmax = 2 + (t.tileN / 4) * (2 + t.slices);
  const decode = t.decoded ? c(t.tileN * t.dq4) : 0;
  return { keysPerTile: t.tileN, loopsPerTile: 1 + c(t.tileN) + decode + c(t.tasks) * (1 + t.perTask) + c(t.heads) * softmax + t.tileN + 4 };
}

/**
 * A bf16 tile holds a key exactly only where every value of it is a bf16
 * value: an f32 cache would be rounded, refused here; an FP8 cache's scales
 * are read when the call is prepared (src/mla/kv-quant.ts, decodesToBf16).
 */
function refuseInexactBf16Tile(spec: AttentionSpec): void {
  if (spec.layout.format === 'f32') {
    throw new Error('keys "tile-bf16" is not allowed for an f32 cache: its keys would be rounded to bf16; use keys tile or cache');
  }
}

export function tiledPlan(spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions = {}): KernelPlan {
  const { shape } = spec;
  const base = { ...sharedConstants(spec), D_V: shape.dV };
  const keys = options.keys ?? DEFAULT_KEY_READS[spec.layout.format];
  const chosen = chosenBlocks(options, limits, keys);
  const blocks = blockConstants(chosen.score, chosen.out);
  const score = blockSize(chosen.score);
  const fromTexture = keys === 'texture';
  const fromCache = keys === 'cache' || fromTexture;
  const inStorage = keys === 'tile-storage';
  if (keys === 'tile-bf16') refuseInexactBf16Tile(spec);
  const cacheTexture = fromTexture ? quadsCacheTexture(spec, limits) : undefined;
  if (fromTexture) cacheRowLoads(spec);
  if (options.queries !== undefined && !QUERY_READS.includes(options.queries)) {
    throw new Error(`queries ${JSON.stringify(options.queries)} is not allowed: queries must be one of ${QUERY_READS.join(', ')}`);
  }
  const queries = options.queries ?? 'storage';
  if (queries === 'texture') refuseQueryTextureOver(spec, limits);
  // The module with the storage tile's and the texture's lines where the plan has them (its bindings; the
  // marked lines declare no workgroup memory, so its sizes are the same either way).
  const code = composeShader(fusedFiles(spec, TILED_FILES), spec.edits, { storageTile: inStorage, queryTexture: queries === 'texture', cacheTexture: fromTexture }).code;
  const { heads, threads } = tiledHeads(spec, limits, options, code, 'tiled', blocks);
  if (inStorage) refuseStorageTileOver(limits, storageBuffersDeclared(code));
  const constantsFor = (tileN: number, dotParts: number) => ({
    HEADS_PER_WG: heads, TILE_N: tileN, SCORE_SLICES: dotParts, WG_SIZE: threads,
    KEYS_FROM_CACHE: fromCache ? 1 : 0, KEYS_TEXTURE: fromTexture ? 1 : 0, KEY_TILE_BF16: keys === 'tile-bf16' ? 1 : 0, KEY_TILE_STORAGE: inStorage ? 1 : 0,
    QUERIES_TEXTURE: queries === 'texture' ? 1 : 0, ...blocks,
  });
  const bytes = (tileN: number, dotParts: number) => workgroupBytesOf(code, { ...base, ...constantsFor(tileN, dotParts) });
  const storage = limits.maxComputeWorkgroupStorageSize;
  const tileStep = score.cols;
  let most = 0;
  while (most + tileStep <= MAX_TILE_N && bytes(most + tileStep, 1) <= storage) most += tileStep;
  if (most === 0) {
    throw new PlanDoesNotFit(`a tile of ${tileStep} keys of d_qk = ${shape.dQk} for ${heads} heads does not fit this device's ${storage} bytes of workgroup memory`);
  }
  const tileN = options.tileN ?? most;
  if (!Number.isInteger(tileN) || tileN < tileStep || tileN % tileStep !== 0 || tileN > most) {
    throw new Error(`tileN = ${tileN} is not allowed: tileN must be a multiple of ${tileStep} from ${tileStep} to ${most} for kernel tiled (a whole number of score blocks of ${tileStep} keys; maxComputeWorkgroupStorageSize ${storage} B)`);
  }
  // Score step: spread the score blocks over the threads by slicing the head dim.
  const scoreBlocks = (heads / score.heads) * (tileN / score.cols);
  const dq4 = shape.dQk / 4;
  let partsMost = 1;
  while (partsMost < dq4 && (partsMost + 1) * scoreBlocks <= threads && bytes(tileN, partsMost + 1) <= storage) partsMost++;
  const dotParts = options.dotParts ?? partsMost;
  if (!Number.isInteger(dotParts) || dotParts < 1 || dotParts > dq4 || bytes(tileN, dotParts) > storage) {
    throw new Error(`dotParts = ${dotParts} is not allowed: dotParts must be an integer from 1 to ${dq4} whose score slices fit the workgroup memory (${storage} B)`);
  }
  const workgroupsPerSplit = Math.ceil(shape.hQ / heads) * shape.sQ * shape.batch;
  const splits = chooseSplits(spec, workgroupsPerSplit, options.splits, limits, tiledLoops({ tileN, heads, threads, dq4, tasks: scoreBlocks * dotParts, perTask: Math.ceil(dq4 / dotParts), slices: dotParts, decoded: !fromCache }));
  const scratch = [
    ...splitScratch(spec, splits), ...(inStorage ? [storageTileScratch(limits, tileN * shape.dQk, workgroupsPerSplit * splits)] : []),
    ...(cacheTexture && !cacheCopiesStraight(spec) ? [{ label: CACHE_ROWS_LABEL, bytes: cacheTextureRows(cacheTexture.size).bytes }] : []),
  ];
  return {
    kernel: 'tiled', splits, tileN, headsPerWorkgroup: heads, workgroupSize: threads, keys, queries, scoreBlock: chosen.score, outBlock: chosen.out,
    workgroupBytes: bytes(tileN, dotParts), constants: constantsFor(tileN, dotParts), scratch, cacheTexture,
  };
}

/** One tile of `tileValues` f32 values for each of `workgroups` workgroups; a plan whose tiles would not fit one binding does not fit. */
function storageTileScratch(limits: DeviceLimits, tileValues: number, workgroups: number): KernelPlan['scratch'][number] {
  const bytes = 4 * tileValues * workgroups;
  const most = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (bytes > most) {
    throw new PlanDoesNotFit(`keys "tile-storage": ${workgroups} workgroups' tiles of ${tileValues} f32 values are ${bytes} bytes, over this device's ${most}-byte storage binding (fewer splits, a shorter tile, or other keys)`);
  }
  return { label: STORAGE_TILE_LABEL, bytes };
}

/** The queries' texture (`--queries texture`, queryTextureSize) must fit the device's 2D textures. */
export function refuseQueryTextureOver(spec: AttentionSpec, limits: DeviceLimits): void {
  const { width, height } = queryTextureSize(spec.shape);
  const most = limits.maxTextureDimension2D;
  if (width > most || height > most) {
    throw new PlanDoesNotFit(`queries "texture": ${height} query rows (batch x s_q x h_q) of ${width} texels is over this device's maxTextureDimension2D of ${most}; use queries storage`);
  }
}


/** Refuse a storage tile where the module that binds it (its binding is blanked in every other) binds more storage buffers than allowed. */
function refuseStorageTileOver(limits: DeviceLimits, buffers: number): void {
  if (buffers > limits.maxStorageBuffersPerShaderStage) {
    throw new PlanDoesNotFit(`keys "tile-storage" binds ${buffers} storage buffers, over this device's maxStorageBuffersPerShaderStage of ${limits.maxStorageBuffersPerShaderStage} (the cache's shards count too): use keys tile, tile-bf16 or cache`);
  }
}

export function tiledPasses(
  device: GPUDevice, spec: AttentionSpec, plan: KernelPlan, buffers: AttentionBuffers, scratch: readonly GPUBuffer[],
): Promise<CallPass[]> {
  const headBlocks = Math.ceil(spec.shape.hQ / plan.headsPerWorkgroup);
  return fusedPasses(device, spec, { label: 'v4-tiled', files: TILED_FILES, plan, headBlocks }, buffers, scratch);
}
