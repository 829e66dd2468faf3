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
// (the score step of a version is this product and more), built of the same
// strips (head_quads.wgsl), BLOCK heads x BLOCK keys per thread:
//   BLOCK 8:  8 heads x 8 keys, 8 query and 8 key quads read per step for
//             64 quad products (v4's S on a GPU);
//   BLOCK 16: 16 x 16, 16 + 16 quads for 256 products;
//   BLOCK 32: 32 x 32, 32 + 32 quads for 1024 products (sixty-four mat4x4:
//             what the largest blocks buy where registers are the CPU's
//             stack, spills included; a GPU thread would spill it).
// A step over one quad j of the head dim is matrix products, as in v4:
// s += transpose(K) * Q, column c of a piece = one head. Strip sK holds keys
// n + 4K .. + 3 (rows) for every head of the block.
//
// Geometry: one thread per block, 64 threads a workgroup, grid
// ceil((HEADS / BLOCK) * (KEYS / BLOCK) / 64) workgroups; HEADS and KEYS are
// multiples of BLOCK (the host picks them, src/timing/plain-matmul.ts).
// q: [HEADS][DQ4] quads, keys: [KEYS][DQ4] quads, scores: [HEADS][KEYS] f32.

const WG: u32 = 64u;
override BLOCK: u32;  // 8, 16 or 32
override HEADS: u32;
override KEYS: u32;
override DQ4: u32;    // quads per row (d_qk / 4)

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read> keys: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> scores: array<f32>;

// Quad j of rows r .. r + 3 (of q or keys) as the columns of a matrix.
fn queryQuads(r: u32, j: u32) -> mat4x4<f32> {
  return mat4x4<f32>(q[r * DQ4 + j], q[(r + 1u) * DQ4 + j], q[(r + 2u) * DQ4 + j], q[(r + 3u) * DQ4 + j]);
}
fn keyQuads(r: u32, j: u32) -> mat4x4<f32> {
  return mat4x4<f32>(keys[r * DQ4 + j], keys[(r + 1u) * DQ4 + j], keys[(r + 2u) * DQ4 + j], keys[(r + 3u) * DQ4 + j]);
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
  if (BLOCK == 32u) {
    x.e = queryQuads(h + 16u, j);
    x.f = queryQuads(h + 20u, j);
    x.g = queryQuads(h + 24u, j);
    x.h = queryQuads(h + 28u, j);
  }
  return x;
}

// Write a 4 keys x 4 heads piece (column c = head h + c, row r = key n + r).
fn store(h: u32, n: u32, s: mat4x4<f32>) {
  for (var c = 0u; c < 4u; c++) {
    for (var r = 0u; r < 4u; r++) {
      scores[(h + c) * KEYS + n + r] = s[c][r];
    }
  }
}

// Write strip s: keys n .. n + 3, heads h .. h + BLOCK - 1.
fn storeStrip(h: u32, n: u32, s: HeadQuads) {
  for (var k = 0u; k < BLOCK / 4u; k++) {
    store(h + 4u * k, n, piece(s, k));
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
