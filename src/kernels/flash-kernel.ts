/**
 * Host side of shaders/flash_decode.wgsl (dense "flash" and sparse kernels)
 * and shaders/combine.wgsl: choose the tile, the head block and the split
 * count for the device, then build the dispatches.
 */
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { SHADER_FILES } from '../gpu/shader-source';
import type { RequestedLimit } from '../gpu/device';
import { type AttentionBuffers, type KernelPass, bindGroup, keySourceBindings } from './kernel-plan';
import { type AttentionSpec, maxKeysPerRow, sharedConstants, sharedFiles } from './attention-spec';

/** Output vec4s per thread, read from the shader so it is written once. */
export const FLASH_ACC_VEC4 = shaderConstant(SHADER_FILES['flash_decode.wgsl'], 'ACC');
/** Upper bound on keys per tile; more buys little once a tile fills the workgroup memory. */
export const MAX_TILE_N = 32;
/** Default workgroup size the head block aims at. */
const TARGET_WORKGROUP = 256;
/** Auto split: aim for this many workgroups in flight, but keep >= MIN_KEYS_PER_SPLIT keys per split. */
const TARGET_WORKGROUPS = 128;
const MIN_KEYS_PER_SPLIT = 256;

export interface FlashOptions {
  /** Keys per tile; default: as many as fit the device's workgroup memory (<= 32). */
  readonly tileN?: number;
  /** Heads sharing one key tile; default: as many as fit a 256-thread workgroup. */
  readonly headsPerWorkgroup?: number;
  /** KV splits per row; 'auto' (default) picks from the batch and seqlen. */
  readonly splits?: number | 'auto';
}

export interface FlashPlan {
  readonly kernel: 'flash' | 'sparse';
  readonly tileN: number;
  readonly headsPerWorkgroup: number;
  readonly threadsPerHead: number;
  readonly workgroupSize: number;
  /** Threads sharing one dot product in the score step. */
  readonly dotParts: number;
  readonly headBlocks: number;
  readonly splits: number;
  /** Workgroup memory one workgroup uses. */
  readonly workgroupBytes: number;
  /** Buffers of the splits' partial results, out [rows, splits, dV] and lse [rows, splits] (0 when splits = 1). */
  readonly partOutBytes: number;
  readonly partLseBytes: number;
}

/** Threads per dot product in the score step: spread HEADS x TILE_N dots over the whole workgroup. */
function dotParts(tileN: number, heads: number, threads: number): number {
  return Math.max(1, Math.floor(threads / (heads * tileN)));
}

/** Workgroup memory of flash_decode.wgsl: key tile + partial scores + slot list. */
function workgroupBytes(tileN: number, heads: number, dQk: number, threads: number): number {
  return 4 * (tileN * dQk + heads * tileN * dotParts(tileN, heads, threads) + tileN);
}

/** Most keys per tile that fit `storage` bytes. */
function largestTile(storage: number, heads: number, dQk: number, threads: number): number {
  let n = 0;
  while (n < MAX_TILE_N && workgroupBytes(n + 1, heads, dQk, threads) <= storage) n++;
  return n;
}

