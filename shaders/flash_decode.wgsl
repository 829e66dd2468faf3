// flash_decode.wgsl: fused MLA decode with online softmax and split-KV.
//
// What it improves over naive.wgsl:
//  * One pass, no score matrix in memory: scores, softmax and P.V are fused
//    and the softmax is computed online, tile by tile (running max m, running
//    sum l, accumulator rescaled by exp2(m_old - m_new) when the max grows).
//  * The shared latent is read once per block of heads, not once per head:
//    a workgroup loads a tile of TILE_N keys into workgroup memory, decoding
//    f32 / bf16 / FP8 bytes there exactly once, and all HEADS_PER_WG heads of
//    the block reuse it. This reuse is what MLA's single KV head buys.
//  * Split-KV: with num_splits > 1 each workgroup takes one contiguous chunk
//    of the keys, so short batches still fill the GPU; it writes a partial
//    output (already divided by its own l) and its lse, and combine.wgsl
//    merges the chunks. With num_splits == 1 it writes the final out and lse.
//  * Base-2 softmax as FlashMLA does it: scores are scaled by
//    scale_log2 = scale * log2(e) and exponentiated with exp2; the lse is
//    converted back to a natural log on output.
//
// Geometry: grid (ceil(h_q / HEADS_PER_WG) * num_splits, s_q, batch); a
// workgroup has HEADS_PER_WG * THREADS_PER_HEAD threads. The THREADS_PER_HEAD
// lanes of a head each own ACC vec4 of its output row (lane + k *
// THREADS_PER_HEAD for k < ACC). In the score step all threads share the
// HEADS_PER_WG x TILE_N dot products, DOT_PARTS threads per dot. Every lane
// of a head keeps its own copy of that head's m and l, so the softmax step
// needs no extra barrier. Workgroup memory: TILE_N * D_QK * 4 bytes of keys
// + HEADS_PER_WG * TILE_N * DOT_PARTS * 4 bytes of partial scores; the host
// fits TILE_N to the device's limit.

override D_V: u32;
override HEADS_PER_WG: u32;
override TILE_N: u32;              // keys per tile
override DOT_PARTS: u32;           // threads sharing one score's dot product

const ACC: u32 = 4u;               // vec4 accumulators per thread: 16 output values
const MASKED: f32 = -3.0e38;       // score of a skipped key
const M_START: f32 = -1.0e30;      // running max start: finite, so exp2(m_old - m_new) is never NaN
const LN2: f32 = 0.6931471805599453;
const LOG2E: f32 = 1.4426950408889634;

override THREADS_PER_HEAD: u32 = (D_V / 4u + ACC - 1u) / ACC;
override WG_SIZE: u32 = HEADS_PER_WG * THREADS_PER_HEAD;

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;  // final out, or partial out per split
@group(0) @binding(3) var<storage, read_write> lse: array<u32>;        // f32 bits: final lse, or partial log2-lse per split
@group(0) @binding(4) var<storage, read> sink: array<f32>;

var<workgroup> keyTile: array<vec4<f32>, TILE_N * D_QK / 4u>;
var<workgroup> scoreParts: array<f32, HEADS_PER_WG * TILE_N * DOT_PARTS>;
var<workgroup> slotTile: array<i32, TILE_N>;

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
  let row = (b * params.s_q + i) * params.h_q + h;
  let dq4 = D_QK / 4u;
  let dv4 = D_V / 4u;

  // This split's chunk of the row's keys.
  let n = keyCount(b, i);
  let chunk = (n + params.num_splits - 1u) / params.num_splits;
  let start = min(split * chunk, n);
  let end = min(start + chunk, n);

  var m = M_START;
  var l = 0.0;
  var acc: array<vec4<f32>, ACC>;

  for (var t0 = start; t0 < end; t0 += TILE_N) {
    let tileLen = min(TILE_N, end - t0);

    // 1. Load and decode the tile once, all threads together.
    for (var nn = tid; nn < TILE_N; nn += WG_SIZE) {
      slotTile[nn] = select(-1, keySlot(b, i, t0 + nn), nn < tileLen);
    }
    workgroupBarrier();
    for (var e = tid; e < TILE_N * dq4; e += WG_SIZE) {
      let slot = slotTile[e / dq4];
      var v = vec4<f32>(0.0);
      if (slot >= 0) {
        v = loadKvQuad(u32(slot), e % dq4);
      }
      keyTile[e] = v;
    }
    workgroupBarrier();

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
  let empty = l == 0.0;                  // no valid key in this chunk
  let lse2 = m + log2(l);
  if (params.num_splits == 1u) {
    var factor = 1.0 / l;
    if (params.has_sink != 0u) {
      factor /= 1.0 + exp2(sink[h] * LOG2E - lse2);
    }
    for (var k = 0u; k < ACC; k++) {
      let j = lane + k * THREADS_PER_HEAD;
      if (j < dv4) {
        out[row * dv4 + j] = select(acc[k] * factor, vec4<f32>(0.0), empty);
      }
    }
    if (lane == 0u) {
      lse[(b * params.h_q + h) * params.s_q + i] = select(bitcast<u32>(lse2 * LN2), 0x7f800000u, empty);
    }
  } else {
    let part = row * params.num_splits + split;
    for (var k = 0u; k < ACC; k++) {
      let j = lane + k * THREADS_PER_HEAD;
      if (j < dv4) {
        out[part * dv4 + j] = select(acc[k] / l, vec4<f32>(0.0), empty);
      }
    }
    if (lane == 0u) {
      lse[part] = bitcast<u32>(select(lse2, MASKED, empty));
    }
  }
}
