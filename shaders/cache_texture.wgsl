// cache_texture.wgsl: the cache decoded for the texture versions 4 and 6
// read it from (v4 `--keys texture`, v6 always where it is not copied in as
// it is).
//
// Computes cacheRows[y * ROW_TEXELS + x] = quad j of the key in cache slot s,
// decoded to f32 (kv_cache.wgsl's loadKvQuad: f32, bf16 or FP8 with its
// scales), for every texel (x, y) of the cache's texture: slot s's quad j
// is the j-th texel from cacheSlotTexel(s, ROWS) (kv_cache.wgsl, the one
// statement of the layout; with the overrides' defaults D_QK/4 texels a
// slot, a slot a row), where ROWS is the texture's height (the readers take
// it from textureDimensions). Texels past the last slot are left as they started,
// zeros; the first slot past the cache's (slot num_slots, which the texture
// always has) is where version 6 points a key it does not read.
//
// Or, for version 6 where every value of the cache is a bf16 value (an FP8
// cache whose scales are powers of two: the host reads them), the same
// values as bf16 words, eight a texel ([cache words] lines,
// cacheWordRows): SLOT_TEXELS = D_QK/8 texels a slot, SLOTS_PER_ROW slots
// a row (kv_cache.wgsl's cacheSlotTexel), half the bytes to write and to copy. The
// words are exact: each f32 value's low half is zero.
//
// Why a storage buffer and then a copy, not textureStore: the host copies
// these rows into the texture (copyBufferToTexture, rows of ROW_TEXELS
// texels: a multiple of 256 bytes, as a copy needs), and on llvmpipe writing
// a storage buffer and copying it costs about half of what storing the same
// texels with textureStore does, the copy itself about a tenth (docs/tuning.md,
// "Keys from a texture"). An f32 cache whose rows are already the texture's
// rows needs no pass at all: the host copies the cache itself (kernel-plan.ts,
// cacheCopiesStraight).
//
// It is the first pass of such a call (after the queries' texture, when the
// call has one); the copy follows it and both are timed with the call. Then
// version 4 reads every key and value it uses as one texel: no FP8 decoding
// in the kernel, and on llvmpipe a texel costs less than a read of a storage
// buffer or of workgroup memory (docs/kernels.md, "What a read costs").
// Unused slots (NaN in FlashMLA's tests) are decoded too; the kernel only
// reads the slots its rows list.
//
// Geometry: grid (ceil(num_slots / WG), 1, 1), WG threads; a thread decodes
// one slot's key, every quad of it (its page, record and scales found once;
// an FP8 latent sixteen codes a load, bf16 eight), into one run of its row.
// Measured on llvmpipe (V3.2 FP8, 4096 slots): about 2.9 ms, against 7.8
// with a thread a texel; the copy after it about 0.5-1 ms.

const WG: u32 = 64u;
override ROWS: u32;        // the texture's height: rows a column
override ROW_TEXELS: u32;  // a row's length in cacheRows (the texture's width, padded to 256 bytes)
override BF16_BY_VEC4: bool = false; // a bf16 record starts on 16 bytes and holds whole loads (the host says: kernel-plan.ts, cacheRowLoads)
@group(0) @binding(24) var<storage, read_write> cacheRows: array<vec4<f32>>;      // [cache texture]
@group(0) @binding(24) var<storage, read_write> cacheWordRows: array<vec4<u32>>;  // [cache words]

// Two f32 quads that are bf16 values as one texel of bf16 words (low half first): each value's top half.
fn bf16Words(a: vec4<f32>, b: vec4<f32>) -> vec4<u32> {
  let wa = bitcast<vec4<u32>>(a);
  let wb = bitcast<vec4<u32>>(b);
  let mask = vec2<u32>(0xffff0000u);
  return vec4<u32>((wa.xz >> vec2<u32>(16u)) | (wa.yw & mask), (wb.xz >> vec2<u32>(16u)) | (wb.yw & mask));
}

// Quads j and j + 1 (j even) of the slot whose run starts at texel `at`: two f32 texels, or one of bf16 words.
fn putPair(at: u32, j: u32, a: vec4<f32>, b: vec4<f32>) {
  cacheRows[at + j] = a;                             // [cache texture]
  cacheRows[at + j + 1u] = b;                        // [cache texture]
  cacheWordRows[at + j / 2u] = bf16Words(a, b);      // [cache words]
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let slot = id.x;
  if (slot >= params.num_slots) { return; }
  let dq4 = D_QK / 4u;
  let origin = cacheSlotTexel(slot, ROWS); // kv_cache.wgsl: SLOT_TEXELS texels a slot, SLOTS_PER_ROW a row
  let at = origin.y * ROW_TEXELS + origin.x;
  let p = pageOf(slot);
  let t = tokenOf(p, slot);
  var scales = vec4<u32>(0u);
  var first = 0u;  // the first quad the loop below decodes
  if (KV_KIND == 2u) {
    // An FP8 latent, sixteen codes (four quads) a load: a record starts on 16 bytes in
    // FlashMLA's layouts and a quantisation tile is a multiple of 16 codes (kernel-plan.ts, cacheRowLoads, checks both).
    scales = tokenScales(p, slot);
    for (var v = 0u; v < D_NOPE / 16u; v++) {
      let words = kvVec(t.shard, t.word / 4u + v);
      let scale = scaleOf(scales, 16u * v / QUANT_TILE);
      putPair(at, 4u * v, decodeE4m3x4(words.x) * scale, decodeE4m3x4(words.y) * scale);
      putPair(at, 4u * v + 2u, decodeE4m3x4(words.z) * scale, decodeE4m3x4(words.w) * scale);
    }
    first = D_NOPE / 4u;
  }
  if (KV_KIND == 1u && BF16_BY_VEC4) {
    // bf16 rows, eight values (two quads) a load.
    for (var v = 0u; v < dq4 / 2u; v++) {
      let words = kvVec(t.shard, t.word / 4u + v);
      cacheRows[at + 2u * v] = decodeBf16x4(words.xy);      // [cache texture]
      cacheRows[at + 2u * v + 1u] = decodeBf16x4(words.zw); // [cache texture]
      cacheWordRows[at + v] = words;                         // [cache words]
    }
    first = dq4;
  }
  // f32 and bf16 rows, and an FP8 key's rope part (bf16), a quad at a time (words: two, a texel; the host
  // asks for words only where D_QK / 4 and D_NOPE / 4 are even).
  for (var j = first; j < dq4; j++) {                 // [cache texture]
    cacheRows[at + j] = kvQuadOfToken(t, j, scales);  // [cache texture]
  }                                                   // [cache texture]
  for (var j = first; j < dq4; j += 2u) {                                                         // [cache words]
    cacheWordRows[at + j / 2u] = bf16Words(kvQuadOfToken(t, j, scales), kvQuadOfToken(t, j + 1u, scales)); // [cache words]
  }                                                                                               // [cache words]
}
