/**
 * What quantising the cache does to each number: for every latent value of
 * the used slots, the relative error (decoded - original) / |original|, as a
 * histogram. Rounding to nearest keeps a normal number within half a unit in
 * the last place: +-2^-(m+1) relative for m mantissa bits (E4M3: 3 bits,
 * +-6.25%; bf16: 7 bits, +-0.39%). Values so small that they fall into the
 * format's subnormal range (after the tile scale) can err more; they are
 * counted apart. The rope part of an FP8 cache is bf16 and is left out.
 */
import type { KvLayout } from '../mla/kv-layout';
import { E4M3 } from '../numerics/fp8';

export interface QuantHistogram {
  /** The histogram spans [-bound, bound]: half an ulp, relative. */
  readonly bound: number;
  readonly edges: readonly number[];
  readonly counts: readonly number[];
  /** Values whose error is past the bound (subnormal after scaling). */
  readonly beyond: number;
  readonly values: number;
  readonly exact: number;
  readonly rmsRel: number;
  readonly maxRel: number;
  /** Which dims were counted, in words. */
  readonly dims: string;
}

const MANTISSA_BITS = { f32: 23, bf16: 7, fp8: E4M3.mantissaBits } as const;

export function quantHistogram(original: Float32Array, decoded: Float32Array, usedSlots: Uint8Array, layout: KvLayout, bins = 24): QuantHistogram {
  const d = layout.dQk;
  const dims = layout.kind === 'fp8' ? layout.dNope : d;
  const bound = 2 ** -(MANTISSA_BITS[layout.kind] + 1);
  const counts = new Array<number>(bins).fill(0);
  let beyond = 0, values = 0, exact = 0, sq = 0, maxRel = 0;
  for (let slot = 0; slot < usedSlots.length; slot++) {
    if (!usedSlots[slot]) continue;
    for (let c = 0; c < dims; c++) {
      const x = original[slot * d + c];
      if (x === 0) continue;
      const rel = (decoded[slot * d + c] - x) / Math.abs(x);
      values++;
      if (rel === 0) exact++;
      sq += rel * rel;
      maxRel = Math.max(maxRel, Math.abs(rel));
      if (Math.abs(rel) > bound) { beyond++; continue; }
      counts[Math.min(bins - 1, Math.floor(((rel + bound) / (2 * bound)) * bins))]++;
    }
  }
  const edges = Array.from({ length: bins + 1 }, (_, k) => -bound + (2 * bound * k) / bins);
  return {
    bound, edges, counts, beyond, values, exact, rmsRel: Math.sqrt(sq / Math.max(1, values)), maxRel,
    dims: layout.kind === 'fp8' ? `latent dims 0..${dims - 1} (FP8; the ${layout.dRope} rope dims stay bf16)` : `all ${d} dims`,
  };
}
