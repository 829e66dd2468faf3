// query_texture.wgsl: version 4's queries into a texture (`--queries texture`).
//
// Computes queryRows[row][j] = q[row * D_QK/4 + j] for every query row
// (b, i, head) and quad j: the queries as an rgba32float texture of D_QK/4
// texels a row, one row per query row, the layout tiled_blocks.wgsl's
// queryTexel reads (QUERIES_TEXTURE). It is the first pass of such a call,
// a compute pass rather than a buffer-to-texture copy so that every timer
// that times the passes (timestamps included) counts it, and so that d_qk
// need only be a multiple of 4 (a copy's rows are 256-byte aligned).
//
// Geometry: grid (ceil(D_QK/4 / WG), rows, 1), WG threads; thread t of
// workgroup (x, row) writes texel WG x + t of that row.

override D_QK: u32;
const WG: u32 = 64u;

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(22) var queryRows: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let width = D_QK / 4u;
  if (id.x >= width) { return; }
  textureStore(queryRows, vec2<u32>(id.x, id.y), q[id.y * width + id.x]);
}
