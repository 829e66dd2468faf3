// roofline.wgsl: the two ceilings every kernel result is measured against,
// on the same device in the same run.
//
// copyStream  streams `src` into `dst`, one vec4 per thread per step
//             (grid-stride loop): bytes moved / time = the bandwidth ceiling.
//             grid: (WORKGROUPS), 256 threads.
// fmaChain    FMA_CHAINS independent multiply-add chains of FMA_STEPS steps per
//             thread, in registers: 2 * 4 * chains * steps flops per thread
//             (vec4) / time = the compute ceiling. Which chain count is
//             fastest depends on the compiler (4 on SwiftShader, 8 on
//             llvmpipe, here), so the host times both and the ceiling is the
//             faster: no form of the same work may beat the ceiling. The
//             result is stored (and checked by test/roofline.test.ts) so the
//             compiler cannot drop the work. grid: (WORKGROUPS), 256 threads.
// readCost    what one vec4 read costs, in multiply-adds: READ_STEPS reads
//             per thread, each feeding one multiply-add (4 independent
//             chains), from workgroup memory (READ_FROM 0), a storage
//             buffer (1), a uniform buffer (2, `readWindow`: 16 KiB, the
//             smallest maxUniformBufferBindingSize a device may have) or an
//             rgba32float texture by textureLoad (3, `readTexture`).
//             Addresses differ from lane to lane, as a kernel's
//             do, within a 16 KiB window that caches hold: this times issuing
//             reads, not bandwidth. time per read x the FMA ceiling = how many
//             register multiply-adds one read costs (src/timing/read-cost.ts).
//             grid: (WORKGROUPS), 256 threads.
// empty       does nothing: timing it gives the fixed cost of one dispatch.

const WG: u32 = 256u;
const FMA_UNROLL: u32 = 4u;   // steps per loop trip (one line per chain below)
override FMA_CHAINS: u32;     // 4 or 8; the host measures both and keeps the faster
override FMA_STEPS: u32;      // a multiple of FMA_UNROLL; set by the host (src/timing/roofline.ts)

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
  // Named vec4 chains, not an array: a private array indexed in a loop lives
  // in memory on some compilers (SwiftShader: 9x slower), and the ceiling
  // must be what registers can do. Each line is FMA_UNROLL dependent steps of
  // one chain, so the loop's own counter and branch are a small share.
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
  for (var s = 0u; s < FMA_STEPS; s += FMA_UNROLL) {
    c0 = fma(fma(fma(fma(c0, a, b), a, b), a, b), a, b);
    c1 = fma(fma(fma(fma(c1, a, b), a, b), a, b), a, b);
    c2 = fma(fma(fma(fma(c2, a, b), a, b), a, b), a, b);
    c3 = fma(fma(fma(fma(c3, a, b), a, b), a, b), a, b);
    // A constant once the pipeline is made: the 4-chain form has no branch.
    if (FMA_CHAINS == 8u) {
      c4 = fma(fma(fma(fma(c4, a, b), a, b), a, b), a, b);
      c5 = fma(fma(fma(fma(c5, a, b), a, b), a, b), a, b);
      c6 = fma(fma(fma(fma(c6, a, b), a, b), a, b), a, b);
      c7 = fma(fma(fma(fma(c7, a, b), a, b), a, b), a, b);
    }
  }
  dst[gid.x] = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7));
}

override READ_FROM: u32;  // 0: workgroup memory, 1: the storage buffer `src`, 2: the uniform buffer `readWindow`, 3: the texture `readTexture`
override READ_STEPS: u32; // a multiple of 4; set by the host (src/timing/read-cost.ts)
const READ_WINDOW: u32 = 1024u;  // vec4 (16 KiB)
const READ_TEXTURE_WIDTH: u32 = 64u;  // texels a row of readTexture: READ_WINDOW of them in 16 rows
var<workgroup> readTile: array<vec4<f32>, READ_WINDOW>;
@group(0) @binding(2) var<uniform> readWindow: array<vec4<f32>, READ_WINDOW>;
@group(0) @binding(3) var readTexture: texture_2d<f32>;

// The vec4 read at step s by thread `lane`: a different one for every lane and step.
fn readAt(lane: u32, s: u32) -> vec4<f32> {
  let i = (lane * 7u + s * 13u) % READ_WINDOW;
  if (READ_FROM == 0u) {
    return readTile[i];
  }
  if (READ_FROM == 2u) {
    return readWindow[i];
  }
  if (READ_FROM == 3u) {
    return textureLoad(readTexture, vec2<u32>(i % READ_TEXTURE_WIDTH, i / READ_TEXTURE_WIDTH), 0);
  }
  return src[i];
}

@compute @workgroup_size(WG)
fn readCost(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  for (var i = lid; i < READ_WINDOW; i += WG) {
    readTile[i] = vec4<f32>(f32(i) * 1.0e-3);
  }
  workgroupBarrier();
  let a = vec4<f32>(0.5);
  var c0 = vec4<f32>(0.0);
  var c1 = vec4<f32>(0.0);
  var c2 = vec4<f32>(0.0);
  var c3 = vec4<f32>(0.0);
  for (var s = 0u; s < READ_STEPS; s += 4u) {
    c0 = fma(c0, a, readAt(lid, s));
    c1 = fma(c1, a, readAt(lid, s + 1u));
    c2 = fma(c2, a, readAt(lid, s + 2u));
    c3 = fma(c3, a, readAt(lid, s + 3u));
  }
  dst[gid.x] = (c0 + c1) + (c2 + c3);
}

@compute @workgroup_size(1)
fn empty() {
}
