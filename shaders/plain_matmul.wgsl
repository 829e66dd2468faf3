// plain_matmul.wgsl: the score step of the tiled versions and nothing else,
// S = Q K^T, as a yardstick: how fast a plain matrix multiply of the
// decode's shape runs on this device when its operands come from storage
// buffers. It is not a version of the ladder and computes no attention.
//
// The FMA ceiling (roofline.wgsl) is what registers can do with nothing to
// read. A kernel must read its operands, and where a read costs dozens of
// multiply-adds (llvmpipe: docs/kernels.md, "What a read costs") even a
// matrix multiply with no softmax, no P V and no barrier stays far below
// that ceiling. This kernel measures how far, with v4's register blocks
// (the score step of a version is this product and more):
//   BLOCK 8:  8 heads x 8 keys per thread, four mat4x4 accumulators, 8 query
//             and 8 key quads read per step for 64 quad products (v4's S);
//   BLOCK 16: 16 x 16, sixteen mat4x4, 16 + 16 quads for 256 products: what
//             a block four times larger would buy, spills included;
//   BLOCK 32: 32 x 32, sixty-four mat4x4, 32 + 32 quads for 1024 products
//             (entry point scoresOnlyStrips): what the largest blocks buy
//             where registers are a CPU's stack (a GPU thread would spill).
// A step over one quad j of the head dim is matrix products, as in v4:
// s += transpose(K) * Q, column c of an accumulator = one head.
// scoresOnly writes its accumulators out by hand (8 and 16);
// scoresOnlyStrips builds the block of v4's strips (head_quads.wgsl, eight
// pieces wide in the 32 x 32 module) and computes any BLOCK. The host times
// scoresOnly for 8 and 16: passed as struct values, strips ran the 16 x 16
// form 5-20 % slower on SwiftShader (llvmpipe: the same), and a yardstick
// should be the fastest form known.
//
// QUERIES_TEXTURE = 1 reads the queries from queryTexture (one row a head,
// DQ4 texels a row: query_texture.wgsl's layout) instead of q, as version 4
// may (`--queries texture`): the keys stay in storage, as the cache does. A
// yardstick of every read the kernel can choose: on llvmpipe the 32 x 32
// form ran 1.4-1.7x faster so (a texel costs a seventh of a storage read),
// on SwiftShader about 8 %.
//
// KEYS_TEXTURE = 1 (with QUERIES_TEXTURE = 1: both operands texels) reads
// the keys from cacheTexture too (one row a key, DQ4 texels a row: the
// layout cache_texture.wgsl writes for a cache of KEYS slots), as version 4
// may (`--keys texture`).
//
// Geometry: one thread per block, 64 threads a workgroup, grid
// ceil((HEADS / BLOCK) * (KEYS / BLOCK) / 64) workgroups; HEADS and KEYS are
// multiples of BLOCK (the host picks them, src/timing/plain-matmul.ts).
// q: [HEADS][DQ4] quads (or queryTexture: DQ4 x HEADS texels), keys:
// [KEYS][DQ4] quads, scores: [HEADS][KEYS] f32.

const WG: u32 = 64u;
override BLOCK: u32;  // 8 or 16 (scoresOnly); 8, 16 or 32 (scoresOnlyStrips)
override HEADS: u32;
override KEYS: u32;
override DQ4: u32;    // quads per row (d_qk / 4)
override QUERIES_TEXTURE: u32 = 0u;
override KEYS_TEXTURE: u32 = 0u;

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read> keys: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> scores: array<f32>;
@group(0) @binding(22) var queryTexture: texture_2d<f32>; // [query texture]
@group(0) @binding(23) var cacheTexture: texture_2d<f32>; // [cache texture]

