/**
 * Seeded random numbers that are the same on every platform and JS engine.
 * Uniforms come from pure-rand's xoroshiro128+; the normal variate is the
 * Irwin-Hall sum of 12 uniforms minus 6 (mean 0, variance 1), which uses only
 * additions, exact in f64, where Box-Muller would need Math.log and Math.cos,
 * whose last bits may differ between engines.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';

export class SeededRandom {
  private readonly rng;

  constructor(readonly seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`seed = ${seed} is not allowed: seed must be an integer from 0 to ${0xffffffff}`);
    }
    this.rng = xoroshiro128plus(seed | 0);
  }

  /** Uniform in [0, 1). */
  uniform(): number { return uniformFloat64(this.rng); }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number { return uniformInt(this.rng, min, max); }

  /** Approximately standard normal (Irwin-Hall, 12 terms); bounded by +-6. */
  normal(): number {
    let s = 0;
    for (let k = 0; k < 12; k++) s += this.uniform();
    return s - 6;
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
