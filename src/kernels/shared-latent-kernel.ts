/**
 * Host side of shaders/v3_shared_latent.wgsl (version 3): choose the tile and
 * the head block for the device. The workgroup memory of a candidate is read
 * from the shader's own declarations (gpu/wgsl-layout.ts), never restated here.
 */
import { composeShader } from '../gpu/shader-source';
import { wgslValue, workgroupBytesOf } from '../gpu/wgsl-layout';
import { type AttentionBuffers, type DeviceLimits, type CallPass, type KernelPlan, type PlanOptions, PlanDoesNotFit } from './kernel-plan';
import { type AttentionSpec, sharedConstants } from './attention-spec';
import { chooseSplits, fusedFiles, fusedPasses, splitScratch } from './split-kv';

/** This version's own WGSL files (its own first), composed after the shared ones. */
export const SHARED_LATENT_FILES = ['v3_shared_latent.wgsl', 'key_tile.wgsl'] as const;

/** Upper bound on keys per tile; more buys little once a tile fills the workgroup memory. */
const MAX_TILE_N = 32;
/** Default workgroup size the head block aims at. */
const TARGET_WORKGROUP = 256;

/** Threads sharing one dot product in the score step: spread HEADS x TILE_N dots over the whole workgroup. */
function dotParts(tileN: number, heads: number, threads: number): number {
  return Math.max(1, Math.floor(threads / (heads * tileN)));
}

export function sharedLatentPlan(spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions = {}): KernelPlan {
  const { shape } = spec;
  const code = composeShader(fusedFiles(spec, SHARED_LATENT_FILES), spec.edits).code;
  const base = { ...sharedConstants(spec), D_V: shape.dV };
  const threadsPerHead = wgslValue(code, 'THREADS_PER_HEAD', base);
  const maxThreads = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const maxHeads = Math.floor(maxThreads / threadsPerHead);
  if (maxHeads < 1) {
    throw new PlanDoesNotFit(`d_v = ${shape.dV} needs ${threadsPerHead} threads per head, but this device allows ${maxThreads} per workgroup`);
  }
  const heads = options.headsPerWorkgroup ?? Math.min(shape.hQ, Math.max(1, Math.floor(TARGET_WORKGROUP / threadsPerHead)), maxHeads);
  if (!Number.isInteger(heads) || heads < 1 || heads > maxHeads) {
    throw new Error(`headsPerWorkgroup = ${heads} is not allowed: headsPerWorkgroup must be an integer from 1 to ${maxHeads} on this device (${threadsPerHead} threads per head, ${maxThreads} per workgroup)`);
  }
  const threads = heads * threadsPerHead;
  const constantsFor = (tileN: number) => ({ HEADS_PER_WG: heads, TILE_N: tileN, DOT_PARTS: dotParts(tileN, heads, threads) });
  const bytes = (tileN: number) => workgroupBytesOf(code, { ...base, ...constantsFor(tileN) });
  const storage = limits.maxComputeWorkgroupStorageSize;
  let most = 0;
  while (most < MAX_TILE_N && bytes(most + 1) <= storage) most++;
  if (most < 1) throw new PlanDoesNotFit(`one key of d_qk = ${shape.dQk} does not fit this device's ${storage} bytes of workgroup memory`);
  const tileN = options.tileN ?? most;
  if (!Number.isInteger(tileN) || tileN < 1 || tileN > MAX_TILE_N || bytes(tileN) > storage) {
    throw new Error(`tileN = ${tileN} is not allowed: tileN must be an integer from 1 to ${most} for this kernel (maxComputeWorkgroupStorageSize ${storage} B)`);
  }
  // Per tile a thread loops: list and decode, its score tasks (each a slice of the dot), the part sums, the head's max and P.V.
  const parts = dotParts(tileN, heads, threads);
  const dq4 = shape.dQk / 4;
  const c = (n: number) => Math.ceil(n / threads);
  const acc = wgslValue(code, 'ACC', { ...base, ...constantsFor(tileN) });
  const loops = {
    keysPerTile: tileN,
    loopsPerTile: 1 + c(tileN) + c(tileN * dq4) + c(heads * tileN * parts) * (1 + Math.ceil(dq4 / parts)) + c(heads * tileN) * (1 + parts) + 2 * tileN * (1 + acc) + acc,
  };
  const splits = chooseSplits(spec, Math.ceil(shape.hQ / heads) * shape.sQ * shape.batch, options.splits, limits, loops);
  return {
    kernel: 'shared-latent', splits, tileN, headsPerWorkgroup: heads, workgroupSize: threads,
    workgroupBytes: bytes(tileN), constants: constantsFor(tileN), scratch: splitScratch(spec, splits),
  };
}

export function sharedLatentPasses(
  device: GPUDevice, spec: AttentionSpec, plan: KernelPlan, buffers: AttentionBuffers, scratch: readonly GPUBuffer[],
): Promise<CallPass[]> {
  const headBlocks = Math.ceil(spec.shape.hQ / plan.headsPerWorkgroup);
  return fusedPasses(device, spec, { label: 'v3-shared-latent', files: SHARED_LATENT_FILES, plan, headBlocks }, buffers, scratch);
}
