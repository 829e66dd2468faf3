// fp8.wgsl: FP8 E4M3 codes -> f32, the decoder every FP8 reader shares: the
// attention kernels' cache reader (kv_cache.wgsl) and the lightning indexer's
// key decode (indexer_decode.wgsl). Bit-exact with src/numerics/fp8.ts's
// decodeE4m3: every E4M3 value is exact in f32.
//
// OCP E4M3 "fn" code -> f32. Normal codes re-bias the exponent (7 -> 127) and
// move the 3 mantissa bits to the top of f32's 23; subnormals are m * 2^-9;
// S.1111.111 is NaN (E4M3 has no infinity).
//
// Four codes at once, in vector operations and selects with no branch: a
// kernel that reads FP8 keys straight from the cache decodes every quad it
// uses, so the decode sits in the inner loop (docs/tuning.md, "FP8's cost").
// (The lines between the "---- exercise" markers are exercise 8's: src/exercises.)

// Four E4M3 codes packed little-endian in one word.
fn decodeE4m3x4(word: u32) -> vec4<f32> {
  // ---- exercise e4m3: write from here ----
  let code = (vec4<u32>(word) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu);
  let sign = (code & vec4<u32>(0x80u)) << vec4<u32>(24u);
  let mag = code & vec4<u32>(0x7fu);
  let normal = (mag << vec4<u32>(20u)) + vec4<u32>(120u << 23u);
  let subnormal = bitcast<vec4<u32>>(vec4<f32>(mag) * 0.001953125);
  // The NaN pattern is chosen at run time: a NaN constant is a compile error.
  let bits = select(select(normal, subnormal, mag < vec4<u32>(8u)), vec4<u32>(0x7fc00000u), mag == vec4<u32>(0x7fu));
  return bitcast<vec4<f32>>(sign | bits);
  // ---- exercise e4m3: to here ----
}
