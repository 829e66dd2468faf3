// loop_probe.wgsl: how many loop iterations one shader invocation may run.
//
// Mesa's llvmpipe ends all the loops of a shader invocation, silently, once
// they have run 65535 iterations in all (a guard against endless loops,
// LP_MAX_TGSI_LOOP_ITERATIONS): a kernel whose thread walks a long row in
// one loop then returns a result computed on part of it. The host asks for
// more iterations than that and reads how many ran (src/gpu/loop-limit.ts);
// the split-KV planner keeps every invocation under the limit found
// (src/kernels/split-kv.ts). One invocation, one loop.

@group(0) @binding(0) var<storage, read_write> probeOut: array<u32>;
@group(0) @binding(1) var<storage, read> probeIn: array<u32>;

@compute @workgroup_size(1)
fn main() {
  var n = 0u;
  for (var i = 0u; i < probeIn[0]; i++) {
    n += 1u;
  }
  probeOut[0] = n;
}
