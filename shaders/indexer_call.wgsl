// indexer_call.wgsl: the per-pass uniform of the lightning indexer's two
// kernels (indexer_decode.wgsl, indexer_scores.wgsl), written once for both;
// the host fills it by these field names (src/indexer/indexer-run.ts).

struct IndexerCall {
  keys: u32,     // cached tokens (L)
  first: u32,    // the chunk's first token
  count: u32,    // tokens in the chunk
  queries: u32,  // query tokens (s_q), the last s_q of the L
  shard_first: u32, // the first page the bound shard holds
  shard_pages: u32, // pages it holds
}

@group(0) @binding(3) var<uniform> index_call: IndexerCall;
