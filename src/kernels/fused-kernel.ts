/**
 * Host side of shaders/v2_fused.wgsl (version 2): one workgroup per (query
 * row, head, split), WG_SIZE threads, a tile of WG_SIZE keys.
 */
import { composeShader } from '../gpu/shader-source';
import { workgroupBytesOf } from '../gpu/wgsl-layout';
import { type AttentionBuffers, type DeviceLimits, type CallPass, type KernelPlan, type PlanOptions, PlanDoesNotFit } from './kernel-plan';
import { type AttentionSpec, sharedConstants } from './attention-spec';
import { chooseSplits, fusedFiles, fusedPasses, splitScratch } from './split-kv';

/** This version's own WGSL files (its own first), composed after the shared ones. */
export const FUSED_FILES = ['v2_fused.wgsl'] as const;

/** At least this many threads (and keys per tile), even for a tiny d_v. */
const MIN_THREADS = 32;

export function fusedPlan(spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions = {}): KernelPlan {
  const { shape } = spec;
  const maxThreads = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const threads = Math.max(MIN_THREADS, Math.ceil(shape.dV / 8));
  if (threads > maxThreads) {
    throw new PlanDoesNotFit(`d_v = ${shape.dV} needs ${threads} threads (two output quads each), but this device allows ${maxThreads} per workgroup`);
  }
  // Per tile of `threads` keys a thread loops: the tile, its key's dot (dq4), the max and P.V over the tile.
  const loops = { keysPerTile: threads, loopsPerTile: 1 + shape.dQk / 4 + 3 * threads };
  const splits = chooseSplits(spec, shape.hQ * shape.sQ * shape.batch, options.splits, limits, loops);
  const constants = { WG_SIZE: threads };
  const code = composeShader(fusedFiles(spec, FUSED_FILES), spec.edits).code;
  return {
    kernel: 'fused', splits, tileN: threads, headsPerWorkgroup: 1, workgroupSize: threads,
    workgroupBytes: workgroupBytesOf(code, { ...sharedConstants(spec), D_V: shape.dV, ...constants }),
    constants, scratch: splitScratch(spec, splits),
  };
}

export function fusedVersionPasses(
  device: GPUDevice, spec: AttentionSpec, plan: KernelPlan, buffers: AttentionBuffers, scratch: readonly GPUBuffer[],
): Promise<CallPass[]> {
  return fusedPasses(device, spec, { label: 'v2-fused', files: FUSED_FILES, plan, headBlocks: spec.shape.hQ }, buffers, scratch);
}
