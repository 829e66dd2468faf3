// v6_values.wgsl: version 6, "matmuls", pass 3 of 3: O = P V as a plain
// matrix product, then out = O / l (v6_scores.wgsl says what version 6 is).
//
// Reads the probabilities from probTexture (the score matrix after
// v6_softmax.wgsl, copied into a texture by the host: v6_layout.wgsl's
// layout), the values from the cache's texture (a value is the first D_V
// values of its key; f32 quads or a bf16 cache's words: v6_cache.wgsl) at
// the texels keyRows lists, and the chunk's m and l
// from rowStats. Thread t owns OUT_HEADS heads x OUT_VALUES values of the
// output row of query row (b, i) = (z, y) for one split (an OutBlock built
// as tiled_blocks.wgsl's, a thread's quads side by side: strip vK holds
// value quad g * OUT_QUADS + K, rows its 4 values, for every head of it), and
// each step over four keys is one matrix product a strip:
// strip vK += (four keys' value quads, as columns) * (their probabilities, a
// column a head). At the end it writes out, lse and max_logits through
// fused_io.wgsl, as the fused versions do: the row's result with one split,
// the split's partial for combine.wgsl with several.
// Per four keys a thread reads OUT_HEADS + OUT_VALUES texels (OUT_HEADS +
// OUT_VALUES / 2 where the cache is bf16 words: a key's value quads are read
// in pairs, one texel of words a pair, v6_cache.wgsl's cacheQuadPair) and
// one vec4<u32> of keyRows for OUT_HEADS x OUT_VALUES x 4 multiply-adds, with
// no barrier: version 4's P V read its probabilities from workgroup memory.
// Geometry: grid (ceil(headBlocks * DIM_GROUPS * num_splits / VALUES_WG),
// s_q, batch), VALUES_WG threads; thread t: value group t % DIM_GROUPS, head
// block t / DIM_GROUPS % headBlocks, split t / (DIM_GROUPS * headBlocks).

override OUT_HEADS: u32 = 8u;   // O block: heads (8, 16 or 32)
override OUT_VALUES: u32 = 16u; // O block: values of the output row (8, 16, 32 or 64)
override VALUES_WG: u32 = 64u;  // threads a workgroup (the host's: a few on a CPU, so that every core has one)
override DV4: u32 = D_V / 4u;
override OUT_QUADS: u32 = OUT_VALUES / 4u;
override DIM_GROUPS: u32 = (DV4 + OUT_QUADS - 1u) / OUT_QUADS;

@group(0) @binding(25) var probTexture: texture_2d<f32>;                   // P (v6_layout.wgsl)
@group(0) @binding(26) var<storage, read_write> keyRows: array<vec4<u32>>; // [b, s_q][key quad]: four keys' first texels
@group(0) @binding(27) var<storage, read_write> rowStats: array<vec4<f32>>; // [row][split]: m, l, first quad, end quad

struct OutBlock {
  v0: HeadQuads, v1: HeadQuads, v2: HeadQuads, v3: HeadQuads,
  v4: HeadQuads, v5: HeadQuads, v6: HeadQuads, v7: HeadQuads,
  v8: HeadQuads, v9: HeadQuads, v10: HeadQuads, v11: HeadQuads,   // [64 values]
  v12: HeadQuads, v13: HeadQuads, v14: HeadQuads, v15: HeadQuads, // [64 values]
}

// Four heads' probabilities of one key quad, at texel (x, row + band): column c is head c's, rows its four keys.
fn fourProbs(rows: vec4<u32>, x: u32, band: u32) -> mat4x4<f32> {
  return mat4x4<f32>(
    textureLoad(probTexture, vec2<u32>(x, rows.x + band), 0), textureLoad(probTexture, vec2<u32>(x, rows.y + band), 0),
    textureLoad(probTexture, vec2<u32>(x, rows.z + band), 0), textureLoad(probTexture, vec2<u32>(x, rows.w + band), 0));
}

