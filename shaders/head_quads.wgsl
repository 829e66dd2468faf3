// head_quads.wgsl: the strip every register block here is built of, and
// the step of a block: the tiled versions' S = Q K^T and O = P V
// (tiled_blocks.wgsl) and the plain matmul yardstick (plain_matmul.wgsl).
//
// A HeadQuads is a 4-row strip of a block: up to eight 4 x 4 pieces side by
// side, piece a for heads 0-3 of the block, b for 4-7, c for 8-11, d for
// 12-15, e .. h for 16-31 (column c of a piece = one head). A block of 8
// heads uses a and b, of 16 a to d, of 32 all eight. Pieces are mat4x4
// values with constant column indices, never an array, so that every
// compiler keeps them in registers (a dynamically indexed private array
// lands in memory on SwiftShader: 8-9x slower, docs/kernels.md).
// A step is addProduct: every piece += m * (that piece of x), `pieces` of
// them (a constant once the pipeline is made: the branches are gone).

struct HeadQuads {
  a: mat4x4<f32>, b: mat4x4<f32>, c: mat4x4<f32>, d: mat4x4<f32>,
  e: mat4x4<f32>, f: mat4x4<f32>, g: mat4x4<f32>, h: mat4x4<f32>,
}

// acc + m * x, piece by piece, for the first `pieces` pieces (2: 8 heads, 4: 16, 8: 32).
fn addProduct(acc: HeadQuads, m: mat4x4<f32>, x: HeadQuads, pieces: u32) -> HeadQuads {
  var r = acc;
  r.a += m * x.a;
  r.b += m * x.b;
  if (pieces >= 4u) {
    r.c += m * x.c;
    r.d += m * x.d;
  }
  if (pieces == 8u) {
    r.e += m * x.e;
    r.f += m * x.f;
    r.g += m * x.g;
    r.h += m * x.h;
  }
  return r;
}

// Piece k of a strip (k < 8).
fn piece(x: HeadQuads, k: u32) -> mat4x4<f32> {
  switch k {
    case 0u: { return x.a; }
    case 1u: { return x.b; }
    case 2u: { return x.c; }
    case 3u: { return x.d; }
    case 4u: { return x.e; }
    case 5u: { return x.f; }
    case 6u: { return x.g; }
    default: { return x.h; }
  }
}
