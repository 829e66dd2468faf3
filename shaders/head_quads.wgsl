// head_quads.wgsl: the strip every register block here is built of, and the
// step of a block: the tiled versions' S = Q K^T and O = P V
// (tiled_blocks.wgsl) and the plain matmul yardstick's 32 x 32 form
// (plain_matmul.wgsl).
//
// A HeadQuads is a 4-row strip of a block: 4 x 4 pieces side by side, piece
// a for heads 0-3 of the block, b for 4-7, c for 8-11, d for 12-15, e .. h
// for 16-31 (column c of a piece = one head). A block of 8 heads uses a and
// b, of 16 a to d, of 32 all eight. Pieces are mat4x4 values with constant
// column indices, never an array, so that every compiler keeps them in
// registers (a dynamically indexed private array lands in memory on
// SwiftShader: 8-9x slower, docs/kernels.md).
// A step is addProduct: every piece += m * (that piece of x), `pieces` of
// them (a constant once the pipeline is made: the branches are gone).
//
// Lines marked [32 heads] exist only in a module with a 32-head block: the
// host blanks them in every other (src/gpu/shader-source.ts, WIDE_LINE), so
// a strip there is four pieces. A strip's size is its type's, which no
// override can change, and SwiftShader compiles every function that passes
// strips about 2.3x slower when they are eight pieces wide, used or not
// (docs/tuning.md, "32-head blocks").

struct HeadQuads {
  a: mat4x4<f32>, b: mat4x4<f32>, c: mat4x4<f32>, d: mat4x4<f32>,
  e: mat4x4<f32>, f: mat4x4<f32>, g: mat4x4<f32>, h: mat4x4<f32>, // [32 heads]
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
  if (pieces == 8u) { // [32 heads]
    r.e += m * x.e;   // [32 heads]
    r.f += m * x.f;   // [32 heads]
    r.g += m * x.g;   // [32 heads]
    r.h += m * x.h;   // [32 heads]
  }                   // [32 heads]
  return r;
}

// Piece k of a strip (k < pieces).
fn piece(x: HeadQuads, k: u32) -> mat4x4<f32> {
  switch k {
    case 0u: { return x.a; }
    case 1u: { return x.b; }
    case 2u: { return x.c; }
    case 4u: { return x.e; } // [32 heads]
    case 5u: { return x.f; } // [32 heads]
    case 6u: { return x.g; } // [32 heads]
    case 7u: { return x.h; } // [32 heads]
    default: { return x.d; }
  }
}