// Quad j of rows r .. r + 3 (of q or keys) as the columns of a matrix.
fn queryQuads(r: u32, j: u32) -> mat4x4<f32> {
  if (QUERIES_TEXTURE == 1u) { // [query texture]
    return mat4x4<f32>(queryTexel(r, j), queryTexel(r + 1u, j), queryTexel(r + 2u, j), queryTexel(r + 3u, j)); // [query texture]
  } // [query texture]
  return mat4x4<f32>(q[r * DQ4 + j], q[(r + 1u) * DQ4 + j], q[(r + 2u) * DQ4 + j], q[(r + 3u) * DQ4 + j]);
}
fn queryTexel(r: u32, j: u32) -> vec4<f32> { return textureLoad(queryTexture, vec2<u32>(j, r), 0); } // [query texture]
fn keyTexel(r: u32, j: u32) -> vec4<f32> { return textureLoad(cacheTexture, vec2<u32>(j, r), 0); } // [cache texture]
fn keyQuads(r: u32, j: u32) -> mat4x4<f32> {
  if (KEYS_TEXTURE == 1u) { // [cache texture]
    return mat4x4<f32>(keyTexel(r, j), keyTexel(r + 1u, j), keyTexel(r + 2u, j), keyTexel(r + 3u, j)); // [cache texture]
  } // [cache texture]
  return mat4x4<f32>(keys[r * DQ4 + j], keys[(r + 1u) * DQ4 + j], keys[(r + 2u) * DQ4 + j], keys[(r + 3u) * DQ4 + j]);
}

// Write a 4 keys x 4 heads piece (column c = head h + c, row r = key n + r).
fn store(h: u32, n: u32, s: mat4x4<f32>) {
  for (var c = 0u; c < 4u; c++) {
    for (var r = 0u; r < 4u; r++) {
      scores[(h + c) * KEYS + n + r] = s[c][r];
    }
  }
}

@compute @workgroup_size(WG)
fn scoresOnly(@builtin(global_invocation_id) gid: vec3<u32>) {
  let headBlocks = HEADS / BLOCK;
  if (gid.x >= headBlocks * (KEYS / BLOCK)) {
    return;
  }
  let h = gid.x % headBlocks * BLOCK;
  let n = gid.x / headBlocks * BLOCK;
  // sKH: keys n + 4K .. + 3, heads h + 4H .. + 3.
  var s00 = mat4x4<f32>(); var s01 = mat4x4<f32>(); var s10 = mat4x4<f32>(); var s11 = mat4x4<f32>();
  var s02 = mat4x4<f32>(); var s03 = mat4x4<f32>(); var s12 = mat4x4<f32>(); var s13 = mat4x4<f32>();
  var s20 = mat4x4<f32>(); var s21 = mat4x4<f32>(); var s22 = mat4x4<f32>(); var s23 = mat4x4<f32>();
  var s30 = mat4x4<f32>(); var s31 = mat4x4<f32>(); var s32 = mat4x4<f32>(); var s33 = mat4x4<f32>();
  for (var j = 0u; j < DQ4; j++) {
    let q0 = queryQuads(h, j);
    let q1 = queryQuads(h + 4u, j);
    let k0 = transpose(keyQuads(n, j));
    let k1 = transpose(keyQuads(n + 4u, j));
    s00 += k0 * q0; s01 += k0 * q1;
    s10 += k1 * q0; s11 += k1 * q1;
    // A constant once the pipeline is made: BLOCK 8 has no branch.
    if (BLOCK == 16u) {
      let q2 = queryQuads(h + 8u, j);
      let q3 = queryQuads(h + 12u, j);
      let k2 = transpose(keyQuads(n + 8u, j));
      let k3 = transpose(keyQuads(n + 12u, j));
      s02 += k0 * q2; s03 += k0 * q3;
      s12 += k1 * q2; s13 += k1 * q3;
      s20 += k2 * q0; s21 += k2 * q1; s22 += k2 * q2; s23 += k2 * q3;
      s30 += k3 * q0; s31 += k3 * q1; s32 += k3 * q2; s33 += k3 * q3;
    }
  }
  store(h, n, s00); store(h + 4u, n, s01);
  store(h, n + 4u, s10); store(h + 4u, n + 4u, s11);
  if (BLOCK == 16u) {
    store(h + 8u, n, s02); store(h + 12u, n, s03);
    store(h + 8u, n + 4u, s12); store(h + 12u, n + 4u, s13);
    store(h, n + 8u, s20); store(h + 4u, n + 8u, s21); store(h + 8u, n + 8u, s22); store(h + 12u, n + 8u, s23);
    store(h, n + 12u, s30); store(h + 4u, n + 12u, s31); store(h + 8u, n + 12u, s32); store(h + 12u, n + 12u, s33);
  }
}

