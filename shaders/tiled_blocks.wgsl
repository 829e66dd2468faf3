// tiled_blocks.wgsl: what the tiled versions (4 and 5) share: the head block
// and tile overrides, the register blocks of S = Q K^T and O = P V, and the
// per-head softmax statistics.
//
// Register blocks. A block is held in mat4x4 values, never in an array (a
// dynamically indexed private array lands in memory on SwiftShader, 8-9x
// slower; docs/kernels.md, "Version 4"). Its unit is a HeadQuads
// (head_quads.wgsl): one 4-row strip of the block, up to eight mat4x4 side
// by side, one per four heads (a: heads 0-3, b: 4-7, ..., h: 28-31; column c
// of each = one head). One step of either product is the same call,
// addProduct: every head quad of the strip += m * (that head quad of x).
// Lines marked [32 heads] are blanked in a module with no 32-head block
// (head_quads.wgsl says why), lines marked [64 values] in a module whose
// output block is not 64 values long: strips v8 .. v15 (value quads 8-15),
// which only Mesa llvmpipe's compiler takes (DeviceLimits.maxOutValues).
//   S = Q K^T: a thread owns SCORE_HEADS x SCORE_KEYS scores (ScoreBlock,
//     one strip per four keys, m = four keys transposed, x = the query
//     quads): per quad of the head dim it reads SCORE_HEADS + SCORE_KEYS
//     quads for SCORE_HEADS x SCORE_KEYS quad products.
//   O = P V: a thread owns OUT_HEADS heads x OUT_VALUES values (OutBlock,
//     one strip per value quad, m = four keys' value quads, x = the four
//     keys' probabilities): per four keys it reads OUT_HEADS + OUT_VALUES
//     quads for OUT_HEADS x OUT_VALUES / 4 quad products.
// A larger block does more multiply-adds per value read but holds more in
// registers; which wins depends on the device (docs/tuning.md). The sizes are
// overrides, so the branches on them are gone once the pipeline is made;
// the host (src/kernels/register-blocks.ts) lists the sizes allowed.
//
// Thread t owns heads OUT_HEADS * (t / DIM_GROUPS) .. + OUT_HEADS - 1 and the
// value quads g + k * DIM_GROUPS, k < OUT_VALUES / 4 (g = t % DIM_GROUPS,
// DIM_GROUPS = ceil(D_V / OUT_VALUES)), so neighbouring threads touch
// neighbouring quads.
// (The lines between the "---- exercise" markers are exercise 11's: src/exercises.)

override HEADS_PER_WG: u32;        // a multiple of SCORE_HEADS and OUT_HEADS
override TILE_N: u32;              // keys per tile, a multiple of SCORE_KEYS
override WG_SIZE: u32;             // HEADS_PER_WG / OUT_HEADS * DIM_GROUPS
override SCORE_SLICES: u32 = 1u;   // partial score tiles kept in workgroup memory (v4's DOT_PARTS)
override RESCALE_THRESHOLD: f32 = 8.0;
override SCORE_HEADS: u32 = 8u;    // S block: heads (8, 16 or 32)
override SCORE_KEYS: u32 = 8u;     // S block: keys (8 or 16)
override OUT_HEADS: u32 = 8u;      // O block: heads (8, 16 or 32)
override OUT_VALUES: u32 = 16u;    // O block: values of the output row (8, 16, 32 or 64)

override DQ4: u32 = D_QK / 4u;     // quads per key
override DV4: u32 = D_V / 4u;      // quads per output row
override TN4: u32 = TILE_N / 4u;   // key quads per tile
override OUT_QUADS: u32 = OUT_VALUES / 4u;  // value quads per thread
override DIM_GROUPS: u32 = (DV4 + OUT_QUADS - 1u) / OUT_QUADS;

