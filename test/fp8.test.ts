import { describe, expect, it } from 'vitest';
import {
  E4M3, E5M2, decodeE4m3, decodeE5m2, encodeE4m3, encodeE5m2, encodeE4m3Array, encodeE4m3F32Array, decodeE4m3Array, type Fp8Format,
} from '../src/numerics/fp8';

/**
 * An independent decoder: re-bias the exponent into an f32 bit pattern, the
 * way hardware converts FP8 to f32 (OCP OFP8 spec, section 5), subnormals by
 * their definition mantissa * 2^(1 - bias - m).
 */
function specDecode(f: Fp8Format, code: number): number {
  const s = code >> 7;
  const e = (code >> f.mantissaBits) & ((1 << f.exponentBits) - 1);
  const m = code & ((1 << f.mantissaBits) - 1);
  const eMax = (1 << f.exponentBits) - 1;
  if (f.name === 'e4m3' && e === eMax && m === 7) return NaN;
  if (f.name === 'e5m2' && e === eMax) return m === 0 ? (s ? -Infinity : Infinity) : NaN;
  if (e === 0) return (s ? -1 : 1) * m * 2 ** (1 - f.bias - f.mantissaBits);
  const bits = new Uint32Array([(s << 31) | ((e - f.bias + 127) << 23) | (m << (23 - f.mantissaBits))]);
  return new Float32Array(bits.buffer)[0];
}

const formats = [
  { f: E4M3, enc: encodeE4m3, dec: decodeE4m3 },
  { f: E5M2, enc: encodeE5m2, dec: decodeE5m2 },
];

describe.each(formats)('$f.name', ({ f, enc, dec }) => {
  it('decodes all 256 codes to the OCP OFP8 values', () => {
    for (let code = 0; code < 256; code++) {
      const want = specDecode(f, code);
      const got = dec(code);
      if (Number.isNaN(want)) expect(got, `code ${code}`).toBeNaN();
      else expect(Object.is(got, want), `code 0x${code.toString(16)}: ${got} vs ${want}`).toBe(true);
    }
  });

  it('has the spec anchor values', () => {
    if (f.name === 'e4m3') {
      expect(dec(0x7e)).toBe(448);
      expect(dec(0xfe)).toBe(-448);
      expect(dec(0x08)).toBe(2 ** -6); // min normal
      expect(dec(0x07)).toBe(0.875 * 2 ** -6); // max subnormal
      expect(dec(0x01)).toBe(2 ** -9); // min subnormal
      expect(dec(0x7f)).toBeNaN();
      expect(dec(0xff)).toBeNaN();
      expect([...Array(256).keys()].filter((c) => Number.isNaN(dec(c)))).toEqual([0x7f, 0xff]);
    } else {
      expect(dec(0x7b)).toBe(57344);
      expect(dec(0x04)).toBe(2 ** -14);
      expect(dec(0x01)).toBe(2 ** -16);
      expect(dec(0x7c)).toBe(Infinity);
      expect(dec(0xfc)).toBe(-Infinity);
      expect([...Array(256).keys()].filter((c) => Number.isNaN(dec(c)))).toEqual([0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff]);
    }
    expect(Object.is(dec(0x00), 0)).toBe(true);
    expect(Object.is(dec(0x80), -0)).toBe(true);
  });

  it('round-trips every code (NaN codes to the canonical NaN)', () => {
    for (let code = 0; code < 256; code++) {
      const v = dec(code);
      expect(enc(v), `code 0x${code.toString(16)}`).toBe(Number.isNaN(v) ? f.nanCode : code);
    }
    expect(dec(f.nanCode)).toBeNaN();
  });

  it('rounds every tie between neighbours to the even code, and near-ties to the nearest', () => {
    const finite = [...Array(128).keys()].filter((c) => Number.isFinite(dec(c)));
    let ties = 0;
    for (let k = 0; k + 1 < finite.length; k++) {
      const lo = finite[k];
      const hi = finite[k + 1];
      const mid = (dec(lo) + dec(hi)) / 2;
      const even = lo % 2 === 0 ? lo : hi;
      expect(enc(mid), `tie ${dec(lo)}|${dec(hi)}`).toBe(even);
      expect(enc(-mid)).toBe(0x80 | even);
      const eps = (dec(hi) - dec(lo)) * 1e-6;
      expect(enc(mid - eps)).toBe(lo);
      expect(enc(mid + eps)).toBe(hi);
      ties++;
    }
    expect(ties).toBe(finite.length - 1);
  });

  it('keeps signed zero and flushes below half the smallest subnormal to zero', () => {
    const tiny = dec(0x01);
    expect(enc(0)).toBe(0x00);
    expect(enc(-0)).toBe(0x80);
    expect(enc(tiny / 2)).toBe(0x00); // tie between 0 and code 1: even = 0
    expect(enc(-tiny / 2)).toBe(0x80);
    expect(enc(tiny * 0.51)).toBe(0x01);
    expect(enc(tiny * 1e-3)).toBe(0x00);
  });

  it('saturates overflow to the largest finite value', () => {
    const maxCode = enc(f.max);
    expect(dec(maxCode)).toBe(f.max);
    expect(enc(f.max * 1.06)).toBe(maxCode);
    expect(enc(1e30)).toBe(maxCode);
    expect(enc(-1e30)).toBe(0x80 | maxCode);
    if (f.hasInfinity) {
      expect(enc(Infinity)).toBe(0x7c);
      expect(enc(-Infinity)).toBe(0xfc);
    } else {
      expect(enc(Infinity)).toBe(maxCode);
      expect(enc(-Infinity)).toBe(0x80 | maxCode);
    }
    expect(enc(NaN)).toBe(f.nanCode);
  });
});