// Quad j of heads h .. h + BLOCK - 1, four heads a piece.
fn queryStrip(h: u32, j: u32) -> HeadQuads {
  var x = HeadQuads();
  x.a = queryQuads(h, j);
  x.b = queryQuads(h + 4u, j);
  if (BLOCK >= 16u) {
    x.c = queryQuads(h + 8u, j);
    x.d = queryQuads(h + 12u, j);
  }
  if (BLOCK == 32u) {                  // [32 heads]
    x.e = queryQuads(h + 16u, j);      // [32 heads]
    x.f = queryQuads(h + 20u, j);      // [32 heads]
    x.g = queryQuads(h + 24u, j);      // [32 heads]
    x.h = queryQuads(h + 28u, j);      // [32 heads]
  }                                    // [32 heads]
  return x;
}

// Write strip s: keys n .. n + 3, heads h .. h + BLOCK - 1.
fn storeStrip(h: u32, n: u32, s: HeadQuads) {
  for (var k = 0u; k < BLOCK / 4u; k++) {
    store(h + 4u * k, n, piece(s, k));
  }
}

// The same product built of strips: strip sK holds keys n + 4K .. + 3 (rows)
// for every head of the block (columns).
@compute @workgroup_size(WG)
fn scoresOnlyStrips(@builtin(global_invocation_id) gid: vec3<u32>) {
  let headBlocks = HEADS / BLOCK;
  if (gid.x >= headBlocks * (KEYS / BLOCK)) {
    return;
  }
  let h = gid.x % headBlocks * BLOCK;
  let n = gid.x / headBlocks * BLOCK;
  let pieces = BLOCK / 4u;
  var s0 = HeadQuads(); var s1 = HeadQuads(); var s2 = HeadQuads(); var s3 = HeadQuads();
  var s4 = HeadQuads(); var s5 = HeadQuads(); var s6 = HeadQuads(); var s7 = HeadQuads();
  for (var j = 0u; j < DQ4; j++) {
    let x = queryStrip(h, j);
    s0 = addProduct(s0, transpose(keyQuads(n, j)), x, pieces);
    s1 = addProduct(s1, transpose(keyQuads(n + 4u, j)), x, pieces);
    // Constants once the pipeline is made: BLOCK 8 has no branch.
    if (BLOCK >= 16u) {
      s2 = addProduct(s2, transpose(keyQuads(n + 8u, j)), x, pieces);
      s3 = addProduct(s3, transpose(keyQuads(n + 12u, j)), x, pieces);
    }
    if (BLOCK == 32u) {
      s4 = addProduct(s4, transpose(keyQuads(n + 16u, j)), x, pieces);
      s5 = addProduct(s5, transpose(keyQuads(n + 20u, j)), x, pieces);
      s6 = addProduct(s6, transpose(keyQuads(n + 24u, j)), x, pieces);
      s7 = addProduct(s7, transpose(keyQuads(n + 28u, j)), x, pieces);
    }
  }
  storeStrip(h, n, s0);
  storeStrip(h, n + 4u, s1);
  if (BLOCK >= 16u) {
    storeStrip(h, n + 8u, s2);
    storeStrip(h, n + 12u, s3);
  }
  if (BLOCK == 32u) {
    storeStrip(h, n + 16u, s4);
    storeStrip(h, n + 20u, s5);
    storeStrip(h, n + 24u, s6);
    storeStrip(h, n + 28u, s7);
  }
}