var<workgroup> scoreTile: array<vec4<f32>, SCORE_SLICES * HEADS_PER_WG * TILE_N / 4u>; // [slice][head][key quad]
var<workgroup> rowMax: array<f32, HEADS_PER_WG>;   // m: the reference max, log2 units
var<workgroup> rowSum: array<f32, HEADS_PER_WG>;   // l: sum of exp2(s - m)
var<workgroup> rowScale: array<f32, HEADS_PER_WG>; // this tile's rescale factor exp2(m_old - m_new), 1 if m stayed
var<workgroup> rowTop: array<f32, HEADS_PER_WG>;   // the largest score seen, log2 units (m lags it: lazy rescale)

// What a workgroup does: query row (b, i), heads headBase .. + HEADS_PER_WG,
// keys start .. end of the row (this split's chunk); row0 is head 0's row.
struct Work {
  b: u32, i: u32, split: u32, headBase: u32, row0: u32, start: u32, end: u32,
}

// The workgroup's work from its id (grid: head blocks x splits, s_q, batch);
// also starts every head's statistics (call from every thread, before a barrier).
fn workOf(wid: vec3<u32>, tid: u32) -> Work {
  let split = wid.x % params.num_splits;
  let keys = splitChunk(keyCount(wid.z, wid.y), split);
  for (var hl = tid; hl < HEADS_PER_WG; hl += WG_SIZE) {
    rowMax[hl] = M_START;
    rowSum[hl] = 0.0;
    rowTop[hl] = MASKED;
  }
  return Work(wid.z, wid.y, split, wid.x / params.num_splits * HEADS_PER_WG, rowOf(wid.z, wid.y, 0u), keys.x, keys.y);
}

// QUERIES_TEXTURE = 1 (version 4, `--queries texture`): the score step reads
// the queries from queryTexture, which the call's first pass writes from q
// (query_texture.wgsl says its layout), instead of from the storage buffer q.
// On llvmpipe a texel costs about a seventh of a storage read, on SwiftShader
// a little more (docs/kernels.md, "What a read costs"): the tuner's to choose.
override QUERIES_TEXTURE: u32 = 0u;
override QUERY_ROW_STEP: u32 = DQ4 - QUERIES_TEXTURE * (DQ4 - 1u); // a query row's step in q (quads), or 1 (texture rows)
@group(0) @binding(22) var queryTexture: texture_2d<f32>; // [query texture]

// Where the query rows of heads h .. h + 4 * pieces - 1 start in q (or which
// rows of queryTexture they are), found once per block, so a step's query
// load adds j only (heads past h_q read the last head's row: finite, and
// never written).
struct QueryRows {
  a: vec4<u32>, b: vec4<u32>, c: vec4<u32>, d: vec4<u32>,
  e: vec4<u32>, f: vec4<u32>, g: vec4<u32>, h: vec4<u32>, // [32 heads]
}

fn rowStarts(row0: u32, h: u32) -> vec4<u32> {
  let last = params.h_q - 1u;
  return (row0 + min(vec4<u32>(h, h + 1u, h + 2u, h + 3u), vec4<u32>(last))) * QUERY_ROW_STEP;
}

fn queryRows(row0: u32, h: u32, pieces: u32) -> QueryRows {
  var r = QueryRows();
  r.a = rowStarts(row0, h);
  r.b = rowStarts(row0, h + 4u);
  if (pieces >= 4u) {
    r.c = rowStarts(row0, h + 8u);
    r.d = rowStarts(row0, h + 12u);
  }
  if (pieces == 8u) {                  // [32 heads]
    r.e = rowStarts(row0, h + 16u);    // [32 heads]
    r.f = rowStarts(row0, h + 20u);    // [32 heads]
    r.g = rowStarts(row0, h + 24u);    // [32 heads]
    r.h = rowStarts(row0, h + 28u);    // [32 heads]
  }                                    // [32 heads]
  return r;
}

fn fourRows(starts: vec4<u32>, j: u32) -> mat4x4<f32> {
  if (QUERIES_TEXTURE == 1u) {
    return mat4x4<f32>(queryTexel(starts.x, j), queryTexel(starts.y, j), queryTexel(starts.z, j), queryTexel(starts.w, j));
  }
  return mat4x4<f32>(q[starts.x + j], q[starts.y + j], q[starts.z + j], q[starts.w + j]);
}

