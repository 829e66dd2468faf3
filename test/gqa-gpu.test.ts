/**
 * GQA decode on the GPU (mla/gqa.ts, run/gqa-run.ts): calls with 2, 3 and 8
 * KV heads, as FlashMLA's dense decode takes them, run through the ladder's
 * kernels as their MQA form and checked against the reference on the call as
 * given; odd pages (53), a causal s_q of 2, a request of one token, NaN in
 * every unread slot of every head.
 */
import { describe, expect, it } from 'vitest';
import { testGpu } from './support/gpu';
import { presetShape, type PresetName } from '../src/mla/shape';
import { generateGqaCall } from '../src/mla/gqa';
import { measureGqa } from '../src/run/gqa-run';
import { formatCheck } from '../src/reference/check';
import type { KvFormat } from '../src/mla/kv-layout';
import type { KernelChoice } from '../src/kernels/versions';

const gpu = await testGpu();

const CASES: { preset: PresetName; kv: KvFormat; hQ: number; hKv: number; sQ: number; seqlens: number[]; page: number; kernel: KernelChoice; sink?: boolean }[] = [
  { preset: 'v32', kv: 'bf16', hQ: 6, hKv: 3, sQ: 2, seqlens: [130, 20, 2], page: 53, kernel: 'flash' },
  { preset: 'model1', kv: 'fp8', hQ: 8, hKv: 2, sQ: 1, seqlens: [64, 1], page: 16, kernel: 'tiled', sink: true },
  { preset: 'v32', kv: 'f32', hQ: 8, hKv: 8, sQ: 1, seqlens: [40], page: 64, kernel: 'naive' },
];

describe.skipIf(!gpu)('GQA decode: several KV heads', () => {
  it.each(CASES)('$preset $kv, h_q $hQ over h_kv $hKv, s_q $sQ, pages of $page, $kernel', async (c) => {
    const shape = presetShape(c.preset, { hQ: c.hQ, sQ: c.sQ, seqlens: c.seqlens, pageBlockSize: c.page, attentionSink: c.sink ?? false });
    const call = generateGqaCall(shape, c.hKv, 9);
    const r = await measureGqa(gpu!, call, { kernel: c.kernel, kvFormat: c.kv, splits: 'auto', scaleRounding: 'pow2' }, { time: false });
    expect(r.check.pass, formatCheck(r.check)).toBe(true);
    expect(r.form).toEqual(expect.objectContaining({ hQ: c.hQ / c.hKv, batch: c.seqlens.length * c.hKv }));
    expect(r.output.out.length).toBe(c.seqlens.length * c.sQ * c.hQ * shape.dV);
    expect(r.reference.heads).toBeUndefined(); // every head checked
  });
});