fn probStrip(r: HeadRows, x: u32, band: u32) -> HeadQuads {
  var p = HeadQuads();
  p.a = fourProbs(r.a, x, band);
  p.b = fourProbs(r.b, x, band);
  if (OUT_HEADS >= 16u) {
    p.c = fourProbs(r.c, x, band);
    p.d = fourProbs(r.d, x, band);
  }
  if (OUT_HEADS == 32u) {             // [32 heads]
    p.e = fourProbs(r.e, x, band);    // [32 heads]
    p.f = fourProbs(r.f, x, band);    // [32 heads]
    p.g = fourProbs(r.g, x, band);    // [32 heads]
    p.h = fourProbs(r.h, x, band);    // [32 heads]
  }                                   // [32 heads]
  return p;
}

// Write strip s of the block, value quad `quad` of every head of it: out =
// O / l (with one split, times the sink factor), or the split's partial
// (fused_io.wgsl); nothing for a quad past D_V.
fn writeStrip(b: u32, i: u32, split: u32, h0: u32, s: HeadQuads, quad: u32) {
  if (quad >= DV4) {
    return;
  }
  for (var p = 0u; p < OUT_HEADS / 4u; p++) {
    let m = piece(s, p);
    for (var c = 0u; c < 4u; c++) {
      let h = h0 + 4u * p + c;
      if (h < params.h_q) {
        let stats = rowStats[rowOf(b, i, h) * params.num_splits + split];
        writeOutQuad(b, i, h, split, quad, m[c] * outputFactor(h, stats.x, stats.y), stats.y);
      }
    }
  }
}

