// key_tile.wgsl: a tile of TILE_N keys decoded once into workgroup memory,
// shared by every head of a workgroup (versions 3 and 4).
//
// listSlots writes the cache slot of each key of the tile (slotTile), then,
// after a barrier, decodeTile has all WG_SIZE threads read and decode the
// keys (f32, bf16 or FP8, through kv_cache.wgsl) into keyTile, one quad per
// thread per step so that neighbouring threads read neighbouring bytes. A
// key past the chunk or skipped by the key source is -1 in slotTile and
// zeros in keyTile. TILE_N and WG_SIZE are the version's overrides.
// Version 4 may keep the decoded tile elsewhere: in bf16 (KEY_TILE_BF16),
// in a storage buffer of its own (KEY_TILE_STORAGE), or nowhere, its keys
// read from the cache where they are used (KEYS_FROM_CACHE), or from the
// whole cache decoded once a call into a texture (KEYS_TEXTURE).
// (The lines between the "---- exercise" markers are exercise 10's: src/exercises.)

// KEYS_FROM_CACHE = 1 (version 4, `--keys cache`; the default for f32 and
// bf16 caches): the keys are not decoded into keyTile, which then holds one
// key (KEY_TILE_KEYS); each head block reads them from the cache where it
// uses them (cacheQuad reads and decodes a quad of it). listSlots then also
// finds, once per tile, where each key's record starts (rowTile) and, for
// FP8, reads its scale words (scaleTile), so that a head block's step adds
// the quad's index to a word address and does no table lookup. Two tiles'
// worth, by the parity of the tile (rowBase): version 4 lists the next
// tile's keys while P V still reads this one's. Slots are still listed, for
// the softmax's mask. A u32, not a bool, so that the sizes below are
// arithmetic the host reads too (workgroup bytes).
override KEYS_FROM_CACHE: u32 = 0u;
override KEY_TILE_KEYS: u32 = TILE_N - (KEYS_FROM_CACHE + KEY_TILE_STORAGE) * (TILE_N - 1u); // TILE_N, or 1 (from the cache, or a storage tile)
override ROW_TILE_KEYS: u32 = 1u + (KEYS_FROM_CACHE + KEY_TILE_STORAGE) * (2u * TILE_N - 1u); // 1, or two tiles (listed rows)

// KEY_TILE_BF16 = 1 (version 4, `--keys tile-bf16`): the decoded tile holds
// bf16 values, four to a vec2<u32> (keyTileBf16), half the bytes of f32, so
// twice the keys fit: 16 keys of d_qk 576 in 18 KiB, where f32 fits 8 in
// 32 KiB, and a 16-key score block fits over a decoded tile. Exact where the
// decoded values are bf16 values: a bf16 cache, and FP8 with power-of-two
// scales (an E4M3 value has 3 mantissa bits, bf16 has 7, and a power of two
// only moves the exponent): MODEL1's ue8m0 scales always, V3.2's f32 scales
// as FlashMLA's quantiser makes them. The host refuses it for the rest
// (src/kernels/tiled-kernel.ts, src/run/runner.ts). keyTile then holds one quad, keyTileBf16
// the tile; otherwise the other way round (8 bytes).
override KEY_TILE_BF16: u32 = 0u;

// KEY_TILE_STORAGE = 1 (version 4, `--keys tile-storage`): the tile is decoded
// once, in f32, into the workgroup's own part of a storage buffer
// (keyTileStorage: TILE_N keys a workgroup, at tileStorageBase, which
// version 4 sets from its workgroup's index), not into workgroup memory.
// Where a read of workgroup memory costs several reads of a storage buffer
// (SwiftShader: docs/kernels.md, "What a read costs") this decodes FP8 keys
// once per tile, where reading them from the cache decodes them again in
// every head block that uses them; on a GPU workgroup memory is usually the
// faster of the two (not measured here). The tuner measures which
// (docs/tuning.md). The keys are
// listed with their rows and scales as for KEYS_FROM_CACHE and decoded by
// cacheQuad; the tile is written and read across threads, so its barriers
// are storage barriers too (decodeTileAndWait, version 4's end of a tile).
override KEY_TILE_STORAGE: u32 = 0u;
@group(0) @binding(21) var<storage, read_write> keyTileStorage: array<vec4<f32>>; // [storage tile]

