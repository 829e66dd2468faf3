// layer_rows.wgsl: the layer's row-by-row steps between its matrix multiplies
// (layer_gemm.wgsl), one workgroup of 64 threads per row:
//
//   rmsNorm      row = row * norm_weight / sqrt(mean(row^2) + eps)      (kv_norm, q_norm)
//   ropeInPlace  rotate the row's pairs (x[2j], x[2j+1]) by the angle of its position
//   ropeFrom     the same, reading the row from rope_in (another buffer)
//   copyFrom     copy the row from rope_in unrotated ([q_lat ; q_pe] put together)
//   softmaxRows  MHA mode's scores -> probabilities: scale, mask, softmax; masked keys and
//                the padding past the last key get 0, so P V can read whole quads
//
// A row is `width` values at rows[out_offset + r * out_stride] (and, for the
// copies, rope_in[in_offset + r * in_stride]). RoPE's angles come from a table
// of (cos, sin) per (position, pair), computed in f64 on the host
// (src/layer/rope.ts): an angle pos * f in f32 would be off by far too much
// at long positions. Row r sits at position pos_first + r / rows_per_pos (a
// row per head of a token shares its token's position).
//
// Softmax rows are MHA mode's score matrix [heads][s_q][keys_padded]: row
// r = (head, i), i = r % queries, sees key t when t < keys - queries + i + 1
// (causal), or when key_mask[i * keys + t] == 1 (sparse: the keys the
// indices chose), and is scaled by `scale` first.
//
// Geometry: a workgroup per row, on a 2-D grid (x, y) like layer_gemm.wgsl.

const WG: u32 = 64u;

struct RowOp {
  rows: u32,
  width: u32,        // values per row (rope: pairs * 2; softmax: the keys, unpadded)
  in_offset: u32,
  in_stride: u32,
  out_offset: u32,
  out_stride: u32,   // softmax: the padded row width
  pos_first: u32,
  rows_per_pos: u32,
  queries: u32,      // softmax: s_q
  causal: u32,       // softmax: 1 causal, 0 every key (with key_mask when masked == 1)
  masked: u32,       // softmax: 1 when key_mask says which keys each query sees
  eps: f32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read_write> rows: array<f32>;
@group(0) @binding(1) var<storage, read> norm_weight: array<f32>;
@group(0) @binding(4) var<storage, read> rope_in: array<f32>;
@group(0) @binding(5) var<storage, read> key_mask: array<u32>;
@group(0) @binding(2) var<storage, read> rope_table: array<vec2<f32>>;
@group(0) @binding(3) var<uniform> row_op: RowOp;

var<workgroup> partial: array<f32, WG>;

fn rowIndex(wid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return wid.y * groups.x + wid.x;
}

// Sum (or max) of one value per thread, across the workgroup.
fn reduceSum(v: f32, lane: u32) -> f32 {
  partial[lane] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partial[lane] += partial[lane + half];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

fn reduceMax(v: f32, lane: u32) -> f32 {
  partial[lane] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partial[lane] = max(partial[lane], partial[lane + half]);
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn rmsNorm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = rowIndex(wid, groups);
  if (r >= row_op.rows) {
    return; // the whole workgroup leaves together: no barrier is skipped by part of it
  }
  let base = row_op.out_offset + r * row_op.out_stride;
  var ss = 0.0;
  for (var c = lane; c < row_op.width; c += WG) {
    ss += rows[base + c] * rows[base + c];
  }
  let inv = inverseSqrt(reduceSum(ss, lane) / f32(row_op.width) + row_op.eps);
  for (var c = lane; c < row_op.width; c += WG) {
    rows[base + c] = rows[base + c] * inv * norm_weight[c];
  }
}

fn rotated(x: vec2<f32>, r: u32, j: u32) -> vec2<f32> {
  let pos = row_op.pos_first + r / row_op.rows_per_pos;
  let cs = rope_table[pos * (row_op.width / 2u) + j];
  return vec2<f32>(x.x * cs.x - x.y * cs.y, x.x * cs.y + x.y * cs.x);
}

@compute @workgroup_size(WG)
fn ropeInPlace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = rowIndex(wid, groups);
  if (r >= row_op.rows) {
    return;
  }
  let base = row_op.out_offset + r * row_op.out_stride;
  for (var j = lane; j < row_op.width / 2u; j += WG) {
    let y = rotated(vec2<f32>(rows[base + 2u * j], rows[base + 2u * j + 1u]), r, j);
    rows[base + 2u * j] = y.x;
    rows[base + 2u * j + 1u] = y.y;
  }
}

@compute @workgroup_size(WG)
fn ropeFrom(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = rowIndex(wid, groups);
  if (r >= row_op.rows) {
    return;
  }
  let src = row_op.in_offset + r * row_op.in_stride;
  let dst = row_op.out_offset + r * row_op.out_stride;
  for (var j = lane; j < row_op.width / 2u; j += WG) {
    let y = rotated(vec2<f32>(rope_in[src + 2u * j], rope_in[src + 2u * j + 1u]), r, j);
    rows[dst + 2u * j] = y.x;
    rows[dst + 2u * j + 1u] = y.y;
  }
}

@compute @workgroup_size(WG)
fn copyFrom(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = rowIndex(wid, groups);
  if (r >= row_op.rows) {
    return;
  }
  for (var c = lane; c < row_op.width; c += WG) {
    rows[row_op.out_offset + r * row_op.out_stride + c] = rope_in[row_op.in_offset + r * row_op.in_stride + c];
  }
}

fn sees(i: u32, t: u32) -> bool {
  if (row_op.masked == 1u) {
    return key_mask[i * row_op.width + t] == 1u;
  }
  return row_op.causal == 0u || t < row_op.width - row_op.queries + i + 1u;
}

@compute @workgroup_size(WG)
fn softmaxRows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = rowIndex(wid, groups);
  if (r >= row_op.rows) {
    return;
  }
  let i = r % row_op.queries;
  let base = row_op.out_offset + r * row_op.out_stride;
  var m = -1e30; // finite: an all-masked row never computes -inf - (-inf)
  for (var t = lane; t < row_op.width; t += WG) {
    if (sees(i, t)) {
      m = max(m, row_op.scale * rows[base + t]);
    }
  }
  m = reduceMax(m, lane);
  var sum = 0.0;
  for (var t = lane; t < row_op.width; t += WG) {
    if (sees(i, t)) {
      sum += exp(row_op.scale * rows[base + t] - m);
    }
  }
  sum = reduceSum(sum, lane);
  let inv = select(0.0, 1.0 / sum, sum > 0.0); // no key seen: the row is 0, as FlashMLA's out
  for (var t = lane; t < row_op.out_stride; t += WG) {
    var p = 0.0;
    if (t < row_op.width && sees(i, t)) {
      p = exp(row_op.scale * rows[base + t] - m) * inv;
    }
    rows[base + t] = p;
  }
}
