// v6_scores.wgsl: version 6, "matmuls", pass 1 of 3: S = Q K^T as a plain
// matrix product, every score of every row written to memory.
//
// What it improves over version 5 (v5_subgroups.wgsl) and version 4
// (v4_tiled.wgsl), the fused ones: version 6 is version 1's three passes
// (scores, softmax, P V through a score matrix in memory) with version 4's
// register blocks. Versions 4 and 5 fuse the three into one pass, which
// never writes a score out but pays for it in every tile: barriers, the
// softmax between the two products, the probabilities read back from
// workgroup memory. Here each product is a pass of its own with
// none of that: no barrier, no workgroup memory, every operand a texel (the
// queries' texture, the cache decoded into a texture, the probabilities
// copied into one), which is the form the plain-matmul yardstick times
// (plain_matmul.wgsl). On a CPU emulating a GPU (llvmpipe, SwiftShader), where
// a barrier and a read of workgroup memory are dear, it ran faster than
// version 4's best configuration (docs/kernels.md, "Version 6": 86-119 %
// of the yardstick on llvmpipe by per-round medians in all six shapes, f32,
// bf16 and FP8, once the cache is held as bf16 words where every value of it
// is one and each texel of them is read once a step; 90-131 % on SwiftShader).
// The price is the matrix: 4 bytes per head per key of every row, written
// once, read twice and copied once, and a call only as long as that matrix
// and its texture fit the device (the host refuses the rest:
// src/kernels/matmuls-kernel.ts). FlashMLA fuses because on a GPU that
// traffic is what costs (not measured here; `flash` runs version 6 only
// where the tuner picked it for the device).
//
// This pass: thread t of workgroup x owns SCORE_HEADS heads x SCORE_KEYS keys
// of query row (b, i) = (z, y): head block (x WG + t) % headBlocks, key block
// (x WG + t) / headBlocks, a block of S in strips of mat4x4 (head_quads.wgsl),
// each step over two quads j, j + 1 of the head dim two matrix products, as
// in v4: strip kK += transpose(four keys' quad j) * the heads' quad j, and
// the same for j + 1 (an odd count of quads ends with one). Two quads a step
// because a texel of bf16 words holds both: each is read once, not once a
// quad (v6_cache.wgsl, cacheQuadPair), half the key reads; measured on
// llvmpipe, the score pass 9 % faster and the P V pass 8 % (V3.2 FP8,
// docs/kernels.md, "Version 6"). It writes the
// block's scores, scaled to log2 units and MASKED where a key is past the
// row's end or skipped (a sparse index that is invalid), to the score matrix
// (v6_layout.wgsl); the threads of head block 0 also write where each of
// their keys starts in the cache's texture (keyRows), for v6_values.wgsl.
// A key not read is read from the texture's zero slot, not skipped by a
// branch. Everything a step reads is found before the loop: the heads'
// texture rows, the keys' first texels. The cache's texture holds f32
// quads, or a bf16 cache's own words, unpacked as they are read
// (v6_cache.wgsl).
// A key block past the row's keys returns at once.
// Geometry: grid (ceil(headBlocks * keyBlocks / WG), s_q, batch), WG threads,
// keyBlocks = ceil(max_keys / SCORE_KEYS) (the host's numbers).

override SCORE_HEADS: u32 = 8u;  // S block: heads (8, 16 or 32)
override SCORE_KEYS: u32 = 8u;   // S block: keys (8, 16, or 32 with 32 heads)
override DQ4: u32 = D_QK / 4u;   // quads per key
const WG: u32 = 64u;
const MASKED: f32 = -3.0e38;     // a skipped key's score (fused_io.wgsl's): exp2(MASKED - m) is 0

@group(0) @binding(7) var<storage, read_write> scores: array<vec4<f32>>;  // v6_layout.wgsl
@group(0) @binding(22) var queryTexture: texture_2d<f32>; // [query texture]
@group(0) @binding(26) var<storage, read_write> keyRows: array<vec4<u32>>; // [b, s_q][key quad]: four keys' first texels

// A block of S: strip kK holds keys 4K .. 4K + 3 of the block (rows) for
// every head of it (columns). Strips k4 .. k7 exist only in a module with a
// 32-head block (the one 32-key block is 32 x 32), so they are marked so.
struct ScoreStrips {
  k0: HeadQuads, k1: HeadQuads, k2: HeadQuads, k3: HeadQuads,
  k4: HeadQuads, k5: HeadQuads, k6: HeadQuads, k7: HeadQuads, // [32 heads]
}

// Where the key in `slot` starts in the cache's texture (kv_cache.wgsl's cacheSlotTexel), x << 16 | y.
fn slotOrigin(slot: u32) -> u32 {
  let origin = cacheSlotTexel(slot, cacheRows());
  return (origin.x << 16u) | origin.y;
}

