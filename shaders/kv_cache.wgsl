// kv_cache.wgsl: read the paged KV cache, in any layout, four values at a time.
//
// Every kernel includes this file. The cache is bound as raw bytes, read as
// vec4<u32> (16 bytes per load: one load per f32 quad, where single u32
// loads would take four); the layout numbers below are in u32 words and come
// from the one layout table in src/mla/kv-layout.ts (kvLayoutOverrides), so
// host, reference and shader agree:
//
//   page p, token t:  token words  at p * PAGE_STRIDE_W + t * TOKEN_STRIDE_W
//                     rope (bf16)  at token words + ROPE_OFFSET_W   (FP8 only)
//                     scales       at p * PAGE_STRIDE_W + SCALE_OFFSET_W + t * SCALE_STRIDE_W
//
// A cache larger than one storage binding (maxStorageBufferBindingSize) is
// split into shards of SHARD_PAGES whole pages: page p lives in shard
// p / SHARD_PAGES, as page p % SHARD_PAGES of it, and the addresses above are
// taken within that shard. kv_shards.wgsl says which buffer holds a shard
// (kvVec); with one shard it is always `kv`, and SHARD_PAGES is the largest
// u32 whatever the cache's length (every page in shard 0), so one compiled
// pipeline serves every length. See docs/long-context.md.
//
// KV_KIND 0: f32 rows, 1 value per word.
// KV_KIND 1: bf16 rows, 2 values per word (bf16 = the top half of an f32).
// KV_KIND 2: FP8 latent (E4M3, 4 codes per word, one scale per QUANT_TILE
//            values: f32 in V3.2, a ue8m0 exponent byte in MODEL1), then the
//            rope part in bf16. Decoded with bit operations: WGSL has no 8-bit float.
//
// (The lines between the "---- exercise" markers are exercise 9's: src/exercises.)

override KV_KIND: u32;
override D_QK: u32;
override D_NOPE: u32;
override PAGE_SIZE: u32;
override PAGE_STRIDE_W: u32;
override TOKEN_STRIDE_W: u32;
override ROPE_OFFSET_W: u32 = 0u;
override SCALE_OFFSET_W: u32 = 0u;
override SCALE_STRIDE_W: u32 = 0u;
override SCALE_IS_UE8M0: bool = false;
override QUANT_TILE: u32 = 1u;
override SHARD_PAGES: u32;
override SLOT_TEXELS: u32 = D_QK / 4u; // the cache's texture (below): texels a slot, D_QK/4 f32 quads or D_QK/8 texels of bf16 words
override SLOTS_PER_ROW: u32 = 1u;      // ... and slots a texture row (quads: 1)

// Where the cache's texture holds slot `slot`, the one statement of its
// layout for every shader that writes or reads it (cache_texture.wgsl,
// key_tile.wgsl's textureRow, v6_scores.wgsl's slotOrigin) and the host's
// CacheTexture (src/kernels/kernel-plan.ts): SLOT_TEXELS texels a slot,
// SLOTS_PER_ROW slots a row, `rows` rows a column, columns side by side;
// the slot's first texel.
fn cacheSlotTexel(slot: u32, rows: u32) -> vec2<u32> {
  let column = rows * SLOTS_PER_ROW;
  return vec2<u32>(slot / column * SLOTS_PER_ROW * SLOT_TEXELS + slot % SLOTS_PER_ROW * SLOT_TEXELS, slot % column / SLOTS_PER_ROW);
}

// Shard 0 of the cache (the whole cache when it fits one binding).
@group(0) @binding(0) var<storage, read> kv: array<vec4<u32>>;

// Word w of shard `shard` (given in exercise 9; the FP8 read below loads the
// whole vec4 instead, which may hold the rope's words).
fn kvWord(shard: u32, w: u32) -> u32 {
  return kvVec(shard, w / 4u)[w % 4u];
}

// Words w and w + 1 of shard `shard` (w even, so both lie in one vec4).
fn kvWordPair(shard: u32, w: u32) -> vec2<u32> {
  let v = kvVec(shard, w / 4u);
  return select(v.xy, v.zw, (w & 2u) != 0u);
}

// Where the page of a slot lives: its shard, and the page's first word in that shard.
struct KvPage {
  shard: u32,
  word: u32,
}

fn pageOf(slot: u32) -> KvPage {
  let page = slot / PAGE_SIZE;
  return KvPage(page / SHARD_PAGES, (page % SHARD_PAGES) * PAGE_STRIDE_W);
}

