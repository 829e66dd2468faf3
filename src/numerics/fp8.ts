/**
 * 8-bit floating point codecs, as in the OCP 8-bit Floating Point
 * specification (OFP8, rev. 1.0) and jax-ml/ml_dtypes:
 *
 *   E4M3 "fn": 1 sign, 4 exponent (bias 7), 3 mantissa bits. No infinity;
 *              S.1111.111 is NaN, so the largest finite value is
 *              S.1111.110 = 1.75 * 2^8 = 448.
 *   E5M2:      1 sign, 5 exponent (bias 15), 2 mantissa bits. IEEE-like:
 *              S.11111.00 is infinity, S.11111.{01,10,11} are NaN; the
 *              largest finite value is 1.75 * 2^15 = 57344.
 *
 * Encoding rounds to nearest, ties to the even code. The overflow policy is
 * saturation: a finite value beyond the largest finite code becomes
 * +-max (quantisation with a per-tile scale never overflows, so saturating
 * only matters for hand-typed values). +-Infinity saturates in E4M3 (it has
 * no infinity) and stays infinity in E5M2. NaN encodes to the format's
 * canonical NaN (0x7F for E4M3, 0x7E for E5M2, as ml_dtypes does).
 *
 * The encoder is written to be obviously exact rather than clever: every
 * representable value is an exact double, so it finds the two neighbours of
 * |x| in the sorted table of codes and compares |x| with their midpoint.
 */

export interface Fp8Format {
  readonly name: 'e4m3' | 'e5m2';
  readonly exponentBits: number;
  readonly mantissaBits: number;
  readonly bias: number;
  /** Largest finite magnitude. */
  readonly max: number;
  /** Canonical NaN code produced by the encoder. */
  readonly nanCode: number;
  /** Does the format have infinities (S.11111.00 in E5M2)? */
  readonly hasInfinity: boolean;
}

export const E4M3: Fp8Format = {
  name: 'e4m3', exponentBits: 4, mantissaBits: 3, bias: 7, max: 448, nanCode: 0x7f, hasInfinity: false,
};
export const E5M2: Fp8Format = {
  name: 'e5m2', exponentBits: 5, mantissaBits: 2, bias: 15, max: 57344, nanCode: 0x7e, hasInfinity: true,
};

/** Value of one code, straight from the bit fields (the definition, not a table). */
function decodeFields(format: Fp8Format, code: number): number {
  const m = format.mantissaBits;
  const expMax = (1 << format.exponentBits) - 1;
  const sign = code & 0x80 ? -1 : 1;
  const exponent = (code >> m) & expMax;
  const mantissa = code & ((1 << m) - 1);
  if (format.hasInfinity && exponent === expMax) {
    return mantissa === 0 ? sign * Infinity : NaN;
  }
  if (!format.hasInfinity && exponent === expMax && mantissa === (1 << m) - 1) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** (1 - format.bias - m); // subnormal (and +-0)
  return sign * (1 + mantissa / (1 << m)) * 2 ** (exponent - format.bias);
}

interface CodecTables {
  /** decode[code] for all 256 codes. */
  readonly decode: Float32Array;
  /** Finite non-negative values in increasing order; positiveCodes[k] is the code of value k. */
  readonly positiveValues: Float64Array;
  readonly positiveCodes: Uint8Array;
}

function buildTables(format: Fp8Format): CodecTables {
  const decode = new Float32Array(256);
  for (let code = 0; code < 256; code++) decode[code] = decodeFields(format, code);
  // Codes 0x00..0x7f are the non-negative ones and already sorted by value.
  const values: number[] = [];
  const codes: number[] = [];
  for (let code = 0; code < 0x80; code++) {
    const v = decode[code];
    if (Number.isFinite(v)) { values.push(v); codes.push(code); }
  }
  return { decode, positiveValues: Float64Array.from(values), positiveCodes: Uint8Array.from(codes) };
}

const tables = { e4m3: buildTables(E4M3), e5m2: buildTables(E5M2) };

function encodeWith(format: Fp8Format, x: number): number {
  const t = tables[format.name];
  if (Number.isNaN(x)) return format.nanCode;
  const signBit = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a === Infinity && format.hasInfinity) return signBit | (((1 << format.exponentBits) - 1) << format.mantissaBits);
  const values = t.positiveValues;
  const last = values.length - 1;
  if (a >= values[last]) return signBit | t.positiveCodes[last]; // saturate
  // Largest k with values[k] <= a (binary search).
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid] <= a) lo = mid; else hi = mid;
  }
  const below = values[lo];
  const above = values[lo + 1];
  const midpoint = (below + above) / 2; // exact: both are short binary fractions
  let k: number;
  if (a < midpoint) k = lo;
  else if (a > midpoint) k = lo + 1;
  else k = (t.positiveCodes[lo] & 1) === 0 ? lo : lo + 1; // tie: the even code
  return signBit | t.positiveCodes[k];
}