export function flashPlan(spec: AttentionSpec, limits: Readonly<Record<RequestedLimit, number>>, options: FlashOptions = {}): FlashPlan {
  const { shape } = spec;
  const threadsPerHead = Math.ceil(shape.dV / 4 / FLASH_ACC_VEC4);
  const maxThreads = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const maxHeads = Math.floor(maxThreads / threadsPerHead);
  if (maxHeads < 1) {
    throw new Error(`dV = ${shape.dV} needs ${threadsPerHead} threads per head, but this device allows ${maxThreads} per workgroup`);
  }
  const heads = options.headsPerWorkgroup ?? Math.min(shape.hQ, Math.max(1, Math.floor(TARGET_WORKGROUP / threadsPerHead)), maxHeads);
  if (!Number.isInteger(heads) || heads < 1 || heads > maxHeads) {
    throw new Error(`headsPerWorkgroup = ${heads} is not allowed: headsPerWorkgroup must be an integer from 1 to ${maxHeads} on this device (${threadsPerHead} threads per head, ${maxThreads} per workgroup)`);
  }
  const storage = limits.maxComputeWorkgroupStorageSize;
  const threads = heads * threadsPerHead;
  const most = largestTile(storage, heads, shape.dQk, threads);
  if (most < 1) throw new Error(`one key of dQk = ${shape.dQk} does not fit this device's ${storage} bytes of workgroup memory`);
  const tileN = options.tileN ?? most;
  if (!Number.isInteger(tileN) || tileN < 1 || workgroupBytes(tileN, heads, shape.dQk, threads) > storage) {
    throw new Error(`tileN = ${tileN} is not allowed: tileN must be an integer from 1 to ${most} (maxComputeWorkgroupStorageSize ${storage} B)`);
  }
  const headBlocks = Math.ceil(shape.hQ / heads);
  const baseWorkgroups = headBlocks * shape.sQ * shape.batch;
  const keys = maxKeysPerRow(shape);
  let splits: number;
  if (options.splits === undefined || options.splits === 'auto') {
    splits = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / baseWorkgroups), Math.floor(keys / MIN_KEYS_PER_SPLIT)));
  } else {
    splits = options.splits;
    if (!Number.isInteger(splits) || splits < 1 || splits > 256) {
      throw new Error(`splits = ${splits} is not allowed: splits must be "auto" or an integer from 1 to 256`);
    }
  }
  const rows = shape.batch * shape.sQ * shape.hQ;
  return {
    kernel: spec.sparse ? 'sparse' : 'flash', tileN, headsPerWorkgroup: heads, threadsPerHead,
    workgroupSize: threads, dotParts: dotParts(tileN, heads, threads), headBlocks, splits,
    workgroupBytes: workgroupBytes(tileN, heads, shape.dQk, threads),
    partOutBytes: splits > 1 ? 4 * rows * splits * shape.dV : 0,
    partLseBytes: splits > 1 ? 4 * rows * splits : 0,
  };
}

export interface SplitBuffers {
  readonly partOut: GPUBuffer;
  readonly partLse: GPUBuffer;
}

export async function flashPasses(
  device: GPUDevice, spec: AttentionSpec, plan: FlashPlan, buffers: AttentionBuffers, split?: SplitBuffers,
): Promise<KernelPass[]> {
  const { shape } = spec;
  const label = plan.kernel === 'sparse' ? 'sparse-decode' : 'flash-decode';
  const decode = await getPipeline(device, {
    kernel: label,
    files: [...sharedFiles(spec), 'flash_decode.wgsl'],
    entryPoint: 'main',
    edits: spec.edits,
    constants: { ...sharedConstants(spec), D_V: shape.dV, HEADS_PER_WG: plan.headsPerWorkgroup, TILE_N: plan.tileN, DOT_PARTS: plan.dotParts },
  });
  const keys = keySourceBindings(spec.sparse, buffers);
  const grid: [number, number, number] = [plan.headBlocks * plan.splits, shape.sQ, shape.batch];
  if (plan.splits === 1) {
    return [{
      label, pipeline: decode, workgroups: grid,
      bindGroup: bindGroup(device, decode, label, [[0, buffers.kv], [1, buffers.q], [2, buffers.out], [3, buffers.lse], [4, buffers.sink], ...keys]),
    }];
  }
  if (!split) throw new Error('split buffers are required when splits > 1');
  const combine = await getPipeline(device, {
    kernel: 'combine',
    files: ['params.wgsl', 'combine.wgsl'],
    entryPoint: 'main',
    edits: spec.edits,
    constants: { D_V: shape.dV },
  });
  return [
    {
      label, pipeline: decode, workgroups: grid,
      bindGroup: bindGroup(device, decode, label, [[0, buffers.kv], [1, buffers.q], [2, split.partOut], [3, split.partLse], [4, buffers.sink], ...keys]),
    },
    {
      label: 'combine', pipeline: combine, workgroups: [shape.hQ, shape.sQ, shape.batch],
      bindGroup: bindGroup(device, combine, 'combine', [[0, split.partOut], [1, split.partLse], [2, buffers.out], [3, buffers.lse], [4, buffers.sink], [8, buffers.params]]),
    },
  ];
}
