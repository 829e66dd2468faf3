/**
 * Every kernel against the CPU reference, on the dequantised cache it read:
 * kernel x head shape (576, 512) x cache format (f32, bf16, FP8) x s_q (1, 2
 * causal) x h_q (1, 16, 64, 128) x splits (1, several), each over a batch of
 * uneven requests whose seqlens cover 1, 63, 64, 65, two key tiles, and more.
 * Unused cache slots hold NaN, so a read past a seqlen or page shows up.
 */
import { describe, expect, it } from 'vitest';
import { testGpu } from './support/gpu';
import { presetShape, type PresetName } from '../src/shape';
import { generateInputs } from '../src/inputs';
import { runAttention } from '../src/run-attention';
import { formatCheck } from '../src/check';
import { type KvFormat, kvLayout } from '../src/kv-layout';
import { flashPlan } from '../src/kernels/flash-kernel';
import { makeAttentionSpec } from '../src/kernels/attention-spec';
import type { KernelName } from '../src/kernels/kernel-plan';

const gpu = await testGpu();

const KERNELS: KernelName[] = ['naive', 'flash', 'sparse'];
const PRESETS: PresetName[] = ['v32', 'model1'];
const FORMATS: KvFormat[] = ['f32', 'bf16', 'fp8'];
const QUERY_TOKENS = [1, 2];
const HEADS = [1, 16, 64, 128];
const SPLITS = [1, 3];

/**
 * Uneven requests with seqlens 1 (or s_q), 63, 64, 65 (around the page size)
 * and 2 tiles + 1 of the kernel's key tile on this device.
 */
function seqlensFor(sQ: number, tileN: number): number[] {
  return [Math.max(1, sQ), 63, 64, 65, 2 * tileN + 1];
}

describe.skipIf(!gpu).each(KERNELS)('kernel %s', (kernel) => {
  describe.each(PRESETS)('%s', (preset) => {
    describe.each(FORMATS)('%s cache', (kvFormat) => {
      const cases = QUERY_TOKENS.flatMap((sQ) => HEADS.flatMap((hQ) => SPLITS.map((splits) => ({ sQ, hQ, splits }))));
      it.each(cases)('s_q $sQ, h_q $hQ, splits $splits', async ({ sQ, hQ, splits }) => {
        const sparse = kernel === 'sparse';
        const base = presetShape(preset, { seqlens: [64], sQ, hQ, topk: sparse ? 48 : 0 });
        const { tileN } = flashPlan(makeAttentionSpec(base, kvLayout(kvFormat, base, 64), 1), gpu!.limits);
        const shape = presetShape(preset, {
          seqlens: seqlensFor(sQ, tileN), sQ, hQ, topk: sparse ? 48 : 0, attentionSink: preset === 'model1' && hQ !== 16,
        });
        const inputs = generateInputs(shape, { seed: 1000 + hQ * 7 + sQ, allInvalidRows: sparse ? [1] : [] });
        const run = await runAttention(gpu!, inputs, { kernel, kvFormat, splits });
        expect(run.check.pass, formatCheck(run.check)).toBe(true);
        if (run.plan.kernel !== 'naive') expect(run.plan.splits).toBe(splits);
      });
    });
  });
});
