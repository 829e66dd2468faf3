/**
 * Quantise an f32 KV cache into a layout's bytes, and back. For the FP8
 * layouts this follows FlashMLA's tests/quant.py: per tile of `quantTile`
 * latent values,
 *     scale = 2^ceil(log2(max(amax / 448, 1e-4)))       ('pow2', FlashMLA)
 *     scale = max(amax / 448, 1e-4)                      ('plain', V3.2 README's wording; f32 scales only)
 *     code  = e4m3(x / scale)          dequantised value = decode(code) * scale
 * and the rope part is kept in bf16. All arithmetic is in f32, as torch does it.
 * Dequantisation returns exactly the values the GPU kernels compute from the
 * bytes (decode(code) * scale in f32), so the CPU reference can be run on them.
 */

import { decodeE4m3, encodeE4m3F32Array } from '../numerics/fp8';
import { bf16BitsToF32, f32ToBf16Bits, roundF32BitsToBf16 } from '../numerics/bf16';
import { E4M3_MAX, SCALE_FLOOR, cacheBytes, tokenOffsets, type KvLayout, type ScaleRounding } from './kv-layout';

const fround = Math.fround;
const F32_SCALE_FLOOR = fround(SCALE_FLOOR);

const f32Scratch = new Float32Array(1);
const f32ScratchBits = new Uint32Array(f32Scratch.buffer);

/**
 * The exponent k of the smallest power of two 2^k >= s, for a positive
 * normal f32 value s (every scale here: the floors keep them above f32's
 * subnormals), read exactly from its bits: 2^e when the mantissa is zero,
 * else the next power up.
 */
export function powerOfTwoAtLeast(s: number): number {
  f32Scratch[0] = s;
  const bits = f32ScratchBits[0];
  const biased = (bits >>> 23) & 0xff;
  if (biased === 0 || biased === 0xff || bits >>> 31 !== 0 || f32Scratch[0] !== s) {
    throw new Error(`powerOfTwoAtLeast(${s}): s must be a positive normal f32 value`);
  }
  return (bits & 0x7fffff) === 0 ? biased - 127 : biased - 126;
}

/** The scale of one tile from its amax, and its ue8m0 exponent byte when it is a power of two. */
export function tileScale(amax: number, rounding: ScaleRounding): { scale: number; ue8m0: number } {
  if (Number.isNaN(amax)) return { scale: NaN, ue8m0: 0xff };
  const s = Math.max(fround(fround(amax) / E4M3_MAX), F32_SCALE_FLOOR);
  if (rounding === 'plain') return { scale: s, ue8m0: -1 };
  if (s === Infinity) return { scale: Infinity, ue8m0: 0xff }; // an infinite amax: ue8m0 has no infinity (0xff is its NaN)
  const k = powerOfTwoAtLeast(s);
  return { scale: 2 ** k, ue8m0: k + 127 };
}

/** ue8m0 byte -> scale 2^(e - 127); 0xff is NaN (float8_e8m0fnu). */
export function decodeUe8m0(e: number): number {
  return e === 0xff ? NaN : 2 ** (e - 127);
}

export interface QuantizeOptions {
  /** FP8 scale rounding: 'pow2' (FlashMLA, default) or 'plain' (V3.2 f32 scales only). */
  readonly scaleRounding?: ScaleRounding;
}

function checkRounding(layout: KvLayout, options: QuantizeOptions): ScaleRounding {
  const rounding = options.scaleRounding ?? 'pow2';
  if (rounding !== 'pow2' && rounding !== 'plain') {
    throw new Error(`scaleRounding ${JSON.stringify(rounding)} is not allowed: scaleRounding must be one of pow2, plain`);
  }
  if (rounding === 'plain' && layout.scaleEncoding === 'ue8m0' && layout.kind === 'fp8') {
    throw new Error(`scaleRounding "plain" is not allowed for ${layout.name}: its ue8m0 scales hold only powers of two; use pow2`);
  }
  return rounding;
}

/**
 * kvRows: f32 [numBlocks * pageBlockSize, dQk] (slot-major: slot = block * page + offset).
 * Returns the cache bytes, cacheBytes(layout, numBlocks) long.
 */
export function quantizeKvCache(kvRows: Float32Array, layout: KvLayout, options: QuantizeOptions = {}): Uint8Array {
  const d = layout.dQk;
  const numSlots = kvRows.length / d;
  if (!Number.isInteger(numSlots) || numSlots % layout.pageBlockSize !== 0) {
    throw new Error(`kv cache has ${kvRows.length} values: expected a whole number of pages of ${layout.pageBlockSize} tokens x ${d}`);
  }
  const bytes = new Uint8Array(cacheBytes(layout, numSlots / layout.pageBlockSize));
  quantizeSlots(kvRows, 0, bytes, layout, options);
  return bytes;
}

/**
 * Quantise the f32 rows of slots firstSlot, firstSlot + 1, ... (kvRows holds
 * whole rows of dQk) into their places in `bytes`: a cache built a chunk at
 * a time, never held as f32 whole.
 */
