import { describe, expect, it } from 'vitest';
import { kvLayout, cacheBytes, tokenOffsets } from '../src/mla/kv-layout';
import { quantizeKvCache, dequantizeKvCache, decodesToBf16, tileScale } from '../src/mla/kv-quant';
import { HEAD_PRESETS } from '../src/mla/shape';
import { decodeE4m3 } from '../src/numerics/fp8';
import { SeededRandom } from '../src/random/seeded-random';

const v32 = HEAD_PRESETS.v32;
const m1 = HEAD_PRESETS.model1;

/** Half an E4M3 ulp at y (normal: 2^(floor(log2|y|) - 4); subnormal: 2^-10). */
function e4m3HalfUlp(y: number): number {
  const a = Math.abs(y);
  if (a < 2 ** -6) return 2 ** -10;
  return 2 ** (Math.floor(Math.log2(a)) - 4);
}

function randomRows(numSlots: number, d: number, seed: number, gain = 1): Float32Array {
  const rng = new SeededRandom(seed);
  const rows = new Float32Array(numSlots * d);
  for (let i = 0; i < rows.length; i++) rows[i] = rng.normal() * gain * (i % 97 === 0 ? 25 : 1);
  return rows;
}

describe('layout table', () => {
  it('has FlashMLA\'s byte sizes', () => {
    const a = kvLayout('fp8', v32, 64);
    expect(a.name).toBe('fp8-v32');
    expect(a.bytesPerToken).toBe(656);
    expect(a.pageStride).toBe(64 * 656);
    expect([a.scaleOffset, a.ropeOffset]).toEqual([512, 528]);
    const b = kvLayout('fp8', m1, 64);
    expect(b.name).toBe('fp8-model1');
    expect(b.bytesPerToken).toBe(584);
    expect(b.flashMlaBenchBytesPerToken).toBe(576);
    expect(b.pageStride).toBe(37440); // 64 * 584 = 37376, padded up to 65 * 576
    expect(b.scaleOffset).toBe(64 * 576);
    expect(kvLayout('fp8', m1, 53).pageStride).toBe(Math.ceil((53 * 584) / 576) * 576);
    expect(kvLayout('f32', v32, 64).bytesPerToken).toBe(2304);
    expect(kvLayout('f32', m1, 64).bytesPerToken).toBe(2048);
    expect(kvLayout('bf16', v32, 64).bytesPerToken).toBe(1152);
    expect(kvLayout('bf16', m1, 64).bytesPerToken).toBe(1024);
    expect(cacheBytes(b, 3)).toBe(3 * 37440);
  });

  it('refuses a bad format or an FP8 head shape FlashMLA does not have, naming what is allowed', () => {
    expect(() => kvLayout('fp4', v32, 64)).toThrow(/kv format "fp4" is not allowed: kv format must be one of f32, bf16, fp8/);
    expect(() => kvLayout('fp8', { dQk: 256, dNope: 192, dRope: 64 }, 64)).toThrow(/576\/512\/64 \(V3.2\) or 512\/448\/64 \(MODEL1\)/);
  });

  it('places token parts at the offsets the table gives', () => {
    const b = kvLayout('fp8', m1, 4);
    expect(tokenOffsets(b, 5)).toEqual({ token: b.pageStride + 576, rope: b.pageStride + 576 + 448, scales: b.pageStride + 4 * 576 + 8 });
  });
});

