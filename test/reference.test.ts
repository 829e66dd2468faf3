import { describe, expect, it } from 'vitest';
import { referenceAttention, attendedSlots, type ReferenceInputs } from '../src/reference/reference';
import { presetShape, type MlaShape } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import type { PagedCache } from '../src/mla/paged-cache';

/** A cache with one page of `rows.length` tokens, identity block table. */
function tinyInputs(shape: MlaShape, q: number[], rows: number[][]): ReferenceInputs {
  const cache: PagedCache = {
    numBlocks: 1, maxBlocksPerSeq: 1, blockTable: Int32Array.from([0]), seqlens: Int32Array.from(shape.seqlens),
    poisonBlock: 0, usedSlots: new Uint8Array(rows.length).fill(1),
  };
  return { shape, q: Float32Array.from(q), kvRows: Float32Array.from(rows.flat()), cache };
}

const tiny: MlaShape = {
  dQk: 4, dNope: 4, dRope: 0, dV: 4, hQ: 1, sQ: 1, batch: 1, seqlens: [2], pageBlockSize: 2,
  topk: 0, causal: true, softmaxScale: 1, attentionSink: false,
};

describe('referenceAttention', () => {
  it('matches a hand-worked case', () => {
    // s0 = dot([2,0,0,0],[1,0,0,0]) = 2, s1 = 0: p = [e^2, 1] / (e^2 + 1)
    const r = referenceAttention(tinyInputs(tiny, [2, 0, 0, 0], [[1, 0, 0, 0], [0, 1, 0, 0]]));
    const z = Math.E ** 2 + 1;
    expect(r.lse[0]).toBeCloseTo(Math.log(z), 14);
    expect(r.out[0]).toBeCloseTo(Math.E ** 2 / z, 14);
    expect(r.out[1]).toBeCloseTo(1 / z, 14);
    expect([r.out[2], r.out[3]]).toEqual([0, 0]);
  });

  it('one token: out is its value, lse its score', () => {
    const shape = { ...tiny, seqlens: [1], dV: 4 };
    const r = referenceAttention(tinyInputs(shape, [1, 2, 3, 4], [[0.5, -1, 2, 0.25], [NaN, NaN, NaN, NaN]]));
    expect([...r.out]).toEqual([0.5, -1, 2, 0.25]);
    expect(r.lse[0]).toBe(0.5 - 2 + 6 + 1);
  });

  it('applies the attention sink to out but not to lse', () => {
    const inp = { ...tinyInputs({ ...tiny, attentionSink: true }, [2, 0, 0, 0], [[1, 0, 0, 0], [0, 1, 0, 0]]), sink: Float32Array.from([0.5]) };
    const plain = referenceAttention(tinyInputs(tiny, [2, 0, 0, 0], [[1, 0, 0, 0], [0, 1, 0, 0]]));
    const r = referenceAttention(inp);
    expect(r.lse[0]).toBe(plain.lse[0]);
    const f = 1 / (1 + Math.exp(0.5 - plain.lse[0]));
    expect(r.out[0]).toBeCloseTo(plain.out[0] * f, 14);
  });

  it('gives out 0 and lse +inf for a sparse row whose indices are all invalid', () => {
    const shape = presetShape('model1', { seqlens: [70, 5], topk: 8, hQ: 2, sQ: 2 });
    const inp = generateInputs(shape, { seed: 1, allInvalidRows: [1] });
    const r = referenceAttention(inp);
    // row (b=0, i=1) has no valid index
    expect(attendedSlots(shape, inp.cache, inp.indices, 0, 1)).toEqual([]);
    for (let h = 0; h < 2; h++) {
      expect(r.lse[(0 * 2 + h) * 2 + 1]).toBe(Infinity);
      for (let c = 0; c < 512; c++) expect(r.out[((0 * 2 + 1) * 2 + h) * 512 + c]).toBe(0);
      expect(Number.isFinite(r.lse[(0 * 2 + h) * 2 + 0])).toBe(true);
    }
  });

  it('never reads an unused (NaN) slot, with seqlens that are not multiples of the page', () => {
    const shape = presetShape('v32', { seqlens: [65, 2, 130], sQ: 2, hQ: 3, pageBlockSize: 53 });
    const r = referenceAttention(generateInputs(shape, { seed: 2 }));
    expect(r.out.every(Number.isFinite)).toBe(true);
    expect(r.lse.every(Number.isFinite)).toBe(true);
  });

  it('does not overflow on large scores (it subtracts the max)', () => {
    const shape = presetShape('v32', { seqlens: [40], hQ: 2 });
    const inp = generateInputs(shape, { seed: 3 });
    const big = { ...inp, q: inp.q.map((v) => v * 1000) };
    const r = referenceAttention(big);
    expect(r.out.every(Number.isFinite)).toBe(true);
    expect(r.lse.every(Number.isFinite)).toBe(true);
  });

  it('agrees with an independent naive formula: softmax = exp(s) / sum exp(s) over a masked score matrix', () => {
    const shape = presetShape('model1', { seqlens: [37, 64, 65], sQ: 3, hQ: 4, pageBlockSize: 16 });
    const inp = generateInputs(shape, { seed: 4 });
    const r = referenceAttention(inp);
    const { dQk, dV, hQ, sQ } = shape;
    const scale = 1 / Math.sqrt(dQk);
    for (let b = 0; b < shape.batch; b++) {
      const len = shape.seqlens[b];
      // Gather the request's keys in logical order straight from the block table.
      const keys: Float32Array[] = [];
      for (let t = 0; t < len; t++) {
        const page = inp.cache.blockTable[b * inp.cache.maxBlocksPerSeq + Math.floor(t / 16)];
        const slot = page * 16 + (t % 16);
        keys.push(inp.kvRows.subarray(slot * dQk, (slot + 1) * dQk));
      }
      for (let i = 0; i < sQ; i++) {
        for (let h = 0; h < hQ; h++) {
          const qv = inp.q.subarray(((b * sQ + i) * hQ + h) * dQk, ((b * sQ + i) * hQ + h + 1) * dQk);
          const e = keys.map((k, t) => (t <= len - sQ + i ? Math.exp(scale * k.reduce((acc, kc, c) => acc + kc * qv[c], 0)) : 0));
          const z = e.reduce((a, v) => a + v, 0);
          expect(r.lse[(b * hQ + h) * sQ + i]).toBeCloseTo(Math.log(z), 12);
          for (let c = 0; c < dV; c += 37) {
            const want = e.reduce((acc, et, t) => acc + (et / z) * keys[t][c], 0);
            expect(r.out[((b * sQ + i) * hQ + h) * dV + c]).toBeCloseTo(want, 12);
          }
        }
      }
    }
  });
});