// Quad j of query row `row`, from the queries' texture (QUERIES_TEXTURE).
fn queryTexel(row: u32, j: u32) -> vec4<f32> {
  var quad = vec4<f32>(0.0);
  quad = textureLoad(queryTexture, vec2<u32>(j, row), 0); // [query texture]
  return quad;
}

// Quad j of those rows, four heads a piece.
fn queryQuads(rows: QueryRows, j: u32, pieces: u32) -> HeadQuads {
  var x = HeadQuads();
  x.a = fourRows(rows.a, j);
  x.b = fourRows(rows.b, j);
  if (pieces >= 4u) {
    x.c = fourRows(rows.c, j);
    x.d = fourRows(rows.d, j);
  }
  if (pieces == 8u) {                  // [32 heads]
    x.e = fourRows(rows.e, j);         // [32 heads]
    x.f = fourRows(rows.f, j);         // [32 heads]
    x.g = fourRows(rows.g, j);         // [32 heads]
    x.h = fourRows(rows.h, j);         // [32 heads]
  }                                    // [32 heads]
  return x;
}

// Four keys' quad j as the columns of a matrix (rows: 4 dims, columns: 4 keys).
fn keyQuads(firstKey: u32, j: u32) -> mat4x4<f32> {
  let at = firstKey * DQ4 + j;
  return mat4x4<f32>(tileQuad(at), tileQuad(at + DQ4), tileQuad(at + 2u * DQ4), tileQuad(at + 3u * DQ4));
}

// Four keys' probabilities for heads h .. h + 4 * pieces - 1 (rows: the 4
// keys of key quad kk, columns: 4 heads a piece).
fn probQuads(h: u32, kk: u32, pieces: u32) -> HeadQuads {
  var x = HeadQuads();
  x.a = fourHeadProbs(h, kk);
  x.b = fourHeadProbs(h + 4u, kk);
  if (pieces >= 4u) {
    x.c = fourHeadProbs(h + 8u, kk);
    x.d = fourHeadProbs(h + 12u, kk);
  }
  if (pieces == 8u) {                  // [32 heads]
    x.e = fourHeadProbs(h + 16u, kk);  // [32 heads]
    x.f = fourHeadProbs(h + 20u, kk);  // [32 heads]
    x.g = fourHeadProbs(h + 24u, kk);  // [32 heads]
    x.h = fourHeadProbs(h + 28u, kk);  // [32 heads]
  }                                    // [32 heads]
  return x;
}

// Key quad kk's probabilities of heads h .. h + 3 (column c: head h + c).
fn fourHeadProbs(h: u32, kk: u32) -> mat4x4<f32> {
  let at = h * TN4 + kk;
  return mat4x4<f32>(scoreTile[at], scoreTile[at + TN4], scoreTile[at + 2u * TN4], scoreTile[at + 3u * TN4]);
}

// A SCORE_HEADS x SCORE_KEYS block of S = Q K^T: strip kN holds keys
// 4N .. 4N + 3 of the block (rows) for every head of it (columns).
struct ScoreBlock {
  k0: HeadQuads, k1: HeadQuads, k2: HeadQuads, k3: HeadQuads,
}

// Four keys of the tile, from tile position `first`: where each lives in the
// cache and its FP8 scale words when keys are read from there
// (KEYS_FROM_CACHE: key_tile.wgsl's rowTile and scaleTile, found once per
// tile by listSlots), nothing more when they come from the decoded tile.
struct FourKeys {
  first: u32, r0: vec3<u32>, r1: vec3<u32>, r2: vec3<u32>, r3: vec3<u32>,
  s0: vec4<u32>, s1: vec4<u32>, s2: vec4<u32>, s3: vec4<u32>,
}

fn fourKeys(t0: u32, first: u32) -> FourKeys {
  let none = vec4<u32>(0u);
  let nowhere = vec3<u32>(0u);
  var k = FourKeys(first, nowhere, nowhere, nowhere, nowhere, none, none, none, none);
  if (KEYS_FROM_CACHE == 1u) {
    let at = rowBase(t0) + first;
    k.r0 = rowTile[at];
    k.r1 = rowTile[at + 1u];
    k.r2 = rowTile[at + 2u];
    k.r3 = rowTile[at + 3u];
    if (KV_KIND == 2u) {
      k.s0 = scaleTile[at];
      k.s1 = scaleTile[at + 1u];
      k.s2 = scaleTile[at + 2u];
      k.s3 = scaleTile[at + 3u];
    }
  }
  return k;
}