/** Encode a number as an OCP E4M3 ("fn") code 0..255: round to nearest even, saturate to +-448. */
export function encodeE4m3(x: number): number { return encodeWith(E4M3, x); }
/** Decode an E4M3 code 0..255. */
export function decodeE4m3(code: number): number { return tables.e4m3.decode[code & 0xff]; }
/** Encode a number as an OCP E5M2 code 0..255: round to nearest even, saturate finite overflow to +-57344. */
export function encodeE5m2(x: number): number { return encodeWith(E5M2, x); }
/** Decode an E5M2 code 0..255. */
export function decodeE5m2(code: number): number { return tables.e5m2.decode[code & 0xff]; }

/** The 256-entry decode table of a format (a copy), e.g. to upload to a shader. */
export function fp8DecodeTable(format: Fp8Format): Float32Array { return tables[format.name].decode.slice(); }

/**
 * E4M3 codes of f32 values, straight from their bits: what a cast of an f32
 * tensor to float8_e4m3fn does, and the same codes as encodeE4m3 gives for
 * each value (test/fp8.test.ts compares the two on every code, every
 * midpoint and its neighbours, and a million random f32s). Written for
 * speed, since a long cache quantises hundreds of millions of values: the
 * 3 kept mantissa bits are rounded to nearest even by an integer add on
 * the f32 bits, whose carry moves into the exponent as rounding should.
 * out[outAt + i] = code of values[i]. `bits` is values' Uint32 view (a
 * caller that encodes the same buffer again and again passes it in).
 */
export function encodeE4m3F32Array(values: Float32Array, out: Uint8Array, outAt = 0, bits = new Uint32Array(values.buffer, values.byteOffset, values.length)): void {
  for (let i = 0; i < values.length; i++) {
    const b = bits[i];
    const sign = (b >>> 24) & 0x80;
    const abs = b & 0x7fffffff;
    let code: number;
    if (abs > F32_INFINITY_BITS) code = E4M3.nanCode;
    else if (abs >= F32_BITS_OF_448) code = sign | E4M3_MAX_CODE; // saturate (and +-infinity)
    else if (abs >= F32_BITS_OF_E4M3_MIN_NORMAL) {
      // f32 exponent and top mantissa bits, rounded to 3 mantissa bits; then E4M3's bias 7 for f32's 127.
      const rounded = (abs + 0x7ffff + ((abs >>> 20) & 1)) >>> 20;
      code = sign | (rounded - ((127 - E4M3.bias) << 3));
    } else {
      // E4M3's subnormals are k * 2^-9, k = 0..7 (k = 8 is the smallest normal, code 8): round |x| * 512 to even.
      const y = Math.abs(values[i]) * 512;
      let k = Math.floor(y);
      const rest = y - k;
      if (rest > 0.5 || (rest === 0.5 && (k & 1) === 1)) k += 1;
      code = sign | k;
    }
    out[outAt + i] = code;
  }
}
/** The f32 bits of a value. */
function f32BitsOf(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0];
}
const F32_INFINITY_BITS = f32BitsOf(Infinity);
/** E4M3's largest finite value (448) as f32 bits, and its code. */
const F32_BITS_OF_448 = f32BitsOf(E4M3.max);
const E4M3_MAX_CODE = tables.e4m3.positiveCodes[tables.e4m3.positiveCodes.length - 1];
/** E4M3's smallest normal value, 2^(1 - bias), as f32 bits. */
const F32_BITS_OF_E4M3_MIN_NORMAL = f32BitsOf(2 ** (1 - E4M3.bias));

/** Bulk encode: out[i] = encode(values[i]). */
export function encodeE4m3Array(values: ArrayLike<number>, out = new Uint8Array(values.length)): Uint8Array {
  for (let i = 0; i < values.length; i++) out[i] = encodeWith(E4M3, values[i]);
  return out;
}
export function encodeE5m2Array(values: ArrayLike<number>, out = new Uint8Array(values.length)): Uint8Array {
  for (let i = 0; i < values.length; i++) out[i] = encodeWith(E5M2, values[i]);
  return out;
}
/** Bulk decode through the table. */
export function decodeE4m3Array(codes: ArrayLike<number>, out = new Float32Array(codes.length)): Float32Array {
  const d = tables.e4m3.decode;
  for (let i = 0; i < codes.length; i++) out[i] = d[codes[i] & 0xff];
  return out;
}
export function decodeE5m2Array(codes: ArrayLike<number>, out = new Float32Array(codes.length)): Float32Array {
  const d = tables.e5m2.decode;
  for (let i = 0; i < codes.length; i++) out[i] = d[codes[i] & 0xff];
  return out;
}

/** Sign, exponent and mantissa fields of a code, for teaching views. */
export function fp8Fields(format: Fp8Format, code: number): { sign: number; exponent: number; mantissa: number } {
  const m = format.mantissaBits;
  return {
    sign: (code >> 7) & 1,
    exponent: (code >> m) & ((1 << format.exponentBits) - 1),
    mantissa: code & ((1 << m) - 1),
  };
}
