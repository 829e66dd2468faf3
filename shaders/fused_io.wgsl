// fused_io.wgsl: the query and the results of every fused version (v2..v4),
// and how a result row is written, with or without split-KV.
//
// A fused version keeps, per (request b, query token i, head h), a running
// max m and sum l (log2 units: scores are scaled by scale * log2(e)) and an
// accumulator acc = sum_t exp2(s_t - m) * value_t. At the end:
//   one split:  out = acc / l (times the sink factor), lse = (m + log2 l) * ln 2
//   splits:     out = acc / l and lse = m + log2 l (log2 units) of this split's
//               chunk of keys, for combine.wgsl to merge
// A row (or chunk) with no valid key has l = 0: out = 0 and lse = +inf
// (a split writes MASKED, which combine.wgsl weighs as 0).
// Beside lse, max_logits: the row's largest scaled score, which FlashMLA's
// sparse prefill returns (tests/ref.py: P.max(-1), natural units; -inf for a
// row with no valid key). A version passes its largest score seen, `top`, in
// log2 units like m; it is not always m (v4 and v5 move m lazily).

override D_V: u32;

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;  // final out, or partial out per split
@group(0) @binding(3) var<storage, read_write> lse: array<u32>;        // f32 bits: final lse, or partial log2-lse per split
@group(0) @binding(4) var<storage, read> sink: array<f32>;
@group(0) @binding(20) var<storage, read_write> max_logits: array<u32>; // f32 bits: [b, s_q, h_q], or [row, split] partials

const MASKED: f32 = -3.0e38;       // score of a skipped key; lse of an empty split
const M_START: f32 = -1.0e30;      // running max start: finite, so exp2(m_old - m_new) is never NaN
const LN2: f32 = 0.6931471805599453;
const LOG2E: f32 = 1.4426950408889634;

// Row index of (b, i, h) in q and out.
fn rowOf(b: u32, i: u32, h: u32) -> u32 {
  return (b * params.s_q + i) * params.h_q + h;
}

// This split's chunk [x, y) of the n keys of a row.
fn splitChunk(n: u32, split: u32) -> vec2<u32> {
  let chunk = (n + params.num_splits - 1u) / params.num_splits;
  let start = min(split * chunk, n);
  return vec2<u32>(start, min(start + chunk, n));
}

// What acc is multiplied by on output: 1 / l, and with one split the sink factor.
fn outputFactor(h: u32, m: f32, l: f32) -> f32 {
  var factor = 1.0 / l;
  if (params.num_splits == 1u && params.has_sink != 0u) {
    factor /= 1.0 + exp2(sink[h] * LOG2E - (m + log2(l)));
  }
  return factor;
}

// Write output quad j of row (b, i, h) for this split: acc * factor, or 0 if l = 0.
fn writeOutQuad(b: u32, i: u32, h: u32, split: u32, j: u32, value: vec4<f32>, l: f32) {
  let row = rowOf(b, i, h);
  let at = select((row * params.num_splits + split) * (D_V / 4u), row * (D_V / 4u), params.num_splits == 1u);
  out[at + j] = select(value, vec4<f32>(0.0), l == 0.0);
}

// Write the lse of row (b, i, h) for this split.
fn writeLse(b: u32, i: u32, h: u32, split: u32, m: f32, l: f32) {
  let lse2 = m + log2(l);
  if (params.num_splits == 1u) {
    lse[(b * params.h_q + h) * params.s_q + i] = select(bitcast<u32>(lse2 * LN2), 0x7f800000u, l == 0.0);
  } else {
    lse[rowOf(b, i, h) * params.num_splits + split] = bitcast<u32>(select(lse2, MASKED, l == 0.0));
  }
}

// Write the largest score of row (b, i, h) for this split (top: log2 units).
//   one split:  max_logits[b, i, h] = top * ln 2, or -inf when l = 0
//   splits:     top of this split's chunk (MASKED when empty), for combine.wgsl
fn writeMaxLogits(b: u32, i: u32, h: u32, split: u32, top: f32, l: f32) {
  let row = rowOf(b, i, h);
  if (params.num_splits == 1u) {
    max_logits[row] = select(bitcast<u32>(top * LN2), 0xff800000u, l == 0.0);
  } else {
    max_logits[row * params.num_splits + split] = bitcast<u32>(select(top, MASKED, l == 0.0));
  }
}