// KEYS_TEXTURE = 1 (version 4, `--keys texture`): every key and value is
// read as a texel of cacheTexture, the cache decoded to f32 by the call's
// first pass (cache_texture.wgsl, which gives the layout); KEYS_FROM_CACHE is
// 1 too, so nothing is decoded into a tile, and a key's row in rowTile is
// where its texels start. FP8 is decoded once a call instead of in every
// head block that reads a key, and on llvmpipe a texel costs less than a
// storage read (docs/tuning.md, "Keys from a texture").
override KEYS_TEXTURE: u32 = 0u;
@group(0) @binding(23) var cacheTexture: texture_2d<f32>; // [cache texture]
var<private> tileStorageBase: u32;
override TILE_QUADS: u32 = KEY_TILE_KEYS * D_QK / 4u;
override F32_TILE_QUADS: u32 = TILE_QUADS - KEY_TILE_BF16 * (TILE_QUADS - 1u);
override BF16_TILE_QUADS: u32 = 1u + KEY_TILE_BF16 * (TILE_QUADS - 1u);
var<workgroup> keyTile: array<vec4<f32>, F32_TILE_QUADS>;        // [key][quad]
var<workgroup> keyTileBf16: array<vec2<u32>, BF16_TILE_QUADS>;   // [key][quad], bf16 pairs
var<workgroup> slotTile: array<i32, TILE_N>;
var<workgroup> rowTile: array<vec3<u32>, ROW_TILE_KEYS>;    // cacheRow of each key (KEYS_FROM_CACHE, KEY_TILE_STORAGE)
var<workgroup> scaleTile: array<vec4<u32>, ROW_TILE_KEYS>;  // its FP8 scale words (KEYS_FROM_CACHE, KEY_TILE_STORAGE)

// Slots of keys t0 .. t0 + TILE_N - 1 of row (b, i); -1 at or past `end` or
// for a skipped key. Keys read from the cache: also where each lives, and
// its scale words.
fn listSlots(b: u32, i: u32, t0: u32, end: u32, tid: u32) {
  for (var nn = tid; nn < TILE_N; nn += WG_SIZE) {
    let slot = select(-1, keySlot(b, i, t0 + nn), t0 + nn < end);
    slotTile[nn] = slot;
    if (KEYS_FROM_CACHE == 1u || KEY_TILE_STORAGE == 1u) {
      rowTile[rowBase(t0) + nn] = cacheRow(slot);
      scaleTile[rowBase(t0) + nn] = cacheScales(slot);
    }
  }
}

// Decode the listed keys of the tile starting at key t0 and wait until all
// threads have (call after a barrier that follows listSlots). Keys read from
// the cache are not decoded: there is nothing to wait for, and the barrier
// that followed listSlots was enough, so a tile from the cache costs one
// barrier less.
fn decodeTileAndWait(tid: u32, t0: u32) {
  if (KEYS_FROM_CACHE == 1u) {
    return;
  }
  if (KEY_TILE_STORAGE == 1u) {
    decodeTileToStorage(tid, t0);
    storageBarrier(); // a barrier for storage: the tile's writes before anyone reads it
    return;
  }
  decodeTile(tid);
  workgroupBarrier();
}

// The listed keys, decoded from their rows and scales (cacheQuad: zeros for
// a key not read), into the workgroup's part of keyTileStorage.
fn decodeTileToStorage(tid: u32, t0: u32) {
  let dq4 = D_QK / 4u;
  let rows = rowBase(t0);
  for (var e = tid; e < TILE_N * dq4; e += WG_SIZE) {
    let at = rows + e / dq4;
    keyTileStorage[tileStorageBase + e] = cacheQuad(rowTile[at], scaleTile[at], e % dq4); // [storage tile]
  }
}

// Decode the listed keys into keyTile (or keyTileBf16).
fn decodeTile(tid: u32) {
  if (KEY_TILE_BF16 == 1u) {
    decodeTileBf16(tid);
    return;
  }
  // ---- exercise key-tile: write from here ----
  let dq4 = D_QK / 4u;
  for (var e = tid; e < TILE_N * dq4; e += WG_SIZE) {
    let slot = slotTile[e / dq4];
    var v = vec4<f32>(0.0);
    if (slot >= 0) {
      v = loadKvQuad(u32(slot), e % dq4);
    }
    keyTile[e] = v;
  }
  // ---- exercise key-tile: to here ----
}

