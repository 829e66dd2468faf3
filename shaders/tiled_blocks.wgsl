// tiled_blocks.wgsl: what the tiled versions (4 and 5) share: the head block
// and tile overrides, the per-head softmax statistics, and the register
// blocks of O = P V. Each thread owns the output of 8 heads x 16 values,
// held in eight mat4x4 (OutBlock): a 4 x 4 step is one product, V * P.
// Why mat4x4 and not an array: docs/kernels.md, "Version 4".
//
// Thread t owns heads 8 * (t / DIM_GROUPS) .. +7 and the quads g, g + G,
// g + 2G, g + 3G of the output row (g = t % G, G = DIM_GROUPS =
// ceil(D_V / 16)), so neighbouring threads touch neighbouring quads.

override HEADS_PER_WG: u32;        // a multiple of 8
override TILE_N: u32;              // keys per tile, a multiple of 8
override WG_SIZE: u32;             // HEADS_PER_WG / 8 * DIM_GROUPS
override SCORE_SLICES: u32 = 1u;   // partial score tiles kept in workgroup memory (v4's DOT_PARTS)
override RESCALE_THRESHOLD: f32 = 8.0;

override DQ4: u32 = D_QK / 4u;     // quads per key
override DV4: u32 = D_V / 4u;      // quads per output row
override TN4: u32 = TILE_N / 4u;   // key quads per tile
override DIM_GROUPS: u32 = (DV4 + 3u) / 4u;

var<workgroup> scoreTile: array<vec4<f32>, SCORE_SLICES * HEADS_PER_WG * TILE_N / 4u>; // [slice][head][key quad]
var<workgroup> rowMax: array<f32, HEADS_PER_WG>;   // m: the reference max, log2 units
var<workgroup> rowSum: array<f32, HEADS_PER_WG>;   // l: sum of exp2(s - m)
var<workgroup> rowScale: array<f32, HEADS_PER_WG>; // this tile's rescale factor exp2(m_old - m_new), 1 if m stayed

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
  }
  return Work(wid.z, wid.y, split, wid.x / params.num_splits * HEADS_PER_WG, rowOf(wid.z, wid.y, 0u), keys.x, keys.y);
}

// First quad of head h's query row, row0 being head 0's row (heads past h_q
// read the last head: finite, and never written).
fn qBase(row0: u32, h: u32) -> u32 {
  return (row0 + min(h, params.h_q - 1u)) * DQ4;
}

// Quad j of the query rows of heads h .. h + 3 as the columns of a matrix.
fn queryQuads(row0: u32, h: u32, j: u32) -> mat4x4<f32> {
  return mat4x4<f32>(q[qBase(row0, h) + j], q[qBase(row0, h + 1u) + j], q[qBase(row0, h + 2u) + j], q[qBase(row0, h + 3u) + j]);
}

// Four keys' quad j as the columns of a matrix (rows: 4 dims, columns: 4 keys).
fn keyQuads(firstKey: u32, j: u32) -> mat4x4<f32> {
  let at = firstKey * DQ4 + j;
  return mat4x4<f32>(keyTile[at], keyTile[at + DQ4], keyTile[at + 2u * DQ4], keyTile[at + 3u * DQ4]);
}

// Four heads' probabilities for key quad kk (rows: 4 keys, columns: 4 heads).
fn probQuads(firstHead: u32, kk: u32) -> mat4x4<f32> {
  let at = firstHead * TN4 + kk;
  return mat4x4<f32>(scoreTile[at], scoreTile[at + TN4], scoreTile[at + 2u * TN4], scoreTile[at + 3u * TN4]);
}

// A block of S = Q K^T: keys X (0: 0-3, 1: 4-7) x heads Y (a: 0-3, b: 4-7);
// column c = head c.
struct ScoreBlock {
  s0a: mat4x4<f32>, s0b: mat4x4<f32>, s1a: mat4x4<f32>, s1b: mat4x4<f32>,
}

// Four keys of the tile, from tile position `first` (key t0 + first of the
// row): where each lives in the cache when keys are read from there
// (KEYS_FROM_CACHE, key_tile.wgsl's cacheRow, found once per block), nothing
// more when they come from the decoded tile.
struct FourKeys {
  first: u32, r0: vec4<u32>, r1: vec4<u32>, r2: vec4<u32>, r3: vec4<u32>,
}

