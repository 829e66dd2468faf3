/** Timer statistics and the work/roofline formulas (no timing thresholds: only arithmetic). */
import { describe, expect, it } from 'vitest';
import { summarize, timestampTick } from '../src/timing/timer';
import { throughput, workOf } from '../src/timing/work';
import { presetShape } from '../src/mla/shape';
import { kvLayout } from '../src/mla/kv-layout';

describe('summarize', () => {
  it('gives median, min and p90 by linear interpolation', () => {
    expect(summarize([5, 1, 3])).toEqual({ median: 3, min: 1, p90: 4.6 });
    expect(summarize([4, 1, 2, 3])).toEqual({ median: 2.5, min: 1, p90: expect.closeTo(3.7, 12) });
    expect(() => summarize([])).toThrow(/no samples/);
  });
});

describe('timestampTick', () => {
  it('finds the quantum of quantised timestamps (Chrome: 100 us)', () => {
    const stamps = Array.from({ length: 20 }, (_, k) => BigInt(1_700_000_000_000_000 + k * 3 * 100_000 + (k % 3) * 100_000));
    expect(timestampTick(stamps)).toBe(100_000);
  });
  it('says nothing from too few stamps, and a fine clock stays fine', () => {
    expect(timestampTick([100_000n, 200_000n])).toBeUndefined();
    const fine = Array.from({ length: 32 }, (_, k) => BigInt(1_000_003 + k * 1_237 + (k * k) % 7));
    expect(timestampTick(fine)).toBeLessThan(10);
  });
});

describe('workOf', () => {
  it('counts FLOPs and bytes as FlashMLA\'s benchmark does', () => {
    const shape = presetShape('v32', { seqlens: [1000, 24], hQ: 16, sQ: 2 });
    const w = workOf(shape, kvLayout('fp8', shape, 64));
    expect(w.keys).toBe(1024 * 2);
    expect(w.flops).toBe(2 * 1024 * 2 * 16 * (576 + 512));
    expect(w.kvBytes).toBe(1024 * 2 * 656);
    expect(w.bytes).toBe(1024 * 2 * 656 + 4 * 2 * 2 * 16 * (576 + 512 + 1));
    expect(w.note).toBeUndefined();
  });
  it('counts MODEL1\'s real 584 B per token and says where FlashMLA counts 576', () => {
    const shape = presetShape('model1', { seqlens: [100], hQ: 8 });
    const w = workOf(shape, kvLayout('fp8', shape, 64));
    expect(w.bytesPerToken).toBe(584);
    expect(w.note).toMatch(/584 B\/token; FlashMLA's benchmark counts 576/);
  });
  it('sparse counts topk keys per query row', () => {
    const shape = presetShape('model1', { seqlens: [5000, 7000], hQ: 8, topk: 512 });
    expect(workOf(shape, kvLayout('bf16', shape, 64)).keys).toBe(2 * 512);
  });
});

describe('throughput', () => {
  const work = { flops: 4e9, bytes: 2e9, kvBytes: 1.9e9, keys: 1, bytesPerToken: 656 };
  it('is bound by the slower ceiling and reports the fraction of it', () => {
    const t = throughput(work, 100, { copyGBps: 40, fmaGflops: 1000 }); // memory: 50 ms, compute: 4 ms
    expect(t.boundBy).toBe('memory');
    expect(t.boundMs).toBeCloseTo(50, 12);
    expect(t.rooflineFraction).toBeCloseTo(0.5, 12);
    expect(t.gbps).toBeCloseTo(20, 12);
    expect(t.gflops).toBeCloseTo(40, 12);
    expect(t.suspect).toBe(false);
  });
  it('flags a time faster than the copy bandwidth allows', () => {
    const t = throughput(work, 10, { copyGBps: 40, fmaGflops: 10_000 });
    expect(t.gbps).toBeCloseTo(200, 9);
    expect(t.suspect).toBe(true);
  });
});
