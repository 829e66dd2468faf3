// v4_tiled.wgsl: version 4, "tiled": MLA decode written as the two matrix
// multiplies it is, S = Q K^T and O = P V, with register blocks.
//
// What it improves over version 3 (v3_shared_latent.wgsl):
//  * Register blocks. In v3 every score is one dot product and every output
//    value one running sum, so each number read from memory feeds one or two
//    multiply-adds. Here a thread owns a block: in S = Q K^T, SCORE_HEADS x
//    SCORE_KEYS scores, in O = P V, OUT_HEADS heads x OUT_VALUES output
//    values (tiled_blocks.wgsl; 8 x 8 and 8 x 16 unless chosen: `--score-block`,
//    `--out-block`, or the tuner's pick, docs/tuning.md). With the default
//    blocks a step reads 8 + 8 four-value quads for 256 multiply-adds (S), or
//    2 x 4 + 4 x 4 quads for 512 (O): 4 to 5 multiply-adds per value read
//    instead of 1; 16 x 16 and 16 x 32 blocks double that, and 32 x 16 and
//    32 x 32 (strips of eight mat4x4, head_quads.wgsl) go further, and an
//    output block of 32 x 64 (sixteen strips; Mesa llvmpipe only, whose
//    compiler takes it) reads each probability once for 64 values. On every adapter
//    reading is what costs; on llvmpipe one four-value read costs as much as
//    dozens of multiply-adds.
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
//  * Keys read where they are used, for f32 and bf16 caches (KEYS_FROM_CACHE,
//    `--keys cache`, their default; key_tile.wgsl): such a key costs one read
//    from the cache or one from workgroup memory, and on SwiftShader the
//    second costs several of the first (docs/kernels.md, "What a read
//    costs"). With no decoded keys in workgroup memory a tile holds 64 keys:
//    three barriers per 64 keys, not four per 8. FP8 keys stay decoded once into the
//    tile by default, held in bf16 (KEY_TILE_BF16, `--keys tile-bf16`: exact
//    for power-of-two scales, half the bytes, so 16-key tiles and 16-key score
//    blocks; 1.28-1.32x the f32 tile, docs/tuning.md "FP8's cost"); read from
//    the cache, each key's scales are read once per tile and a quad is read
//    and decoded without a branch (fp8.wgsl, kv_cache.wgsl), and with 32-head
//    blocks that is the fastest on llvmpipe. Or decoded once, in f32, into
//    the workgroup's own part of a storage buffer (KEY_TILE_STORAGE, `--keys
//    tile-storage`; key_tile.wgsl): each FP8 key decoded once a tile and then
//    read like an f32 cache's, faster than the cache on SwiftShader, where
//    workgroup memory is dear to read, and slower on llvmpipe (docs/tuning.md,
//    "FP8's cost"). The tuner measures all four.
//    Measured (docs/kernels.md, "Keys from the tile or the cache"; h_q 64,
//    seqlen 4096): 13-27 % faster for f32 and bf16 on SwiftShader, 0-13 % on
//    llvmpipe; FP8 from the cache 1.5-2x slower on both with 8-head blocks,
//    the fastest with S 32x16 / O 32x32 (docs/tuning.md).
//  * Queries from a texture (QUERIES_TEXTURE, `--queries texture`;
//    tiled_blocks.wgsl): the score step reads its query quads as texels of
//    a texture the call's first pass writes from q (query_texture.wgsl). On llvmpipe
//    a texel costs about a seventh of a storage read and the queries are
//    most of the score step's reads (docs/kernels.md, "What a read costs");
//    on SwiftShader a texel costs a little more. Not the default: a knob of
//    the tuner's space, whose picks on llvmpipe take it (docs/tuning.md).
//  * Keys from the cache decoded into a texture (KEYS_TEXTURE, `--keys
//    texture`; key_tile.wgsl, cache_texture.wgsl): a first pass decodes the
//    whole cache to f32 rows once a call and a copy moves them into a
//    texture (an f32 cache is copied as it is, no pass), and every key and
//    value quad is then one texel, FP8 or not. The kernel runs about a fifth
//    faster so on llvmpipe; the pass and the copy cost a tenth to a seventh
//    of the call for FP8 and bf16, a fiftieth for f32 (docs/tuning.md, "Keys
//    from a texture"). The tuner's picks on llvmpipe take it.
// Measured (docs/ladder-llvmpipe.md, one run, seqlen 4096, h_q 64): 6.0x v3
// (V3.2 f32), 5.3x (V3.2 FP8), 5.7x (MODEL1 f32), 5.1x (MODEL1 FP8); 8.2x,
// 15.0x, 12.4x and 8.8x v1; 7-10 % of the FMA ceiling (136 GFLOP/s), which
// what a read costs there bounds: the same run's plain S = Q K^T with these
// 8 x 8 blocks and nothing else reached 16.5 % (docs/kernels.md, "What a
// read costs").
//
// Geometry: grid (ceil(h_q / HEADS_PER_WG) * num_splits, s_q, batch);
// WG_SIZE = HEADS_PER_WG / OUT_HEADS * ceil(D_V / OUT_VALUES) threads, each
// owning the output of OUT_HEADS heads x OUT_VALUES values (tiled_blocks.wgsl).
// Per tile of TILE_N keys:
//   1. load and decode the tile into workgroup memory (or storage) once (all
//      threads), unless the keys are read from the cache (KEYS_FROM_CACHE); the next
//      tile's cache slots are listed during step 4, so a tile costs four
//      barriers (three with keys from the cache: nothing to decode);
//   2. S: (HEADS_PER_WG / SCORE_HEADS) x (TILE_N / SCORE_KEYS) blocks x
//      SCORE_SLICES slices of the head dim, spread over the threads; partial
//      scores to workgroup memory, scaled to log2 units, slice 0 masked;
//   3. softmax: one thread per head sums the parts, takes the max, writes P;
//   4. O += P V: every thread its own OUT_HEADS x OUT_VALUES block.
// Workgroup memory: KEY_TILE_KEYS * D_QK * 4 (keys: TILE_N of them, or 1
// when they are read from the cache or kept in storage; / 2 in bf16) + SCORE_SLICES * HEADS_PER_WG *
// TILE_N * 4 (scores) + TILE_N * 4 + HEADS_PER_WG * 16 bytes; the host
// (src/kernels/tiled-kernel.ts) fits TILE_N and SCORE_SLICES to the device.
// The tile is loaded by key_tile.wgsl, the overrides, statistics and output
// blocks are in tiled_blocks.wgsl, results are written by fused_io.wgsl.

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let w = workOf(wid, tid);
  // This workgroup's part of the storage tile (KEY_TILE_STORAGE; key_tile.wgsl).
  tileStorageBase = (wid.x + grid.x * (wid.y + grid.y * wid.z)) * TILE_N * DQ4;

  // This thread's output block: heads h0 .. h0 + OUT_HEADS - 1, value quads g + k * DIM_GROUPS.
  let h0 = tid / DIM_GROUPS * OUT_HEADS;
  let g = tid % DIM_GROUPS;
  var o = OutBlock();

  let keyBlocks = TILE_N / SCORE_KEYS;
  let scoreTasks = (HEADS_PER_WG / SCORE_HEADS) * keyBlocks * SCORE_SLICES;
  let perSlice = (DQ4 + SCORE_SLICES - 1u) / SCORE_SLICES;

  listSlots(w.b, w.i, w.start, w.end, tid);
  workgroupBarrier();
  for (var t0 = w.start; t0 < w.end; t0 += TILE_N) {
    // 1. Load and decode the tile once, all threads together (key_tile.wgsl;
    //    its slots were listed before the barrier that ended the previous tile),
    //    into workgroup memory or the workgroup's part of a storage buffer.
    decodeTileAndWait(tid, t0);

    // 2. S = Q K^T in SCORE_HEADS x SCORE_KEYS register blocks, each over one
    //    slice of the head dim.
    for (var task = tid; task < scoreTasks; task += WG_SIZE) {
      let slice = task % SCORE_SLICES;
      let kb = (task / SCORE_SLICES) % keyBlocks;
      let hb = task / (SCORE_SLICES * keyBlocks);
      let s = scoreBlock(w, hb, kb * SCORE_KEYS, t0, slice * perSlice, min(DQ4, (slice + 1u) * perSlice));
      storeScoreBlock(slice, hb * SCORE_HEADS, kb * SCORE_KEYS / 4u, s);
    }
    workgroupBarrier();

    // 3. Softmax statistics, once per head: the max of the slices' sums (the
    //    scores were scaled and masked when stored), lazy rescale, then the
    //    probabilities written over slice 0.
    for (var hl = tid; hl < HEADS_PER_WG; hl += WG_SIZE) {
      var tileMax = MASKED;
      for (var kk = 0u; kk < TN4; kk++) {
        let s = tileScores(hl, kk);
        tileMax = max(tileMax, max(max(s.x, s.y), max(s.z, s.w)));
      }
      let mOld = rowMax[hl];
      let m = moveMax(hl, tileMax);
      let alpha = exp2(mOld - m);
      var sum = vec4<f32>(0.0);
      for (var kk = 0u; kk < TN4; kk++) {
        let p = exp2(tileScores(hl, kk) - m);
        scoreTile[hl * TN4 + kk] = p;
        sum += p;
      }
      rowMax[hl] = m;
      rowSum[hl] = rowSum[hl] * alpha + (sum.x + sum.y) + (sum.z + sum.w);
      rowScale[hl] = alpha;
    }
    workgroupBarrier();

    // 4. O += P V: this thread's OUT_HEADS x OUT_VALUES block, four keys per step.
    // Nobody reads slotTile in this step: list the next tile's slots now,
    // which saves a barrier per tile.
    listSlots(w.b, w.i, t0 + TILE_N, w.end, tid);
    o = accumulatePV(o, h0, g, t0);
    if (KEY_TILE_STORAGE == 1u) {
      storageBarrier(); // ... and the storage tile
    }
    workgroupBarrier(); // the next tile overwrites keyTile and scoreTile
  }

  // Output: out = acc / l per head (times the sink factor), or the split's partial.
  writeBlock(w.b, w.i, w.split, w.headBase, h0, g, o, tid);
}

// Head hl's scores of key quad kk: the sum of the slices' partial scores,
// already scaled and masked where they were stored (storeScoreBlock).
fn tileScores(hl: u32, kk: u32) -> vec4<f32> {
  var s = scoreTile[hl * TN4 + kk];
  for (var slice = 1u; slice < SCORE_SLICES; slice++) {
    s += scoreTile[(slice * HEADS_PER_WG + hl) * TN4 + kk];
  }
  return s;
}
