/** Split-KV's count, and how it keeps every thread under a device's loop limit (no GPU needed). */
import { describe, expect, it } from 'vitest';
import { presetShape } from '../src/shape';
import { kvLayout } from '../src/kv-layout';
import { makeAttentionSpec } from '../src/kernels/attention-spec';
import { MAX_SPLITS, chooseSplits, loopBudget } from '../src/kernels/split-kv';
import { WEBGPU_DEFAULT_LIMITS } from '../src/gpu/device';
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
