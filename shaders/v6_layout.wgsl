// v6_layout.wgsl: where version 6 keeps its score matrix, shared by its three
// passes (v6_scores.wgsl writes S, v6_softmax.wgsl turns it into P in place,
// v6_values.wgsl reads P from the texture the host copies it into).
//
// A row r = (b, i, h) of the matrix is the row's scores, four keys a quad
// (one rgba32float texel), cut into bands of params.prob_width quads: quad kq
// of row r is texel (kq % prob_width, r * prob_bands + kq / prob_width), and
// in the buffer the texel at (x, y) is quad y * prob_width + x. So the
// buffer's rows are the texture's rows (prob_width quads: a multiple of 16,
// so a row is a multiple of 256 bytes, as a copy needs), and a row of many
// keys wraps onto several texture rows instead of past the device's largest
// texture width. The host sets both numbers (probLayout, src/kernels/attention-spec.ts).

// Texel of quad kq of matrix row r.
fn probTexel(r: u32, kq: u32) -> vec2<u32> {
  return vec2<u32>(kq % params.prob_width, r * params.prob_bands + kq / params.prob_width);
}

// Quads a matrix row holds (its bands' texels): a row of keyRows too.
fn rowQuads() -> u32 {
  return params.prob_width * params.prob_bands;
}

// The same quad's index in the buffer, texel (x, y) at y * prob_width + x:
// a row's bands follow each other, so that is r * rowQuads() + kq, no division.
fn probIndex(r: u32, kq: u32) -> u32 {
  return r * rowQuads() + kq;
}

// Quads [x, y) of a row of `count` keys that split `split` takes: the row's
// quads cut into num_splits chunks (a chunk starts on a quad, so the passes
// read whole texels; the last quad's keys past `count` are masked).
fn quadChunk(count: u32, split: u32) -> vec2<u32> {
  let quads = (count + 3u) / 4u;
  let chunk = (quads + params.num_splits - 1u) / params.num_splits;
  let start = min(split * chunk, quads);
  return vec2<u32>(start, min(start + chunk, quads));
}

// The rows of heads h .. h + 31 of query row bi, four a piece, times `step`:
// the queries' texture rows (step 1), or the first texture rows of the
// score matrix's rows (step prob_bands). A head past h_q takes the last
// head's row (read, never written). Found once a thread, before its loop.
struct HeadRows {
  a: vec4<u32>, b: vec4<u32>, c: vec4<u32>, d: vec4<u32>,
  e: vec4<u32>, f: vec4<u32>, g: vec4<u32>, h: vec4<u32>, // [32 heads]
}

fn fourHeadRows(bi: u32, h: u32, step: u32) -> vec4<u32> {
  return (bi * params.h_q + min(vec4<u32>(h, h + 1u, h + 2u, h + 3u), vec4<u32>(params.h_q - 1u))) * step;
}

fn headRows(bi: u32, h: u32, step: u32) -> HeadRows {
  var r = HeadRows();
  r.a = fourHeadRows(bi, h, step);
  r.b = fourHeadRows(bi, h + 4u, step);
  r.c = fourHeadRows(bi, h + 8u, step);
  r.d = fourHeadRows(bi, h + 12u, step);
  r.e = fourHeadRows(bi, h + 16u, step); // [32 heads]
  r.f = fourHeadRows(bi, h + 20u, step); // [32 heads]
  r.g = fourHeadRows(bi, h + 24u, step); // [32 heads]
  r.h = fourHeadRows(bi, h + 28u, step); // [32 heads]
  return r;
}
