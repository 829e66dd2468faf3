/**
 * Rotary position embedding as DeepSeek-V3 applies it (model.py,
 * `precompute_freqs_cis` and `apply_rotary_emb`): the vector is read as pairs
 * (x[2j], x[2j+1]), each a complex number rotated by the angle pos * f_j.
 *
 *   f_j = theta^(-2j / d)                                j < d / 2
 *   YaRN (context past original_seq_len): f_j = f_j / factor * (1 - smooth_j) + f_j * smooth_j,
 *   smooth_j = 1 - clamp((j - low) / (high - low), 0, 1), low / high from beta_fast / beta_slow
 *   (x0, x1) -> (x0 cos a - x1 sin a, x0 sin a + x1 cos a),  a = pos * f_j
 *
 * Computed in f64 here (model.py uses f32 for the frequencies). The GPU gets
 * the cos / sin of every (position, pair) as a table, never an angle: at a
 * position of a million, pos * f_j in f32 would be off by a tenth of a radian.
 */
import type { Yarn } from './layer-config';

/** The d / 2 rotation frequencies for a rotated part `d` wide. */
export function ropeFrequencies(d: number, y: Yarn): Float64Array {
  if (d % 2 !== 0) throw new Error(`RoPE needs an even width, got ${d}`);
  const half = d / 2;
  const f = new Float64Array(half);
  for (let j = 0; j < half; j++) f[j] = 1 / y.ropeTheta ** ((2 * j) / d);
  if (y.maxSeqLen > y.originalSeqLen) {
    const correctionDim = (rotations: number) => (d * Math.log(y.originalSeqLen / (rotations * 2 * Math.PI))) / (2 * Math.log(y.ropeTheta));
    const low = Math.max(Math.floor(correctionDim(y.betaFast)), 0);
    let high = Math.min(Math.ceil(correctionDim(y.betaSlow)), d - 1);
    if (low === high) high += 0.001;
    for (let j = 0; j < half; j++) {
      const ramp = Math.min(Math.max((j - low) / (high - low), 0), 1);
      const smooth = 1 - ramp;
      f[j] = (f[j] / y.ropeFactor) * (1 - smooth) + f[j] * smooth;
    }
  }
  return f;
}

/** cos and sin of every (position, pair), interleaved: table[(p * half + j) * 2 + {0: cos, 1: sin}], positions 0..count-1. */
export function ropeTable(d: number, y: Yarn, count: number): Float64Array {
  const f = ropeFrequencies(d, y);
  const half = d / 2;
  const table = new Float64Array(count * half * 2);
  for (let p = 0; p < count; p++) {
    for (let j = 0; j < half; j++) {
      table[(p * half + j) * 2] = Math.cos(p * f[j]);
      table[(p * half + j) * 2 + 1] = Math.sin(p * f[j]);
    }
  }
  return table;
}

/** Rotate v[at .. at + d) in place for position `pos`, with the table of ropeTable(d, ...). */
export function rotate(v: Float64Array | Float32Array, at: number, d: number, table: Float64Array, pos: number): void {
  const half = d / 2;
  for (let j = 0; j < half; j++) {
    const c = table[(pos * half + j) * 2];
    const s = table[(pos * half + j) * 2 + 1];
    const x0 = v[at + 2 * j];
    const x1 = v[at + 2 * j + 1];
    v[at + 2 * j] = x0 * c - x1 * s;
    v[at + 2 * j + 1] = x0 * s + x1 * c;
  }
}
