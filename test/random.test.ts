/**
 * The seeded random numbers (src/random/): each part against its published
 * reference (Threefry's known-answer vectors, xoshiro128**'s reference C
 * code), then the normal values against the normal distribution on 10^6
 * draws: mean, variance, tails and the Kolmogorov-Smirnov distance; and
 * that a generated cache draws each token's key from a stream of its own.
 */
import { describe, expect, it } from 'vitest';
import erfc from '@stdlib/math-base-special-erfc';
import { threefry2x32 } from '../src/random/threefry';
import { SeededRandom } from '../src/random/seeded-random';
import { zigguratTable } from '../src/random/ziggurat';
import { generateInputs } from '../src/mla/inputs';
import { presetShape } from '../src/mla/shape';
import { slotOf } from '../src/mla/paged-cache';

/** P(X <= x) for a standard normal X. */
const normalCdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);

describe('Threefry-2x32, 20 rounds', () => {
  it('gives the Random123 known-answer vectors (kat_vectors: threefry2x32_20, the same in JAX\'s tests)', () => {
    // key, counter -> output
    expect(threefry2x32(0, 0, 0, 0)).toEqual([0x6b200159, 0x99ba4efe]);
    expect(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)).toEqual([0x1cb996fc, 0xbb002be7]);
    expect(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3)).toEqual([0xc4923a9c, 0x483df7a0]);
  });
});

