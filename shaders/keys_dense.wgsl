// keys_dense.wgsl: which cache slots a query row attends to, dense decode.
//
// Query token i of request b sees the first keyCount(b, i) tokens of its
// request (causal with s_q > 1: seqlen - s_q + i + 1; speculative / MTP tokens
// see one more key each). Token k lives in page block_table[b][k / PAGE_SIZE]
// at offset k % PAGE_SIZE: the block table is what makes the cache "paged".
// (The lines between the "---- exercise" markers are exercise 6's: src/exercises.)

@group(0) @binding(5) var<storage, read> seqlens: array<i32>;
@group(0) @binding(6) var<storage, read> block_table: array<i32>;

// ---- exercise paged-keys: write from here ----
fn keyCount(b: u32, i: u32) -> u32 {
  let len = seqlens[b];
  if (params.causal != 0u) {
    return u32(max(len - i32(params.s_q) + i32(i) + 1, 0));
  }
  return u32(max(len, 0));
}

// Cache slot of the k-th key of row (b, i), or -1 to skip it (never, when dense).
fn keySlot(b: u32, i: u32, k: u32) -> i32 {
  return block_table[b * params.max_blocks + k / PAGE_SIZE] * i32(PAGE_SIZE) + i32(k % PAGE_SIZE);
}
// ---- exercise paged-keys: to here ----
