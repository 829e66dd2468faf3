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
  // Eight named vec4 chains, not an array: a private array indexed in a loop
  // lives in memory on some compilers (SwiftShader: 9x slower), and the
  // ceiling must be what registers can do.
  let seed = f32(gid.x & 7u) * 1.0e-3;
  var c0 = vec4<f32>(seed);
  var c1 = vec4<f32>(seed + 1.0);
  var c2 = vec4<f32>(seed + 2.0);
  var c3 = vec4<f32>(seed + 3.0);
  var c4 = vec4<f32>(seed + 4.0);
  var c5 = vec4<f32>(seed + 5.0);
  var c6 = vec4<f32>(seed + 6.0);
  var c7 = vec4<f32>(seed + 7.0);
  let a = vec4<f32>(0.999, 0.998, 0.997, 0.996);
  let b = vec4<f32>(1.0e-3);
  for (var s = 0u; s < FMA_STEPS; s++) {
    c0 = fma(c0, a, b);
    c1 = fma(c1, a, b);
    c2 = fma(c2, a, b);
    c3 = fma(c3, a, b);
    c4 = fma(c4, a, b);
    c5 = fma(c5, a, b);
    c6 = fma(c6, a, b);
    c7 = fma(c7, a, b);
  }
  dst[gid.x] = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7));
}

@compute @workgroup_size(1)
fn empty() {
}
