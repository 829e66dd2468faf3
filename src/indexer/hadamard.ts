/**
 * The Hadamard transform the indexer applies to q and k before FP8 (V3.2's
 * `rotate_activation`: `hadamard_transform(x, scale = d^-0.5)`): a fast
 * Walsh-Hadamard transform in the natural (Sylvester) order, in f64. It is
 * orthogonal with that scale, so dot products are unchanged while an
 * outlier's energy is spread over all 128 dims, which FP8 keeps better.
 */

/** Transform v[at .. at + n) in place; n a power of two. */
export function hadamard(v: Float64Array, at: number, n: number): void {
  if (n < 1 || (n & (n - 1)) !== 0) throw new Error(`the Hadamard transform needs a power-of-two length, got ${n}`);
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const x = v[at + j];
        const y = v[at + j + h];
        v[at + j] = x + y;
        v[at + j + h] = x - y;
      }
    }
  }
  const s = n ** -0.5;
  for (let j = 0; j < n; j++) v[at + j] *= s;
}