export function quantizeSlots(kvRows: Float32Array, firstSlot: number, bytes: Uint8Array, layout: KvLayout, options: QuantizeOptions = {}): void {
  const d = layout.dQk;
  const rounding = checkRounding(layout, options);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = kvRows.length / d;
  const rowBits = new Uint32Array(kvRows.buffer, kvRows.byteOffset, kvRows.length);
  const scaled = new Float32Array(layout.kind === 'fp8' ? layout.quantTile : 0);
  const scaledBits = new Uint32Array(scaled.buffer);
  const { quantTile, numTiles, dNope, dRope } = layout;
  const f32Scales = layout.scaleEncoding === 'f32';
  for (let k = 0; k < count; k++) {
    const row = k * d;
    const at = tokenOffsets(layout, firstSlot + k);
    switch (layout.kind) {
      case 'f32':
        for (let c = 0; c < d; c++) view.setFloat32(at.token + 4 * c, kvRows[row + c], true);
        break;
      case 'bf16':
        for (let c = 0; c < d; c++) view.setUint16(at.token + 2 * c, f32ToBf16Bits(kvRows[row + c]), true);
        break;
      case 'fp8':
        for (let tile = 0; tile < numTiles; tile++) {
          const start = row + tile * quantTile;
          let amax = 0;
          for (let c = 0; c < quantTile; c++) amax = Math.max(amax, Math.abs(kvRows[start + c]));
          const { scale, ue8m0 } = tileScale(amax, rounding);
          // x / scale rounded to f32 (the Float32Array store rounds), then its E4M3 code.
          for (let c = 0; c < quantTile; c++) scaled[c] = kvRows[start + c] / scale;
          encodeE4m3F32Array(scaled, bytes, at.token + tile * quantTile, scaledBits);
          if (f32Scales) view.setFloat32(at.scales + 4 * tile, scale, true);
          else bytes[at.scales + tile] = ue8m0;
        }
        for (let c = 0; c < dRope; c++) {
          // bf16, little-endian.
          const b = roundF32BitsToBf16(rowBits[row + dNope + c]);
          bytes[at.rope + 2 * c] = b & 0xff;
          bytes[at.rope + 2 * c + 1] = b >>> 8;
        }
        break;
    }
  }
}

/** Cache bytes -> f32 [numSlots, dQk], the values a kernel reading these bytes sees. */
export function dequantizeKvCache(bytes: Uint8Array, layout: KvLayout): Float32Array {
  const numBlocks = bytes.length / layout.pageStride;
  if (!Number.isInteger(numBlocks)) {
    throw new Error(`kv cache has ${bytes.length} bytes: expected a multiple of the ${layout.name} page stride ${layout.pageStride}`);
  }
  const slots = Array.from({ length: numBlocks * layout.pageBlockSize }, (_, s) => s);
  return dequantizeSlots(bytes, layout, slots);
}

/**
 * The rows of the listed slots, decoded from the cache bytes into f32
 * [slots.length, dQk] (into `out` when given): a long cache is checked a
 * chunk of keys at a time.
 */
export function dequantizeSlots(bytes: Uint8Array, layout: KvLayout, slots: ArrayLike<number>, out = new Float32Array(slots.length * layout.dQk)): Float32Array {
  const d = layout.dQk;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let k = 0; k < slots.length; k++) {
    const row = k * d;
    const at = tokenOffsets(layout, slots[k]);
    switch (layout.kind) {
      case 'f32':
        for (let c = 0; c < d; c++) out[row + c] = view.getFloat32(at.token + 4 * c, true);
        break;
      case 'bf16':
        for (let c = 0; c < d; c++) out[row + c] = bf16BitsToF32(view.getUint16(at.token + 2 * c, true));
        break;
      case 'fp8':
        for (let tile = 0; tile < layout.numTiles; tile++) {
          const scale = layout.scaleEncoding === 'f32'
            ? view.getFloat32(at.scales + 4 * tile, true)
            : decodeUe8m0(bytes[at.scales + tile]);
          for (let c = 0; c < layout.quantTile; c++) {
            const i = tile * layout.quantTile + c;
            out[row + i] = fround(decodeE4m3(bytes[at.token + i]) * scale);
          }
        }
        for (let c = 0; c < layout.dRope; c++) {
          out[row + layout.dNope + c] = bf16BitsToF32(view.getUint16(at.rope + 2 * c, true));
        }
        break;
    }
  }
  return out;
}

/**
 * Whether every value this cache decodes to is a bf16 value, so that a tile
 * of its keys held in bf16 (`--keys tile-bf16`) is exact: a bf16 cache, or
 * an FP8 one whose scales are all powers of two (an E4M3 value has 3
 * mantissa bits, bf16 has 7, and a power of two only moves the exponent).
 * MODEL1's ue8m0 scales are powers of two by their encoding; V3.2's f32
 * scales are when quantised as FlashMLA does ('pow2'), and are read here
 * (every token's, a few words each): a scale that is not finite, or zero,
 * decodes to NaN, infinity or zero either way, which bf16 holds too. An f32
 * cache: false. (Values that would be f32 subnormals, from scales under
 * 2^-118, are not bf16 values, but a GPU may flush those anyway; a
 * subnormal scale is refused.)
 */
export function decodesToBf16(bytes: Uint8Array, layout: KvLayout): boolean {
  if (layout.kind !== 'fp8') return layout.kind === 'bf16';
  if (layout.scaleEncoding === 'ue8m0') return true;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots = (bytes.byteLength / layout.pageStride) * layout.pageBlockSize;
  for (let slot = 0; slot < slots; slot++) {
    const at = tokenOffsets(layout, slot).scales;
    for (let tile = 0; tile < layout.numTiles; tile++) {
      const bits = view.getUint32(at + 4 * tile, true);
      const exponent = (bits >>> 23) & 0xff;
      const mantissa = bits & 0x7fffff;
      // A finite nonzero scale must be a normal power of two: mantissa bits or a subnormal are refused.
      if (exponent !== 0xff && (bits & 0x7fffffff) !== 0 && (mantissa !== 0 || exponent === 0)) return false;
    }
  }
  return true;
}
