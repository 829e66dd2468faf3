// v6_cache.wgsl: where version 6 reads the cache's keys and values, shared by
// its score pass (v6_scores.wgsl) and its P V pass (v6_values.wgsl).
//
// The cache is in a texture, in one of two forms (the host chooses and
// says so: src/kernels/kernel-plan.ts, CacheTexture):
//   quads ([cache texture]): rgba32float, a slot's D_QK / 4 texels of f32
//     quads: the cache decoded by cache_texture.wgsl, or an f32 cache
//     copied as it is;
//   bf16 words ([cache words]): rgba32uint, a slot's D_QK / 8 texels,
//     eight values a texel, two quads, unpacked here (a shift or a mask a
//     value), where every value of the cache is a bf16 value: a bf16
//     cache's own bytes copied as they are (no decode pass), or an FP8
//     cache with power-of-two scales decoded into them by cache_texture.wgsl.
//     Half the bytes of the quads a call writes and copies.
// Where a slot sits in it is kv_cache.wgsl's cacheSlotTexel (SLOT_TEXELS
// texels a slot, SLOTS_PER_ROW slots a row: V3.2's 1152-byte bf16 slots
// two a row, as a row of a copy is whole 256-byte pieces), which the score
// pass uses (v6_scores.wgsl, slotOrigin). The texture has one slot more
// than the cache, never written (zeros): where version 6 points a key it
// does not read.

@group(0) @binding(23) var cacheTexture: texture_2d<f32>; // [cache texture]
@group(0) @binding(23) var cacheWords: texture_2d<u32>;   // [cache words]

// The texture's rows.
fn cacheRows() -> u32 {
  return textureDimensions(cacheTexture).y; // [cache texture]
  return textureDimensions(cacheWords).y;   // [cache words]
}

// Four bf16 values in two words, low half first (kv_cache.wgsl's
// decodeBf16x4, which the P V pass's module does not include).
fn bf16Quad(w: vec2<u32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(w.x << 16u, w.x & 0xffff0000u, w.y << 16u, w.y & 0xffff0000u));
}

// Quad j (dims 4j .. 4j + 3) of the key whose first texel is (x, y): for a
// head dim of an odd count of quads, whose last quad has no pair (only in
// the quads' form: the host asks for words only where D_QK / 4 is even).
fn cacheQuad(x: u32, y: u32, j: u32) -> vec4<f32> {
  return textureLoad(cacheTexture, vec2<u32>(x + j, y), 0); // [cache texture]
  let w = textureLoad(cacheWords, vec2<u32>(x + j / 2u, y), 0); // [cache words]
  return bf16Quad(select(w.xy, w.zw, j % 2u == 1u));          // [cache words]
}

// Quads j and j + 1 (j even) of one key.
struct QuadPair {
  lo: vec4<f32>, hi: vec4<f32>,
}

// Quads j and j + 1 (j even) of the key whose first texel is (x, y): two
// texels of f32 quads, or one of bf16 words, both of whose halves are used.
// The passes step over the head dim two quads at a time so that a texel of
// words is read once, not once for each of its quads: half the key reads.
fn cacheQuadPair(x: u32, y: u32, j: u32) -> QuadPair {
  return QuadPair(textureLoad(cacheTexture, vec2<u32>(x + j, y), 0), textureLoad(cacheTexture, vec2<u32>(x + j + 1u, y), 0)); // [cache texture]
  let w = textureLoad(cacheWords, vec2<u32>(x + j / 2u, y), 0); // [cache words]
  return QuadPair(bf16Quad(w.xy), bf16Quad(w.zw));              // [cache words]
}

// Quads j and j + 1 (j even) of four keys, each as the columns of a matrix
// (rows: 4 dims, columns: the 4 keys).
struct FourKeyPairs {
  lo: mat4x4<f32>, hi: mat4x4<f32>,
}

fn fourKeyPairs(x: vec4<u32>, y: vec4<u32>, j: u32) -> FourKeyPairs {
  let a = cacheQuadPair(x.x, y.x, j);
  let b = cacheQuadPair(x.y, y.y, j);
  let c = cacheQuadPair(x.z, y.z, j);
  let d = cacheQuadPair(x.w, y.w, j);
  return FourKeyPairs(mat4x4<f32>(a.lo, b.lo, c.lo, d.lo), mat4x4<f32>(a.hi, b.hi, c.hi, d.hi));
}

// acc + m.lo x + m.hi y: a pair of quads' products (head_quads.wgsl, addProduct).
fn addPair(acc: HeadQuads, m: FourKeyPairs, x: HeadQuads, y: HeadQuads, pieces: u32) -> HeadQuads {
  return addProduct(addProduct(acc, m.lo, x, pieces), m.hi, y, pieces);
}
