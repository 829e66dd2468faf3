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
// Slots sit SLOTS_PER_ROW to a texture row (a row of a copy must be a
// multiple of 256 bytes: V3.2's bf16 slot is 1152 bytes, two of them 2304),
// the texture's height in rows to a column, columns side by side:
//   slot s -> texel (s / (rows * SLOTS_PER_ROW) * SLOTS_PER_ROW * SLOT_TEXELS
//                    + s % SLOTS_PER_ROW * SLOT_TEXELS,
//                    s % (rows * SLOTS_PER_ROW) / SLOTS_PER_ROW).
// The texture has one slot more than the cache, never written (zeros):
// where version 6 points a key it does not read.

override SLOT_TEXELS: u32;        // texels a slot: D_QK / 4 (quads) or D_QK / 8 (bf16 words)
override SLOTS_PER_ROW: u32 = 1u; // slots a texture row (quads: always 1)
@group(0) @binding(23) var cacheTexture: texture_2d<f32>; // [cache texture]
@group(0) @binding(23) var cacheWords: texture_2d<u32>;   // [cache words]

// Slots a column of the texture holds.
fn slotsPerColumn() -> u32 {
  return textureDimensions(cacheTexture).y * SLOTS_PER_ROW; // [cache texture]
  return textureDimensions(cacheWords).y * SLOTS_PER_ROW;   // [cache words]
}

// Where the key in `slot` starts in the texture, x << 16 | y.
fn slotOrigin(slot: u32) -> u32 {
  let column = slotsPerColumn();
  let x = slot / column * SLOTS_PER_ROW * SLOT_TEXELS + slot % SLOTS_PER_ROW * SLOT_TEXELS;
  return (x << 16u) | (slot % column / SLOTS_PER_ROW);
}

// Four bf16 values in two words, low half first (kv_cache.wgsl's
// decodeBf16x4, which the P V pass's module does not include).
fn bf16Quad(w: vec2<u32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(w.x << 16u, w.x & 0xffff0000u, w.y << 16u, w.y & 0xffff0000u));
}

// Quad j (dims 4j .. 4j + 3) of the key whose first texel is (x, y).
fn cacheQuad(x: u32, y: u32, j: u32) -> vec4<f32> {
  return textureLoad(cacheTexture, vec2<u32>(x + j, y), 0); // [cache texture]
  let w = textureLoad(cacheWords, vec2<u32>(x + j / 2u, y), 0); // [cache words]
  return bf16Quad(select(w.xy, w.zw, j % 2u == 1u));          // [cache words]
}
