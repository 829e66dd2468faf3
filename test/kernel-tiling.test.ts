/**
 * The silent-wrong-answer bugs of production WebGPU attention kernels came
 * from tile and layout corners (ONNX Runtime #28520, llama.cpp #23040 and
 * #21669): sweep the flash kernel's tile size and head block, odd page sizes,
 * odd head counts, and sparse rows with FlashMLA's invalid indices.
 */
import { describe, expect, it } from 'vitest';
import { testGpu } from './support/gpu';
import { presetShape } from '../src/shape';
import { generateInputs } from '../src/inputs';
import { runAttention } from '../src/run-attention';
import { formatCheck } from '../src/check';
import { flashPlan } from '../src/kernels/flash-kernel';
import { makeAttentionSpec } from '../src/kernels/attention-spec';
import { kvLayout } from '../src/kv-layout';

const gpu = await testGpu();

describe.skipIf(!gpu)('flash-decode tiling', () => {
  const tiles = [1, 3, 7, 'max'] as const;
  const heads = [1, 3, 8];
  const cases = tiles.flatMap((tileN) => heads.map((headsPerWorkgroup) => ({ tileN, headsPerWorkgroup })));
  it.each(cases)('tileN $tileN, $headsPerWorkgroup heads per workgroup (h_q 11, s_q 3)', async ({ tileN, headsPerWorkgroup }) => {
    const shape = presetShape('v32', { seqlens: [3, 40, 17], sQ: 3, hQ: 11, pageBlockSize: 16 });
    const layout = kvLayout('fp8', shape, 16);
    const most = flashPlan(makeAttentionSpec(shape, layout, 1), gpu!.limits, { headsPerWorkgroup }).tileN;
    const run = await runAttention(gpu!, generateInputs(shape, { seed: 5 }), {
      kernel: 'flash', kvFormat: 'fp8', tileN: tileN === 'max' ? most : tileN, headsPerWorkgroup, splits: 2,
    });
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  it.each([2, 53, 61, 69])('page size %i (not a power of two) on both layouts', async (pageBlockSize) => {
    for (const preset of ['v32', 'model1'] as const) {
      const shape = presetShape(preset, { seqlens: [1, 100, 138], hQ: 5, pageBlockSize });
      const inputs = generateInputs(shape, { seed: pageBlockSize });
      for (const kernel of ['flash', 'naive'] as const) {
        const run = await runAttention(gpu!, inputs, { kernel, kvFormat: 'fp8', splits: 2 });
        expect(run.check.pass, `${preset} ${kernel}: ${formatCheck(run.check)}`).toBe(true);
      }
    }
  });

  it('sparse: FlashMLA\'s invalid indices, an all-invalid row, splits, sink', async () => {
    const shape = presetShape('model1', { seqlens: [90, 5, 200], sQ: 2, hQ: 7, topk: 96, attentionSink: true });
    const inputs = generateInputs(shape, { seed: 9, invalidIndexFraction: 0.3, allInvalidRows: [0, 5] });
    for (const splits of [1, 4]) {
      const run = await runAttention(gpu!, inputs, { kernel: 'sparse', kvFormat: 'fp8', splits });
      expect(run.check.pass, formatCheck(run.check)).toBe(true);
      // rows 0 (b 0, i 0) and 5 (b 2, i 1): out 0 and lse +inf, exactly as the reference
      expect(run.output.lse[(0 * 7 + 3) * 2 + 0]).toBe(Infinity);
      expect(run.output.lse[(2 * 7 + 3) * 2 + 1]).toBe(Infinity);
    }
    const naive = await runAttention(gpu!, inputs, { kernel: 'naive', kvFormat: 'bf16' });
    expect(naive.check.pass, formatCheck(naive.check)).toBe(true);
  });

  it('plain amax/448 scales (V3.2) and outlier channels', async () => {
    const shape = presetShape('v32', { seqlens: [77, 130], hQ: 16 });
    const inputs = generateInputs(shape, { seed: 3, distribution: 'outliers' });
    const run = await runAttention(gpu!, inputs, { kernel: 'flash', kvFormat: 'fp8', scaleRounding: 'plain' });
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  it('non-causal with s_q > 1, and a custom softmax scale', async () => {
    const shape = presetShape('model1', { seqlens: [33, 70], sQ: 4, hQ: 9, causal: false, softmaxScale: 0.3 });
    const inputs = generateInputs(shape, { seed: 4 });
    for (const kernel of ['flash', 'naive'] as const) {
      const run = await runAttention(gpu!, inputs, { kernel, kvFormat: 'f32', splits: 3 });
      expect(run.check.pass, formatCheck(run.check)).toBe(true);
    }
  });
});
