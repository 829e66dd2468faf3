// fp8.wgsl: FP8 E4M3 codes -> f32, the decoder every FP8 reader shares: the
// attention kernels' cache reader (kv_cache.wgsl) and the lightning indexer's
// key decode (indexer_decode.wgsl). Bit-exact with src/numerics/fp8.ts's
// decodeE4m3: every E4M3 value is exact in f32.

// OCP E4M3 "fn" code -> f32. Normal codes re-bias the exponent (7 -> 127) and
// move the 3 mantissa bits to the top of f32's 23; subnormals are m * 2^-9;
// S.1111.111 is NaN (E4M3 has no infinity).
fn decodeE4m3(code: u32) -> f32 {
  let sign = (code & 0x80u) << 24u;
  let mag = code & 0x7fu;
  if (mag == 0x7fu) {
    return bitcast<f32>(sign | 0x7fc00000u); // built from a runtime value: a NaN constant is a compile error
  }
  if (mag < 8u) {
    return bitcast<f32>(sign | bitcast<u32>(f32(mag) * 0.001953125));
  }
  return bitcast<f32>(sign | ((mag << 20u) + (120u << 23u)));
}

// Four E4M3 codes packed little-endian in one word.
fn decodeE4m3x4(word: u32) -> vec4<f32> {
  return vec4<f32>(decodeE4m3(word & 0xffu), decodeE4m3((word >> 8u) & 0xffu),
                   decodeE4m3((word >> 16u) & 0xffu), decodeE4m3(word >> 24u));
}