fn fourKeys(w: Work, t0: u32, first: u32) -> FourKeys {
  var k = FourKeys(first, vec4<u32>(0u), vec4<u32>(0u), vec4<u32>(0u), vec4<u32>(0u));
  if (KEYS_FROM_CACHE == 1u) {
    let t = t0 + first;
    k.r0 = cacheRow(w.b, w.i, t, w.end);
    k.r1 = cacheRow(w.b, w.i, t + 1u, w.end);
    k.r2 = cacheRow(w.b, w.i, t + 2u, w.end);
    k.r3 = cacheRow(w.b, w.i, t + 3u, w.end);
  }
  return k;
}

// Quad j of the four keys as the columns of a matrix (rows: 4 dims, columns:
// 4 keys), read from the cache or from the decoded tile.
fn fourKeyQuads(k: FourKeys, j: u32) -> mat4x4<f32> {
  if (KEYS_FROM_CACHE == 1u) {
    return cacheQuads(k.r0, k.r1, k.r2, k.r3, j);
  }
  return keyQuads(k.first, j);
}

// S for heads hb * 8 .. + 7 of the workgroup and keys kFirst .. + 7 of the
// tile starting at key t0, over quads j0 .. j1 - 1 of the head dim.
fn scoreBlock(w: Work, hb: u32, kFirst: u32, t0: u32, j0: u32, j1: u32) -> ScoreBlock {
  var s = ScoreBlock();
  let h = w.headBase + hb * 8u;
  let keysA = fourKeys(w, t0, kFirst);
  let keysB = fourKeys(w, t0, kFirst + 4u);
  for (var j = j0; j < j1; j++) {
    let qa = queryQuads(w.row0, h, j);
    let qb = queryQuads(w.row0, h + 4u, j);
    let k0 = transpose(fourKeyQuads(keysA, j));
    let k1 = transpose(fourKeyQuads(keysB, j));
    s.s0a += k0 * qa; s.s0b += k0 * qb;
    s.s1a += k1 * qa; s.s1b += k1 * qb;
  }
  return s;
}

