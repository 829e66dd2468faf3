/**
 * Host side of shaders/v4_tiled.wgsl (version 4, the GEMM shape): choose the
 * head block, the key tile and the slices of the score step for the device.
 * Register blocks are fixed in the shader (8 heads x 8 keys of S, 8 heads x
 * 16 values of O, held in mat4x4 values); what is tuned here is how many of
 * them a workgroup holds. Workgroup memory is read from the shader's
 * declarations (gpu/wgsl-layout.ts).
 */
import { composeShader } from '../gpu/shader-source';
import { wgslValue, workgroupBytesOf } from '../gpu/wgsl-layout';
import { type AttentionBuffers, type DeviceLimits, type KernelPass, type KernelPlan, type KeyReads, type PlanOptions, PlanDoesNotFit } from './kernel-plan';
import type { KvFormat } from '../mla/kv-layout';
import { type AttentionSpec, sharedConstants } from './attention-spec';
import { type LoopCost, chooseSplits, fusedFiles, fusedPasses, splitScratch } from './split-kv';

/** This version's own WGSL files (its own first), composed after the shared ones. */
export const TILED_FILES = ['v4_tiled.wgsl', 'tiled_blocks.wgsl', 'key_tile.wgsl'] as const;

/** Heads (and keys) of one register block: the shader's 8 x 8 blocks. */
export const TILED_BLOCK = 8;
/** Most heads sharing a tile, and most keys per tile. */
const MAX_HEADS = 64;
const MAX_TILE_N = 64;

/**
 * Where v4 reads keys unless told (--keys). Decoding once into workgroup
 * memory pays where decoding costs more than reading: FP8 (a byte per value,
 * bit operations and a scale each). An f32 or bf16 key costs one read either
 * way, and a read from the cache is no dearer than one from workgroup memory
 * (llvmpipe) or several times cheaper (SwiftShader: docs/kernels.md, "What a
 * read costs"), so those are read where used, and the tile can hold 64 keys:
 * 4 barriers per 64 keys instead of per 8. Measured (V3.2, h_q 64, seqlen
 * 4096; docs/kernels.md, "Keys from the tile or the cache").
 */
export const DEFAULT_KEY_READS: Readonly<Record<KvFormat, KeyReads>> = { f32: 'cache', bf16: 'cache', fp8: 'tile' };

export const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Head block and workgroup size of a tiled version (v4, v5): 8-head blocks, DIM_GROUPS threads each. */
export function tiledHeads(spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions, code: string, kernel: string): { heads: number; threads: number } {
  const { shape } = spec;
  const dimGroups = wgslValue(code, 'DIM_GROUPS', { ...sharedConstants(spec), D_V: shape.dV });
  const maxThreads = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const maxHeads = Math.min(MAX_HEADS, Math.floor(maxThreads / dimGroups) * TILED_BLOCK);
  if (maxHeads < TILED_BLOCK) {
    throw new PlanDoesNotFit(`d_v = ${shape.dV} needs ${dimGroups} threads per ${TILED_BLOCK} heads, but this device allows ${maxThreads} per workgroup`);
  }
  const heads = options.headsPerWorkgroup ?? Math.min(maxHeads, roundUp(shape.hQ, TILED_BLOCK));
  if (!Number.isInteger(heads) || heads < TILED_BLOCK || heads > maxHeads || heads % TILED_BLOCK !== 0) {
    throw new Error(`headsPerWorkgroup = ${heads} is not allowed: headsPerWorkgroup must be a multiple of ${TILED_BLOCK} from ${TILED_BLOCK} to ${maxHeads} for kernel ${kernel} on this device`);
  }
  return { heads, threads: (heads / TILED_BLOCK) * dimGroups };
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

export function tiledPlan(spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions = {}): KernelPlan {
  const { shape } = spec;
  const code = composeShader(fusedFiles(spec, TILED_FILES), spec.edits).code;
  const base = { ...sharedConstants(spec), D_V: shape.dV };
  const { heads, threads } = tiledHeads(spec, limits, options, code, 'tiled');
  const keys = options.keys ?? DEFAULT_KEY_READS[spec.layout.format];
  const fromCache = keys === 'cache';
  const constantsFor = (tileN: number, dotParts: number) => ({
    HEADS_PER_WG: heads, TILE_N: tileN, SCORE_SLICES: dotParts, WG_SIZE: threads, KEYS_FROM_CACHE: fromCache ? 1 : 0,
  });
  const bytes = (tileN: number, dotParts: number) => workgroupBytesOf(code, { ...base, ...constantsFor(tileN, dotParts) });
  const storage = limits.maxComputeWorkgroupStorageSize;
  let most = 0;
  while (most + TILED_BLOCK <= MAX_TILE_N && bytes(most + TILED_BLOCK, 1) <= storage) most += TILED_BLOCK;
  if (most === 0) {
    throw new PlanDoesNotFit(`a tile of ${TILED_BLOCK} keys of d_qk = ${shape.dQk} for ${heads} heads does not fit this device's ${storage} bytes of workgroup memory`);
  }
  const tileN = options.tileN ?? most;
  if (!Number.isInteger(tileN) || tileN < TILED_BLOCK || tileN % TILED_BLOCK !== 0 || bytes(tileN, 1) > storage) {
    throw new Error(`tileN = ${tileN} is not allowed: tileN must be a multiple of ${TILED_BLOCK} from ${TILED_BLOCK} to ${most} for kernel tiled (maxComputeWorkgroupStorageSize ${storage} B)`);
  }
  // Score step: spread the (heads / 8) x (tileN / 8) blocks over the threads by slicing the head dim.
  const blocks = (heads / TILED_BLOCK) * (tileN / TILED_BLOCK);
  const dq4 = shape.dQk / 4;
  let partsMost = 1;
  while (partsMost < dq4 && (partsMost + 1) * blocks <= threads && bytes(tileN, partsMost + 1) <= storage) partsMost++;
  const dotParts = options.dotParts ?? partsMost;
  if (!Number.isInteger(dotParts) || dotParts < 1 || dotParts > dq4 || bytes(tileN, dotParts) > storage) {
    throw new Error(`dotParts = ${dotParts} is not allowed: dotParts must be an integer from 1 to ${dq4} whose score slices fit the workgroup memory (${storage} B)`);
  }
  const splits = chooseSplits(spec, Math.ceil(shape.hQ / heads) * shape.sQ * shape.batch, options.splits, limits, tiledLoops({ tileN, heads, threads, dq4, tasks: blocks * dotParts, perTask: Math.ceil(dq4 / dotParts), slices: dotParts, decoded: !fromCache }));
  return {
    kernel: 'tiled', splits, tileN, headsPerWorkgroup: heads, workgroupSize: threads, keys,
    workgroupBytes: bytes(tileN, dotParts), constants: constantsFor(tileN, dotParts), scratch: splitScratch(spec, splits),
  };
}

export function tiledPasses(
  device: GPUDevice, spec: AttentionSpec, plan: KernelPlan, buffers: AttentionBuffers, scratch: readonly GPUBuffer[],
): Promise<KernelPass[]> {
  const headBlocks = Math.ceil(spec.shape.hQ / plan.headsPerWorkgroup);
  return fusedPasses(device, spec, { label: 'v4-tiled', files: TILED_FILES, plan, headBlocks }, buffers, scratch);
}