// The same into keyTileBf16: each quad decoded (zeros for a key not read),
// then its values' top halves kept.
fn decodeTileBf16(tid: u32) {
  for (var e = tid; e < TILE_N * (D_QK / 4u); e += WG_SIZE) {
    let slot = slotTile[e / (D_QK / 4u)];
    var v = vec4<f32>(0.0);
    if (slot >= 0) { v = loadKvQuad(u32(slot), e % (D_QK / 4u)); }
    keyTileBf16[e] = packBf16x4(v);
  }
}

// Four values -> four bf16 in two words (low half first), each the top half
// of its f32: exact for a value that is a bf16 value (the only ones stored).
fn packBf16x4(v: vec4<f32>) -> vec2<u32> {
  let b = bitcast<vec4<u32>>(v);
  return vec2<u32>((b.x >> 16u) | (b.y & 0xffff0000u), (b.z >> 16u) | (b.w & 0xffff0000u));
}

// Quad `at` ([key][quad]) of the decoded tile, f32, bf16 or in storage.
fn tileQuad(at: u32) -> vec4<f32> {
  if (KEY_TILE_STORAGE == 1u) {
    return keyTileStorage[tileStorageBase + at]; // [storage tile]
  }
  if (KEY_TILE_BF16 == 1u) {
    return decodeBf16x4(keyTileBf16[at]);
  }
  return keyTile[at];
}

// Where the tile starting at key t0 keeps its rows in rowTile and scaleTile:
// tiles alternate halves (t0 grows by TILE_N a tile, so t0 / TILE_N by one).
fn rowBase(t0: u32) -> u32 {
  return (t0 / TILE_N) % 2u * TILE_N;
}

// Where the key in `slot` lives in the cache, for reading it straight from
// there (KEYS_FROM_CACHE): x = its shard, y = the first word of its record,
// z = 1 if it is read, 0 for a key not read (slot -1: at or past the end, or
// skipped), whose x and y are 0: an address in bounds.
fn cacheRow(slot: i32) -> vec3<u32> {
  if (slot < 0) {
    return vec3<u32>(0u);
  }
  if (KEYS_TEXTURE == 1u) {
    return textureRow(u32(slot));
  }
  let t = tokenOf(pageOf(u32(slot)), u32(slot));
  return vec3<u32>(t.shard, t.word, 1u);
}

// Where the key in `slot` starts in cacheTexture (KEYS_TEXTURE): x = its first
// texel's column, y = its row, z = 1 (kv_cache.wgsl's cacheSlotTexel).
fn textureRow(slot: u32) -> vec3<u32> {
  var rows = 1u;
  rows = textureDimensions(cacheTexture).y; // [cache texture]
  return vec3<u32>(cacheSlotTexel(slot, rows), 1u);
}

// The scale words of the key in `slot` (FP8 read from the cache; zeros
// otherwise, for a key not read, or from the texture, already decoded): read
// once per tile, used by every quad (kv_cache.wgsl, tokenScales).
fn cacheScales(slot: i32) -> vec4<u32> {
  if (KV_KIND != 2u || KEYS_TEXTURE == 1u || slot < 0) {
    return vec4<u32>(0u);
  }
  return tokenScales(pageOf(u32(slot)), u32(slot));
}

// Quad j of the key whose row and scale words are given, read from the
// cache, or from cacheTexture (KEYS_TEXTURE) (zeros for a key not read, whose
// row points at word 0 of shard 0, or texel (0, 0)).
// One buffer: read anyway and select, no branch (9-10 % faster for V3.2 f32
// and MODEL1 bf16 on llvmpipe). Shards (kv_shards.wgsl): a branch, because
// the select reads through kvVec's switch for every key, which SwiftShader's
// compiler did not survive (it ran out of memory).
fn cacheQuad(row: vec3<u32>, scales: vec4<u32>, j: u32) -> vec4<f32> {
  if (KEYS_TEXTURE == 1u) {
    return select(vec4<f32>(0.0), textureQuad(row, j), row.z != 0u);
  }
  if (KV_SHARDED) {
    if (row.z == 0u) {
      return vec4<f32>(0.0);
    }
    return kvQuadOfToken(KvToken(row.x, row.y), j, scales);
  }
  return select(vec4<f32>(0.0), kvQuadOfToken(KvToken(row.x, row.y), j, scales), row.z != 0u);
}

// Quad j of the key whose texels start at `row` (KEYS_TEXTURE; textureRow).
fn textureQuad(row: vec3<u32>, j: u32) -> vec4<f32> {
  var quad = vec4<f32>(0.0);
  quad = textureLoad(cacheTexture, vec2<u32>(row.x + j, row.y), 0); // [cache texture]
  return quad;
}
