// v4_tiled.wgsl: version 4, "tiled": MLA decode written as the two matrix
// multiplies it is, S = Q K^T and O = P V, with register blocks.
//
// What it improves over version 3 (v3_shared_latent.wgsl):
//  * Register blocks. In v3 every score is one dot product and every output
//    value one running sum, so each number read from memory feeds one or two
//    multiply-adds. Here a thread owns a block: in S = Q K^T, 8 heads x 8 keys
//    (four mat4x4), in O = P V, 8 heads x 16 output values (eight mat4x4).
//    Per step it reads 8 + 8 four-value quads for 256 multiply-adds (S), or
//    2 x 4 + 4 x 4 quads for 512 (O): 4 to 5 multiply-adds per value read
//    instead of 1. On every adapter reading is what costs; on llvmpipe one
//    four-value read costs as much as dozens of multiply-adds.
//  * The blocks are mat4x4 values with constant column indices, so every
//    compiler keeps them in registers (a dynamically indexed private array
//    lands in memory on SwiftShader: 8-9x slower, test/roofline.test.ts). A 4 x 4 block step is one
//    matrix product: scores += transpose(K) * Q, out += V * P.
//  * Softmax statistics once per head per tile: one thread per head takes the
//    tile's maximum and sum and writes the probabilities, instead of every
//    lane of a head recomputing them as v3 does.
//  * Lazy rescale (FlashMLA's SM100 kernels, which use 6): the running maximum
//    m is only moved when a tile's maximum exceeds it by more than
//    RESCALE_THRESHOLD (8 here, log2 units); otherwise the probabilities are
//    taken against the old m (they stay below 2^RESCALE_THRESHOLD) and the
//    accumulator is not touched.
//    Exact at the end: out = acc / l and lse = m + log2(l) use the same m.
//    Measured on the bench's inputs (V3.2, h_q 64, seqlen 4096, 16 splits):
//    an eager rescale (threshold 0) touches the accumulator after 3145 of
//    32768 tiles, the lazy one after none; on llvmpipe the time did not move
//    (47.0 vs 47.2 ms, min of 4 runs each): a rescale is 128 multiplies per
//    thread against 1024 multiply-adds and 24 quad reads per tile. It pays
//    where the rescale is dearer than here (FlashMLA's tensor-core kernels).
//  * Bigger head blocks (up to 64 heads share one decoded key tile, v3 fits 8).
// Measured (same run as v2's figures, llvmpipe, seqlen 4096, h_q 64): 5.2x
// v3 (V3.2 f32 and FP8), 5.1x (MODEL1 f32), 4.6x (MODEL1 FP8); 9.3x, 13.3x,
// 10.0x and 4.5x v1; 11-12 % of the FMA ceiling (7 % MODEL1 FP8).
//
// Geometry: grid (ceil(h_q / HEADS_PER_WG) * num_splits, s_q, batch);
// WG_SIZE = HEADS_PER_WG / 8 * ceil(D_V / 16) threads, thread t owning the
// output block of heads 8 * (t / G) .. +7 and quads g, g + G, g + 2G, g + 3G
// (g = t % G, G = ceil(D_V / 16)), so neighbouring threads touch neighbouring
// quads. Per tile of TILE_N keys:
//   1. load and decode the tile into workgroup memory once (all threads);
//      (the next tile's cache slots are listed during step 4, so a tile costs
//      four barriers);
//   2. S: (HEADS_PER_WG / 8) x (TILE_N / 8) blocks x DOT_PARTS slices of the
//      head dim, spread over the threads; partial scores to workgroup memory;
//   3. softmax: one thread per head sums the parts, takes the max, writes P;
//   4. O += P V: every thread its own 8 x 16 block.
// Workgroup memory: TILE_N * D_QK * 4 (keys) + DOT_PARTS * HEADS_PER_WG *
// TILE_N * 4 (scores) + TILE_N * 4 + HEADS_PER_WG * 12 bytes; the host
// (src/kernels/tiled-kernel.ts) fits TILE_N and DOT_PARTS to the device.
// The tile is loaded by key_tile.wgsl, results are written by fused_io.wgsl.

