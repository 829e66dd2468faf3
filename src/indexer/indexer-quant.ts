/**
 * The indexer's FP8 quantiser (V3.2's `act_quant` with block size 128):
 * one scale per 128 values, amax clamped to 1e-4 first,
 *
 *   scale = amax / 448            ue8m0: rounded up to a power of two
 *   code  = E4M3(x / scale)       x / scale in f32, as the model's kernel computes it, then
 *                                 the project's codec (numerics/fp8.ts), bit-exact
 *
 * and what the kernel reads back: the code's value (exact in f32) and the scale.
 */
import { E4M3_MAX } from '../mla/kv-layout';
import { powerOfTwoAtLeast } from '../mla/kv-quant';
import { decodeE4m3, encodeE4m3F32Array } from '../numerics/fp8';

export type IndexerScaleFormat = 'ue8m0' | 'f32';
export const INDEXER_SCALE_FORMATS: readonly IndexerScaleFormat[] = ['ue8m0', 'f32'];

const AMAX_FLOOR = 1e-4;

/** Quantise v[at .. at + n) into codes[codeAt ..]; returns the block's scale. */
export function quantizeBlock(v: ArrayLike<number>, at: number, n: number, codes: Uint8Array, codeAt: number, format: IndexerScaleFormat): number {
  let amax = 0;
  for (let k = 0; k < n; k++) amax = Math.max(amax, Math.abs(Math.fround(v[at + k])));
  const plain = Math.fround(Math.max(amax, AMAX_FLOOR) / E4M3_MAX);
  const scale = format === 'ue8m0' ? 2 ** powerOfTwoAtLeast(plain) : plain;
  if (scaled.length < n) scaled = new Float32Array(n);
  const block = scaled.subarray(0, n);
  for (let k = 0; k < n; k++) block[k] = Math.fround(v[at + k]) / scale; // the store rounds to f32
  encodeE4m3F32Array(block, codes, codeAt);
  return scale;
}

/** x / scale of the block being quantised, reused from block to block (a million keys are a million blocks). */
let scaled = new Float32Array(128);

/** The values the codes stand for, without the scale: what the kernel multiplies. */
export function decodeCodes(codes: Uint8Array, at: number, n: number, out = new Float32Array(n)): Float32Array {
  for (let k = 0; k < n; k++) out[k] = decodeE4m3(codes[at + k]);
  return out;
}
