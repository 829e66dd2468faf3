/**
 * bfloat16: the top 16 bits of an IEEE f32 (1 sign, 8 exponent, 7 mantissa).
 * Conversion from f32 rounds to nearest, ties to even, on the f32 bits
 * (the value is first rounded to f32, as any f32 tensor would be). NaN stays
 * NaN (the quiet bit is set so truncation cannot turn it into infinity).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round a number to bf16 and return its 16 bits. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  return roundF32BitsToBf16(u32[0]);
}

/** The bf16 bits of the f32 whose bits are `bits` (round to nearest even; NaN stays NaN). */
export function roundF32BitsToBf16(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x0040) & 0xffff; // NaN: keep sign, force quiet
  }
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** The f32 value of 16 bf16 bits. */
export function bf16BitsToF32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/** Round to bf16 and back: the value a bf16 tensor would hold. */
export function roundToBf16(x: number): number {
  return bf16BitsToF32(f32ToBf16Bits(x));
}

/** Bulk: f32 values -> bf16 bits. */
export function f32ArrayToBf16Bits(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) out[i] = roundF32BitsToBf16(bits[i]);
  return out;
}

/** Bulk: bf16 bits -> f32 values. */
export function bf16BitsToF32Array(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
  return out;
}
