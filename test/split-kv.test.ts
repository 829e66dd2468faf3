/** Split-KV's count, and how it keeps every thread under a device's loop limit (no GPU needed). */
import { describe, expect, it } from 'vitest';
import { presetShape } from '../src/mla/shape';
import { kvLayout } from '../src/mla/kv-layout';
import { makeAttentionSpec } from '../src/kernels/attention-spec';
import { MAX_SPLITS, chooseSplits, loopBudget, targetWorkgroups } from '../src/kernels/split-kv';
import { WEBGPU_DEFAULT_LIMITS, isSoftwareAdapter } from '../src/gpu/device';
import { PlanDoesNotFit } from '../src/kernels/kernel-plan';

const spec = (seqlen: number) => {
  const shape = presetShape('model1', { seqlens: [seqlen], hQ: 16 });
  return makeAttentionSpec(shape, kvLayout('fp8', shape, 64), 4);
};
const llvmpipe = { ...WEBGPU_DEFAULT_LIMITS, maxLoopIterations: 65535 };
const cost = { keysPerTile: 8, loopsPerTile: 32 };

describe('chooseSplits', () => {
  it('without a loop limit: enough splits to fill the device, none shorter than 256 keys', () => {
    expect(chooseSplits(spec(4096), 1)).toBe(16);
    expect(chooseSplits(spec(1 << 21), 1, 'auto', WEBGPU_DEFAULT_LIMITS, cost)).toBe(128);
    expect(loopBudget(WEBGPU_DEFAULT_LIMITS)).toBe(Infinity);
  });

  it('on a software adapter: four workgroups per CPU thread it runs them on, not a GPU\'s 128', () => {
    const cpu = (cpuThreads: number) => ({ ...WEBGPU_DEFAULT_LIMITS, cpuThreads });
    expect(targetWorkgroups(WEBGPU_DEFAULT_LIMITS)).toBe(128);
    expect(targetWorkgroups(cpu(2))).toBe(8);
    expect(chooseSplits(spec(4096), 1, 'auto', cpu(2))).toBe(8); // 16 on a GPU (above)
    expect(chooseSplits(spec(4096), 2, 'auto', cpu(2))).toBe(4); // two head blocks
    expect(chooseSplits(spec(4096), 1, 'auto', cpu(16))).toBe(16); // still >= 256 keys a split
    expect(chooseSplits(spec(4096), 64, 'auto', cpu(2))).toBe(1); // one workgroup per head already fills it
    // the loop limit still has the last word
    expect(chooseSplits(spec(1 << 21), 1, 'auto', { ...llvmpipe, cpuThreads: 2 }, cost)).toBe(chooseSplits(spec(1 << 21), 1, 'auto', llvmpipe, cost));
  });

  it('tells a software adapter by the fallback flag or its name', () => {
    const gpu = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200' };
    expect(isSoftwareAdapter(gpu)).toBe(false);
    expect(isSoftwareAdapter({ ...gpu, isFallbackAdapter: true })).toBe(true);
    // as Dawn reports the two software adapters of this project's tests
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: '', architecture: '', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6' })).toBe(true);
  });

  it('with llvmpipe\'s limit: each split short enough that a thread loops at most half of 65535 times', () => {
    const splits = chooseSplits(spec(1 << 21), 1, 'auto', llvmpipe, cost);
    const tilesPerSplit = Math.ceil((1 << 21) / splits / cost.keysPerTile);
    expect(tilesPerSplit * cost.loopsPerTile).toBeLessThanOrEqual(65535 / 2);
    expect(splits).toBe(Math.ceil((1 << 21) / (Math.floor(65535 / 2 / 32) * 8)));
  });

  it('refuses too few splits asked, and a row that would need more than the most splits, with the reason', () => {
    expect(() => chooseSplits(spec(1 << 21), 1, 4, llvmpipe, cost)).toThrow(PlanDoesNotFit);
    expect(() => chooseSplits(spec(1 << 21), 1, 4, llvmpipe, cost)).toThrow(/^splits = 4 is too few: this device stops a shader invocation's loops after 65535 iterations .* 2097152 keys need at least 257 splits$/);
    expect(() => chooseSplits(spec(1 << 22), 1, 'auto', llvmpipe, { keysPerTile: 1, loopsPerTile: 100 }))
      .toThrow(new RegExp(`over the ${MAX_SPLITS} a call may have$`));
  });
});
