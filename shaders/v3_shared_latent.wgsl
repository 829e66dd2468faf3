// v3_shared_latent.wgsl: version 3, "shared-latent": a block of heads shares
// one key tile, decoded once into workgroup memory.
//
// What it improves over version 2 (v2_fused.wgsl):
//  * The shared latent is read once per block of heads, not once per head:
//    a workgroup loads a tile of TILE_N keys into workgroup memory, decoding
//    f32 / bf16 / FP8 bytes there exactly once, and all HEADS_PER_WG heads of
//    the block reuse it, for the scores and (the value being the first D_V
//    values of the key) for the output. This reuse is what MLA's single KV
//    head buys: v2 reads and decodes every key twice per head.
//  * The score dot products of the tile are spread over the whole workgroup
//    (DOT_PARTS threads per dot), so every thread has work in that step.
// What it still does badly (version 4 fixes it): each score is one dot and
// each output value one running sum, so every value read feeds one or two
// multiply-adds; every lane of a head recomputes the tile's max and exp2 per
// key; its accumulator is a private array, which some compilers keep in memory.
// Measured (same run as v2's figures, llvmpipe, seqlen 4096, h_q 64): 1.27x
// v2 (V3.2 f32), 3.11x (V3.2 FP8, where decoding once per 8 heads instead of
// twice per head pays most), 1.28x (MODEL1 f32), 1.92x (MODEL1 FP8). On
// SwiftShader it is no faster than v2 with f32 and bf16 caches (0.96-1.13x,
// docs/ladder-swiftshader.md; 0.6-0.7x in an earlier run): there decoding is
// cheap, while its four barriers per 13-key tile and its accumulator array
// (kept in memory by that compiler) cost; with FP8, where decoding once
// pays, it is 2.5x v2.
//
// Geometry: grid (ceil(h_q / HEADS_PER_WG) * num_splits, s_q, batch); a
// workgroup has HEADS_PER_WG * THREADS_PER_HEAD threads. The THREADS_PER_HEAD
// lanes of a head each own ACC vec4 of its output row (lane + k *
// THREADS_PER_HEAD for k < ACC). In the score step all threads share the
// HEADS_PER_WG x TILE_N dot products, DOT_PARTS threads per dot. Every lane
// of a head keeps its own copy of that head's m and l, so the softmax step
// needs no extra barrier. Workgroup memory: TILE_N * D_QK * 4 bytes of keys
// + HEADS_PER_WG * TILE_N * DOT_PARTS * 4 bytes of partial scores; the host
// fits TILE_N to the device's limit. The tile is loaded by key_tile.wgsl,
// results are written by fused_io.wgsl.

override HEADS_PER_WG: u32;
override TILE_N: u32;              // keys per tile
override DOT_PARTS: u32;           // threads sharing one score's dot product

const ACC: u32 = 4u;               // vec4 accumulators per thread: 16 output values

override THREADS_PER_HEAD: u32 = (D_V / 4u + ACC - 1u) / ACC;
override WG_SIZE: u32 = HEADS_PER_WG * THREADS_PER_HEAD;

var<workgroup> scoreParts: array<f32, HEADS_PER_WG * TILE_N * DOT_PARTS>;

// Score of key nn of the tile for head hl of the block (log2 units), once
// step 2 has summed the parts into the first slot of each dot.
fn tileScore(hl: u32, nn: u32) -> f32 {
  return scoreParts[(hl * TILE_N + nn) * DOT_PARTS];
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let headBlock = wid.x / params.num_splits;
  let split = wid.x % params.num_splits;
  let i = wid.y;
  let b = wid.z;
  let hl = tid / THREADS_PER_HEAD;        // head within the block
  let lane = tid % THREADS_PER_HEAD;
  let h = headBlock * HEADS_PER_WG + hl;
  let headOk = h < params.h_q;
  let dq4 = D_QK / 4u;
  let dv4 = D_V / 4u;

  // This split's chunk of the row's keys.
  let keys = splitChunk(keyCount(b, i), split);
  let start = keys.x;
  let end = keys.y;

  var m = M_START;
  var l = 0.0;
  var acc: array<vec4<f32>, ACC>;

  for (var t0 = start; t0 < end; t0 += TILE_N) {
    let tileLen = min(TILE_N, end - t0);

    // 1. Load and decode the tile once, all threads together (key_tile.wgsl).
    listSlots(b, i, t0, end, tid);
    workgroupBarrier();
    decodeTileAndWait(tid, t0);

    // 2. Scores: the HEADS_PER_WG x TILE_N dot products of the tile, spread
    //    over all threads, each dot split in DOT_PARTS slices of the head dim
    //    so that (nearly) every thread has work; then one thread per dot sums its parts.
    for (var task = tid; task < HEADS_PER_WG * TILE_N * DOT_PARTS; task += WG_SIZE) {
      let part = task % DOT_PARTS;
      let nn = (task / DOT_PARTS) % TILE_N;
      let hh = task / (DOT_PARTS * TILE_N);
      let qRow = (b * params.s_q + i) * params.h_q + headBlock * HEADS_PER_WG + hh;
      var score = 0.0;
      if (headBlock * HEADS_PER_WG + hh < params.h_q && slotTile[nn] >= 0) {
        let per = (dq4 + DOT_PARTS - 1u) / DOT_PARTS;
        for (var j = part * per; j < min(dq4, (part + 1u) * per); j++) {
          score += dot(q[qRow * dq4 + j], keyTile[nn * dq4 + j]);
        }
      }
      scoreParts[task] = score;
    }
    workgroupBarrier();
    // Sum each dot's parts into its first slot, scaled; MASKED for a skipped key.
    for (var pair = tid; pair < HEADS_PER_WG * TILE_N; pair += WG_SIZE) {
      var score = 0.0;
      for (var part = 0u; part < DOT_PARTS; part++) {
        score += scoreParts[pair * DOT_PARTS + part];
      }
      scoreParts[pair * DOT_PARTS] = select(MASKED, score * params.scale_log2, slotTile[pair % TILE_N] >= 0);
    }
    workgroupBarrier();

    // 3. Online softmax and P.V: every lane of the head does the same
    //    (cheap) max and rescale, then accumulates its own output values.
    if (headOk) {
      var mNew = m;
      for (var nn = 0u; nn < tileLen; nn++) {
        mNew = max(mNew, tileScore(hl, nn));
      }
      let alpha = exp2(m - mNew);
      l *= alpha;
      for (var k = 0u; k < ACC; k++) {
        acc[k] *= alpha;
      }
      for (var nn = 0u; nn < tileLen; nn++) {
        let p = exp2(tileScore(hl, nn) - mNew);
        l += p;
        for (var k = 0u; k < ACC; k++) {
          let j = lane + k * THREADS_PER_HEAD;
          if (j < dv4) {
            acc[k] += p * keyTile[nn * dq4 + j]; // value = the first D_V values of the key
          }
        }
      }
      m = mNew;
    }
    workgroupBarrier(); // the next tile overwrites keyTile
  }

  if (!headOk) {
    return;
  }
  let factor = outputFactor(h, m, l);
  for (var k = 0u; k < ACC; k++) {
    let j = lane + k * THREADS_PER_HEAD;
    if (j < dv4) {
      writeOutQuad(b, i, h, split, j, acc[k] * factor, l);
    }
  }
  if (lane == 0u) {
    writeLse(b, i, h, split, m, l);
    writeMaxLogits(b, i, h, split, m, l); // m is the exact running max here (no lazy rescale)
  }
}
