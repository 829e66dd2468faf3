// v6_softmax.wgsl: version 6, "matmuls", pass 2 of 3: the softmax between
// the two products, over the score matrix v6_scores.wgsl wrote.
//
// Computes, for one matrix row r = (b, i, h) and one split's chunk of its
// keys (quadChunk, v6_layout.wgsl: whole quads):
//   m = max(M_START, the chunk's scores)   (log2 units, as written)
//   P = exp2(S - m), written over S        (0 for a MASKED key)
//   l = sum of P
// and rowStats[r * num_splits + split] = (m, l, first quad, end quad) for
// v6_values.wgsl, which divides by l and writes lse and max_logits (m is the
// chunk's exact maximum: no lazy rescale is needed when the maximum is known
// before any probability is taken). A chunk with no key read keeps m =
// M_START and l = 0: out 0, lse +inf, as in the fused versions.
// One thread walks its chunk twice, with no barrier and no workgroup memory:
// a tree reduction's barriers cost more than the walk on a CPU emulating a
// GPU (a GPU would rather share a row between threads; not measured here).
// Geometry: grid (ceil(rows * num_splits / SOFTMAX_WG), 1, 1), SOFTMAX_WG
// threads; thread t takes row t / num_splits, split t % num_splits (rows =
// batch x s_q x h_q: the length of rowStats / num_splits). On a CPU a
// workgroup runs on one core, so the host asks for a few threads a
// workgroup there: with 64, a call of 64 rows and one split was one
// workgroup on one core (llvmpipe, V3.2 FP8, h_q 64, 4096 keys, S 32x32 /
// O 8x64: 0.76 ms; 0.43 with 8 threads, scripts/pass-times.ts).

override SOFTMAX_WG: u32 = 64u; // threads a workgroup (the host's: a few on a CPU, as the P V pass's)
const M_START: f32 = -1.0e30; // fused_io.wgsl's running-max start: finite, so exp2(MASKED - m) is 0, not NaN

@group(0) @binding(7) var<storage, read_write> scores: array<vec4<f32>>;    // S in, P out (v6_layout.wgsl)
@group(0) @binding(27) var<storage, read_write> rowStats: array<vec4<f32>>; // [row][split]: m, l, first quad, end quad

@compute @workgroup_size(SOFTMAX_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= arrayLength(&rowStats)) {
    return;
  }
  let split = t % params.num_splits;
  let r = t / params.num_splits;
  let bi = r / params.h_q;
  let quads = quadChunk(keyCount(bi / params.s_q, bi % params.s_q), split);
  var m = M_START;
  for (var kq = quads.x; kq < quads.y; kq++) {
    let s = scores[probIndex(r, kq)];
    m = max(m, max(max(s.x, s.y), max(s.z, s.w)));
  }
  var sum = vec4<f32>(0.0);
  for (var kq = quads.x; kq < quads.y; kq++) {
    let at = probIndex(r, kq);
    let p = exp2(scores[at] - m);
    scores[at] = p;
    sum += p;
  }
  rowStats[t] = vec4<f32>(m, (sum.x + sum.y) + (sum.z + sum.w), bitcast<f32>(quads.x), bitcast<f32>(quads.y));
}
