/**
 * The binding numbers of group 0, by WGSL variable name: the one table the
 * shaders and the host share. The host binds buffers through it, and every
 * module is checked against it before it is compiled (a shader that declares
 * `kv` at another binding, or a binding this table does not know, fails with
 * the file and line), so the two can never silently disagree.
 */
import { rgba32Texture } from './textures';

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
  max_logits: 20,
  // key_tile.wgsl: version 4's decoded key tiles in storage (--keys tile-storage)
  keyTileStorage: 21,
  // version 4's queries in a texture (--queries texture): read by tiled_blocks.wgsl, written by query_texture.wgsl
  queryTexture: 22,
  queryRows: 22,
  // version 4's cache decoded into a texture (--keys texture): read by key_tile.wgsl; cache_texture.wgsl
  // decodes the cache into cacheRows, which the host copies into the texture
  cacheTexture: 23,
  cacheRows: 24,
  // version 6 where every value of the cache is a bf16 value: the cache as bf16 words in an rgba32uint texture (v6_cache.wgsl)
  cacheWords: 23,
  // ... and cache_texture.wgsl's rows of those words, where it decodes the cache into them (an FP8 cache in bf16)
  cacheWordRows: 24,
  // version 6 (v6_*.wgsl): its score matrix as a texture (the matrix itself is `scores`), where each key starts
  // in the cache's texture, and each row's softmax statistics
  probTexture: 25,
  keyRows: 26,
  rowStats: 27,
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
  partMax: 5,
  // roofline.wgsl
  src: 0,
  dst: 1,
  readWindow: 2,
  readTexture: 3,
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

/** How many storage buffers a module declares (comments aside): Dawn counts each against maxStorageBuffersPerShaderStage. */
export function storageBuffersDeclared(code: string): number {
  return (code.replace(/\/\/.*$/gm, '').match(/var\s*<\s*storage\b/g) ?? []).length;
}

/**
 * A group-0 binding a module declares: its number and how it is read, a
 * buffer's binding type, 'texture' (a `texture_2d<f32>` of unfilterable
 * floats, as rgba32float is: the queries' texture of tiled_blocks.wgsl) or
 * 'texture-uint' (a `texture_2d<u32>`, rgba32uint: v6_cache.wgsl's words).
 */
export interface DeclaredBinding {
  readonly name: string;
  readonly binding: number;
  readonly type: GPUBufferBindingType | 'texture' | 'texture-uint';
}

/** Every `@group(0) @binding(n) var<uniform | storage, read | storage, read_write> name` and `var name: texture_2d<f32 | u32>` of a module, by binding. */
export function declaredBindings(code: string): DeclaredBinding[] {
  const found = new Map<number, DeclaredBinding>();
  for (const text of code.split('\n')) {
    const line = text.replace(/\/\/.*$/, '');
    const m = /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage\s*,\s*read_write|storage\s*,\s*read|storage)\s*>\s*(\w+)/.exec(line);
    const t = /@group\(0\)\s*@binding\((\d+)\)\s*var\s+(\w+)\s*:\s*texture_2d\s*<\s*(f32|u32)\s*>/.exec(line);
    if (m) {
      const type: GPUBufferBindingType = m[2] === 'uniform' ? 'uniform' : /read_write/.test(m[2]) ? 'storage' : 'read-only-storage';
      found.set(Number(m[1]), { name: m[3], binding: Number(m[1]), type });
    } else if (t) {
      found.set(Number(t[1]), { name: t[2], binding: Number(t[1]), type: t[3] === 'u32' ? 'texture-uint' : 'texture' });
    }
  }
  return [...found.values()];
}

/** The bind group layout entry of a declared binding. */
export function declaredLayoutEntry(d: DeclaredBinding): GPUBindGroupLayoutEntry {
  const visibility = GPUShaderStage.COMPUTE;
  if (d.type === 'texture' || d.type === 'texture-uint') return { binding: d.binding, visibility, texture: { sampleType: d.type === 'texture' ? 'unfilterable-float' : 'uint' } };
  return { binding: d.binding, visibility, buffer: { type: d.type } };
}

/**
 * Pipelines built on a layout of every binding their module declares (an
 * edited module: pipelines.ts) rather than an 'auto' one of those their
 * entry point uses; a bind group for one must fill every declared binding.
 */
export const DECLARED_LAYOUTS = new WeakMap<GPUComputePipeline, readonly DeclaredBinding[]>();

/** Bytes of the stand-in buffer bound where an edited module declares a binding the host does not bind (a texture's stand-in is one texel). */
const STAND_IN_BYTES = 4096;

/** The stand-in buffers and textures of each bind group that has some, until releaseStandIns destroys them. */
const STAND_INS = new WeakMap<GPUBindGroup, (GPUBuffer | GPUTexture)[]>();
let standInsAlive = 0;

/** What a binding is given: a buffer, or a texture's view (roofline.wgsl's readTexture). */
export type BoundResource = GPUBuffer | GPUTextureView;

const isBuffer = (r: BoundResource): r is GPUBuffer => 'mapAsync' in r;

/** A bind group for `pipeline`, each buffer (or texture view) at its WGSL name's binding (this table). */
export function bindGroup(device: GPUDevice, pipeline: GPUComputePipeline, label: string, entries: Partial<Record<BindingName, BoundResource>>): GPUBindGroup {
  const given = Object.entries(entries).map(([name, r]) => ({ binding: BINDINGS[name as BindingName], resource: isBuffer(r!) ? { buffer: r! } : r! }));
  // An edited module that declares a binding this pass does not bind reads a zeroed stand-in, one per binding (a writable one may not alias another).
  const standIns = (DECLARED_LAYOUTS.get(pipeline) ?? []).filter((d) => !given.some((g) => g.binding === d.binding)).map((d) => {
    const standInLabel = `${label}: stand-in for ${d.name}`;
    if (d.type === 'texture' || d.type === 'texture-uint') {
      const texture = rgba32Texture(device, standInLabel, { width: 1, height: 1 }, GPUTextureUsage.TEXTURE_BINDING, d.type === 'texture' ? 'rgba32float' : 'rgba32uint');
      return { binding: d.binding, owned: texture, resource: texture.createView() };
    }
    const buffer = device.createBuffer({ label: standInLabel, size: STAND_IN_BYTES, usage: d.type === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE });
    return { binding: d.binding, owned: buffer, resource: { buffer } };
  });
  const group = device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries: [...given, ...standIns.map(({ binding, resource }) => ({ binding, resource }))] });
  if (standIns.length > 0) {
    STAND_INS.set(group, standIns.map((e) => e.owned));
    standInsAlive += standIns.length;
  }
  return group;
}

/** Destroy the stand-in buffers of `group` (none for a shipped module): call when the buffers it binds are destroyed. */
export function releaseStandIns(group: GPUBindGroup): void {
  const buffers = STAND_INS.get(group) ?? [];
  buffers.forEach((b) => b.destroy());
  standInsAlive -= buffers.length;
  STAND_INS.delete(group);
}

/** Stand-in buffers and textures created and not yet released, in this process (for tests). */
export function liveStandIns(): number {
  return standInsAlive;
}
