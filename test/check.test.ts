/** The check names where it failed: the worst element's [b, i, h, c] with both values. */
import { describe, expect, it } from 'vitest';
import { compareToReference, formatCheck } from '../src/reference/check';

const dims = { batch: 2, sQ: 2, hQ: 3, dV: 4 };
const n = dims.batch * dims.sQ * dims.hQ * dims.dV;
const rows = dims.batch * dims.sQ * dims.hQ;

function reference() {
  return {
    out: Float64Array.from({ length: n }, (_, k) => Math.sin(k + 1)),
    lse: Float64Array.from({ length: rows }, (_, k) => 1 + k / 7),
  };
}

describe('compareToReference says where', () => {
  it('gives the out element with the largest error as [b, i, h, c], with both values', () => {
    const ref = reference();
    const out = Float32Array.from(ref.out);
    const at = ((1 * dims.sQ + 0) * dims.hQ + 2) * dims.dV + 3; // b 1, i 0, h 2, c 3
    out[at] += 0.5;
    out[5] += 0.01;
    const c = compareToReference({ out, lse: Float32Array.from(ref.lse) }, ref, dims);
    expect(c.pass).toBe(false);
    expect(c.failureAt).toMatchObject({ tensor: 'out', index: at, at: [1, 0, 2, 3] });
    expect(c.failureAt!.gpu).toBeCloseTo(ref.out[at] + 0.5, 6);
    expect(c.failureAt!.ref).toBe(ref.out[at]);
    expect(formatCheck(c)).toMatch(/^FAIL \(out error .* of max \|ref\| > 0\.0001; at out\[b 1, i 0, h 2, c 3\]: gpu -?0\.\d{6} vs ref -?0\.\d{6}\)/);
  });

  it('gives the first inf/NaN disagreement, and lse positions as [b, h, i]', () => {
    const ref = reference();
    const lse = Float32Array.from(ref.lse);
    const at = (1 * dims.hQ + 2) * dims.sQ + 1; // b 1, h 2, i 1
    lse[at] = NaN;
    const c = compareToReference({ out: Float32Array.from(ref.out), lse }, ref, dims);
    expect(c.failure).toMatch(/^1 values are inf\/NaN/);
    expect(c.failureAt).toMatchObject({ tensor: 'lse', index: at, at: [1, 2, 1] });
    expect(formatCheck(c)).toContain('at lse[b 1, h 2, i 1]: gpu NaN vs ref');
  });

  it('without dims, gives the flat index; a pass names no failure', () => {
    const ref = reference();
    const out = Float32Array.from(ref.out);
    out[7] = 9;
    expect(formatCheck(compareToReference({ out, lse: Float32Array.from(ref.lse) }, ref))).toContain('at out[7]: gpu 9.00000 vs ref');
    const ok = compareToReference({ out: Float32Array.from(ref.out), lse: Float32Array.from(ref.lse) }, ref, dims);
    expect(ok.pass).toBe(true);
    expect(ok.failureAt).toBeUndefined();
    expect(ok.worst?.tensor).toBe('out');
  });
});
