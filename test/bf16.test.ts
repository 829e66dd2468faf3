import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f32ToBf16Bits, f32ArrayToBf16Bits, bf16BitsToF32Array } from '../src/numerics/bf16';

function f32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

describe('bf16', () => {
  it('round-trips every one of the 65536 bit patterns (NaN stays NaN)', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const v = bf16BitsToF32(bits);
      if (Number.isNaN(v)) expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(v)))).toBe(true);
      else expect(f32ToBf16Bits(v)).toBe(bits);
    }
  });

  it('rounds ties to even on the f32 bits', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(f32FromBits(0x3f808000))).toBe(0x3f80); // tie, 0x3f80 is even
    expect(f32ToBf16Bits(f32FromBits(0x3f818000))).toBe(0x3f82); // tie, 0x3f82 is even
    expect(f32ToBf16Bits(f32FromBits(0x3f808001))).toBe(0x3f81); // above the tie
    expect(f32ToBf16Bits(f32FromBits(0x3f807fff))).toBe(0x3f80); // below the tie
    expect(f32ToBf16Bits(f32FromBits(0xbf818000))).toBe(0xbf82); // negative
    expect(f32ToBf16Bits(f32FromBits(0x7f7fffff))).toBe(0x7f80); // largest f32 rounds to inf
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    expect(f32ToBf16Bits(f32FromBits(0x00008000))).toBe(0x0000); // subnormal tie to even zero
  });

  it('keeps NaN a NaN even when the payload sits in the dropped bits', () => {
    const nan = f32FromBits(0x7f800001);
    expect(Number.isNaN(nan)).toBe(true);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(nan)))).toBe(true);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });

  it('bulk versions match the scalar ones', () => {
    const xs = Float32Array.from([1, -2.5, 3.14159, 1e-40, 65504, NaN, -Infinity]);
    const bits = f32ArrayToBf16Bits(xs);
    expect([...bits]).toEqual([...xs].map(f32ToBf16Bits));
    expect([...bf16BitsToF32Array(bits)].map(String)).toEqual([...bits].map((b) => String(bf16BitsToF32(b))));
  });
});
