/**
 * Why a shared latent lets one KV tile serve every head. In MLA every query
 * head attends the same cache record per token (latent + rope), so a kernel
 * that loads a tile of keys once can score it against all the heads of its
 * workgroup. The bytes read per head per token then fall with the number of
 * heads sharing the tile:
 *   naive kernel      each head reads the record itself        B per head
 *   v3 shared-latent  H heads of a workgroup share one read    B / H per head
 *   all heads share   (FlashMLA: 64 or 128 heads per CTA)      B / h_q per head
 * A model without a shared latent (per-head K and V, DeepSeek-V3's head dims
 * 192 for K and 128 for V in bf16) cannot share: 640 B per head per token.
 * H comes from version 3's own planner (sharedLatentPlan) for the given limits.
 */
import { type PresetName, presetShape } from '../mla/shape';
import { KV_FORMATS, type KvFormat, kvLayout } from '../mla/kv-layout';
import { makeAttentionSpec } from '../kernels/attention-spec';
import type { KernelPlan } from '../kernels/kernel-plan';
import { sharedLatentPlan } from '../kernels/shared-latent-kernel';
import { type DeviceLimits, WEBGPU_DEFAULT_LIMITS } from '../gpu/device';

/** Per-head K (128 nope + 64 rope) and V (128) of DeepSeek-V3 without the latent trick, bf16. */
export const PER_HEAD_KV_BYTES = (192 + 128) * 2;

export interface LatentTraffic {
  readonly preset: PresetName;
  readonly dQk: number;
  readonly kvFormat: KvFormat;
  readonly bytesPerToken: number;
  readonly hQ: number;
  /** Heads per workgroup of version 3 (shared latent), from its planner. */
  readonly headsPerWorkgroup: number;
  /** Bytes read per head per token. */
  readonly naivePerHead: number;
  readonly flashPerHead: number;
  readonly allHeadsPerHead: number;
  readonly perHeadKvPerHead: number;
}

/** Version 3's plan (tile, heads per workgroup) for a head shape, without a device. */
export function planWithoutDevice(
  preset: PresetName, kvFormat: KvFormat, hQ: number, limits: DeviceLimits = WEBGPU_DEFAULT_LIMITS,
): { plan: KernelPlan; bytesPerToken: number; dQk: number } {
  const shape = presetShape(preset, { hQ, seqlens: [64] });
  const layout = kvLayout(kvFormat, shape, shape.pageBlockSize);
  return { plan: sharedLatentPlan(makeAttentionSpec(shape, layout, 2), limits), bytesPerToken: layout.bytesPerToken, dQk: shape.dQk };
}

export function latentTraffic(
  presets: readonly PresetName[], hQ: number, limits: DeviceLimits = WEBGPU_DEFAULT_LIMITS,
): LatentTraffic[] {
  return presets.flatMap((preset) => KV_FORMATS.map((kvFormat) => {
    const { plan, bytesPerToken: b, dQk } = planWithoutDevice(preset, kvFormat, hQ, limits);
    return {
      preset, dQk, kvFormat, bytesPerToken: b, hQ, headsPerWorkgroup: plan.headsPerWorkgroup,
      naivePerHead: b, flashPerHead: b / plan.headsPerWorkgroup, allHeadsPerHead: b / hQ, perHeadKvPerHead: PER_HEAD_KV_BYTES,
    };
  }));
}
