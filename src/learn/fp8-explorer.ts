/**
 * One number through an FP8 format: the code the encoder picks (round to
 * nearest even, saturating), its sign / exponent / mantissa bits, the value
 * they decode to, and the rounding error. For the Learn view's explorer.
 */
import { E4M3, E5M2, type Fp8Format, decodeE4m3, decodeE5m2, encodeE4m3, encodeE5m2, fp8Fields } from '../numerics/fp8';

export interface Fp8Explained {
  readonly format: Fp8Format;
  readonly input: number;
  readonly code: number;
  readonly bits: { readonly sign: string; readonly exponent: string; readonly mantissa: string };
  readonly fields: { readonly sign: number; readonly exponent: number; readonly mantissa: number };
  /** How the fields make the value, e.g. "(-1)^0 x 2^(8-7) x 1.101b". */
  readonly formula: string;
  readonly decoded: number;
  readonly absError: number;
  /** |decoded - input| / |input|; 0 for input 0. */
  readonly relError: number;
}

export const FP8_FORMATS = { e4m3: E4M3, e5m2: E5M2 } as const;

export function explainFp8(formatName: 'e4m3' | 'e5m2', input: number): Fp8Explained {
  const format = FP8_FORMATS[formatName];
  if (!format) throw new Error(`format ${JSON.stringify(formatName)} is not allowed: format must be one of e4m3, e5m2`);
  if (typeof input !== 'number' || Number.isNaN(input)) throw new Error('value is not a number: type a decimal number such as 0.3, -17 or 1e-3');
  const code = formatName === 'e4m3' ? encodeE4m3(input) : encodeE5m2(input);
  const decoded = formatName === 'e4m3' ? decodeE4m3(code) : decodeE5m2(code);
  const fields = fp8Fields(format, code);
  const bin = (v: number, n: number) => v.toString(2).padStart(n, '0');
  const bits = { sign: bin(fields.sign, 1), exponent: bin(fields.exponent, format.exponentBits), mantissa: bin(fields.mantissa, format.mantissaBits) };
  let formula: string;
  if (Number.isNaN(decoded)) formula = 'NaN code';
  else if (!Number.isFinite(decoded)) formula = `(-1)^${fields.sign} x infinity (exponent all ones, mantissa 0)`;
  else if (fields.exponent === 0) formula = `(-1)^${fields.sign} x 2^(1-${format.bias}) x 0.${bits.mantissa}b  (subnormal)`;
  else formula = `(-1)^${fields.sign} x 2^(${fields.exponent}-${format.bias}) x 1.${bits.mantissa}b`;
  const absError = Math.abs(decoded - input);
  return { format, input, code, bits, fields, formula, decoded, absError, relError: input === 0 ? 0 : absError / Math.abs(input) };
}
