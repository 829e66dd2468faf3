/**
 * The binding numbers of group 0, by WGSL variable name: the one table the
 * shaders and the host share. The host binds buffers through it, and every
 * module is checked against it before it is compiled (a shader that declares
 * `kv` at another binding, or a binding this table does not know, fails with
 * the file and line), so the two can never silently disagree.
 */
export const BINDINGS = {
  // attention kernels (kv_cache.wgsl, fused_io.wgsl, keys_*.wgsl, params.wgsl, v1_naive.wgsl)
  kv: 0,
  q: 1,
  out: 2,
  lse: 3,
  sink: 4,
  seqlens: 5,
  indices: 5,
  block_table: 6,
  scores: 7,
  params: 8,
  // kv_shards.wgsl: shards 1..11 of a cache split across buffers (shard 0 is `kv`)
  kv1: 9,
  kv2: 10,
  kv3: 11,
  kv4: 12,
  kv5: 13,
  kv6: 14,
  kv7: 15,
  kv8: 16,
  kv9: 17,
  kv10: 18,
  kv11: 19,
  // combine.wgsl: the splits' partial results
  partOut: 0,
  partLse: 1,
  // roofline.wgsl
  src: 0,
  dst: 1,
  // plain_matmul.wgsl (also q and scores, above)
  keys: 0,
  // loop_probe.wgsl
  probeOut: 0,
  probeIn: 1,
  // layer_gemm.wgsl
  mat_a: 0,
  mat_b: 1,
  mat_c: 2,
  gemm: 3,
  // layer_rows.wgsl
  rows: 0,
  norm_weight: 1,
  rope_table: 2,
  row_op: 3,
  rope_in: 4,
  key_mask: 5,
  // indexer_decode.wgsl, indexer_scores.wgsl (and block_table, above)
  index_cache: 0,
  index_keys: 1,
  index_scales: 2,
  index_call: 3,
  index_q: 4,
  index_weights: 5,
  index_scores: 7,
  // topk.wgsl (and index_scores, block_table, indices, above)
  topk_call: 3,
} as const;

export type BindingName = keyof typeof BINDINGS;

export interface BindingMismatch {
  readonly line: number;
  readonly message: string;
}

/** Every `@group(g) @binding(n) var<...> name` of a module that disagrees with the table. */
export function bindingMismatches(code: string): BindingMismatch[] {
  const found: BindingMismatch[] = [];
  code.split('\n').forEach((text, k) => {
    const m = /@group\((\d+)\)\s*@binding\((\d+)\)\s*var(?:<[^>]*>)?\s+(\w+)/.exec(text.replace(/\/\/.*$/, ''));
    if (!m) return;
    const [, group, binding, name] = m;
    const want = (BINDINGS as Record<string, number>)[name];
    if (group !== '0') found.push({ line: k + 1, message: `${name} is in group ${group}; every kernel binds group 0` });
    else if (want === undefined) found.push({ line: k + 1, message: `${name} is not in the binding table (src/gpu/bindings.ts)` });
    else if (want !== Number(binding)) found.push({ line: k + 1, message: `${name} is at binding ${binding}, the binding table (src/gpu/bindings.ts) says ${want}` });
  });
  return found;
}

/** A bind group for `pipeline`, each buffer at its WGSL name's binding (this table). */
export function bindGroup(device: GPUDevice, pipeline: GPUComputePipeline, label: string, entries: Partial<Record<BindingName, GPUBuffer>>): GPUBindGroup {
  return device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: Object.entries(entries).map(([name, buffer]) => ({ binding: BINDINGS[name as BindingName], resource: { buffer: buffer! } })),
  });
}
