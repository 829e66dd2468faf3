// indexer_scores.wgsl: the lightning indexer's score of every cached token for
// each query token, over a chunk of decoded keys (indexer_decode.wgsl):
//
//   I[i, t] = k_scale[t] * sum over heads j of (w[i, j] q_scale[i, j]) * ReLU(q[i, j] . k[t])
//
// q[i, j] are the FP8 codes' values (unscaled, exact in f32), w * q_scale one
// weight per (query token, head), both from the host. Query token i sits at
// position keys - queries + i and sees tokens 0 .. that position: a token past
// it scores -inf (causal), so top-k never picks it.
//
// Register blocks, as plain_matmul.wgsl (the yardstick): a thread owns BLOCK
// tokens and walks the 64 heads BLOCK at a time; per step of 4 dims it reads
// BLOCK quads of q and BLOCK of k and does (BLOCK / 4)^2 products of 4 x 4
// matrices (BLOCK 16: 1024 multiply-adds for 32 reads). After a head group's
// 128 dims, ReLU, the head weights and the sum over heads go into the
// thread's BLOCK running scores.
//
// Geometry: 64 threads a workgroup, 64 BLOCK tokens each; grid x = the
// chunk's tokens / (64 BLOCK), y = the query token.

const WG: u32 = 64u;
const DIM_QUADS: u32 = 32u; // 128 dims
override HEADS: u32;        // 64
override BLOCK: u32;        // 8 or 16: tokens a thread owns, heads it takes at a time
// The per-pass uniform, IndexerCall (index_call), is in indexer_call.wgsl.

@group(0) @binding(1) var<storage, read> index_keys: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> index_scales: array<f32>;
@group(0) @binding(4) var<storage, read> index_q: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> index_weights: array<f32>;
@group(0) @binding(7) var<storage, read_write> index_scores: array<f32>;

// Quad j of chunk token n (clamped into the chunk: the extra tokens are not written).
fn keyQuad(n: u32, j: u32) -> vec4<f32> {
  return index_keys[min(n, index_call.count - 1u) * DIM_QUADS + j];
}

// Rows of the piece = tokens n .. n + 3: piece * q = their dot products with q.
fn keyPiece(n: u32, j: u32) -> mat4x4<f32> {
  return transpose(mat4x4<f32>(keyQuad(n, j), keyQuad(n + 1u, j), keyQuad(n + 2u, j), keyQuad(n + 3u, j)));
}

// Columns = heads h .. h + 3 of query token i.
fn qPiece(i: u32, h: u32, j: u32) -> mat4x4<f32> {
  let at = (i * HEADS + h) * DIM_QUADS + j;
  return mat4x4<f32>(index_q[at], index_q[at + DIM_QUADS], index_q[at + 2u * DIM_QUADS], index_q[at + 3u * DIM_QUADS]);
}

// w * ReLU(dots): one head's contribution to four tokens' scores.
fn weighed(i: u32, h: u32, dots: vec4<f32>) -> vec4<f32> {
  return index_weights[i * HEADS + h] * max(dots, vec4<f32>());
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let n = (wid.x * WG + lane) * BLOCK;
  let i = wid.y;
  if (n >= index_call.count) {
    return;
  }
  // tK: the scores of tokens n + 4K .. n + 4K + 3.
  var t0 = vec4<f32>(); var t1 = vec4<f32>(); var t2 = vec4<f32>(); var t3 = vec4<f32>();
  for (var g = 0u; g < HEADS; g += BLOCK) {
    // sKH: tokens n + 4K .., heads g + 4H ..; column c of sKH = head g + 4H + c.
    var s00 = mat4x4<f32>(); var s01 = mat4x4<f32>(); var s10 = mat4x4<f32>(); var s11 = mat4x4<f32>();
    var s02 = mat4x4<f32>(); var s03 = mat4x4<f32>(); var s12 = mat4x4<f32>(); var s13 = mat4x4<f32>();
    var s20 = mat4x4<f32>(); var s21 = mat4x4<f32>(); var s22 = mat4x4<f32>(); var s23 = mat4x4<f32>();
    var s30 = mat4x4<f32>(); var s31 = mat4x4<f32>(); var s32 = mat4x4<f32>(); var s33 = mat4x4<f32>();
    for (var j = 0u; j < DIM_QUADS; j++) {
      let q0 = qPiece(i, g, j);
      let q1 = qPiece(i, g + 4u, j);
      let k0 = keyPiece(n, j);
      let k1 = keyPiece(n + 4u, j);
      s00 += k0 * q0; s01 += k0 * q1;
      s10 += k1 * q0; s11 += k1 * q1;
      // A constant once the pipeline is made: BLOCK 8 has no branch.
      if (BLOCK == 16u) {
        let q2 = qPiece(i, g + 8u, j);
        let q3 = qPiece(i, g + 12u, j);
        let k2 = keyPiece(n + 8u, j);
        let k3 = keyPiece(n + 12u, j);
        s02 += k0 * q2; s03 += k0 * q3;
        s12 += k1 * q2; s13 += k1 * q3;
        s20 += k2 * q0; s21 += k2 * q1; s22 += k2 * q2; s23 += k2 * q3;
        s30 += k3 * q0; s31 += k3 * q1; s32 += k3 * q2; s33 += k3 * q3;
      }
    }
    for (var c = 0u; c < 4u; c++) {
      t0 += weighed(i, g + c, s00[c]) + weighed(i, g + 4u + c, s01[c]);
      t1 += weighed(i, g + c, s10[c]) + weighed(i, g + 4u + c, s11[c]);
      if (BLOCK == 16u) {
        t0 += weighed(i, g + 8u + c, s02[c]) + weighed(i, g + 12u + c, s03[c]);
        t1 += weighed(i, g + 8u + c, s12[c]) + weighed(i, g + 12u + c, s13[c]);
        t2 += weighed(i, g + c, s20[c]) + weighed(i, g + 4u + c, s21[c]) + weighed(i, g + 8u + c, s22[c]) + weighed(i, g + 12u + c, s23[c]);
        t3 += weighed(i, g + c, s30[c]) + weighed(i, g + 4u + c, s31[c]) + weighed(i, g + 8u + c, s32[c]) + weighed(i, g + 12u + c, s33[c]);
      }
    }
  }
  let last = index_call.keys - index_call.queries + i; // the query's own position
  let scores = array<vec4<f32>, 4>(t0, t1, t2, t3);
  var negInf = 0xff800000u; // a var: bitcast of a constant -inf is a compile error
  for (var r = 0u; r < BLOCK; r++) {
    if (n + r < index_call.count) {
      let t = index_call.first + n + r;
      var s = scores[r / 4u][r % 4u] * index_scales[n + r];
      if (t > last) {
        s = bitcast<f32>(negInf); // -inf: not visible to this query token
      }
      index_scores[i * index_call.keys + t] = s;
    }
  }
}
