// v2_fused.wgsl: version 2, "fused": one pass per (query row, head), online
// softmax, no score matrix in memory.
//
// What it improves over version 1 (v1_naive.wgsl):
//  * One dispatch instead of three: scores, softmax and P.V are fused, and
//    the scores never make a round trip through device memory.
//  * Online softmax, tile by tile: a running max m and sum l, and the output
//    accumulator rescaled by exp2(m_old - m_new) when the max grows, so one
//    pass over the keys is enough (the softmax needs no second pass).
//  * Base-2 softmax as FlashMLA does it: scores are scaled by
//    scale_log2 = scale * log2(e) and exponentiated with exp2; the lse is
//    converted back to a natural log on output (fused_io.wgsl).
//  * Split-KV: with num_splits > 1 each workgroup takes one contiguous chunk
//    of the row's keys and combine.wgsl merges the chunks by their lse.
// What it still does badly (version 3 fixes it): every head reads and decodes
// the shared latent cache on its own, twice (once for the scores, once for
// the values): h_q times the cache traffic MLA's one KV head needs. And every
// thread walks the tile's scores itself (max, then exp2 per key): 64 times
// the softmax work of v1, which is why it can lose to v1 (FP8 below).
// Measured (one run of `mla-sandbox bench --ladder`, llvmpipe, seqlen 4096,
// h_q 64; docs/ladder-llvmpipe.md): 1.08x v1 (V3.2 f32), 0.91x (V3.2 FP8),
// 1.71x (MODEL1 f32), 0.90x (MODEL1 FP8); an earlier run gave 1.55x, 1.40x,
// 1.64x and 0.83x: v1, bound by memory, moves most from run to run.
//
// Geometry: grid (h_q * num_splits, s_q, batch), WG_SIZE threads (>= D_V / 8).
// A tile is WG_SIZE keys: thread t scores key t0 + t (one full dot product,
// reading the key from the cache), then every thread walks the tile's scores
// and accumulates its two output quads t and t + WG_SIZE.
//
// The lines between "---- exercise NAME" markers are what the exercises
// (src/exercises, `mla-sandbox exercise`) ask a learner to write.

override WG_SIZE: u32;

var<workgroup> tileScores: array<f32, WG_SIZE>;   // log2 units; MASKED for a skipped key

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x / params.num_splits;
  let split = wid.x % params.num_splits;
  let i = wid.y;
  let b = wid.z;
  let dq4 = D_QK / 4u;
  let dv4 = D_V / 4u;
  let qRow = rowOf(b, i, h) * dq4;
  let keys = splitChunk(keyCount(b, i), split);

  // This thread's two output quads (clamped reads; only quads < dv4 are written).
  let j0 = min(tid, dv4 - 1u);
  let j1 = min(tid + WG_SIZE, dv4 - 1u);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var m = M_START;
  var l = 0.0;

  for (var t0 = keys.x; t0 < keys.y; t0 += WG_SIZE) {
    let tileLen = min(WG_SIZE, keys.y - t0);

    // 1. Scores: one key per thread, read straight from the cache.
    var s = MASKED;
    if (tid < tileLen) {
      let slot = keySlot(b, i, t0 + tid);
      if (slot >= 0) {
        var dot4 = vec4<f32>(0.0);
        for (var j = 0u; j < dq4; j++) {
          dot4 += q[qRow + j] * loadKvQuad(u32(slot), j);
        }
        s = (dot4.x + dot4.y + dot4.z + dot4.w) * params.scale_log2;
      }
    }
    tileScores[tid] = s;
    workgroupBarrier();

    // ---- exercise online-softmax: write from here ----
    // 2. Online softmax: every thread takes the tile's max itself (same value in all).
    var mNew = m;
    for (var nn = 0u; nn < tileLen; nn++) {
      mNew = max(mNew, tileScores[nn]);
    }
    let alpha = exp2(m - mNew);
    l *= alpha;
    acc0 *= alpha;
    acc1 *= alpha;

    // 3. P.V: the value is the first D_V values of the key, read from the cache again.
    for (var nn = 0u; nn < tileLen; nn++) {
      let slot = keySlot(b, i, t0 + nn);
      if (slot >= 0) {
        let p = exp2(tileScores[nn] - mNew);
        l += p;
        acc0 += p * loadKvQuad(u32(slot), j0);
        acc1 += p * loadKvQuad(u32(slot), j1);
      }
    }
    m = mNew;
    // ---- exercise online-softmax: to here ----
    workgroupBarrier(); // the next tile overwrites tileScores
  }

  let factor = outputFactor(h, m, l);
  if (tid < dv4) {
    writeOutQuad(b, i, h, split, tid, acc0 * factor, l);
  }
  if (tid + WG_SIZE < dv4) {
    writeOutQuad(b, i, h, split, tid + WG_SIZE, acc1 * factor, l);
  }
  if (tid == 0u) {
    writeLse(b, i, h, split, m, l);
    writeMaxLogits(b, i, h, split, m, l); // m is the exact running max here (no lazy rescale)
  }
}
