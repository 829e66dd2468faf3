/**
 * KV cache layouts: how one cached token (one row of [dNope latent ; dRope rope])
 * is stored, byte for byte. This table is the single place where the layouts
 * are written down; the quantiser, the dequantiser, the GPU kernels (through
 * `kvLayoutOverrides`) and the byte counts of the benchmarks all read it.
 *
 * Every layout is described by the same few numbers, so that one decoder in
 * the shader (shaders/kv_cache.wgsl) reads all of them:
 *
 *   page p, token t of the page:
 *     token bytes  at  p * pageStride + t * tokenStride
 *     rope (bf16)  at  token bytes + ropeOffset          (FP8 layouts only)
 *     scales       at  p * pageStride + scaleOffset + t * scaleStride
 *
 * The FP8 layouts are FlashMLA's (deepseek-ai/FlashMLA, tests/quant.py and
 * the README's "FP8 KV cache" section):
 *   V32_FP8Sparse   (d 576 = 512 nope + 64 rope, 4 tiles of 128): 656 B/token,
 *                   tightly packed: nope e4m3 (512) | 4 x f32 scale (16) | rope bf16 (128)
 *   MODEL1_FP8Sparse (d 512 = 448 nope + 64 rope, 7 tiles of 64): 584 B/token,
 *                   split per page: P x [nope e4m3 (448) | rope bf16 (128)], then
 *                   P x [7 x ue8m0 scale + 1 pad]; page stride padded up to a multiple of 576.
 */

import { HEAD_PRESETS } from './shape';

export type KvFormat = 'f32' | 'bf16' | 'fp8';
export const KV_FORMATS: readonly KvFormat[] = ['f32', 'bf16', 'fp8'];

export type KvLayoutName = 'f32' | 'bf16' | 'fp8-v32' | 'fp8-model1';

/** How the per-tile FP8 scale is stored. */
export type ScaleEncoding = 'f32' | 'ue8m0';
/** How the quantiser picks the scale: FlashMLA's power of two, or plain amax/448. */
export type ScaleRounding = 'pow2' | 'plain';

/** Element storage of the whole row (f32, bf16) or FP8 latent + bf16 rope. */
export type KvElementKind = 'f32' | 'bf16' | 'fp8';

export interface KvLayout {
  readonly name: KvLayoutName;
  readonly format: KvFormat;
  readonly kind: KvElementKind;
  /** Where the layout comes from. */
  readonly source: string;
  readonly dQk: number;
  readonly dNope: number;
  readonly dRope: number;
  readonly pageBlockSize: number;
  /** Real bytes per token, scales included. */
  readonly bytesPerToken: number;
  /** Bytes FlashMLA's benchmark counts per token (MODEL1 leaves out its 8 scale bytes). */
  readonly flashMlaBenchBytesPerToken: number;
  readonly tokenStride: number;
  readonly pageStride: number;
  /** FP8 only: offset of the bf16 rope inside the token record. */
  readonly ropeOffset: number;
  /** FP8 only: offset of token 0's scales inside the page, and the stride between tokens. */
  readonly scaleOffset: number;
  readonly scaleStride: number;
  readonly scaleEncoding: ScaleEncoding;
  /** FP8 only: latent values per scale, and scales per token. */
  readonly quantTile: number;
  readonly numTiles: number;
}

/** The largest finite E4M3 value: amax maps onto it. */
export const E4M3_MAX = 448;
/** FlashMLA clamps amax/448 below at this (tests/quant.py, "FP8_AMAX_MARGIN"). */
export const SCALE_FLOOR = 1e-4;

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/**
 * The layout for a format and head shape. FP8 exists only for FlashMLA's two
 * head shapes (picked from dQk, as FlashMLA's tests do); f32 and bf16 fit any shape.
 */