describe.each([
  { name: 'V3.2', dims: v32, P: 64 },
  { name: 'MODEL1', dims: m1, P: 64 },
  { name: 'MODEL1 odd page', dims: m1, P: 53 },
  { name: 'V3.2 odd page', dims: v32, P: 61 },
])('FP8 quantise / dequantise, $name', ({ dims, P }) => {
  const layout = kvLayout('fp8', dims, P);
  const numSlots = 2 * P;
  const rows = randomRows(numSlots, dims.dQk, 7);

  it('keeps each value within half an E4M3 ulp times its tile scale, rope within half a bf16 ulp', () => {
    const bytes = quantizeKvCache(rows, layout);
    expect(bytes.length).toBe(2 * layout.pageStride);
    const back = dequantizeKvCache(bytes, layout);
    for (let slot = 0; slot < numSlots; slot++) {
      for (let tile = 0; tile < layout.numTiles; tile++) {
        let amax = 0;
        for (let c = 0; c < layout.quantTile; c++) amax = Math.max(amax, Math.abs(rows[slot * dims.dQk + tile * layout.quantTile + c]));
        const { scale } = tileScale(amax, 'pow2');
        for (let c = 0; c < layout.quantTile; c++) {
          const i = slot * dims.dQk + tile * layout.quantTile + c;
          const err = Math.abs(back[i] - rows[i]);
          expect(err).toBeLessThanOrEqual(e4m3HalfUlp(rows[i] / scale) * scale);
        }
      }
      for (let c = dims.dNope; c < dims.dQk; c++) {
        const i = slot * dims.dQk + c;
        expect(Math.abs(back[i] - rows[i])).toBeLessThanOrEqual(Math.abs(rows[i]) * 2 ** -8);
      }
    }
  });

  it('stores power-of-two scales where FlashMLA puts them', () => {
    const bytes = quantizeKvCache(rows, layout);
    const view = new DataView(bytes.buffer);
    for (const slot of [0, 1, P - 1, P, numSlots - 1]) {
      const at = tokenOffsets(layout, slot);
      for (let tile = 0; tile < layout.numTiles; tile++) {
        let amax = 0;
        for (let c = 0; c < layout.quantTile; c++) amax = Math.max(amax, Math.abs(rows[slot * dims.dQk + tile * layout.quantTile + c]));
        const want = 2 ** Math.ceil(Math.log2(Math.max(Math.fround(amax / 448), Math.fround(1e-4))));
        if (layout.scaleEncoding === 'f32') expect(view.getFloat32(at.scales + 4 * tile, true)).toBe(want);
        else expect(2 ** (bytes[at.scales + tile] - 127)).toBe(want);
        // The largest value of the tile lands within [224, 448]: the scale wastes at most one binade.
        let qmax = 0;
        for (let c = 0; c < layout.quantTile; c++) qmax = Math.max(qmax, Math.abs(decodeE4m3(bytes[at.token + tile * layout.quantTile + c])));
        expect(qmax).toBeGreaterThanOrEqual(224);
        expect(qmax).toBeLessThanOrEqual(448);
      }
      if (layout.scaleEncoding === 'ue8m0') expect(bytes[at.scales + 7]).toBe(0); // pad byte
    }
  });

  it('turns an all-zero tile into zeros, not NaN', () => {
    const z = rows.slice();
    z.fill(0, 0, layout.quantTile); // first tile of slot 0
    const back = dequantizeKvCache(quantizeKvCache(z, layout), layout);
    for (let c = 0; c < layout.quantTile; c++) expect(back[c]).toBe(0);
    expect(tileScale(0, 'pow2').scale).toBe(2 ** Math.ceil(Math.log2(Math.fround(1e-4))));
  });
});

