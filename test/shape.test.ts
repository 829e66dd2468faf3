import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SHAPE_LIMITS, presetShape, validateShape, type MlaShape } from '../src/mla/shape';
import { checkHostMemory } from '../src/run/run-size';
import { kvLayout } from '../src/mla/kv-layout';

describe('validateShape', () => {
  const good = presetShape('v32', { seqlens: [100, 7], sQ: 2 });

  it('accepts the presets', () => {
    expect(validateShape(good)).toBe(good);
    expect(validateShape(presetShape('model1'))).toBeTruthy();
    // FlashMLA's dense corner cases: requests with no cached token, and (causal) fewer than s_q
    expect(validateShape({ ...good, seqlens: [0, 1] })).toBeTruthy();
  });

  const bad: [string, Partial<MlaShape>, RegExp][] = [
    ['dV > dQk', { dV: 640 }, /^dV = 640 is not allowed: dV must be an integer from 4 to 576$/],
    ['zero heads', { hQ: 0 }, /^hQ = 0 is not allowed: hQ must be an integer from 1 to 1024$/],
    ['non-integer heads', { hQ: 1.5 }, /^hQ = 1.5 is not allowed/],
    ['NaN sQ', { sQ: NaN }, /^sQ = NaN is not allowed/],
    ['a negative seqlen', { seqlens: [-1, 7], batch: 2 }, /^seqlens\[0\] = -1 is not allowed: seqlens\[0\] must be an integer from 0 to \d+$/],
    ['batch vs seqlens', { batch: 3 }, /^seqlens = \[100, 7\] is not allowed: seqlens must be an array of batch = 3 integers$/],
    ['dNope + dRope', { dNope: 500 }, /^dNope = 500 is not allowed: dNope must be dQk - dRope = 512/],
    ['dQk not a multiple of 4', { dQk: 577, dNope: 513 }, /^dQk = 577 is not allowed: dQk must be a multiple of 4/],
    ['page size 0', { pageBlockSize: 0 }, /^pageBlockSize = 0 is not allowed/],
    ['negative scale', { softmaxScale: -1 }, /^softmaxScale = -1 is not allowed/],
    ['string heads', { hQ: '16' as unknown as number }, /^hQ = "16" is not allowed/],
  ];
  it.each(bad)('rejects %s with one line naming the field', (_, override, message) => {
    const s = { ...good, ...override };
    expect(() => validateShape(s)).toThrow(message);
    try { validateShape(s); } catch (e) { expect(String((e as Error).message)).not.toContain('\n'); }
  });

  it('rejects a shape over the byte budget, saying how much it needs', () => {
    const huge = presetShape('v32', { seqlens: [1 << 22], hQ: 128 });
    expect(() => checkHostMemory(huge, kvLayout('fp8', huge, huge.pageBlockSize), 1 << 30, 'the budget')).toThrow(/this shape needs about .* GiB .* over the 1.00 GiB the budget/);
  });

  it('rejects an unknown preset', () => {
    expect(() => presetShape('v4')).toThrow(/^preset = "v4" is not allowed: preset must be one of v32, model1$/);
  });
});

describe('README', () => {
  it('states the shape limits the code enforces', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
    const L = SHAPE_LIMITS;
    expect(readme).toContain(`(d_qk up to ${L.maxHeadDim}, h_q up to ${L.maxHeads}, s_q up to ${L.maxQueryTokens}, batch up to ${L.maxBatch}, seqlen up to 2^${Math.log2(L.maxSeqlen)}, page up to ${L.maxPageBlockSize}, topk up to ${L.maxTopk})`);
  });
});