describe('SeededRandom', () => {
  it('is xoshiro128** from the state Threefry gives (words from the authors\' xoshiro128starstar.c on that state)', () => {
    // Threefry(key = seed 7, stream 3; counters (11, 0), (11, 1)) = 0fb81d79 04303c79 e29e547e 9e48d5c6.
    expect([...threefry2x32(7, 3, 11, 0), ...threefry2x32(7, 3, 11, 1)]).toEqual([0x0fb81d79, 0x04303c79, 0xe29e547e, 0x9e48d5c6]);
    const g = new SeededRandom(7, 3, 11);
    const first = Array.from({ length: 8 }, () => g.nextUint32());
    expect(first).toEqual([0x3d50a2da, 0x79539576, 0x7929ccb3, 0x22f3da9c, 0xdcd33403, 0x0da61517, 0x640a3add, 0x97874307]);
    for (let i = 0; i < 992; i++) g.nextUint32();
    expect(g.nextUint32()).toBe(0x4a1ca372); // the 1001st
  });

  it('each (seed, stream, row) is its own stream, and the same one every time', () => {
    const words = (seed: number, stream: number, row: number) => {
      const g = new SeededRandom(seed, stream, row);
      return Array.from({ length: 4 }, () => g.nextUint32());
    };
    expect(words(1, 2, 3)).toEqual(words(1, 2, 3));
    const all = [words(1, 2, 3), words(0, 2, 3), words(1, 0, 3), words(1, 2, 0), words(2, 1, 3)].map((w) => w.join());
    expect(new Set(all).size).toBe(all.length);
  });

  it('refuses a seed, stream or row outside 0 .. 2^32 - 1 by name', () => {
    expect(() => new SeededRandom(-1)).toThrow('seed = -1 is not allowed: seed must be an integer from 0 to 4294967295');
    expect(() => new SeededRandom(0, 1.5)).toThrow('stream = 1.5 is not allowed');
    expect(() => new SeededRandom(0, 0, 2 ** 32)).toThrow('row = 4294967296 is not allowed');
  });

  it('uniform() lies in [0, 1) with mean 1/2 and variance 1/12; int() hits every value of its range evenly', () => {
    const g = new SeededRandom(5);
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const u = g.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      sq += (u - 0.5) ** 2;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sq / n - 1 / 12)).toBeLessThan(5 * Math.sqrt(1 / 180 / n));
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[g.int(3, 9) - 3]++;
    // Chi-squared with 6 degrees of freedom: 22.5 is its 0.1 % point.
    const chi2 = counts.reduce((a, c) => a + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(22.5);
    expect(() => g.int(0, 2 ** 32)).toThrow('int(0, 4294967296) is not allowed');
  });

  it('permutation(n) holds each of 0..n-1 once', () => {
    const p = new SeededRandom(9).permutation(1000);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

describe('normal values (the ziggurat), 10^6 draws', () => {
  const n = 1_000_000;
  const g = new SeededRandom(2026, 1);
  const x = Float64Array.from({ length: n }, () => g.normal());

  it('the layer table: 128 layers from R = 3.4426 down to 0; most draws take one word', () => {
    const { edges, oneWordShare } = zigguratTable();
    expect(edges.length).toBe(129);
    expect(edges[1]).toBe(3.442619855899);
    expect(edges[128]).toBe(0);
    for (let i = 1; i < 128; i++) expect(edges[i + 1]).toBeLessThan(edges[i]);
    // The last computed layer must close the bell: x[127] (1 - f(x[127])) is one layer's area.
    expect(edges[127] * (1 - Math.exp(-0.5 * edges[127] ** 2))).toBeCloseTo(9.91256303526217e-3, 6);
    expect(oneWordShare).toBeGreaterThan(0.97);
  });

  it('mean 0 and variance 1, within 5 standard errors', () => {
    const mean = x.reduce((a, v) => a + v, 0) / n;
    const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('the tails: the share beyond 1, 2, 3, 3.5 (the ziggurat\'s own tail starts at 3.44), 4 and 4.5 standard deviations', () => {
    for (const k of [1, 2, 3, 3.5, 4, 4.5]) {
      const expected = n * 2 * normalCdf(-k);
      const seen = x.reduce((a, v) => a + (Math.abs(v) > k ? 1 : 0), 0);
      // Binomial: 5 standard deviations, and at least 4 counts of room for the rare ones.
      expect(Math.abs(seen - expected), `beyond ${k}: ${seen} draws, ${expected.toFixed(1)} expected`).toBeLessThan(Math.max(4, 5 * Math.sqrt(expected)));
    }
    // Both signs in the far tail.
    expect(x.some((v) => v > 3.6)).toBe(true);
    expect(x.some((v) => v < -3.6)).toBe(true);
  });

  it('the far tail has the normal shape: of 8 * 10^6 draws, those beyond R = 3.44 reach past 4 as often as they should', () => {
    // The tail past R is drawn by its own method (Marsaglia's); check that share P(|X| > 4 | |X| > R), not only the counts above.
    const R = zigguratTable().edges[1];
    const t = new SeededRandom(2026, 2);
    let pastR = 0;
    let past4 = 0;
    for (let i = 0; i < 8_000_000; i++) {
      const v = Math.abs(t.normal());
      if (v > R) pastR++;
      if (v > 4) past4++;
    }
    const share = normalCdf(-4) / normalCdf(-R);
    expect(Math.abs(past4 / pastR - share), `${past4} of ${pastR} beyond 4; ${share.toFixed(3)} expected`).toBeLessThan(5 * Math.sqrt((share * (1 - share)) / pastR));
  });

  it('the Kolmogorov-Smirnov distance to the normal CDF is under its 1 % critical value (1.63 / sqrt(n))', () => {
    const sorted = Float64Array.from(x).sort();
    let d = 0;
    for (let i = 0; i < n; i++) {
      const c = normalCdf(sorted[i]);
      d = Math.max(d, (i + 1) / n - c, c - i / n);
    }
    expect(d).toBeLessThan(1.63 / Math.sqrt(n));
  });

  it('draws from different rows are uncorrelated (the rows of one cache)', () => {
    const rows = 2000;
    const a = Float64Array.from({ length: rows }, (_, r) => new SeededRandom(1, 7, r).normal());
    const b = Float64Array.from({ length: rows }, (_, r) => new SeededRandom(1, 7, r + 1).normal());
    const corr = a.reduce((s, v, i) => s + v * b[i], 0) / rows;
    expect(Math.abs(corr)).toBeLessThan(5 / Math.sqrt(rows));
  });
});

describe('seeded inputs (generateInputs)', () => {
  it('a token\'s key comes from its own stream: the same whatever the page size, h_q or batch position of the pages', () => {
    const key = (pageBlockSize: number, hQ: number, b: number, t: number) => {
      const shape = presetShape('model1', { seqlens: [300, 70], hQ, pageBlockSize });
      const i = generateInputs(shape, { seed: 3 });
      const slot = slotOf(i.cache, pageBlockSize, b, t);
      return i.kvRows.slice(slot * shape.dQk, (slot + 1) * shape.dQk);
    };
    for (const [b, t] of [[0, 0], [0, 299], [1, 69]]) {
      const base = key(64, 16, b, t);
      expect(base.every(Number.isFinite)).toBe(true);
      expect(key(53, 16, b, t)).toEqual(base);
      expect(key(64, 3, b, t)).toEqual(base);
    }
    expect(key(64, 16, 0, 1)).not.toEqual(key(64, 16, 0, 0));
    expect(key(64, 16, 1, 0)).not.toEqual(key(64, 16, 0, 0));
  });
});