describe('scale rounding', () => {
  it('pow2: the smallest power of two at or above max(amax / 448, 1e-4), for exact powers, their neighbours and 10^5 random amax', () => {
    const amaxes: number[] = [0, 1e-30, 0.0448, 448, 1e30];
    for (let k = -20; k <= 20; k++) amaxes.push(448 * 2 ** k, Math.fround(448 * 2 ** k * (1 + 2 ** -23)), Math.fround(448 * 2 ** k * (1 - 2 ** -24)));
    const g = new SeededRandom(4);
    for (let i = 0; i < 100_000; i++) amaxes.push(Math.fround(2 ** (40 * g.uniform() - 20)));
    for (const amax of amaxes) {
      const s = Math.max(Math.fround(Math.fround(amax) / 448), Math.fround(1e-4));
      // log2 of an f32 value is exact at powers of two and at least 1e-7 past an integer elsewhere: its ceiling is k.
      const k = Math.ceil(Math.log2(s));
      expect(tileScale(amax, 'pow2'), `amax ${amax}`).toEqual({ scale: 2 ** k, ue8m0: k + 127 });
    }
    expect(tileScale(NaN, 'pow2')).toEqual({ scale: NaN, ue8m0: 0xff });
    expect(tileScale(Infinity, 'pow2')).toEqual({ scale: Infinity, ue8m0: 0xff });
  });

  it('plain amax/448 scales are f32 and usable on V3.2 only', () => {
    const layout = kvLayout('fp8', v32, 4);
    const rows = randomRows(4, 576, 3);
    const bytes = quantizeKvCache(rows, layout, { scaleRounding: 'plain' });
    const back = dequantizeKvCache(bytes, layout);
    let amax = 0;
    for (let c = 0; c < 128; c++) amax = Math.max(amax, Math.abs(rows[c]));
    expect(new DataView(bytes.buffer).getFloat32(512, true)).toBe(Math.fround(amax / 448));
    for (let c = 0; c < 128; c++) expect(Math.abs(back[c] - rows[c])).toBeLessThanOrEqual(amax / 448 * 16 + 1e-6);
    expect(() => quantizeKvCache(randomRows(4, 512, 3), kvLayout('fp8', m1, 4), { scaleRounding: 'plain' }))
      .toThrow(/not allowed for fp8-model1/);
  });

  it('f32 and bf16 layouts round-trip exactly / to bf16', () => {
    const rows = randomRows(8, 576, 5);
    expect(dequantizeKvCache(quantizeKvCache(rows, kvLayout('f32', v32, 8)), kvLayout('f32', v32, 8))).toEqual(rows);
    const bf = dequantizeKvCache(quantizeKvCache(rows, kvLayout('bf16', v32, 8)), kvLayout('bf16', v32, 8));
    for (let i = 0; i < rows.length; i++) expect(Math.abs(bf[i] - rows[i])).toBeLessThanOrEqual(Math.abs(rows[i]) * 2 ** -8);
  });

  it('a NaN row (unused slot) stays NaN through every layout', () => {
    for (const [fmt, dims] of [['fp8', v32], ['fp8', m1], ['bf16', v32], ['f32', m1]] as const) {
      const layout = kvLayout(fmt, dims, 2);
      const rows = randomRows(2, dims.dQk, 1);
      rows.fill(NaN, dims.dQk);
      const back = dequantizeKvCache(quantizeKvCache(rows, layout), layout);
      for (let c = 0; c < dims.dQk; c++) expect(back[dims.dQk + c]).toBeNaN();
      for (let c = 0; c < dims.dQk; c++) expect(Number.isFinite(back[c])).toBe(true);
    }
  });
});

describe('keys held in bf16 (--keys tile-bf16): exact only where every decoded value is a bf16 value', () => {
  /** Every value of the dequantised cache has zero low 16 bits (it is a bf16 value, or NaN). */
  const allBf16 = (values: Float32Array) => new Uint32Array(values.buffer).every((b, i) => (b & 0xffff) === 0 || Number.isNaN(values[i]));

  it('V3.2 FP8 with power-of-two scales (FlashMLA\'s quantiser), MODEL1\'s ue8m0 and bf16: yes, and every value is one; f32 and plain scales: no', () => {
    const rowsOf = (d: number) => randomRows(8, d, 21).fill(NaN, d, 2 * d); // slot 1 unused: NaN scales, which decode to NaN either way
    const rows = rowsOf(576);
    for (const [fmt, dims] of [['fp8', v32], ['fp8', m1], ['bf16', v32]] as const) {
      const layout = kvLayout(fmt, dims, 4);
      const bytes = quantizeKvCache(rowsOf(dims.dQk), layout);
      expect(decodesToBf16(bytes, layout), `${layout.name}`).toBe(true);
      expect(allBf16(dequantizeKvCache(bytes, layout)), `${layout.name}`).toBe(true);
    }
    const plain = kvLayout('fp8', v32, 4);
    const plainBytes = quantizeKvCache(rows, plain, { scaleRounding: 'plain' });
    expect(decodesToBf16(plainBytes, plain)).toBe(false);
    expect(allBf16(dequantizeKvCache(plainBytes, plain))).toBe(false); // the test is not vacuous: some value really is not a bf16 value
    expect(decodesToBf16(quantizeKvCache(rows, kvLayout('f32', v32, 4)), kvLayout('f32', v32, 4))).toBe(false);
  });

  it('one scale that is not a power of two (or a subnormal one) in any token is enough to refuse', () => {
    const layout = kvLayout('fp8', v32, 4);
    for (const scale of [0.75, 2 ** -127 * 1.5]) {
      const bytes = quantizeKvCache(randomRows(8, 576, 22), layout);
      expect(decodesToBf16(bytes, layout)).toBe(true);
      new DataView(bytes.buffer).setFloat32(tokenOffsets(layout, 6).scales + 8, scale, true);
      expect(decodesToBf16(bytes, layout), `scale ${scale}`).toBe(false);
    }
  });
});
