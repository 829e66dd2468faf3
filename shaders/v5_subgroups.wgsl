// v5_subgroups.wgsl: version 5, "subgroups": version 4 with the score
// step's cross-thread sum in registers, through subgroup shuffles, and the
// softmax done by the thread that holds the scores.
//
// What it improves over version 4 (v4_tiled.wgsl):
//  * In v4 the threads that share an 8 heads x 8 keys score block (one slice
//    of the head dim each) meet in workgroup memory: each writes its partial
//    block, a barrier, then one thread per head reads every slice back, sums,
//    takes the max and writes the probabilities, and another barrier. Here
//    the TEAM_LANES lanes of a team (subgroup_teams.wgsl) each compute one
//    slice, sum the block with a butterfly of subgroupShuffleXor (every lane
//    ends with the whole block, log2(TEAM_LANES) steps), and the team's first
//    lane does the softmax of its 8 heads from registers: no partial scores
//    in workgroup memory, one barrier fewer per tile (three), and the tile's
//    probabilities written once.
//  * Correct for any subgroup size from subgroupMinSize to subgroupMaxSize
//    and any layout of subgroups in the workgroup: teams are formed from
//    subgroup_invocation_id and numbered by an atomic counter, and a team
//    cut short by a partial subgroup takes no work (subgroup_teams.wgsl).
//  * Where the adapter has no `subgroups` feature the host runs v4 instead
//    (src/kernels/versions.ts: "flash" tries v5, then v4), and for f32 and
//    bf16 caches too: v4 reads those keys straight from the cache in 64-key
//    tiles, v5 decodes 8-key tiles into workgroup memory.
// Measured (docs/ladder-swiftshader.md, one run, seqlen 4096, h_q 64; only
// SwiftShader has subgroups here, with subgroups of 4): 0.95x v4 (V3.2 FP8),
// 1.03x (MODEL1 FP8), within this machine's noise; 0.75x and 0.85x for f32,
// where v4 reads keys from the cache. What costs on a CPU is the loads and
// multiply-adds of the blocks, and they are v4's. On a GPU, with 32-lane
// teams and no partial scores to store, the step should count for more; no
// GPU has measured it.
//
// Geometry: grid (ceil(h_q / HEADS_PER_WG) * num_splits, s_q, batch);
// WG_SIZE = HEADS_PER_WG / OUT_HEADS * ceil(D_V / OUT_VALUES) threads, each
// owning the output of OUT_HEADS heads x OUT_VALUES values (tiled_blocks.wgsl;
// 8 x 16 unless chosen). The score block stays 8 x 8 (SCORE_HEADS and
// SCORE_KEYS at their defaults) and TILE_N = 8: a team's score block
// is the whole tile for its 8 heads, so its first lane sees every score of
// those heads. Per tile:
//   1. load and decode the tile into workgroup memory once (all threads);
//   2. S: team k takes head blocks k, k + teams, ...; each lane a slice of
//      the head dim; teamSum; the first lane masks, scales, takes the max,
//      does the lazy rescale and writes P and the statistics;
//   3. O += P V: every thread its own output block (as v4), the next tile's
//      slots listed meanwhile.
// Workgroup memory: 8 * D_QK * 4 (keys) + HEADS_PER_WG * 8 * 4 (P) + 8 * 4 +
// HEADS_PER_WG * 16 + 4 bytes.

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
  let w = workOf(wid, tid);

  // This thread's output block: heads h0 .. h0 + 7, quads g + k * DIM_GROUPS.
  let h0 = tid / DIM_GROUPS * OUT_HEADS;
  let g = tid % DIM_GROUPS;
  var o = OutBlock();

  // This lane's team and its slice of the head dim.
  let team = joinTeam(lane);
  let slice = lane % TEAM_LANES;
  let perSlice = (DQ4 + TEAM_LANES - 1u) / TEAM_LANES;
  let j0 = min(DQ4, slice * perSlice);
  let j1 = min(DQ4, j0 + perSlice);

  listSlots(w.b, w.i, w.start, w.end, tid);
  workgroupBarrier();
  let teams = teamsFormed();
  for (var t0 = w.start; t0 < w.end; t0 += TILE_N) {
    // 1. Load and decode the tile once, all threads together (key_tile.wgsl).
    decodeTileAndWait(tid, t0);

    // 2. S = Q K^T for 8 heads x the 8 keys of the tile, one slice per lane,
    //    summed over the team; then the softmax of those heads by its first lane.
    for (var hb = team; hb < HEADS_PER_WG / 8u; hb += teams) {
      let s = scoreBlock(w, hb, 0u, t0, j0, j1);
      let s0a = teamSum(s.k0.a); let s0b = teamSum(s.k0.b);
      let s1a = teamSum(s.k1.a); let s1b = teamSum(s.k1.b);
      if (slice == 0u) {
        softmaxBlock(hb * 8u, s0a, s1a);
        softmaxBlock(hb * 8u + 4u, s0b, s1b);
      }
    }
    workgroupBarrier();

    // 3. O += P V (tiled_blocks.wgsl); list the next tile's slots meanwhile.
    listSlots(w.b, w.i, t0 + TILE_N, w.end, tid);
    o = accumulatePV(o, h0, g, t0);
    workgroupBarrier(); // the next tile overwrites keyTile and scoreTile
  }

  // Output: out = acc / l per head (times the sink factor), or the split's partial.
  writeBlock(w.b, w.i, w.split, w.headBase, h0, g, o, tid);
}

// Softmax of heads h .. h + 3 (columns) over the tile's 8 keys (rows of s0:
// keys 0-3, of s1: keys 4-7): mask, scale, max, lazy rescale; writes P over
// scoreTile and the heads' statistics.
fn softmaxBlock(h: u32, s0: mat4x4<f32>, s1: mat4x4<f32>) {
  let valid0 = validKeys(0u);
  let valid1 = validKeys(1u);
  for (var c = 0u; c < 4u; c++) {
    let a = select(vec4<f32>(MASKED), s0[c] * params.scale_log2, valid0);
    let z = select(vec4<f32>(MASKED), s1[c] * params.scale_log2, valid1);
    let top = max(a, z);
    let mOld = rowMax[h + c];
    let m = moveMax(h + c, max(max(top.x, top.y), max(top.z, top.w)));
    let pa = exp2(a - m);
    let pz = exp2(z - m);
    scoreTile[(h + c) * TN4] = pa;
    scoreTile[(h + c) * TN4 + 1u] = pz;
    let sum = pa + pz;
    let alpha = exp2(mOld - m);
    rowMax[h + c] = m;
    rowSum[h + c] = rowSum[h + c] * alpha + (sum.x + sum.y) + (sum.z + sum.w);
    rowScale[h + c] = alpha;
  }
}