// Store a 4 keys x 4 heads block (column c = head firstHead + c) at key quad kk of slice `slice`.
fn storeScores(slice: u32, firstHead: u32, kk: u32, s: mat4x4<f32>) {
  let at = (slice * HEADS_PER_WG + firstHead) * TN4 + kk;
  scoreTile[at] = s[0];
  scoreTile[at + TN4] = s[1];
  scoreTile[at + 2u * TN4] = s[2];
  scoreTile[at + 3u * TN4] = s[3];
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

// One thread's output block: oKa holds heads 0-3 (column c = head c) of quad
// g + K * DIM_GROUPS, oKb heads 4-7.
struct OutBlock {
  o0a: mat4x4<f32>, o1a: mat4x4<f32>, o2a: mat4x4<f32>, o3a: mat4x4<f32>,
  o0b: mat4x4<f32>, o1b: mat4x4<f32>, o2b: mat4x4<f32>, o3b: mat4x4<f32>,
}

// Scale column c (head c of the block) by a[c].
fn rescaleColumns(o: mat4x4<f32>, a: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(o[0] * a.x, o[1] * a.y, o[2] * a.z, o[3] * a.w);
}

// O += P V for heads h0 .. h0 + 7 over the tile, after applying this tile's
// rescale factors (rowScale, 1 where m stayed). cK: the block's quad K.
// (The value is the first D_V values of the key: the same keys as S.)
fn accumulatePV(acc: OutBlock, h0: u32, c0: u32, c1: u32, c2: u32, c3: u32, w: Work, t0: u32) -> OutBlock {
  var o = acc;
  let alphaA = vec4<f32>(rowScale[h0], rowScale[h0 + 1u], rowScale[h0 + 2u], rowScale[h0 + 3u]);
  let alphaB = vec4<f32>(rowScale[h0 + 4u], rowScale[h0 + 5u], rowScale[h0 + 6u], rowScale[h0 + 7u]);
  if (any(alphaA != vec4<f32>(1.0)) || any(alphaB != vec4<f32>(1.0))) {
    o.o0a = rescaleColumns(o.o0a, alphaA); o.o1a = rescaleColumns(o.o1a, alphaA);
    o.o2a = rescaleColumns(o.o2a, alphaA); o.o3a = rescaleColumns(o.o3a, alphaA);
    o.o0b = rescaleColumns(o.o0b, alphaB); o.o1b = rescaleColumns(o.o1b, alphaB);
    o.o2b = rescaleColumns(o.o2b, alphaB); o.o3b = rescaleColumns(o.o3b, alphaB);
  }
  for (var kk = 0u; kk < TN4; kk++) {
    let pa = probQuads(h0, kk);
    let pb = probQuads(h0 + 4u, kk);
    let keys = fourKeys(w, t0, 4u * kk);
    let v0 = fourKeyQuads(keys, c0);
    o.o0a += v0 * pa; o.o0b += v0 * pb;
    let v1 = fourKeyQuads(keys, c1);
    o.o1a += v1 * pa; o.o1b += v1 * pb;
    let v2 = fourKeyQuads(keys, c2);
    o.o2a += v2 * pa; o.o2b += v2 * pb;
    let v3 = fourKeyQuads(keys, c3);
    o.o3a += v3 * pa; o.o3b += v3 * pb;
  }
  return o;
}

// Write head hl's four output quads (quad g + k * DIM_GROUPS holds o_k).
fn writeHead(b: u32, i: u32, split: u32, h: u32, hl: u32, g: u32, o0: vec4<f32>, o1: vec4<f32>, o2: vec4<f32>, o3: vec4<f32>) {
  if (h >= params.h_q) {
    return;
  }
  let l = rowSum[hl];
  let factor = outputFactor(h, rowMax[hl], l);
  let o = array<vec4<f32>, 4>(o0, o1, o2, o3);
  for (var k = 0u; k < 4u; k++) {
    let c = g + k * DIM_GROUPS;
    if (c < DV4) {
      writeOutQuad(b, i, h, split, c, o[k] * factor, l);
    }
  }
}

// Write the block of heads headBase + h0 .. +7 (h0: local), then every head's lse.
fn writeBlock(b: u32, i: u32, split: u32, headBase: u32, h0: u32, g: u32, o: OutBlock, tid: u32) {
  writeHead(b, i, split, headBase + h0, h0, g, o.o0a[0], o.o1a[0], o.o2a[0], o.o3a[0]);
  writeHead(b, i, split, headBase + h0 + 1u, h0 + 1u, g, o.o0a[1], o.o1a[1], o.o2a[1], o.o3a[1]);
  writeHead(b, i, split, headBase + h0 + 2u, h0 + 2u, g, o.o0a[2], o.o1a[2], o.o2a[2], o.o3a[2]);
  writeHead(b, i, split, headBase + h0 + 3u, h0 + 3u, g, o.o0a[3], o.o1a[3], o.o2a[3], o.o3a[3]);
  writeHead(b, i, split, headBase + h0 + 4u, h0 + 4u, g, o.o0b[0], o.o1b[0], o.o2b[0], o.o3b[0]);
  writeHead(b, i, split, headBase + h0 + 5u, h0 + 5u, g, o.o0b[1], o.o1b[1], o.o2b[1], o.o3b[1]);
  writeHead(b, i, split, headBase + h0 + 6u, h0 + 6u, g, o.o0b[2], o.o1b[2], o.o2b[2], o.o3b[2]);
  writeHead(b, i, split, headBase + h0 + 7u, h0 + 7u, g, o.o0b[3], o.o1b[3], o.o2b[3], o.o3b[3]);
  for (var hl = tid; hl < HEADS_PER_WG; hl += WG_SIZE) {
    if (headBase + hl < params.h_q) {
      writeLse(b, i, headBase + hl, split, rowMax[hl], rowSum[hl]);
    }
  }
}

// Quad k of the output block of thread group g (clamped: a quad past D_V is
// computed from the last one and never written).
fn outQuad(g: u32, k: u32) -> u32 {
  return min(g + k * DIM_GROUPS, DV4 - 1u);
}