@compute @workgroup_size(VALUES_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.z;
  let i = gid.y;
  let bi = b * params.s_q + i;
  let headBlocks = (params.h_q + OUT_HEADS - 1u) / OUT_HEADS;
  let g = gid.x % DIM_GROUPS;
  let h0 = gid.x / DIM_GROUPS % headBlocks * OUT_HEADS;
  let split = gid.x / (DIM_GROUPS * headBlocks);
  if (split >= params.num_splits) {
    return;
  }
  let pieces = OUT_HEADS / 4u;
  // The chunk's quads are the same for every head of the row (v6_softmax.wgsl).
  let chunk = bitcast<vec2<u32>>(rowStats[rowOf(b, i, h0) * params.num_splits + split].zw);
  let first = g * OUT_QUADS;
  // The value quads are read in pairs (quads e and e + 1, e even: one texel of bf16 words, v6_cache.wgsl's
  // cacheQuadPair). A pair past D_V is read as the last pair and never written; where D_V / 4 is odd the
  // last pair's second quad lies past D_V (only in the quads' form: words need an even D_QK / 4), read and
  // never written.
  let last = (DV4 - 1u) & ~1u;
  let e0 = min(first, last);
  let e1 = min(first + 2u, last);
  let e2 = min(first + 4u, last);
  let e3 = min(first + 6u, last);
  let e4 = min(first + 8u, last);   // [64 values]
  let e5 = min(first + 10u, last);  // [64 values]
  let e6 = min(first + 12u, last);  // [64 values]
  let e7 = min(first + 14u, last);  // [64 values]
  var o = OutBlock();
  let prob = headRows(bi, h0, params.prob_bands); // probTexel(r, kq).y = r * prob_bands + kq / prob_width
  let keyBase = bi * rowQuads();
  // Quad kq of a row is texel (x, its first row + band) of probTexture (probTexel with r = 0 gives x and
  // band): x and band step along with kq, no division in the loop.
  var x = probTexel(0u, chunk.x).x;
  var band = probTexel(0u, chunk.x).y;
  for (var kq = chunk.x; kq < chunk.y; kq++) {
    let p = probStrip(prob, x, band);
    let keys = keyRows[keyBase + kq];
    let kx = keys >> vec4<u32>(16u);
    let ky = keys & vec4<u32>(0xffffu);
    let p0 = fourKeyPairs(kx, ky, e0);
    o.v0 = addProduct(o.v0, p0.lo, p, pieces);
    o.v1 = addProduct(o.v1, p0.hi, p, pieces);
    if (OUT_QUADS >= 4u) {
      let p1 = fourKeyPairs(kx, ky, e1);
      o.v2 = addProduct(o.v2, p1.lo, p, pieces);
      o.v3 = addProduct(o.v3, p1.hi, p, pieces);
    }
    if (OUT_QUADS >= 8u) {
      let p2 = fourKeyPairs(kx, ky, e2);
      let p3 = fourKeyPairs(kx, ky, e3);
      o.v4 = addProduct(o.v4, p2.lo, p, pieces);
      o.v5 = addProduct(o.v5, p2.hi, p, pieces);
      o.v6 = addProduct(o.v6, p3.lo, p, pieces);
      o.v7 = addProduct(o.v7, p3.hi, p, pieces);
    }
    if (OUT_QUADS == 16u) {                          // [64 values]
      let p4 = fourKeyPairs(kx, ky, e4);             // [64 values]
      let p5 = fourKeyPairs(kx, ky, e5);             // [64 values]
      let p6 = fourKeyPairs(kx, ky, e6);             // [64 values]
      let p7 = fourKeyPairs(kx, ky, e7);             // [64 values]
      o.v8 = addProduct(o.v8, p4.lo, p, pieces);     // [64 values]
      o.v9 = addProduct(o.v9, p4.hi, p, pieces);     // [64 values]
      o.v10 = addProduct(o.v10, p5.lo, p, pieces);   // [64 values]
      o.v11 = addProduct(o.v11, p5.hi, p, pieces);   // [64 values]
      o.v12 = addProduct(o.v12, p6.lo, p, pieces);   // [64 values]
      o.v13 = addProduct(o.v13, p6.hi, p, pieces);   // [64 values]
      o.v14 = addProduct(o.v14, p7.lo, p, pieces);   // [64 values]
      o.v15 = addProduct(o.v15, p7.hi, p, pieces);   // [64 values]
    }                                                // [64 values]
    x++;
    if (x == params.prob_width) {
      x = 0u;
      band++;
    }
  }
  writeStrip(b, i, split, h0, o.v0, first);
  writeStrip(b, i, split, h0, o.v1, first + 1u);
  if (OUT_QUADS >= 4u) {
    writeStrip(b, i, split, h0, o.v2, first + 2u);
    writeStrip(b, i, split, h0, o.v3, first + 3u);
  }
  if (OUT_QUADS >= 8u) {
    writeStrip(b, i, split, h0, o.v4, first + 4u);
    writeStrip(b, i, split, h0, o.v5, first + 5u);
    writeStrip(b, i, split, h0, o.v6, first + 6u);
    writeStrip(b, i, split, h0, o.v7, first + 7u);
  }
  if (OUT_QUADS == 16u) {                                  // [64 values]
    writeStrip(b, i, split, h0, o.v8, first + 8u);         // [64 values]
    writeStrip(b, i, split, h0, o.v9, first + 9u);         // [64 values]
    writeStrip(b, i, split, h0, o.v10, first + 10u);       // [64 values]
    writeStrip(b, i, split, h0, o.v11, first + 11u);       // [64 values]
    writeStrip(b, i, split, h0, o.v12, first + 12u);       // [64 values]
    writeStrip(b, i, split, h0, o.v13, first + 13u);       // [64 values]
    writeStrip(b, i, split, h0, o.v14, first + 14u);       // [64 values]
    writeStrip(b, i, split, h0, o.v15, first + 15u);       // [64 values]
  }                                                        // [64 values]
  // Each head's lse and max_logits, once (value group 0): m is the chunk's exact maximum.
  if (g == 0u) {
    for (var h = h0; h < min(h0 + OUT_HEADS, params.h_q); h++) {
      let stats = rowStats[rowOf(b, i, h) * params.num_splits + split];
      writeLse(b, i, h, split, stats.x, stats.y);
      writeMaxLogits(b, i, h, split, stats.x, stats.y);
    }
  }
}
