// layer_gemm.wgsl: the layer's matrix multiply, C = A op(B) (+ C), batched.
// Every projection of the MLA layer around the kernel is one of these:
// x wkv_a^T (the cache), wq_a and wq_b (the query), the latent times W_UK and
// W_UV (MHA mode's decompression), W_UK^T q_nope (MQA mode's absorption),
// W_UV out_lat, wo, and MHA mode's Q K^T and P V.
//
//   C[b][m, n] = sum_k A[b][m, k] * B[b](n, k)       m < M, n < N, k < K, b < batches
//   A[b][m, k]   = a[aOffset + b * aBatch + m * aRow + k]
//   B_KN == 0u:  B(n, k) = b[bOffset + b * bBatch + n * bRow + k]   (a Linear's weight [out, in])
//   B_KN == 1u:  B(n, k) = b[bOffset + b * bBatch + k * bRow + n]   (P V: V's rows are keys)
//   C[b][m, n] -> c[cOffset + b * cBatch + m * cRow + n], added to what is there when accumulate == 1u
//
// Register blocks, as in the ladder's v4 and plain_matmul.wgsl: a thread owns
// ROWS x 8 outputs (ROWS = 8 rows of A, or 1 for a decode step's single row)
// and walks K four values at a time. Per step it reads ROWS quads of A and 8
// quads of B and does 2 * ROWS matrix-vector products of 16 multiply-adds:
// with ROWS 8, 256 multiply-adds for 16 reads, the blocking that lets a
// product that reads its operands from storage approach the FMA rate. No
// workgroup memory and no barrier: on llvmpipe a workgroup-memory read costs
// about what a storage read does (docs/kernels.md, "What a read costs").
//
// Edges: rows past M and (B_KN == 0u) columns past N are read clamped to the
// last one and not written. K must be a multiple of 4 (the host pads: a
// padded P row and V row are zero); with B_KN == 1u, N a multiple of 8.
// Offsets, row strides and batch strides of A, and of B along k (B_KN 0u)
// or n (B_KN 1u), are multiples of 4: operands are read as vec4.
//
// Geometry: 64 threads a workgroup, one thread per block; blocks numbered
// column block fastest, over a 2-D grid (x, y) of workgroups so that a large
// product stays under maxComputeWorkgroupsPerDimension; z = the batch.

const WG: u32 = 64u;
override ROWS: u32;   // 8, or 1 for a single row
override B_KN: u32;   // 0: B stored [n][k]; 1: B stored [k][n]

struct Gemm {
  m: u32,
  n: u32,
  k: u32,
  accumulate: u32,  // 1: C += A op(B)
  a_offset: u32,
  a_row: u32,
  a_batch: u32,
  b_offset: u32,
  b_row: u32,
  b_batch: u32,
  c_offset: u32,
  c_row: u32,
  c_batch: u32,
}

@group(0) @binding(0) var<storage, read> mat_a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> mat_b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> mat_c: array<f32>;
@group(0) @binding(3) var<uniform> gemm: Gemm;

// Quad j (values 4j .. 4j + 3 along k) of row m of A, the row clamped into range.
fn aQuad(base: u32, m: u32, j: u32) -> vec4<f32> {
  return mat_a[(base + min(m, gemm.m - 1u) * gemm.a_row) / 4u + j];
}

// The 4 x 4 piece of op(B) for columns n .. n + 3 and k = 4j .. 4j + 3, as a
// matrix M with M * aQuad = the four columns' partial sums.
fn bPiece(base: u32, n: u32, j: u32) -> mat4x4<f32> {
  if (B_KN == 1u) {
    // Columns of M are rows k of B: M * a = sum_kk a[kk] * B[4j + kk][n .. n + 3].
    let at = (base + 4u * j * gemm.b_row + n) / 4u;
    let row = gemm.b_row / 4u;
    return mat4x4<f32>(mat_b[at], mat_b[at + row], mat_b[at + 2u * row], mat_b[at + 3u * row]);
  }
  // Rows of M are rows n .. n + 3 of B (clamped): M * a = their dot products with a.
  let last = gemm.n - 1u;
  return transpose(mat4x4<f32>(
    mat_b[(base + min(n, last) * gemm.b_row) / 4u + j],
    mat_b[(base + min(n + 1u, last) * gemm.b_row) / 4u + j],
    mat_b[(base + min(n + 2u, last) * gemm.b_row) / 4u + j],
    mat_b[(base + min(n + 3u, last) * gemm.b_row) / 4u + j]));
}

// Write (or add) the four values of columns n .. n + 3 of row m.
fn store(base: u32, m: u32, n: u32, v: vec4<f32>) {
  if (m >= gemm.m) {
    return;
  }
  for (var c = 0u; c < 4u; c++) {
    if (n + c < gemm.n) {
      let at = base + m * gemm.c_row + n + c;
      mat_c[at] = select(v[c], mat_c[at] + v[c], gemm.accumulate == 1u);
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let colBlocks = (gemm.n + 7u) / 8u;
  let rowBlocks = (gemm.m + ROWS - 1u) / ROWS;
  let block = (wid.y * groups.x + wid.x) * WG + lane;
  if (block >= colBlocks * rowBlocks) {
    return;
  }
  let n = block % colBlocks * 8u;
  let m = block / colBlocks * ROWS;
  let batch = wid.z;
  let aBase = gemm.a_offset + batch * gemm.a_batch;
  let bBase = gemm.b_offset + batch * gemm.b_batch;
  let cBase = gemm.c_offset + batch * gemm.c_batch;
  let quads = gemm.k / 4u;
  if (ROWS == 1u) {
    var c0 = vec4<f32>();
    var c1 = vec4<f32>();
    for (var j = 0u; j < quads; j++) {
      let a0 = aQuad(aBase, m, j);
      c0 += bPiece(bBase, n, j) * a0;
      c1 += bPiece(bBase, n + 4u, j) * a0;
    }
    store(cBase, m, n, c0);
    store(cBase, m, n + 4u, c1);
    return;
  }
  // sCR: columns n + 4C .., rows m + 4R ..; column r of a matrix = row m + 4R + r.
  var s00 = mat4x4<f32>(); var s01 = mat4x4<f32>();
  var s10 = mat4x4<f32>(); var s11 = mat4x4<f32>();
  for (var j = 0u; j < quads; j++) {
    let a0 = mat4x4<f32>(aQuad(aBase, m, j), aQuad(aBase, m + 1u, j), aQuad(aBase, m + 2u, j), aQuad(aBase, m + 3u, j));
    let a1 = mat4x4<f32>(aQuad(aBase, m + 4u, j), aQuad(aBase, m + 5u, j), aQuad(aBase, m + 6u, j), aQuad(aBase, m + 7u, j));
    let b0 = bPiece(bBase, n, j);
    let b1 = bPiece(bBase, n + 4u, j);
    s00 += b0 * a0; s01 += b0 * a1;
    s10 += b1 * a0; s11 += b1 * a1;
  }
  for (var r = 0u; r < 4u; r++) {
    store(cBase, m + r, n, s00[r]);
    store(cBase, m + 4u + r, n, s01[r]);
    store(cBase, m + r, n + 4u, s10[r]);
    store(cBase, m + 4u + r, n + 4u, s11[r]);
  }
}