override HEADS_PER_WG: u32;        // a multiple of 8
override TILE_N: u32;              // keys per tile, a multiple of 8
override DOT_PARTS: u32;           // slices of the head dim in the score step
override WG_SIZE: u32;             // HEADS_PER_WG / 8 * ceil(D_V / 16)
override RESCALE_THRESHOLD: f32 = 8.0;

override DQ4: u32 = D_QK / 4u;     // quads per key
override DV4: u32 = D_V / 4u;      // quads per output row
override TN4: u32 = TILE_N / 4u;   // key quads per tile
override DIM_GROUPS: u32 = (DV4 + 3u) / 4u;

var<workgroup> scoreTile: array<vec4<f32>, DOT_PARTS * HEADS_PER_WG * TILE_N / 4u>; // [part][head][key quad]
var<workgroup> rowMax: array<f32, HEADS_PER_WG>;   // m: the reference max, log2 units
var<workgroup> rowSum: array<f32, HEADS_PER_WG>;   // l: sum of exp2(s - m)
var<workgroup> rowScale: array<f32, HEADS_PER_WG>; // this tile's rescale factor exp2(m_old - m_new), 1 if m stayed

// First quad of head h's query row, row0 being head 0's row (heads past h_q
// read the last head: finite, and never written).
fn qBase(row0: u32, h: u32) -> u32 {
  return (row0 + min(h, params.h_q - 1u)) * DQ4;
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

// Store a 4 keys x 4 heads score block (column c = head firstHead + c) at key quad kk of slice `part`.
fn storeScores(part: u32, firstHead: u32, kk: u32, s: mat4x4<f32>) {
  let at = (part * HEADS_PER_WG + firstHead) * TN4 + kk;
  scoreTile[at] = s[0];
  scoreTile[at + TN4] = s[1];
  scoreTile[at + 2u * TN4] = s[2];
  scoreTile[at + 3u * TN4] = s[3];
}

// Scale column c (head c of the block) by a[c].
fn rescaleColumns(o: mat4x4<f32>, a: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(o[0] * a.x, o[1] * a.y, o[2] * a.z, o[3] * a.w);
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

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let headBlock = wid.x / params.num_splits;
  let split = wid.x % params.num_splits;
  let i = wid.y;
  let b = wid.z;
  let headBase = headBlock * HEADS_PER_WG;
  let row0 = rowOf(b, i, 0u);

  // This split's chunk of the row's keys.
  let keys = splitChunk(keyCount(b, i), split);
  let start = keys.x;
  let end = keys.y;

  for (var hl = tid; hl < HEADS_PER_WG; hl += WG_SIZE) {
    rowMax[hl] = M_START;
    rowSum[hl] = 0.0;
  }

  // This thread's output block: heads ob8 * 8 .. +7, quads g + k * DIM_GROUPS.
  let ob8 = tid / DIM_GROUPS;
  let g = tid % DIM_GROUPS;
  let c0 = min(g, DV4 - 1u);
  let c1 = min(g + DIM_GROUPS, DV4 - 1u);
  let c2 = min(g + 2u * DIM_GROUPS, DV4 - 1u);
  let c3 = min(g + 3u * DIM_GROUPS, DV4 - 1u);
  // oKa: heads 0-3 of the block, quad k; oKb: heads 4-7. Column c = head c.
  var o0a = mat4x4<f32>(); var o1a = mat4x4<f32>(); var o2a = mat4x4<f32>(); var o3a = mat4x4<f32>();
  var o0b = mat4x4<f32>(); var o1b = mat4x4<f32>(); var o2b = mat4x4<f32>(); var o3b = mat4x4<f32>();

  let keyBlocks = TILE_N / 8u;
  let scoreTasks = (HEADS_PER_WG / 8u) * keyBlocks * DOT_PARTS;
  let perPart = (DQ4 + DOT_PARTS - 1u) / DOT_PARTS;

  listSlots(b, i, start, end, tid);
  workgroupBarrier();
  for (var t0 = start; t0 < end; t0 += TILE_N) {
    // 1. Load and decode the tile once, all threads together (key_tile.wgsl;
    //    its slots were listed before the barrier that ended the previous tile).
    decodeTile(tid);
    workgroupBarrier();

    // 2. S = Q K^T in 8 x 8 register blocks, each over one slice of the head dim.
    for (var task = tid; task < scoreTasks; task += WG_SIZE) {
      let part = task % DOT_PARTS;
      let kb = (task / DOT_PARTS) % keyBlocks;
      let hb = task / (DOT_PARTS * keyBlocks);
      let q0 = qBase(row0, headBase + hb * 8u); let q1 = qBase(row0, headBase + hb * 8u + 1u);
      let q2 = qBase(row0, headBase + hb * 8u + 2u); let q3 = qBase(row0, headBase + hb * 8u + 3u);
      let q4 = qBase(row0, headBase + hb * 8u + 4u); let q5 = qBase(row0, headBase + hb * 8u + 5u);
      let q6 = qBase(row0, headBase + hb * 8u + 6u); let q7 = qBase(row0, headBase + hb * 8u + 7u);
      // sXY: keys X (0: 0-3, 1: 4-7) x heads Y (a: 0-3, b: 4-7); column c = head c.
      var s0a = mat4x4<f32>(); var s0b = mat4x4<f32>(); var s1a = mat4x4<f32>(); var s1b = mat4x4<f32>();
      for (var j = part * perPart; j < min(DQ4, (part + 1u) * perPart); j++) {
        let qa = mat4x4<f32>(q[q0 + j], q[q1 + j], q[q2 + j], q[q3 + j]);
        let qb = mat4x4<f32>(q[q4 + j], q[q5 + j], q[q6 + j], q[q7 + j]);
        let k0 = transpose(keyQuads(kb * 8u, j));
        let k1 = transpose(keyQuads(kb * 8u + 4u, j));
        s0a += k0 * qa; s0b += k0 * qb;
        s1a += k1 * qa; s1b += k1 * qb;
      }
      storeScores(part, hb * 8u, kb * 2u, s0a);
      storeScores(part, hb * 8u, kb * 2u + 1u, s1a);
      storeScores(part, hb * 8u + 4u, kb * 2u, s0b);
      storeScores(part, hb * 8u + 4u, kb * 2u + 1u, s1b);
    }
    workgroupBarrier();

    // 3. Softmax statistics, once per head: sum the slices, scale, mask, max,
    //    lazy rescale, probabilities written over slice 0.
    for (var hl = tid; hl < HEADS_PER_WG; hl += WG_SIZE) {
      var tileMax = MASKED;
      for (var kk = 0u; kk < TN4; kk++) {
        var s = scoreTile[hl * TN4 + kk];
        for (var part = 1u; part < DOT_PARTS; part++) {
          s += scoreTile[(part * HEADS_PER_WG + hl) * TN4 + kk];
        }
        let valid = vec4<bool>(slotTile[4u * kk] >= 0, slotTile[4u * kk + 1u] >= 0,
                               slotTile[4u * kk + 2u] >= 0, slotTile[4u * kk + 3u] >= 0);
        s = select(vec4<f32>(MASKED), s * params.scale_log2, valid);
        scoreTile[hl * TN4 + kk] = s;
        tileMax = max(tileMax, max(max(s.x, s.y), max(s.z, s.w)));
      }
      var m = rowMax[hl];
      var alpha = 1.0;
      if (tileMax > m + RESCALE_THRESHOLD) {
        alpha = exp2(m - tileMax);
        m = tileMax;
        rowMax[hl] = m;
      }
      var sum = vec4<f32>(0.0);
      for (var kk = 0u; kk < TN4; kk++) {
        let p = exp2(scoreTile[hl * TN4 + kk] - m);
        scoreTile[hl * TN4 + kk] = p;
        sum += p;
      }
      rowSum[hl] = rowSum[hl] * alpha + (sum.x + sum.y) + (sum.z + sum.w);
      rowScale[hl] = alpha;
    }
    workgroupBarrier();

    // 4. O += P V: this thread's 8 heads x 16 values, four keys per step.
    //    (The value is the first D_V values of the key: the same tile.)
    // Nobody reads slotTile in this step: list the next tile's slots now,
    // which saves a barrier per tile.
    listSlots(b, i, t0 + TILE_N, end, tid);
    let h0 = ob8 * 8u;
    let alphaA = vec4<f32>(rowScale[h0], rowScale[h0 + 1u], rowScale[h0 + 2u], rowScale[h0 + 3u]);
    let alphaB = vec4<f32>(rowScale[h0 + 4u], rowScale[h0 + 5u], rowScale[h0 + 6u], rowScale[h0 + 7u]);
    if (any(alphaA != vec4<f32>(1.0)) || any(alphaB != vec4<f32>(1.0))) {
      o0a = rescaleColumns(o0a, alphaA); o1a = rescaleColumns(o1a, alphaA);
      o2a = rescaleColumns(o2a, alphaA); o3a = rescaleColumns(o3a, alphaA);
      o0b = rescaleColumns(o0b, alphaB); o1b = rescaleColumns(o1b, alphaB);
      o2b = rescaleColumns(o2b, alphaB); o3b = rescaleColumns(o3b, alphaB);
    }
    for (var kk = 0u; kk < TN4; kk++) {
      let pa = probQuads(h0, kk);
      let pb = probQuads(h0 + 4u, kk);
      let v0 = keyQuads(4u * kk, c0);
      o0a += v0 * pa; o0b += v0 * pb;
      let v1 = keyQuads(4u * kk, c1);
      o1a += v1 * pa; o1b += v1 * pb;
      let v2 = keyQuads(4u * kk, c2);
      o2a += v2 * pa; o2b += v2 * pb;
      let v3 = keyQuads(4u * kk, c3);
      o3a += v3 * pa; o3b += v3 * pb;
    }
    workgroupBarrier(); // the next tile overwrites keyTile and scoreTile
  }

  // Output: out = acc / l per head (times the sink factor), or the split's partial.
  let h0 = ob8 * 8u;
  writeHead(b, i, split, headBase + h0, h0, g, o0a[0], o1a[0], o2a[0], o3a[0]);
  writeHead(b, i, split, headBase + h0 + 1u, h0 + 1u, g, o0a[1], o1a[1], o2a[1], o3a[1]);
  writeHead(b, i, split, headBase + h0 + 2u, h0 + 2u, g, o0a[2], o1a[2], o2a[2], o3a[2]);
  writeHead(b, i, split, headBase + h0 + 3u, h0 + 3u, g, o0a[3], o1a[3], o2a[3], o3a[3]);
  writeHead(b, i, split, headBase + h0 + 4u, h0 + 4u, g, o0b[0], o1b[0], o2b[0], o3b[0]);
  writeHead(b, i, split, headBase + h0 + 5u, h0 + 5u, g, o0b[1], o1b[1], o2b[1], o3b[1]);
  writeHead(b, i, split, headBase + h0 + 6u, h0 + 6u, g, o0b[2], o1b[2], o2b[2], o3b[2]);
  writeHead(b, i, split, headBase + h0 + 7u, h0 + 7u, g, o0b[3], o1b[3], o2b[3], o3b[3]);
  for (var hl = tid; hl < HEADS_PER_WG; hl += WG_SIZE) {
    if (headBase + hl < params.h_q) {
      writeLse(b, i, headBase + hl, split, rowMax[hl], rowSum[hl]);
    }
  }
}
