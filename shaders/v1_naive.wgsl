// v1_naive.wgsl: version 1, "naive": MLA decode attention the way a textbook writes it, in three
// dispatches with the whole score matrix in memory. The baseline: every
// (row, key) pair reads its key from the cache on its own, so the shared
// latent KV is read once per head (h_q times), and the scores make a round
// trip through memory between the passes.
//
// A "row" is one (request b, query token i, head h); the cache is read
// through kv_cache.wgsl, the key list through keys_dense/keys_sparse.wgsl,
// the per-call sizes (h_q, s_q, max_keys, scale...) from params.wgsl.
//
// 1. scores   s[row][k] = scale * dot(q[row], key_k)        (-3e38 for a skipped key)
//    grid: (ceil(max_keys / 64), h_q, batch * s_q), 64 threads, one key each.
// 2. softmax  p[row][k] = exp(s - lse) * sink factor; lse = m + log(sum exp(s - m));
//             max_logits[row] = m (FlashMLA's sparse prefill returns it; -inf for no valid key)
//    grid: (h_q, batch * s_q), 64 threads share one row (tree reductions).
// 3. pv       out[row][4j..4j+3] = sum_k p[row][k] * value_k[4j..4j+3]
//    grid: (ceil(D_V / 4 / 64), h_q, batch * s_q), 64 threads, four outputs each.
//
// The lines between "---- exercise NAME" markers are what the exercises
// (src/exercises, `mla-sandbox exercise`) ask a learner to write.

override D_V: u32;

const MASKED: f32 = -3.0e38; // score of a skipped key: exp(MASKED - m) == 0
const WG: u32 = 64u;

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> lse: array<u32>;     // f32 bits (+inf for an empty row)
@group(0) @binding(4) var<storage, read> sink: array<f32>;
@group(0) @binding(7) var<storage, read_write> scores: array<f32>;
@group(0) @binding(20) var<storage, read_write> max_logits: array<u32>; // f32 bits, [b, s_q, h_q]

fn rowOf(b: u32, i: u32, h: u32) -> u32 {
  return (b * params.s_q + i) * params.h_q + h;
}

@compute @workgroup_size(WG)
fn computeScores(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  let h = gid.y;
  let b = gid.z / params.s_q;
  let i = gid.z % params.s_q;
  if (k >= params.max_keys) {
    return;
  }
  let row = rowOf(b, i, h);
  var s = MASKED;
  if (k < keyCount(b, i)) {
    let slot = keySlot(b, i, k);
    if (slot >= 0) {
      // ---- exercise scores: write from here ----
      var score = 0.0;
      let qBase = row * (D_QK / 4u);
      for (var j = 0u; j < D_QK / 4u; j++) {
        score += dot(q[qBase + j], loadKvQuad(u32(slot), j));
      }
      s = params.scale * score;
      // ---- exercise scores: to here ----
    }
  }
  scores[row * params.max_keys + k] = s;
}

var<workgroup> partial: array<f32, WG>;

// Tree reduction over the 64 threads of the workgroup; op 0 = max, 1 = sum.
fn workgroupReduce(tid: u32, value: f32, op: u32) -> f32 {
  partial[tid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (tid < stride) {
      let other = partial[tid + stride];
      partial[tid] = select(partial[tid] + other, max(partial[tid], other), op == 0u);
    }
    workgroupBarrier();
  }
  let result = partial[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(WG)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let b = wid.y / params.s_q;
  let i = wid.y % params.s_q;
  let base = rowOf(b, i, h) * params.max_keys;

  // The row's largest score, for max_logits (kept apart from the softmax below).
  var maxLogit = MASKED;
  for (var k = tid; k < params.max_keys; k += WG) {
    maxLogit = max(maxLogit, scores[base + k]);
  }
  maxLogit = workgroupReduce(tid, maxLogit, 0u);
  if (tid == 0u) {
    max_logits[rowOf(b, i, h)] = select(bitcast<u32>(maxLogit), 0xff800000u, maxLogit <= MASKED);
  }

  // ---- exercise softmax: write from here ----
  var m = -1.0e30; // a large finite start: an all-masked row never computes -inf - (-inf)
  for (var k = tid; k < params.max_keys; k += WG) {
    m = max(m, scores[base + k]);
  }
  m = workgroupReduce(tid, m, 0u);
  var sum = 0.0;
  for (var k = tid; k < params.max_keys; k += WG) {
    sum += exp(scores[base + k] - m);
  }
  sum = workgroupReduce(tid, sum, 1u);

  let empty = sum == 0.0; // no valid key: out = 0, lse = +inf (FlashMLA's rule)
  let rowLse = m + log(sum);
  var factor = 1.0;
  if (params.has_sink != 0u) {
    factor = 1.0 / (1.0 + exp(sink[h] - rowLse));
  }
  for (var k = tid; k < params.max_keys; k += WG) {
    scores[base + k] = select(exp(scores[base + k] - rowLse) * factor, 0.0, empty);
  }
  if (tid == 0u) {
    lse[(b * params.h_q + h) * params.s_q + i] = select(bitcast<u32>(rowLse), 0x7f800000u, empty);
  }
  // ---- exercise softmax: to here ----
}

@compute @workgroup_size(WG)
fn weightedValues(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x; // output quad: values 4j .. 4j+3
  let h = gid.y;
  let b = gid.z / params.s_q;
  let i = gid.z % params.s_q;
  if (j >= D_V / 4u) {
    return;
  }
  let row = rowOf(b, i, h);
  // ---- exercise pv: write from here ----
  var acc = vec4<f32>(0.0);
  let n = min(keyCount(b, i), params.max_keys);
  for (var k = 0u; k < n; k++) {
    let slot = keySlot(b, i, k);
    if (slot >= 0) {
      acc += scores[row * params.max_keys + k] * loadKvQuad(u32(slot), j);
    }
  }
  out[row * (D_V / 4u) + j] = acc;
  // ---- exercise pv: to here ----
}
