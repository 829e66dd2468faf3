// roofline.wgsl: the two ceilings every kernel result is measured against,
// on the same device in the same run.
//
// copyStream  streams `src` into `dst`, one vec4 per thread per step
//             (grid-stride loop): bytes moved / time = the bandwidth ceiling.
//             grid: (WORKGROUPS), 256 threads.
// fmaChain    FMA_CHAINS independent multiply-add chains of FMA_STEPS steps per
//             thread, in registers: 2 * 4 * chains * steps flops per thread
//             (vec4) / time = the compute ceiling. The result is stored so the
//             compiler cannot drop the work. grid: (WORKGROUPS), 256 threads.
// empty       does nothing: timing it gives the fixed cost of one dispatch.

const WG: u32 = 256u;
const FMA_CHAINS: u32 = 8u;
override FMA_STEPS: u32;   // set by the host (src/timing/roofline.ts)

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn copyStream(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = arrayLength(&src);
  for (var i = gid.x; i < n; i += groups.x * WG) {
    dst[i] = src[i];
  }
}

@compute @workgroup_size(WG)
fn fmaChain(@builtin(global_invocation_id) gid: vec3<u32>) {
  let seed = f32(gid.x & 7u) * 1.0e-3;
  var acc: array<vec4<f32>, FMA_CHAINS>;
  for (var c = 0u; c < FMA_CHAINS; c++) {
    acc[c] = vec4<f32>(seed + f32(c));
  }
  let a = vec4<f32>(0.999, 0.998, 0.997, 0.996);
  let b = vec4<f32>(1.0e-3);
  for (var s = 0u; s < FMA_STEPS; s++) {
    for (var c = 0u; c < FMA_CHAINS; c++) {
      acc[c] = fma(acc[c], a, b);
    }
  }
  var total = vec4<f32>(0.0);
  for (var c = 0u; c < FMA_CHAINS; c++) {
    total += acc[c];
  }
  dst[gid.x] = total;
}

@compute @workgroup_size(1)
fn empty() {
}