// Quad j of the four keys as the columns of a matrix (rows: 4 dims, columns:
// 4 keys), read from the cache or from the decoded tile.
fn fourKeyQuads(k: FourKeys, j: u32) -> mat4x4<f32> {
  if (KEYS_FROM_CACHE == 1u) {
    return mat4x4<f32>(cacheQuad(k.r0, k.s0, j), cacheQuad(k.r1, k.s1, j), cacheQuad(k.r2, k.s2, j), cacheQuad(k.r3, k.s3, j));
  }
  return keyQuads(k.first, j);
}

// S for heads hb * SCORE_HEADS .. of the workgroup and keys kFirst .. of the
// tile starting at key t0 (SCORE_KEYS of them), over quads j0 .. j1 - 1 of
// the head dim. Each step: transpose(four keys' quad j) * the heads' quad j.
fn scoreBlock(w: Work, hb: u32, kFirst: u32, t0: u32, j0: u32, j1: u32) -> ScoreBlock {
  var s = ScoreBlock();
  let h = w.headBase + hb * SCORE_HEADS;
  let pieces = SCORE_HEADS / 4u;
  let keys0 = fourKeys(t0, kFirst);
  let keys1 = fourKeys(t0, kFirst + 4u);
  var keys2 = keys1;
  var keys3 = keys1;
  if (SCORE_KEYS == 16u) {
    keys2 = fourKeys(t0, kFirst + 8u);
    keys3 = fourKeys(t0, kFirst + 12u);
  }
  let rows = queryRows(w.row0, h, pieces);
  // ---- exercise score-block: write from here ----
  for (var j = j0; j < j1; j++) {
    let x = queryQuads(rows, j, pieces);
    s.k0 = addProduct(s.k0, transpose(fourKeyQuads(keys0, j)), x, pieces);
    s.k1 = addProduct(s.k1, transpose(fourKeyQuads(keys1, j)), x, pieces);
    if (SCORE_KEYS == 16u) {
      s.k2 = addProduct(s.k2, transpose(fourKeyQuads(keys2, j)), x, pieces);
      s.k3 = addProduct(s.k3, transpose(fourKeyQuads(keys3, j)), x, pieces);
    }
  }
  // ---- exercise score-block: to here ----
  return s;
}

// Store a 4 keys x 4 heads piece (column c = head firstHead + c) at key quad
// kk of slice `slice`, scaled to log2 units; a key not kept is MASKED.
fn storeScores(slice: u32, firstHead: u32, kk: u32, s: mat4x4<f32>, keep: vec4<bool>) {
  let at = (slice * HEADS_PER_WG + firstHead) * TN4 + kk;
  let masked = vec4<f32>(MASKED);
  scoreTile[at] = select(masked, s[0] * params.scale_log2, keep);
  scoreTile[at + TN4] = select(masked, s[1] * params.scale_log2, keep);
  scoreTile[at + 2u * TN4] = select(masked, s[2] * params.scale_log2, keep);
  scoreTile[at + 3u * TN4] = select(masked, s[3] * params.scale_log2, keep);
}

// Store one strip (four keys from key quad kk) for heads firstHead ... Slice
// 0 masks the keys that do not exist; the other slices' partial scores of
// such a key are 0 (its quads read as zeros), so the slices' sum is MASKED.
fn storeStrip(slice: u32, firstHead: u32, kk: u32, x: HeadQuads) {
  let keep = select(validKeys(kk), vec4<bool>(true), slice != 0u);
  for (var k = 0u; k < SCORE_HEADS / 4u; k++) {
    storeScores(slice, firstHead + 4u * k, kk, piece(x, k), keep);
  }
}

