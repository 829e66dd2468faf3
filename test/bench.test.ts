/** A tiny bench sweep end to end: every point validated, quantisation error per format, the report and ratios. */
import { describe, expect, it } from 'vitest';
import { testGpu } from './support/gpu';
import { DEFAULT_SWEEP, LONG_CONTEXT_SWEEP, runSweep, sweepPoints } from '../src/bench/sweep';
import { type GpuContext, WEBGPU_DEFAULT_LIMITS } from '../src/gpu/device';
import { sweepCsv, sweepMarkdown, sweepRatios } from '../src/bench/report';

const gpu = await testGpu();

describe.skipIf(!gpu)('bench sweep', () => {
  it('runs, checks and reports a small sweep', async () => {
    const spec = {
      ...DEFAULT_SWEEP, presets: ['v32'] as const, formats: ['f32', 'fp8'] as const, kernels: ['flash', 'naive'] as const,
      seqlens: [64], heads: [2], timing: { warmup: 0, samples: 2, iterations: 1 },
    };
    const seen: number[] = [];
    const rows = await runSweep(gpu!, spec, (p) => { if (p.row) seen.push(p.done); });
    expect(rows).toHaveLength(sweepPoints(spec).length);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(rows.every((r) => r.pass)).toBe(true);
    for (const r of rows) {
      if (r.kvFormat === 'f32') expect(r.quantRelErr).toBe(0);
      else expect(r.quantRelErr).toBeGreaterThan(0);
      expect(r.medianMs).toBeGreaterThan(0);
    }
    // both kernels see the same inputs, so the same quantisation error
    const fp8 = rows.filter((r) => r.kvFormat === 'fp8');
    expect(fp8[0].quantRelErr).toBe(fp8[1].quantRelErr);
    const ratios = sweepRatios(rows);
    expect(ratios.flashOverNaive).toHaveLength(2);
    expect(ratios.formatOverBf16).toHaveLength(0); // no bf16 points to compare with
    expect(sweepMarkdown(rows, ['test'])).toContain('| 576 | fp8 | 656 | flash | 64 | 2 |');
    expect(sweepCsv(rows).split('\n')).toHaveLength(rows.length + 2);
  });
});

describe('long-context sweep', () => {
  it('skips, with the reason, a point that does not fit the memory budget or the shards, before generating anything', async () => {
    const limits = { ...WEBGPU_DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 16 };
    const ctx = { limits } as unknown as GpuContext; // every point is refused before the device is touched
    const spec = { ...LONG_CONTEXT_SWEEP, presets: ['v32'] as const, formats: ['f32', 'fp8'] as const, seqlens: [1048576] };
    const skipped: string[] = [];
    const rows = await runSweep(ctx, spec, (p) => { if (p.skipped) skipped.push(`${p.point.kvFormat}: ${p.skipped}`); }, undefined, {
      memory: { bytes: 600 * 2 ** 20, where: 'the test allows' },
    });
    expect(rows).toEqual([]);
    expect(skipped).toEqual([
      expect.stringMatching(/^f32: the f32 cache of 16386 pages \(2.25 GiB\) needs 19 shards of at most this device's .*128.0 MiB.*; the kernels bind at most 12/),
      expect.stringMatching(/^fp8: this shape needs about [\d.]+ MiB of memory .* over the 600.0 MiB the test allows/),
    ]);
  });
});
