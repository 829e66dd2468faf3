// cache_texture.wgsl: version 4's cache decoded into a texture (`--keys texture`).
//
// Computes cacheTexels[x][y] = quad j of the key in cache slot s, decoded to
// f32 (kv_cache.wgsl's loadKvQuad: f32, bf16 or FP8 with its scales), for
// every slot s < num_slots (the cache's pages x the page size) and quad j < D_QK/4.
// The layout (src/kernels/kernel-plan.ts, cacheTextureSize): a column of
// D_QK/4 texels a slot, ROWS slots a column, columns side by side:
//   slot s, quad j  ->  texel (s / ROWS * D_QK/4 + j, s % ROWS)
// where ROWS is the texture's height (key_tile.wgsl reads it back with
// textureDimensions, so no length is compiled in). Texels past the last
// slot are written as zeros and never read.
//
// It is the first pass of such a call (after the queries' texture, when the
// call has one), a compute pass so that every timer that times the passes
// counts it. Then version 4 reads every key and value it uses as one texel:
// no FP8 decoding in the kernel, and on llvmpipe a texel costs less than a
// read of a storage buffer or of workgroup memory (docs/kernels.md, "What a
// read costs"). Unused slots (NaN in FlashMLA's tests) are decoded too; the
// kernel only reads the slots its rows list.
//
// Geometry: grid (ceil(width / WG), height, 1), WG threads; thread t of
// workgroup (x, y) writes texel (WG x + t, y).

const WG: u32 = 64u;
@group(0) @binding(23) var cacheTexels: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let size = textureDimensions(cacheTexels);
  if (id.x >= size.x) { return; }
  let dq4 = D_QK / 4u;
  let slot = id.x / dq4 * size.y + id.y;
  var quad = vec4<f32>(0.0);
  if (slot < params.num_slots) {
    quad = loadKvQuad(slot, id.x % dq4);
  }
  textureStore(cacheTexels, vec2<u32>(id.x, id.y), quad);
}
