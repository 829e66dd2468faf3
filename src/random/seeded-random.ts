/**
 * Seeded random numbers, the same bits on every platform and JavaScript
 * engine, fast enough to fill a long cache (MODEL1's 256K-token FP8 cache,
 * 134 million values, in under 3 s in Node: docs/random.md).
 *
 * A SeededRandom is one stream of numbers: xoshiro128** (Blackman and Vigna,
 * "Scrambled linear pseudorandom number generators", 2018; 128 bits of
 * state, period 2^128 - 1, reported by its authors to pass BigCrush), its
 * state set by the counter-based Threefry hash of (seed, stream, row). So
 * every stream is independent of every other one, and the values of one row
 * (one token's key, one query head) are a function of the seed and where the
 * row is alone: a cache can be drawn a chunk at a time, or its tokens
 * regenerated one by one, with the same values.
 *
 * Normals come from the ziggurat (ziggurat.ts), uniforms from whole words.
 * Quality, tested on 10^6 draws (test/random.test.ts): mean, variance, the
 * tails beyond 1..4.5 standard deviations and the Kolmogorov-Smirnov distance
 * against the normal distribution, and that Node and Chromium give the same
 * bits (test/page-run.test.ts).
 */
import { threefry2x32 } from './threefry';
import { type WordSource, zigguratNormal } from './ziggurat';

const TWO_32 = 2 ** 32;

export class SeededRandom implements WordSource {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /**
   * The stream `stream` of `seed` (integers from 0 to 2^32 - 1), at row `row`
   * (an integer from 0 to 2^32 - 1): distinct (seed, stream, row) give
   * unrelated streams.
   */
  constructor(readonly seed: number, stream = 0, row = 0) {
    checkWord('seed', seed);
    checkWord('stream', stream);
    checkWord('row', row);
    // The state is kept as signed 32-bit integers (JavaScript engines keep those unboxed).
    const [a, b] = threefry2x32(seed, stream, row, 0);
    const [c, d] = threefry2x32(seed, stream, row, 1);
    this.s0 = (a | b | c | d) === 0 ? 1 : a | 0; // all zero is the one state xoshiro cannot leave
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
  }

  /** The next 32-bit word, unsigned (xoshiro128**). */
  nextUint32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result >>> 0;
  }

  /** Uniform in [0, 1), 53 random bits (two words). */
  uniform(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 2 ** 26 + low) / 2 ** 53;
  }

  /** Integer in [min, max], both included, every value equally likely (max - min < 2^32). */
  int(min: number, max: number): number {
    const n = max - min + 1;
    if (!Number.isInteger(min) || !Number.isInteger(max) || n < 1 || n > TWO_32) {
      throw new Error(`int(${min}, ${max}) is not allowed: min <= max must be integers less than 2^32 apart`);
    }
    // Words at or past the last whole multiple of n would favour the small values: draw again.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const w = this.nextUint32();
      if (w < limit) return min + (w % n);
    }
  }

  /** Standard normal (ziggurat). */
  normal(): number {
    return zigguratNormal(this);
  }

  /** Fisher-Yates shuffle of 0..n-1. */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

function checkWord(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Error(`${name} = ${value} is not allowed: ${name} must be an integer from 0 to ${0xffffffff}`);
  }
}
