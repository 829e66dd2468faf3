// params.wgsl: the per-call sizes, read at run time from a uniform buffer.
//
// Two kinds of input specialise a kernel. What shapes the code itself (head
// dims, cache layout, tile sizes, workgroup size) is an `override` constant,
// fixed when the pipeline is created. What only changes from call to call
// (heads, query tokens, splits, the softmax scale...) lives here, so a new
// seqlen or batch reuses the compiled pipeline. The host fills this struct
// by field name (src/kernels/call-params.ts reads the names from this file).

struct Params {
  h_q: u32,          // query heads
  s_q: u32,          // query tokens per request
  causal: u32,       // 1: query token i sees seqlen - s_q + i + 1 keys
  max_blocks: u32,   // row width of the block table
  topk: u32,         // sparse: indices per query row
  num_slots: u32,    // pages in the cache * page size
  max_keys: u32,     // naive: width of the score matrix
  num_splits: u32,   // flash: KV splits per row
  has_sink: u32,     // 1: scale out by 1 / (1 + exp(sink_h - lse))
  scale: f32,        // softmax scale
  scale_log2: f32,   // softmax scale * log2(e), for exp2
  prob_width: u32,   // v6: quads of keys a row of its score matrix's texture holds (v6_layout.wgsl)
  prob_bands: u32,   // v6: texture rows a matrix row takes (its quads / prob_width, rounded up)
}

@group(0) @binding(8) var<uniform> params: Params;