// Store a whole score block: heads firstHead .., keys from key quad kk0.
fn storeScoreBlock(slice: u32, firstHead: u32, kk0: u32, s: ScoreBlock) {
  storeStrip(slice, firstHead, kk0, s.k0);
  storeStrip(slice, firstHead, kk0 + 1u, s.k1);
  if (SCORE_KEYS == 16u) {
    storeStrip(slice, firstHead, kk0 + 2u, s.k2);
    storeStrip(slice, firstHead, kk0 + 3u, s.k3);
  }
}

// Keys of the tile that exist (slotTile >= 0), four at a time from key 4 * kk.
fn validKeys(kk: u32) -> vec4<bool> {
  return vec4<bool>(slotTile[4u * kk] >= 0, slotTile[4u * kk + 1u] >= 0, slotTile[4u * kk + 2u] >= 0, slotTile[4u * kk + 3u] >= 0);
}

// The running max after a tile whose max is tileMax: moved only when the tile
// exceeds it by more than RESCALE_THRESHOLD (the lazy rescale).
fn lazyMax(m: f32, tileMax: f32) -> f32 {
  return select(m, tileMax, tileMax > m + RESCALE_THRESHOLD);
}

// Head hl's new running max after a tile whose max is tileMax; also keeps the
// largest score seen (rowTop, for max_logits), which the lazy max may not be.
fn moveMax(hl: u32, tileMax: f32) -> f32 {
  rowTop[hl] = max(rowTop[hl], tileMax);
  return lazyMax(rowMax[hl], tileMax);
}

// One thread's OUT_HEADS x OUT_VALUES output block: strip vK holds value quad
// g + K * DIM_GROUPS (rows: its 4 values) for every head of the block.
struct OutBlock {
  v0: HeadQuads, v1: HeadQuads, v2: HeadQuads, v3: HeadQuads,
  v4: HeadQuads, v5: HeadQuads, v6: HeadQuads, v7: HeadQuads,
  v8: HeadQuads, v9: HeadQuads, v10: HeadQuads, v11: HeadQuads,   // [64 values]
  v12: HeadQuads, v13: HeadQuads, v14: HeadQuads, v15: HeadQuads, // [64 values]
}

// A strip's rescale factors, one vec4 a piece (component c: the piece's head c).
struct HeadScales {
  a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>,
  e: vec4<f32>, f: vec4<f32>, g: vec4<f32>, h: vec4<f32>, // [32 heads]
}

// Column c of m times s[c].
fn scalePiece(m: mat4x4<f32>, s: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(m[0] * s.x, m[1] * s.y, m[2] * s.z, m[3] * s.w);
}

// Scale column c of every piece by that head's factor.
fn rescaleStrip(x: HeadQuads, s: HeadScales) -> HeadQuads {
  var r = x;
  r.a = scalePiece(x.a, s.a);
  r.b = scalePiece(x.b, s.b);
  r.c = scalePiece(x.c, s.c);
  r.d = scalePiece(x.d, s.d);
  r.e = scalePiece(x.e, s.e); // [32 heads]
  r.f = scalePiece(x.f, s.f); // [32 heads]
  r.g = scalePiece(x.g, s.g); // [32 heads]
  r.h = scalePiece(x.h, s.h); // [32 heads]
  return r;
}

fn fourScales(h: u32) -> vec4<f32> {
  return vec4<f32>(rowScale[h], rowScale[h + 1u], rowScale[h + 2u], rowScale[h + 3u]);
}

// This tile's rescale factors of heads h0 .. h0 + OUT_HEADS - 1 (1 past the block).
fn blockScales(h0: u32) -> HeadScales {
  let one = vec4<f32>(1.0);
  var s = HeadScales();
  s.a = fourScales(h0);
  s.b = fourScales(h0 + 4u);
  s.c = one;
  s.d = one;
  if (OUT_HEADS >= 16u) {
    s.c = fourScales(h0 + 8u);
    s.d = fourScales(h0 + 12u);
  }
  if (OUT_HEADS == 32u) {              // [32 heads]
    s.e = fourScales(h0 + 16u);        // [32 heads]
    s.f = fourScales(h0 + 20u);        // [32 heads]
    s.g = fourScales(h0 + 24u);        // [32 heads]
    s.h = fourScales(h0 + 28u);        // [32 heads]
  } else {                             // [32 heads]
    s.e = one;                         // [32 heads]
    s.f = one;                         // [32 heads]
    s.g = one;                         // [32 heads]
    s.h = one;                         // [32 heads]
  }                                    // [32 heads]
  return s;
}