describe('bulk codecs', () => {
  it('match the scalar ones', () => {
    const xs = Float32Array.from([0, -0, 1, -1.0625, 300, 500, -1e9, 1e-9, NaN, 0.0146484375]);
    const codes = encodeE4m3Array(xs);
    expect([...codes]).toEqual([...xs].map(encodeE4m3));
    const back = decodeE4m3Array(codes);
    expect([...back].map(String)).toEqual([...codes].map((c) => String(Math.fround(decodeE4m3(c)))));
  });
});

describe('E4M3 from f32 bits (the quantiser\'s fast encoder)', () => {
  /** The f32 values next to v: one unit in the last place below and above. */
  function neighbours(v: number): number[] {
    const f = new Float32Array([v]);
    const u = new Uint32Array(f.buffer);
    const out: number[] = [];
    for (const step of [-1, 1]) {
      const w = new Uint32Array([u[0] + (v < 0 || Object.is(v, -0) ? -step : step)]);
      out.push(new Float32Array(w.buffer)[0]);
    }
    return out;
  }

  function expectSameCodes(values: Float32Array): void {
    const fast = new Uint8Array(values.length + 3);
    encodeE4m3F32Array(values, fast, 3);
    const wrong = [...values].map((v, i) => [v, fast[i + 3], encodeE4m3(v)]).filter(([, a, b]) => a !== b);
    expect(wrong.slice(0, 5), `${wrong.length} of ${values.length} differ ([value, fast, exact])`).toEqual([]);
  }

  it('gives encodeE4m3\'s code for every code\'s value, every midpoint between two codes, and the f32 values next to both', () => {
    const exact: number[] = [];
    for (let c = 0; c < 0x7f; c++) exact.push(decodeE4m3(c), -decodeE4m3(c));
    const mids: number[] = [];
    for (let c = 0; c < 0x7e; c++) mids.push((decodeE4m3(c) + decodeE4m3(c + 1)) / 2);
    mids.push(464, 480, 448 + 2 ** -20, 2 ** -10, 2 ** -11, 1e-30); // past the largest, below the smallest
    const all = [...exact, ...mids.flatMap((m) => [m, -m])];
    expectSameCodes(Float32Array.from([...all, ...all.flatMap(neighbours), 0, -0, Infinity, -Infinity, NaN, -NaN, 1e38]));
  });

  it('gives encodeE4m3\'s code for 10^6 random f32 bit patterns (NaNs, subnormals, huge and tiny values among them)', () => {
    const bits = new Uint32Array(1_000_000);
    let x = 12345;
    for (let i = 0; i < bits.length; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      // Half the patterns near E4M3's range (f32 exponents 2^-12 .. 2^9), half anywhere.
      bits[i] = i % 2 === 0 ? x : (x & 0x807fffff) | ((115 + (x >>> 27) % 22) << 23);
    }
    expectSameCodes(new Float32Array(bits.buffer));
  });
});