// Where the k-th key of row (b, i) starts in the cache's texture; a key past the
// row's `count` keys, or skipped, starts at the texture's zero slot (slot
// num_slots, never written: kernel-plan.ts, cacheTextureSize), so that it is
// read as zeros with no branch (an unread slot of the cache may hold NaN).
fn keyOrigin(b: u32, i: u32, k: u32, count: u32) -> u32 {
  var slot = -1;
  if (k < count) {
    slot = keySlot(b, i, k);
  }
  return slotOrigin(select(u32(slot), params.num_slots, slot < 0));
}

fn fourOrigins(b: u32, i: u32, k: u32, count: u32) -> vec4<u32> {
  return vec4<u32>(keyOrigin(b, i, k, count), keyOrigin(b, i, k + 1u, count), keyOrigin(b, i, k + 2u, count), keyOrigin(b, i, k + 3u, count));
}

// Four keys' first texels, unpacked once a block: x (columns) and y (rows).
struct FourKeys {
  x: vec4<u32>, y: vec4<u32>,
}

fn unpack(o: vec4<u32>) -> FourKeys {
  return FourKeys(o >> vec4<u32>(16u), o & vec4<u32>(0xffffu));
}

// The block's keys, four a piece: keys 4K .. 4K + 3 in kK (k4 .. k7 only with 32 keys).
struct BlockKeys {
  k0: FourKeys, k1: FourKeys, k2: FourKeys, k3: FourKeys,
  k4: FourKeys, k5: FourKeys, k6: FourKeys, k7: FourKeys,
}

// Quads j and j + 1 of four keys, transposed (rows: keys, columns: dims), or
// where `paired` is false quad j alone (the last of an odd count) and zeros.
fn keyPairs(k: FourKeys, j: u32, paired: bool) -> FourKeyPairs {
  if (paired) {
    let p = fourKeyPairs(k.x, k.y, j);
    return FourKeyPairs(transpose(p.lo), transpose(p.hi));
  }
  let q = mat4x4<f32>(cacheQuad(k.x.x, k.y.x, j), cacheQuad(k.x.y, k.y.y, j), cacheQuad(k.x.z, k.y.z, j), cacheQuad(k.x.w, k.y.w, j));
  return FourKeyPairs(transpose(q), mat4x4<f32>());
}

// One step over the head dim for every key of the block: quads j and j + 1
// (x, y: the heads' quads j and j + 1), or quad j alone (`paired` false, y zeros).
fn addKeys(s: ScoreStrips, k: BlockKeys, j: u32, x: HeadQuads, y: HeadQuads, paired: bool) -> ScoreStrips {
  let pieces = SCORE_HEADS / 4u;
  var r = s;
  r.k0 = addPair(r.k0, keyPairs(k.k0, j, paired), x, y, pieces);
  r.k1 = addPair(r.k1, keyPairs(k.k1, j, paired), x, y, pieces);
  if (SCORE_KEYS >= 16u) {
    r.k2 = addPair(r.k2, keyPairs(k.k2, j, paired), x, y, pieces);
    r.k3 = addPair(r.k3, keyPairs(k.k3, j, paired), x, y, pieces);
  }
  if (SCORE_KEYS == 32u) {                                           // [32 heads]
    r.k4 = addPair(r.k4, keyPairs(k.k4, j, paired), x, y, pieces);   // [32 heads]
    r.k5 = addPair(r.k5, keyPairs(k.k5, j, paired), x, y, pieces);   // [32 heads]
    r.k6 = addPair(r.k6, keyPairs(k.k6, j, paired), x, y, pieces);   // [32 heads]
    r.k7 = addPair(r.k7, keyPairs(k.k7, j, paired), x, y, pieces);   // [32 heads]
  }                                                                  // [32 heads]
  return r;
}

// Quad j of four heads' queries (columns).
fn fourQueries(rows: vec4<u32>, j: u32) -> mat4x4<f32> {
  return mat4x4<f32>(
    textureLoad(queryTexture, vec2<u32>(j, rows.x), 0), textureLoad(queryTexture, vec2<u32>(j, rows.y), 0), // [query texture]
    textureLoad(queryTexture, vec2<u32>(j, rows.z), 0), textureLoad(queryTexture, vec2<u32>(j, rows.w), 0)); // [query texture]
}

