/**
 * The Learn view's core: the traces it draws must be the same computation as
 * the reference (online softmax tile by tile, split merge by lse), and the
 * FP8 explorer and the error histogram must say what the codecs do.
 */
import { describe, expect, it } from 'vitest';
import { learnCase, softmaxRow } from '../src/learn/learn-case';
import { onlineSoftmaxTrace } from '../src/learn/online-softmax';
import { mergeByLse, splitPartials } from '../src/learn/split-merge';
import { PER_HEAD_KV_BYTES, latentTraffic } from '../src/learn/shared-latent';
import { explainFp8 } from '../src/learn/fp8-explorer';
import { quantHistogram } from '../src/learn/quant-histogram';

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('learn: online softmax and split merge reproduce the reference', () => {
  for (const [preset, kvFormat] of [['v32', 'fp8'], ['model1', 'bf16']] as const) {
    const c = learnCase({ preset, kvFormat, hQ: 4, seqlen: 37, seed: 3 });
    const dV = c.shape.dV;
    for (const tileN of [1, 6, 13, 64]) {
      it(`${preset} ${kvFormat}: tiles of ${tileN} keys end at the reference out and lse`, () => {
        for (let h = 0; h < 4; h++) {
          const t = onlineSoftmaxTrace(c.scores[h], c.value, dV, tileN);
          expect(t.steps.length).toBe(Math.ceil(37 / tileN));
          expect(maxDiff(t.out, c.reference.out.subarray(h * dV, (h + 1) * dV))).toBeLessThan(1e-14);
          expect(Math.abs(t.lse - c.reference.lse[h])).toBeLessThan(1e-14);
          for (const [i, s] of t.steps.entries()) {
            expect(s.maxAfter).toBe(Math.max(s.maxBefore, s.tileMax));
            if (i > 0) expect(s.rescale).toBeCloseTo(Math.exp(s.maxBefore - s.maxAfter), 14);
          }
        }
      });
    }
    for (const splits of [1, 3, 5, 40]) {
      it(`${preset} ${kvFormat}: ${splits} splits merged by lse equal the reference`, () => {
        const m = mergeByLse(splitPartials(c.scores[1], c.value, dV, splits));
        expect(m.parts.length).toBe(splits);
        expect(m.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        expect(maxDiff(m.out, c.reference.out.subarray(dV, 2 * dV))).toBeLessThan(1e-14);
        expect(Math.abs(m.lse - c.reference.lse[1])).toBeLessThan(1e-14);
        if (splits > 37) expect(m.weights.filter((w) => w === 0).length).toBe(splits - 37); // empty splits weigh nothing
      });
    }
  }

  it('softmax rows sum to one', () => {
    const c = learnCase({ preset: 'v32', kvFormat: 'f32', hQ: 2, seqlen: 9, seed: 0 });
    expect(softmaxRow(c.scores[0]).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
  });

  it('rejects a tile or split count that is not a positive integer', () => {
    expect(() => onlineSoftmaxTrace([1], () => 0, 1, 0)).toThrow(/tileN = 0 is not allowed: tileN must be an integer >= 1/);
    expect(() => splitPartials([1], () => 0, 1, 1.5)).toThrow(/splits = 1.5 is not allowed/);
  });
});

describe('learn: shared latent traffic', () => {
  it('divides the record by the heads that share it, from the flash planner', () => {
    const t = latentTraffic(['v32', 'model1'], 16);
    const v32fp8 = t.find((x) => x.preset === 'v32' && x.kvFormat === 'fp8')!;
    expect(v32fp8.bytesPerToken).toBe(656);
    expect(t.find((x) => x.preset === 'model1' && x.kvFormat === 'fp8')!.bytesPerToken).toBe(584);
    expect(t.find((x) => x.preset === 'v32' && x.kvFormat === 'f32')!.bytesPerToken).toBe(2304);
    expect(v32fp8.headsPerWorkgroup).toBe(8); // 16 threads per 512-dim head, 256-thread workgroups at the default limits
    expect(v32fp8.flashPerHead).toBe(656 / 8);
    expect(v32fp8.allHeadsPerHead).toBe(656 / 16);
    expect(v32fp8.perHeadKvPerHead).toBe(PER_HEAD_KV_BYTES);
  });
});

describe('learn: FP8 explorer', () => {
  it('shows the bits, value and error of a typed number', () => {
    const e = explainFp8('e4m3', 0.3); // 0.3 = 1.2 * 2^-2 -> nearest 1.25 * 2^-2
    expect(e.bits).toEqual({ sign: '0', exponent: '0101', mantissa: '010' });
    expect(e.decoded).toBe(0.3125);
    expect(e.relError).toBeCloseTo(0.0125 / 0.3, 12);
    expect(e.formula).toBe('(-1)^0 x 2^(5-7) x 1.010b');
    const big = explainFp8('e4m3', -1000);
    expect(big.decoded).toBe(-448); // saturates
    expect(big.bits.sign).toBe('1');
    const sub = explainFp8('e5m2', 2 ** -16);
    expect(sub.fields.exponent).toBe(0);
    expect(sub.formula).toMatch(/subnormal/);
    expect(explainFp8('e5m2', Infinity).formula).toMatch(/infinity/);
  });

  it('names the field when the input is not a number', () => {
    expect(() => explainFp8('e4m3', NaN)).toThrow(/value is not a number/);
    expect(() => explainFp8('e3m4' as 'e4m3', 1)).toThrow(/format must be one of e4m3, e5m2/);
  });
});

describe('learn: quantisation error histogram', () => {
  it('keeps FP8 latent errors within half an ulp except subnormals, and bf16 within 2^-8', () => {
    for (const kvFormat of ['fp8', 'bf16'] as const) {
      const c = learnCase({ preset: 'v32', kvFormat, hQ: 1, seqlen: 40, seed: 1 });
      const h = quantHistogram(c.inputs.kvRows, c.kvSeen, c.inputs.cache.usedSlots, c.layout);
      expect(h.counts.reduce((a, b) => a + b, 0) + h.beyond).toBe(h.values);
      expect(h.values).toBe(40 * (kvFormat === 'fp8' ? 512 : 576));
      expect(h.bound).toBe(kvFormat === 'fp8' ? 2 ** -4 : 2 ** -8);
      if (kvFormat === 'bf16') { expect(h.beyond).toBe(0); expect(h.maxRel).toBeLessThanOrEqual(2 ** -8); }
      else expect(h.beyond).toBeLessThan(h.values / 100);
      expect(h.rmsRel).toBeGreaterThan(0);
    }
  });
});
