// keys_sparse.wgsl: which cache slots a query row attends to, sparse decode.
//
// Row (b, i) attends to the topk cache slots listed in indices[b][i][:]
// (slot = block * PAGE_SIZE + offset, as FlashMLA's sparse kernels take
// them). An index that is negative or past the end of the cache is skipped;
// a row with no valid index gets out = 0 and lse = +inf.
// (The lines between the "---- exercise" markers are exercise 7's: src/exercises.)

@group(0) @binding(5) var<storage, read> indices: array<i32>;

fn keyCount(b: u32, i: u32) -> u32 {
  return params.topk;
}

// ---- exercise sparse-keys: write from here ----
fn keySlot(b: u32, i: u32, k: u32) -> i32 {
  let idx = indices[(b * params.s_q + i) * params.topk + k];
  if (idx < 0 || u32(idx) >= params.num_slots) {
    return -1;
  }
  return idx;
}
// ---- exercise sparse-keys: to here ----
