// combine.wgsl: merge the num_splits partial results of a fused version (v2-v4)
// (FlashMLA's combine kernel). Split s of a row holds o_s (normalised by its
// own sum) and lse_s (log2 units; -3e38 for an empty split). Then
//     lse = log2(sum_s exp2(lse_s - max)) + max,   w_s = exp2(lse_s - lse)
//     out = sum_s w_s * o_s        (times the sink factor, if any)
// and the lse is returned as a natural log (+inf when every split was empty).
// max_logits is the largest of the splits' maxima (log2 units; MASKED for an
// empty split), returned in natural units (-inf when every split was empty).
//
// Geometry: grid (h_q, s_q, batch), 64 threads; thread t merges output
// values 4t, 4t+1, ... (stride 256) of its row.
//
// The lines between "---- exercise NAME" markers are what the exercises
// (src/exercises, `mla-sandbox exercise`) ask a learner to write.

override D_V: u32;

const MASKED: f32 = -3.0e38;
const LN2: f32 = 0.6931471805599453;
const LOG2E: f32 = 1.4426950408889634;
const WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> partOut: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> partLse: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> lse: array<u32>;
@group(0) @binding(4) var<storage, read> sink: array<f32>;
@group(0) @binding(5) var<storage, read> partMax: array<f32>;
@group(0) @binding(20) var<storage, read_write> max_logits: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let i = wid.y;
  let b = wid.z;
  let row = (b * params.s_q + i) * params.h_q + h;
  let dv4 = D_V / 4u;

  // ---- exercise merge: write from here ----
  var mx = MASKED;
  for (var s = 0u; s < params.num_splits; s++) {
    mx = max(mx, partLse[row * params.num_splits + s]);
  }
  var sum = 0.0;
  for (var s = 0u; s < params.num_splits; s++) {
    sum += exp2(partLse[row * params.num_splits + s] - mx);
  }
  let empty = mx <= MASKED;
  let lse2 = log2(sum) + mx;
  var factor = 1.0;
  if (params.has_sink != 0u) {
    factor = 1.0 / (1.0 + exp2(sink[h] * LOG2E - lse2));
  }
  for (var j = tid; j < dv4; j += WG) {
    var acc = vec4<f32>(0.0);
    for (var s = 0u; s < params.num_splits; s++) {
      let w = exp2(partLse[row * params.num_splits + s] - lse2);
      acc += w * partOut[(row * params.num_splits + s) * dv4 + j];
    }
    out[row * dv4 + j] = select(acc * factor, vec4<f32>(0.0), empty);
  }
  if (tid == 0u) {
    lse[(b * params.h_q + h) * params.s_q + i] = select(bitcast<u32>(lse2 * LN2), 0x7f800000u, empty);
  }
  // ---- exercise merge: to here ----
  if (tid == 0u) {
    var top = MASKED;
    for (var s = 0u; s < params.num_splits; s++) {
      top = max(top, partMax[row * params.num_splits + s]);
    }
    max_logits[row] = select(bitcast<u32>(top * LN2), 0xff800000u, top <= MASKED);
  }
}
