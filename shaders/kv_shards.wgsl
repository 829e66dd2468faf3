// kv_shards.wgsl: which storage buffer holds each shard of the cache.
//
// This is the file for a cache in one buffer: every read goes to `kv`
// (binding 0, declared in kv_cache.wgsl), whatever the shard, and the
// compiler removes the call. A cache larger than one binding is cut into
// shards of whole pages (kv_cache.wgsl, SHARD_PAGES), each in its own
// buffer. WGSL has no array of buffers, so for N shards the host writes this
// file anew (src/kernels/kv-shards.ts, kvShardsSource): one `var` per shard,
// kv1 .. kv11 at the bindings src/gpu/bindings.ts names, and a switch:
//
//   @group(0) @binding(9) var<storage, read> kv1: array<vec4<u32>>;
//   fn kvVec(shard: u32, i: u32) -> vec4<u32> {
//     switch shard {
//       case 1u: { return kv1[i]; }
//       default: { return kv[i]; }
//     }
//   }
//
// The Kernel source view shows the file a run used.

// The vec4 at index i of shard `shard`.
const KV_SHARDED = false;
fn kvVec(shard: u32, i: u32) -> vec4<u32> {
  return kv[i];
}
