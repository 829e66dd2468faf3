// topk.wgsl: the k best-scored tokens of each query token's row of indexer
// scores (indexer_scores.wgsl), written as FlashMLA's sparse indices:
// block_table[t / PAGE] * PAGE + t % PAGE for the chosen token t, -1 after
// the last when fewer than k tokens are visible. Rows are `stride` apart: the
// columns past k are left to other indices (MODEL1's extra cache).
//
// An exact radix select, one workgroup per row. A score becomes a u32 whose
// order is the floats' order (flip the sign bit of a positive, every bit of a
// negative); three passes histogram the visible tokens by 11, 11 and 10 bits
// of it (the bins in workgroup memory), each pass narrowing to the bin that
// holds the k-th largest, until the k-th largest value T is known exactly,
// with `need`, how many of the chosen equal T. A last pass writes every token
// above T and the first `need` tokens equal to T that claim a place (ties at
// the boundary: any of the tied tokens, which all score T).
//
// Geometry: 256 threads a workgroup, a workgroup per query token (grid x = s_q);
// each thread walks the row with stride 256 (4 walks of the row in all).
// (The lines between the "---- exercise" markers are exercise 12's: src/exercises.)

const WG: u32 = 256u;
const BINS: u32 = 2048u;
override PAGE: u32; // tokens per page of the attention cache (FlashMLA's block_size)

struct TopkCall {
  keys: u32,     // cached tokens (L): the row length
  queries: u32,  // s_q: query token i sees tokens 0 .. keys - queries + i
  k: u32,        // indices per row (topk)
  stride: u32,   // entries from one row of `indices` to the next (k, or more when other indices follow: MODEL1's extra cache)
}

@group(0) @binding(7) var<storage, read> index_scores: array<f32>;
@group(0) @binding(6) var<storage, read> block_table: array<i32>;
@group(0) @binding(5) var<storage, read_write> indices: array<i32>;
@group(0) @binding(3) var<uniform> topk_call: TopkCall;

var<workgroup> bins: array<atomic<u32>, BINS>;
var<workgroup> found: vec2<u32>; // (prefix of T so far, how many still to choose at or below it)
var<workgroup> above: atomic<u32>;
var<workgroup> tied: atomic<u32>;

// The float's bits as a u32 whose order is the floats' order.
fn orderKey(x: f32) -> u32 {
  // ---- exercise order-key: write from here ----
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
  // ---- exercise order-key: to here ----
}

fn slotOf(t: u32) -> i32 {
  return block_table[t / PAGE] * i32(PAGE) + i32(t % PAGE);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let i = wid.x;
  let visible = topk_call.keys - topk_call.queries + i + 1u;
  let k = min(topk_call.k, visible);
  let row = i * topk_call.keys;
  var shifts = array<u32, 3>(21u, 10u, 0u);
  var digits = array<u32, 3>(2047u, 2047u, 1023u);    // 11, 11, 10 bits
  var known = array<u32, 3>(0u, 0xffe00000u, 0xfffffc00u); // the bits fixed before each pass
  if (lane == 0u) {
    found = vec2<u32>(0u, k);
  }
  for (var p = 0u; p < 3u; p++) {
    for (var b = lane; b < BINS; b += WG) {
      atomicStore(&bins[b], 0u);
    }
    workgroupBarrier();
    let prefix = found.x;
    for (var t = lane; t < visible; t += WG) {
      let u = orderKey(index_scores[row + t]);
      if ((u & known[p]) == prefix) {
        atomicAdd(&bins[(u >> shifts[p]) & digits[p]], 1u);
      }
    }
    workgroupBarrier();
    if (lane == 0u) {
      // From the top bin down, until the bins passed hold fewer than `remaining` and this one completes it.
      var remaining = found.y;
      var b = digits[p];
      loop {
        let c = atomicLoad(&bins[b]);
        if (c >= remaining || b == 0u) {
          break;
        }
        remaining -= c;
        b -= 1u;
      }
      found = vec2<u32>(prefix | (b << shifts[p]), remaining);
    }
    workgroupBarrier();
  }
  let threshold = found.x;
  let need = found.y;         // tokens equal to T to choose
  let over = k - need;        // tokens above T: all chosen
  for (var t = lane; t < visible; t += WG) {
    let u = orderKey(index_scores[row + t]);
    if (u > threshold) {
      indices[i * topk_call.stride + atomicAdd(&above, 1u)] = slotOf(t);
    } else if (u == threshold) {
      let n = atomicAdd(&tied, 1u);
      if (n < need) {
        indices[i * topk_call.stride + over + n] = slotOf(t);
      }
    }
  }
  for (var j = k + lane; j < topk_call.k; j += WG) {
    indices[i * topk_call.stride + j] = -1;
  }
}