export function kvLayout(format: string, dims: { dQk: number; dNope: number; dRope: number }, pageBlockSize: number): KvLayout {
  const { dQk, dNope, dRope } = dims;
  const P = pageBlockSize;
  const none = { ropeOffset: 0, scaleOffset: 0, scaleStride: 0, scaleEncoding: 'f32' as const, quantTile: 0, numTiles: 0 };
  switch (format) {
    case 'f32':
      return { name: 'f32', format, kind: 'f32', source: 'plain f32 rows', dQk, dNope, dRope, pageBlockSize: P,
        bytesPerToken: 4 * dQk, flashMlaBenchBytesPerToken: 4 * dQk, tokenStride: 4 * dQk, pageStride: 4 * dQk * P, ...none };
    case 'bf16':
      return { name: 'bf16', format, kind: 'bf16', source: 'bf16 rows (FlashMLA\'s dense bf16 cache)', dQk, dNope, dRope, pageBlockSize: P,
        bytesPerToken: 2 * dQk, flashMlaBenchBytesPerToken: 2 * dQk, tokenStride: 2 * dQk, pageStride: 2 * dQk * P, ...none };
    case 'fp8': {
      const v32 = HEAD_PRESETS.v32;
      const m1 = HEAD_PRESETS.model1;
      if (dQk === v32.dQk && dNope === v32.dNope && dRope === v32.dRope) {
        const tile = 128;
        const numTiles = dNope / tile;
        const bytesPerToken = dNope + 4 * numTiles + 2 * dRope; // 656
        return { name: 'fp8-v32', format, kind: 'fp8', dQk, dNope, dRope, pageBlockSize: P,
          source: 'FlashMLA V32_FP8Sparse (tests/quant.py; README "FP8 KV cache")',
          bytesPerToken, flashMlaBenchBytesPerToken: bytesPerToken, tokenStride: bytesPerToken, pageStride: bytesPerToken * P,
          ropeOffset: dNope + 4 * numTiles, scaleOffset: dNope, scaleStride: bytesPerToken, scaleEncoding: 'f32',
          quantTile: tile, numTiles };
      }
      if (dQk === m1.dQk && dNope === m1.dNope && dRope === m1.dRope) {
        const tile = 64;
        const numTiles = dNope / tile; // 7
        const tokenStride = dNope + 2 * dRope; // 576
        const scaleStride = numTiles + 1; // 7 ue8m0 + 1 pad
        return { name: 'fp8-model1', format, kind: 'fp8', dQk, dNope, dRope, pageBlockSize: P,
          source: 'FlashMLA MODEL1_FP8Sparse (tests/quant.py)',
          bytesPerToken: tokenStride + scaleStride, flashMlaBenchBytesPerToken: tokenStride,
          tokenStride, pageStride: roundUp(P * (tokenStride + scaleStride), 576),
          ropeOffset: dNope, scaleOffset: P * tokenStride, scaleStride, scaleEncoding: 'ue8m0',
          quantTile: tile, numTiles };
      }
      throw new Error(`kv format "fp8" needs a FlashMLA head shape: dQk/dNope/dRope = 576/512/64 (V3.2) or 512/448/64 (MODEL1), got ${dQk}/${dNope}/${dRope}; use f32 or bf16 for other shapes`);
    }
    default:
      throw new Error(`kv format ${JSON.stringify(format)} is not allowed: kv format must be one of ${KV_FORMATS.join(', ')}`);
  }
}

/** Bytes of a whole cache of `numBlocks` pages. */
export function cacheBytes(layout: KvLayout, numBlocks: number): number {
  return layout.pageStride * numBlocks;
}

/** Byte offsets of one token's parts, from the table above. */
export function tokenOffsets(layout: KvLayout, slot: number): { token: number; rope: number; scales: number } {
  const page = Math.floor(slot / layout.pageBlockSize);
  const t = slot % layout.pageBlockSize;
  const token = page * layout.pageStride + t * layout.tokenStride;
  return { token, rope: token + layout.ropeOffset, scales: page * layout.pageStride + layout.scaleOffset + t * layout.scaleStride };
}

/**
 * The shader's view of a layout: the override constants of shaders/kv_cache.wgsl,
 * in 4-byte words. The shader reads the cache 16 bytes at a time, so an f32
 * quad must start on 16 bytes and a bf16 pair (bf16 rows, FP8 rope) on 8:
 * a layout that breaks this is refused here, never read misaligned.
 */
export function kvLayoutOverrides(layout: KvLayout): Record<string, number> {
  const align = layout.kind === 'f32' ? 16 : 8;
  const words = (bytes: number, what: string, alignTo = 4): number => {
    if (bytes % alignTo !== 0) throw new Error(`${layout.name}: ${what} = ${bytes} bytes is not a multiple of ${alignTo} bytes, which the shader's ${alignTo}-byte reads need`);
    return bytes / 4;
  };
  const kind = { f32: 0, bf16: 1, fp8: 2 }[layout.kind];
  // A token's scales are read in one load (kv_cache.wgsl, tokenScales): four f32 in 16 bytes, or 8 ue8m0 bytes in a word pair.
  const scaleAlign = layout.kind !== 'fp8' ? 4 : layout.scaleEncoding === 'ue8m0' ? 8 : 16;
  return {
    KV_KIND: kind,
    D_QK: layout.dQk,
    D_NOPE: layout.dNope,
    PAGE_SIZE: layout.pageBlockSize,
    PAGE_STRIDE_W: words(layout.pageStride, 'page stride', Math.max(align, scaleAlign)),
    TOKEN_STRIDE_W: words(layout.tokenStride, 'token stride', align),
    ROPE_OFFSET_W: words(layout.ropeOffset, 'rope offset', layout.kind === 'fp8' ? 8 : 4),
    SCALE_OFFSET_W: words(layout.scaleOffset, 'scale offset', scaleAlign),
    SCALE_STRIDE_W: words(layout.scaleStride, 'scale stride', scaleAlign),
    SCALE_IS_UE8M0: layout.scaleEncoding === 'ue8m0' ? 1 : 0,
    QUANT_TILE: Math.max(1, layout.quantTile),
  };
}