// Whether any factor is not 1 (some head's running max moved this tile).
fn anyMoved(s: HeadScales) -> bool {
  let one = vec4<f32>(1.0);
  var moved = any(s.a != one) || any(s.b != one) || any(s.c != one) || any(s.d != one);
  moved = moved || any(s.e != one) || any(s.f != one) || any(s.g != one) || any(s.h != one); // [32 heads]
  return moved;
}

// O += P V for the thread's block (heads h0 .., value quads cK = outQuad(g, K))
// over the tile, after applying this tile's rescale factors (rowScale, 1
// where m stayed). The value is the first D_V values of the key: the same
// keys as S.
fn accumulatePV(acc: OutBlock, h0: u32, g: u32, t0: u32) -> OutBlock {
  var o = acc;
  let pieces = OUT_HEADS / 4u;
  let alpha = blockScales(h0);
  if (anyMoved(alpha)) {
    o.v0 = rescaleStrip(o.v0, alpha);
    o.v1 = rescaleStrip(o.v1, alpha);
    o.v2 = rescaleStrip(o.v2, alpha);
    o.v3 = rescaleStrip(o.v3, alpha);
    o.v4 = rescaleStrip(o.v4, alpha);
    o.v5 = rescaleStrip(o.v5, alpha);
    o.v6 = rescaleStrip(o.v6, alpha);
    o.v7 = rescaleStrip(o.v7, alpha);
    o.v8 = rescaleStrip(o.v8, alpha); // [64 values]
    o.v9 = rescaleStrip(o.v9, alpha); // [64 values]
    o.v10 = rescaleStrip(o.v10, alpha); // [64 values]
    o.v11 = rescaleStrip(o.v11, alpha); // [64 values]
    o.v12 = rescaleStrip(o.v12, alpha); // [64 values]
    o.v13 = rescaleStrip(o.v13, alpha); // [64 values]
    o.v14 = rescaleStrip(o.v14, alpha); // [64 values]
    o.v15 = rescaleStrip(o.v15, alpha); // [64 values]
  }
  let c0 = outQuad(g, 0u);
  let c1 = outQuad(g, 1u);
  let c2 = outQuad(g, 2u);
  let c3 = outQuad(g, 3u);
  let c4 = outQuad(g, 4u);
  let c5 = outQuad(g, 5u);
  let c6 = outQuad(g, 6u);
  let c7 = outQuad(g, 7u);
  let c8 = outQuad(g, 8u); // [64 values]
  let c9 = outQuad(g, 9u); // [64 values]
  let c10 = outQuad(g, 10u); // [64 values]
  let c11 = outQuad(g, 11u); // [64 values]
  let c12 = outQuad(g, 12u); // [64 values]
  let c13 = outQuad(g, 13u); // [64 values]
  let c14 = outQuad(g, 14u); // [64 values]
  let c15 = outQuad(g, 15u); // [64 values]
  for (var kk = 0u; kk < TN4; kk++) {
    let p = probQuads(h0, kk, pieces);
    let keys = fourKeys(t0, 4u * kk);
    o.v0 = addProduct(o.v0, fourKeyQuads(keys, c0), p, pieces);
    o.v1 = addProduct(o.v1, fourKeyQuads(keys, c1), p, pieces);
    if (OUT_QUADS >= 4u) {
      o.v2 = addProduct(o.v2, fourKeyQuads(keys, c2), p, pieces);
      o.v3 = addProduct(o.v3, fourKeyQuads(keys, c3), p, pieces);
    }
    if (OUT_QUADS >= 8u) {
      o.v4 = addProduct(o.v4, fourKeyQuads(keys, c4), p, pieces);
      o.v5 = addProduct(o.v5, fourKeyQuads(keys, c5), p, pieces);
      o.v6 = addProduct(o.v6, fourKeyQuads(keys, c6), p, pieces);
      o.v7 = addProduct(o.v7, fourKeyQuads(keys, c7), p, pieces);
    }
    if (OUT_QUADS == 16u) { // [64 values]
      o.v8 = addProduct(o.v8, fourKeyQuads(keys, c8), p, pieces); // [64 values]
      o.v9 = addProduct(o.v9, fourKeyQuads(keys, c9), p, pieces); // [64 values]
      o.v10 = addProduct(o.v10, fourKeyQuads(keys, c10), p, pieces); // [64 values]
      o.v11 = addProduct(o.v11, fourKeyQuads(keys, c11), p, pieces); // [64 values]
      o.v12 = addProduct(o.v12, fourKeyQuads(keys, c12), p, pieces); // [64 values]
      o.v13 = addProduct(o.v13, fourKeyQuads(keys, c13), p, pieces); // [64 values]
      o.v14 = addProduct(o.v14, fourKeyQuads(keys, c14), p, pieces); // [64 values]
      o.v15 = addProduct(o.v15, fourKeyQuads(keys, c15), p, pieces); // [64 values]
    } // [64 values]
  }
  return o;
}

