// key_tile.wgsl: a tile of TILE_N keys decoded once into workgroup memory,
// shared by every head of a workgroup (versions 3 and 4).
//
// listSlots writes the cache slot of each key of the tile (slotTile), then,
// after a barrier, decodeTile has all WG_SIZE threads read and decode the
// keys (f32, bf16 or FP8, through kv_cache.wgsl) into keyTile, one quad per
// thread per step so that neighbouring threads read neighbouring bytes. A
// key past the chunk or skipped by the key source is -1 in slotTile and
// zeros in keyTile. TILE_N and WG_SIZE are the version's overrides.

var<workgroup> keyTile: array<vec4<f32>, TILE_N * D_QK / 4u>;   // [key][quad]
var<workgroup> slotTile: array<i32, TILE_N>;

// Slots of keys t0 .. t0 + TILE_N - 1 of row (b, i); -1 at or past `end` or for a skipped key.
fn listSlots(b: u32, i: u32, t0: u32, end: u32, tid: u32) {
  for (var nn = tid; nn < TILE_N; nn += WG_SIZE) {
    slotTile[nn] = select(-1, keySlot(b, i, t0 + nn), t0 + nn < end);
  }
}

// Decode the listed keys into keyTile (call after a barrier that follows listSlots).
fn decodeTile(tid: u32) {
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
