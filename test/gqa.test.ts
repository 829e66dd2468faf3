/**
 * GQA (mla/gqa.ts): the MQA form the kernels run is the call relabelled. The
 * reference on the call as given (head h reads KV head floor(h / G) of its
 * slot, reference/reference-gqa.ts) equals the plain MLA reference on the
 * form, put back in the call's order; with one KV head it is the MLA
 * reference itself; the moves are each other's inverse; what the path cannot
 * run is refused by name.
 */
import { describe, expect, it } from 'vitest';
import { presetShape } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { generateGqaCall, gqaAsMqa, kvHeadOf, permuteRows, positionInCall, rowsFromHeadMajor, validateGqa } from '../src/mla/gqa';
import { referenceGqa } from '../src/reference/reference-gqa';
import { referenceAttention } from '../src/reference/reference';
import { slotOf as cacheSlot } from '../src/mla/paged-cache';

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((x, k) => Object.is(x, b[k]));

describe('GQA: several KV heads as an MQA call', () => {
  const shape = presetShape('v32', { hQ: 6, sQ: 2, seqlens: [70, 5, 2], pageBlockSize: 16, attentionSink: true });
  const call = generateGqaCall(shape, 3, 4);

  it('head h reads KV head floor(h / (h_q / h_kv)), as repeat_interleave lays them out', () => {
    expect([0, 1, 2, 3, 4, 5].map((h) => kvHeadOf(6, 3, h))).toEqual([0, 0, 1, 1, 2, 2]);
    expect([0, 7, 8, 63].map((h) => kvHeadOf(64, 8, h))).toEqual([0, 0, 1, 7]);
  });

  it('the reference on the call equals the MLA reference on its MQA form, in the call\'s order', () => {
    const native = referenceGqa(call, call.kvRows);
    const form = referenceAttention(gqaAsMqa(call));
    expect(same(native.out, permuteRows(form.out, shape, 3, true))).toBe(true);
    expect(same(native.lse, form.lse)).toBe(true);
    expect(same(native.maxLogits!, permuteRows(form.maxLogits!, shape, 3, true))).toBe(true);
    // One row by hand: request 0, token 1, head 5 reads KV head 2 of each of its 70 slots.
    const d = shape.dQk, scale = 1 / Math.sqrt(d);
    const s = Array.from({ length: 70 }, (_, t) => {
      const row = (cacheSlot(call.cache, 16, 0, t) * 3 + 2) * d;
      let dot = 0;
      for (let c = 0; c < d; c++) dot += call.q[((0 * 2 + 1) * 6 + 5) * d + c] * call.kvRows[row + c];
      return scale * dot;
    });
    const m = Math.max(...s);
    expect(native.lse[(0 * 6 + 5) * 2 + 1]).toBeCloseTo(m + Math.log(s.reduce((a, x) => a + Math.exp(x - m), 0)), 12);
  });

  it('with one KV head it is the MLA reference', () => {
    const one = presetShape('model1', { hQ: 4, seqlens: [33, 9], pageBlockSize: 8 });
    const inputs = generateInputs(one, { seed: 2 });
    const g = referenceGqa({ shape: one, hKv: 1, q: inputs.q, cache: inputs.cache }, inputs.kvRows);
    const m = referenceAttention(inputs);
    expect(same(g.out, m.out) && same(g.lse, m.lse)).toBe(true);
  });

  it('the moves are each other\'s inverse, NaN in unread slots kept', () => {
    const form = gqaAsMqa(call);
    expect(same(rowsFromHeadMajor(form.kvRows, 3, shape.dQk), call.kvRows)).toBe(true);
    const x = Float64Array.from({ length: 3 * 2 * 6 * 5 }, (_, k) => k);
    expect(same(permuteRows(permuteRows(x, shape, 3, false), shape, 3, true), x)).toBe(true);
    expect(positionInCall([4, 1, 1, 7], 6, 3)).toEqual([1, 1, 3, 7]); // form request 4 = request 1's KV head 1: its head 1 is head 3
    expect(form.shape).toEqual(expect.objectContaining({ hQ: 2, batch: 9, seqlens: [70, 70, 70, 5, 5, 5, 2, 2, 2] }));
    // Request (1, 2)'s pages are request 1's, in KV head 2's copy of the cache.
    const blocks = call.cache.numBlocks;
    expect(form.cache.blockTable[(1 * 3 + 2) * call.cache.maxBlocksPerSeq]).toBe(call.cache.blockTable[call.cache.maxBlocksPerSeq] + 2 * blocks);
  });

  it('refuses what it cannot run, by name', () => {
    expect(() => generateGqaCall(presetShape('v32', { hQ: 6 }), 4)).toThrow(/h_q must be a multiple of h_kv/);
    expect(() => generateGqaCall(presetShape('v32', { hQ: 4, topk: 8 }), 2)).toThrow(/a sparse call \(topk 8\) takes one KV head/);
    expect(() => validateGqa({ ...call, hKv: 0 })).toThrow(/h_kv = 0 is not allowed/);
    const sink = Float32Array.of(0, 1, 0, 1, 0, 2);
    expect(() => gqaAsMqa({ ...call, sink })).toThrow(/head 5's sink 2 differs from head 1's 1/);
  });
});
