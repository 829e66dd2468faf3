// key_tile.wgsl: a tile of TILE_N keys decoded once into workgroup memory,
// shared by every head of a workgroup (versions 3 and 4).
//
// listSlots writes the cache slot of each key of the tile (slotTile), then,
// after a barrier, decodeTile has all WG_SIZE threads read and decode the
// keys (f32, bf16 or FP8, through kv_cache.wgsl) into keyTile, one quad per
// thread per step so that neighbouring threads read neighbouring bytes. A
// key past the chunk or skipped by the key source is -1 in slotTile and
// zeros in keyTile. TILE_N and WG_SIZE are the version's overrides.

// KEYS_FROM_CACHE = 1 (version 4, `--keys cache`; the default for f32 and
// bf16 caches): the keys are not decoded into keyTile, which then holds one
// key (KEY_TILE_KEYS); each head block reads them from the cache where it
// uses them (cacheRow finds a key once, cacheQuad reads and decodes a quad
// of it). Slots are still listed, for the softmax's mask. A u32, not a bool,
// so that KEY_TILE_KEYS is arithmetic the host reads too (workgroup bytes).
override KEYS_FROM_CACHE: u32 = 0u;
override KEY_TILE_KEYS: u32 = TILE_N - KEYS_FROM_CACHE * (TILE_N - 1u); // TILE_N, or 1 from the cache
var<workgroup> keyTile: array<vec4<f32>, KEY_TILE_KEYS * D_QK / 4u>;   // [key][quad]
var<workgroup> slotTile: array<i32, TILE_N>;

// Slots of keys t0 .. t0 + TILE_N - 1 of row (b, i); -1 at or past `end` or for a skipped key.
fn listSlots(b: u32, i: u32, t0: u32, end: u32, tid: u32) {
  for (var nn = tid; nn < TILE_N; nn += WG_SIZE) {
    slotTile[nn] = select(-1, keySlot(b, i, t0 + nn), t0 + nn < end);
  }
}

// Decode the listed keys into keyTile (call after a barrier that follows listSlots).
fn decodeTile(tid: u32) {
  if (KEYS_FROM_CACHE == 1u) {
    return;
  }
  let dq4 = D_QK / 4u;
  for (var e = tid; e < TILE_N * dq4; e += WG_SIZE) {
    let slot = slotTile[e / dq4];
    var v = vec4<f32>(0.0);
    if (slot >= 0) {
      v = loadKvQuad(u32(slot), e % dq4);
    }
    keyTile[e] = v;
  }
}

// Where key t of row (b, i) lives in the cache, for reading it straight from
// there (KEYS_FROM_CACHE): x = its slot, y = its page's first word, z = its
// shard, w = 1 if it is read, 0 at or past `end` or for a skipped key.
fn cacheRow(b: u32, i: u32, t: u32, end: u32) -> vec4<u32> {
  let slot = select(-1, keySlot(b, i, t), t < end);
  if (slot < 0) {
    return vec4<u32>(0u);
  }
  let p = pageOf(u32(slot));
  return vec4<u32>(u32(slot), p.word, p.shard, 1u);
}

// The scale words of the key at `row` (FP8; zeros otherwise or for a key not
// read): read once per key, used by every quad (kv_cache.wgsl, tokenScales).
fn cacheScales(row: vec4<u32>) -> vec4<u32> {
  if (KV_KIND != 2u || row.w == 0u) {
    return vec4<u32>(0u);
  }
  return tokenScales(KvPage(row.z, row.y), row.x);
}

// Quad j of the key at `row`, its scale words `scales` (zeros for a key not read).
fn cacheQuad(row: vec4<u32>, scales: vec4<u32>, j: u32) -> vec4<f32> {
  if (row.w == 0u) {
    return vec4<f32>(0.0);
  }
  if (KV_KIND == 2u) {
    return kvQuadScaled(KvPage(row.z, row.y), row.x, j, scales);
  }
  return kvQuadInPage(KvPage(row.z, row.y), row.x, j);
}
