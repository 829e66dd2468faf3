// indexer_decode.wgsl: the lightning indexer's keys, FP8 in their paged cache,
// decoded to f32 for a chunk of tokens: what indexer_scores.wgsl multiplies.
//
//   index_keys[n][d]  = E4M3 code d of token first + n        (unscaled: the scale is applied last)
//   index_scales[n]   = its f32 scale
//
// The cache (src/indexer/indexer-shape.ts): a page of PAGE tokens holds all
// their 128 codes (32 words each), then all their scales (one word each), so
// page p starts at word p * PAGE * 33; token t's page comes from the block table.
// A cache past one binding is uploaded in shards of whole pages: one pass per
// shard, each decoding the tokens whose page it holds.
//
// Geometry: one thread per token, 64 a workgroup, on a 2-D grid (x, y).
// Decoding once per chunk, not in the scoring loop, keeps that loop a plain
// register-blocked matrix multiply (each key is read by 8 head groups).
// Its uniform, IndexerCall, is in indexer_call.wgsl.

const WG: u32 = 64u;
const KEY_WORDS: u32 = 32u; // 128 codes, 4 a word
override PAGE: u32;         // tokens per page of the indexer cache


@group(0) @binding(0) var<storage, read> index_cache: array<u32>;
@group(0) @binding(6) var<storage, read> block_table: array<i32>;
@group(0) @binding(1) var<storage, read_write> index_keys: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> index_scales: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let n = (wid.y * groups.x + wid.x) * WG + lane;
  if (n >= index_call.count) {
    return;
  }
  let t = index_call.first + n;
  let page = u32(block_table[t / PAGE]);
  if (page < index_call.shard_first || page >= index_call.shard_first + index_call.shard_pages) {
    return; // another shard's token
  }
  let off = t % PAGE;
  let base = (page - index_call.shard_first) * PAGE * (KEY_WORDS + 1u);
  for (var w = 0u; w < KEY_WORDS; w++) {
    index_keys[n * KEY_WORDS + w] = decodeE4m3x4(index_cache[base + off * KEY_WORDS + w]);
  }
  index_scales[n] = bitcast<f32>(index_cache[base + PAGE * KEY_WORDS + off]);
}