// Two bf16 values packed in one word (low half first).
fn decodeBf16x2(word: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u));
}

// Four bf16 values in two words (low half first): a quad.
fn decodeBf16x4(words: vec2<u32>) -> vec4<f32> {
  return vec4<f32>(decodeBf16x2(words.x), decodeBf16x2(words.y));
}

// A ue8m0 byte e -> 2^(e - 127), built from its bits (e is an f32 exponent
// field): no exp2 per value. 0 is the subnormal 2^-127, 0xff is NaN
// (float8_e8m0fnu), as in src/mla/kv-quant.ts.
fn ue8m0Scale(e: u32) -> f32 {
  return bitcast<f32>(select(e << 23u, 0x00400000u, e == 0u) | select(0u, 0x00400000u, e == 0xffu));
}

// The scale words of the token in `slot` (its page at `p`), read in one load:
// V3.2's four f32 scales (one per 128 values; the layout keeps them 16-byte
// aligned), or MODEL1's eight ue8m0 bytes (seven scales and a pad) in two words.
fn tokenScales(p: KvPage, slot: u32) -> vec4<u32> {
  let at = p.word + SCALE_OFFSET_W + (slot % PAGE_SIZE) * SCALE_STRIDE_W;
  if (SCALE_IS_UE8M0) {
    return vec4<u32>(kvWordPair(p.shard, at), 0u, 0u);
  }
  return kvVec(p.shard, at / 4u);
}

// Scale of quantisation tile `tile` from a token's scale words (tokenScales).
fn scaleOf(words: vec4<u32>, tile: u32) -> f32 {
  if (SCALE_IS_UE8M0) {
    return ue8m0Scale((words[tile / 4u] >> (8u * (tile % 4u))) & 0xffu); // one byte per tile
  }
  return bitcast<f32>(words[tile]);
}

// Values 4j .. 4j+3 of the key in cache slot `slot` (slot = page * PAGE_SIZE + offset).
fn loadKvQuad(slot: u32, j: u32) -> vec4<f32> {
  return kvQuadInPage(pageOf(slot), slot, j);
}

// Where a token's record starts: its shard, and its first word there.
struct KvToken {
  shard: u32,
  word: u32,
}

fn tokenOf(p: KvPage, slot: u32) -> KvToken {
  return KvToken(p.shard, p.word + (slot % PAGE_SIZE) * TOKEN_STRIDE_W);
}

// The same, the slot's page already found (pageOf(slot)): a kernel that reads
// many quads of one key finds its page once.
fn kvQuadInPage(p: KvPage, slot: u32, j: u32) -> vec4<f32> {
  var scales = vec4<u32>(0u);
  if (KV_KIND == 2u) {
    scales = tokenScales(p, slot);
  }
  return kvQuadOfToken(tokenOf(p, slot), j, scales);
}

// Quad j of the token whose record starts at `t`. An FP8 token's scale words
// (tokenScales) are read by the caller, once per token: a kernel that reads
// many quads of one key then pays one load for a latent quad, as for an f32
// quad. The rope part is bf16, unscaled. `scales` is unused for f32 and bf16.
// FP8 takes no branch on latent or rope: the word's address is chosen with
// select, the vec4 holding it read once, decoded both ways, and one picked.
// SwiftShader runs both sides of a branch whatever the lanes take, each with
// its load (measured in docs/tuning.md, "FP8's cost").
fn kvQuadOfToken(t: KvToken, j: u32, scales: vec4<u32>) -> vec4<f32> {
  if (KV_KIND == 0u) {
    return bitcast<vec4<f32>>(kvVec(t.shard, (t.word + 4u * j) / 4u)); // f32 rows: a quad is one aligned vec4
  }
  if (KV_KIND == 1u) {
    return decodeBf16x4(kvWordPair(t.shard, t.word + 2u * j));
  }
  // ---- exercise fp8-record: write from here ----
  let e = 4u * j;
  let rope = e >= D_NOPE;
  let w = select(t.word + j, t.word + ROPE_OFFSET_W + (e - D_NOPE) / 2u, rope);
  let v = kvVec(t.shard, w / 4u);
  let latent = decodeE4m3x4(v[w % 4u]) * scaleOf(scales, min(e, D_NOPE - 1u) / QUANT_TILE);
  let pair = select(v.xy, v.zw, (w & 2u) != 0u);
  return select(latent, decodeBf16x4(pair), rope);
  // ---- exercise fp8-record: to here ----
}