// Write head hl's output quads first .. first + 7 of the thread's (quad g + k *
// DIM_GROUPS holds o[k - first]).
fn writeHead(b: u32, i: u32, split: u32, h: u32, hl: u32, g: u32, o: array<vec4<f32>, 8>, first: u32) {
  if (h >= params.h_q) {
    return;
  }
  let l = rowSum[hl];
  let factor = outputFactor(h, rowMax[hl], l);
  for (var k = first; k < min(OUT_QUADS, first + 8u); k++) {
    let c = g + k * DIM_GROUPS;
    if (c < DV4) {
      writeOutQuad(b, i, h, split, c, o[k - first] * factor, l);
    }
  }
}

// Write the block of heads headBase + h0 .. (h0: local), then every head's lse.
fn writeBlock(b: u32, i: u32, split: u32, headBase: u32, h0: u32, g: u32, o: OutBlock, tid: u32) {
  for (var k = 0u; k < OUT_HEADS / 4u; k++) {
    let p = array<mat4x4<f32>, 8>(piece(o.v0, k), piece(o.v1, k), piece(o.v2, k), piece(o.v3, k),
                                  piece(o.v4, k), piece(o.v5, k), piece(o.v6, k), piece(o.v7, k));
    let q = array<mat4x4<f32>, 8>(piece(o.v8, k), piece(o.v9, k), piece(o.v10, k), piece(o.v11, k),     // [64 values]
                                  piece(o.v12, k), piece(o.v13, k), piece(o.v14, k), piece(o.v15, k)); // [64 values]
    for (var c = 0u; c < 4u; c++) {
      let hl = h0 + 4u * k + c;
      writeHead(b, i, split, headBase + hl, hl, g, array<vec4<f32>, 8>(p[0][c], p[1][c], p[2][c], p[3][c], p[4][c], p[5][c], p[6][c], p[7][c]), 0u);
      writeHead(b, i, split, headBase + hl, hl, g, array<vec4<f32>, 8>(q[0][c], q[1][c], q[2][c], q[3][c], q[4][c], q[5][c], q[6][c], q[7][c]), 8u); // [64 values]
    }
  }
  for (var hl = tid; hl < HEADS_PER_WG; hl += WG_SIZE) {
    if (headBase + hl < params.h_q) {
      writeLse(b, i, headBase + hl, split, rowMax[hl], rowSum[hl]);
      writeMaxLogits(b, i, headBase + hl, split, rowTop[hl], rowSum[hl]);
    }
  }
}

// Quad k of the output block of thread group g (clamped: a quad past D_V is
// computed from the last one and never written).
fn outQuad(g: u32, k: u32) -> u32 {
  return min(g + k * DIM_GROUPS, DV4 - 1u);
}