// Quad j of the block's heads, four a piece.
fn queryStrip(r: HeadRows, j: u32) -> HeadQuads {
  var x = HeadQuads();
  x.a = fourQueries(r.a, j);
  x.b = fourQueries(r.b, j);
  if (SCORE_HEADS >= 16u) {
    x.c = fourQueries(r.c, j);
    x.d = fourQueries(r.d, j);
  }
  if (SCORE_HEADS == 32u) {         // [32 heads]
    x.e = fourQueries(r.e, j);      // [32 heads]
    x.f = fourQueries(r.f, j);      // [32 heads]
    x.g = fourQueries(r.g, j);      // [32 heads]
    x.h = fourQueries(r.h, j);      // [32 heads]
  }                                 // [32 heads]
  return x;
}

// Store strip s (key quad kq of the row, four keys whose origins are o) for
// heads h ..: each column is one head's four scores, scaled to log2 units,
// MASKED where a key is not read (it starts at the zero slot).
fn storeStrip(bi: u32, h: u32, kq: u32, o: vec4<u32>, s: HeadQuads) {
  let keep = o != vec4<u32>(slotOrigin(params.num_slots));
  for (var p = 0u; p < SCORE_HEADS / 4u; p++) {
    let m = piece(s, p);
    for (var c = 0u; c < 4u; c++) {
      let head = h + 4u * p + c;
      if (head < params.h_q) {
        scores[probIndex(bi * params.h_q + head, kq)] = select(vec4<f32>(MASKED), m[c] * params.scale_log2, keep);
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.z;
  let i = gid.y;
  let bi = b * params.s_q + i;
  let headBlocks = (params.h_q + SCORE_HEADS - 1u) / SCORE_HEADS;
  let h = gid.x % headBlocks * SCORE_HEADS;
  let k = gid.x / headBlocks * SCORE_KEYS;
  let count = keyCount(b, i);
  if (k >= count) {
    return;
  }
  let o0 = fourOrigins(b, i, k, count);
  let o1 = fourOrigins(b, i, k + 4u, count);
  var o2 = o1;
  var o3 = o1;
  var o4 = o1;
  var o5 = o1;
  var o6 = o1;
  var o7 = o1;
  if (SCORE_KEYS >= 16u) {
    o2 = fourOrigins(b, i, k + 8u, count);
    o3 = fourOrigins(b, i, k + 12u, count);
  }
  if (SCORE_KEYS == 32u) {
    o4 = fourOrigins(b, i, k + 16u, count);
    o5 = fourOrigins(b, i, k + 20u, count);
    o6 = fourOrigins(b, i, k + 24u, count);
    o7 = fourOrigins(b, i, k + 28u, count);
  }
  let rows = headRows(bi, h, 1u); // the queries' texture rows (v6_layout.wgsl)
  let keys = BlockKeys(unpack(o0), unpack(o1), unpack(o2), unpack(o3), unpack(o4), unpack(o5), unpack(o6), unpack(o7));
  var s = ScoreStrips();
  // Two quads of the head dim a step, so that a texel of bf16 words is read
  // once for both (v6_cache.wgsl, cacheQuadPair); an odd count's last quad alone.
  for (var j = 0u; j + 1u < DQ4; j += 2u) {
    s = addKeys(s, keys, j, queryStrip(rows, j), queryStrip(rows, j + 1u), true);
  }
  if (DQ4 % 2u == 1u) {
    s = addKeys(s, keys, DQ4 - 1u, queryStrip(rows, DQ4 - 1u), HeadQuads(), false);
  }
  let kq = k / 4u;
  storeStrip(bi, h, kq, o0, s.k0);
  storeStrip(bi, h, kq + 1u, o1, s.k1);
  if (SCORE_KEYS >= 16u) {
    storeStrip(bi, h, kq + 2u, o2, s.k2);
    storeStrip(bi, h, kq + 3u, o3, s.k3);
  }
  if (SCORE_KEYS == 32u) {                  // [32 heads]
    storeStrip(bi, h, kq + 4u, o4, s.k4);   // [32 heads]
    storeStrip(bi, h, kq + 5u, o5, s.k5);   // [32 heads]
    storeStrip(bi, h, kq + 6u, o6, s.k6);   // [32 heads]
    storeStrip(bi, h, kq + 7u, o7, s.k7);   // [32 heads]
  }                                         // [32 heads]
  // Where the block's keys start in the cache's texture, once a key: for v6_values.wgsl.
  if (h == 0u) {
    let at = bi * rowQuads() + kq;
    keyRows[at] = o0;
    keyRows[at + 1u] = o1;
    if (SCORE_KEYS >= 16u) {
      keyRows[at + 2u] = o2;
      keyRows[at + 3u] = o3;
    }
    if (SCORE_KEYS == 32u) {
      keyRows[at + 4u] = o4;
      keyRows[at + 5u] = o5;
      keyRows[at + 6u] = o6;
      keyRows[at + 7u] = o7;
    }
  }
}
