/**
 * What every kernel version gives the runner: a plan (sizes chosen for the
 * device), the extra buffers it needs, and a list of dispatches, each its own
 * compute pass. The versions themselves are listed in versions.ts.
 */
import type { DeviceLimits } from '../gpu/device';
import type { BindingName } from '../gpu/bindings';
import type { MatmulScoreBlockName, OutBlockName } from './register-blocks';
import type { MlaShape } from '../mla/shape';
import type { KernelTextureFormat, TextureSize } from '../gpu/textures';
import { type AttentionSpec, cacheSlotsOf, sharedConstants } from './attention-spec';

export type { DeviceLimits };

/** Names of the versions, in ladder order (versions.ts holds what each is). */
export const VERSION_NAMES = ['naive', 'fused', 'shared-latent', 'tiled', 'subgroups', 'matmuls'] as const;
export type VersionName = (typeof VERSION_NAMES)[number];

/** Tuning knobs a caller may set; each version uses those it has and plans the rest. */
export interface PlanOptions {
  /** Keys per tile. */
  readonly tileN?: number;
  /** Heads sharing one key tile. */
  readonly headsPerWorkgroup?: number;
  /** v4: slices of the head dim in the score step; v5: lanes of a team (a power of two up to subgroupMinSize). */
  readonly dotParts?: number;
  /** KV splits per row; 'auto' (default) picks from the batch and seqlen. */
  readonly splits?: number | 'auto';
  /** v4: where keys are read, the decoded tile or the cache itself (KEY_READS); by default per format (tiled-kernel.ts). */
  readonly keys?: KeyReads;
  /** v4: where the score step reads the queries (QUERY_READS); 'storage' unless told. */
  readonly queries?: QueryReads;
  /** v4, v6: a thread's block of S = Q K^T, heads x keys (register-blocks.ts; 32x32 is v6's only). */
  readonly scoreBlock?: MatmulScoreBlockName;
  /** v4, v5, v6: a thread's block of O = P V, heads x values. */
  readonly outBlock?: OutBlockName;
}

/**
 * Where v4 reads its keys: 'tile', decoded once per tile into workgroup
 * memory (f32) and read from there by every head block; 'tile-bf16', the
 * same tile held in bf16, half the bytes (bf16 caches, and FP8 caches with
 * power-of-two scales, whose values are all bf16 values); 'tile-storage',
 * the tile decoded in f32 into the workgroup's own part of a storage buffer
 * (a scratch buffer of the plan); 'cache', straight from the cache each time
 * a head block uses them (decoding them each time); 'texture', the whole
 * cache decoded once a call by the call's first pass and copied into a
 * texture (shaders/cache_texture.wgsl, cacheTextureSize; an f32 cache is
 * copied as it is, cacheCopiesStraight) and every key and value read from
 * there as a texel.
 */
export const KEY_READS = ['tile', 'tile-bf16', 'tile-storage', 'cache', 'texture'] as const;
export type KeyReads = (typeof KEY_READS)[number];

/**
 * Where v4's score step reads the queries: 'storage', the query buffer q;
 * 'texture', a texture the call's first pass writes from q
 * (shaders/query_texture.wgsl, queryTextureSize). On
 * llvmpipe a texel costs about a seventh of a storage read
 * (docs/kernels.md, "What a read costs"); on SwiftShader a little more.
 */
export const QUERY_READS = ['storage', 'texture'] as const;
export type QueryReads = (typeof QUERY_READS)[number];

/** The queries' texture (`--queries texture`) in texels, laid out as shaders/query_texture.wgsl writes it. */
export function queryTextureSize(shape: MlaShape): TextureSize {
  return { width: shape.dQk / 4, height: shape.batch * shape.sQ * shape.hQ };
}

/**
 * The cache decoded into a texture (`--keys texture`), laid out as
 * shaders/cache_texture.wgsl writes it: each slot a run of d_qk / 4 texels
 * in one row, `height` slots a column of such runs, the columns side by
 * side, and one slot more than the cache has, never written and so zeros
 * (textures start zeroed): where version 6 points a key it does not read
 * (an unread slot of the cache may hold NaN, and 0 x NaN is NaN). As tall
 * as the device allows (maxTextureDimension2D), so a cache
 * of up to that many slots is one column; undefined where it does not fit:
 * wider than the device allows, or its rows (cacheTextureRows) larger than
 * one storage binding (a cache that large is sharded, and its texture, 16
 * bytes for every 4 values, would be larger still).
 */
export function cacheTextureSize(spec: AttentionSpec, limits: DeviceLimits): TextureSize | undefined {
  return fitCacheTexture(spec, limits, quadSlots(spec))?.size;
}

/** A texture of the cache's slots laid out as `slots` says (CacheTexture), as tall as the device allows; undefined where it does not fit. */
function fitCacheTexture(spec: AttentionSpec, limits: DeviceLimits, slots: CacheSlots): CacheTexture | undefined {
  const rows = Math.ceil((cacheSlotsOf(spec) + 1) / slots.slotsPerRow); // the zero slot too
  const most = limits.maxTextureDimension2D;
  const height = Math.max(1, Math.min(rows, most));
  const size = { width: Math.ceil(rows / height) * slots.slotsPerRow * slots.slotTexels, height };
  const fits = spec.shards.count === 1 && size.width <= most && cacheTextureRows(size).bytes <= Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return fits ? { ...slots, size } : undefined;
}

/** The cache's texture (cacheTextureSize), or PlanDoesNotFit saying why the device has none for it and what to use `instead`. */
export function cacheTextureSizeOrRefuse(spec: AttentionSpec, limits: DeviceLimits, instead = 'use keys cache or a tile'): TextureSize {
  const size = cacheTextureSize(spec, limits);
  if (!size) {
    const slots = cacheSlotsOf(spec);
    throw new PlanDoesNotFit(`keys "texture": ${slots} cache slots of ${spec.shape.dQk / 4} f32 texels (${16 * slots * spec.shape.dQk / 4} bytes) do not fit one texture of this device (maxTextureDimension2D ${limits.maxTextureDimension2D}, one storage binding ${Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize)} bytes, a cache in one buffer); ${instead}`);
  }
  return size;
}

/** Bytes a row of a buffer copied into a texture must be a multiple of (WebGPU's copyBufferToTexture). */
export const COPY_ROW_ALIGNMENT = 256;

/**
 * The buffer cache_texture.wgsl decodes the cache into, row by row of the
 * texture, each row padded to COPY_ROW_ALIGNMENT bytes so that one copy
 * moves it into the texture: its row length in texels and its bytes.
 */
export function cacheTextureRows(size: TextureSize): { readonly rowTexels: number; readonly bytes: number } {
  const perRow = COPY_ROW_ALIGNMENT / 16;
  const rowTexels = Math.ceil(size.width / perRow) * perRow;
  return { rowTexels, bytes: 16 * rowTexels * size.height };
}

/**
 * Whether an f32 cache can be copied into its texture of quads as it is,
 * with no decode pass (cacheTextureCopiesStraight): d_qk 576 and 512 can,
 * a 68-dim head cannot (its slot is not a whole number of
 * COPY_ROW_ALIGNMENT bytes).
 */
export function cacheCopiesStraight(spec: AttentionSpec): boolean {
  return cacheTextureCopiesStraight(spec, quadSlots(spec));
}

/**
 * The cache's texture as a plan reads it. 'rgba32float': a slot's d_qk / 4
 * texels of f32 quads, a slot a row (cacheTextureSize: the cache decoded by
 * shaders/cache_texture.wgsl, or an f32 cache copied as it is); versions 4
 * and 6. 'rgba32uint': a slot's d_qk / 8 texels of bf16 words, eight values
 * a texel, `slotsPerRow` slots a row (wordsCacheTexture: a bf16 cache's own
 * bytes, or an FP8 cache with power-of-two scales decoded into them);
 * version 6 only (shaders/v6_cache.wgsl). The layout is shaders/kv_cache.wgsl's cacheSlotTexel. Either has
 * one slot more than the cache, never written: zeros.
 */
export interface CacheTexture extends CacheSlots {
  readonly size: TextureSize;
}

/** How a cache texture holds a slot: its format, texels a slot, slots a texture row. */
export interface CacheSlots {
  readonly format: KernelTextureFormat;
  /** Texels a slot: d_qk / 4 or d_qk / 8. */
  readonly slotTexels: number;
  /** Slots a texture row: 1 for quads; for words as many as make a row of whole 256-byte pieces (COPY_ROW_ALIGNMENT). */
  readonly slotsPerRow: number;
}

/** f32 quads, a slot a row (version 4's texture, and version 6's where the cache's values are not all bf16). */
function quadSlots(spec: AttentionSpec): CacheSlots {
  return { format: 'rgba32float', slotTexels: spec.shape.dQk / 4, slotsPerRow: 1 };
}

/** The cache as f32 quads in a texture (cacheTextureSizeOrRefuse: PlanDoesNotFit, with `instead`, where the device has none). */
export function quadsCacheTexture(spec: AttentionSpec, limits: DeviceLimits, instead?: string): CacheTexture {
  return { ...quadSlots(spec), size: cacheTextureSizeOrRefuse(spec, limits, instead) };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The cache as bf16 words in a texture (eight values a texel, d_qk / 8
 * texels a slot), for a cache whose every value is a bf16 value (or an FP8
 * one whose scales are not read yet: AttentionSpec.valuesInBf16), or
 * undefined where it cannot be: d_qk not a
 * multiple of 8 (whole texels), a sharded cache, wider than the device
 * allows, or (decoded into a buffer of its rows first) past one storage
 * binding. Slots sit as many to a texture row as make the row whole 256-byte
 * pieces (COPY_ROW_ALIGNMENT), so that a row of a copy is one: V3.2's
 * 1152-byte slot two a row, MODEL1's 1024-byte one.
 */
export function wordsCacheTexture(spec: AttentionSpec, limits: DeviceLimits): CacheTexture | undefined {
  const { dQk } = spec.layout;
  if (spec.valuesInBf16 === false || dQk % 8 !== 0) return undefined;
  return fitCacheTexture(spec, limits, { format: 'rgba32uint', slotTexels: dQk / 8, slotsPerRow: COPY_ROW_ALIGNMENT / gcd(2 * dQk, COPY_ROW_ALIGNMENT) });
}

/**
 * Whether the cache's own bytes are its texture's rows, so that copies move
 * them in with no decode pass: an f32 cache into quads or a bf16 cache into
 * words, in one buffer, whose slots follow each other with no gap (every
 * page full of tokens, each token d_qk values, no padding), in rows of
 * whole COPY_ROW_ALIGNMENT-byte pieces, the last row whole.
 */
export function cacheTextureCopiesStraight(spec: AttentionSpec, t: CacheSlots): boolean {
  const { layout } = spec;
  const slotBytes = 16 * t.slotTexels;
  return layout.kind === (t.format === 'rgba32float' ? 'f32' : 'bf16') && spec.shards.count === 1 && layout.tokenStride === slotBytes
    && layout.pageStride === layout.pageBlockSize * slotBytes && (t.slotsPerRow * slotBytes) % COPY_ROW_ALIGNMENT === 0 && cacheSlotsOf(spec) % t.slotsPerRow === 0;
}

/**
 * The copies that move a cache straight into its texture (an f32 cache's
 * quads or a bf16 one's words: cacheTextureCopiesStraight): one a
 * column of up to `size.height` rows of `slotsPerRow` slots, from the
 * column's first slot in the cache to its first texel, each row
 * `bytesPerRow` bytes of the cache and `texels` texels of the texture.
 */
export function straightCopies(spec: AttentionSpec, t: CacheTexture): { readonly offset: number; readonly x: number; readonly rows: number; readonly bytesPerRow: number; readonly texels: number }[] {
  const slotBytes = 16 * t.slotTexels;
  const slots = cacheSlotsOf(spec);
  const perColumn = t.size.height * t.slotsPerRow;
  return Array.from({ length: Math.ceil(slots / perColumn) }, (_, c) => ({
    offset: c * perColumn * slotBytes, x: c * t.slotsPerRow * t.slotTexels, rows: Math.min(t.size.height, Math.ceil((slots - c * perColumn) / t.slotsPerRow)),
    bytesPerRow: t.slotsPerRow * slotBytes, texels: t.slotsPerRow * t.slotTexels,
  }));
}

/**
 * How shaders/cache_texture.wgsl loads a record, as its override constants:
 * an FP8 latent sixteen codes a load, which needs every record on 16 bytes
 * and a quantisation tile of whole loads (FlashMLA's two layouts have both;
 * another layout fails here, when the call is planned, rather than decode
 * the wrong bytes); bf16 rows eight values a load where every record starts
 * on 16 bytes (BF16_BY_VEC4), else a quad a load, as f32 rows are.
 */
export function cacheRowLoads(spec: AttentionSpec): { readonly BF16_BY_VEC4: number } {
  const o = sharedConstants(spec);
  const onVec4 = o.TOKEN_STRIDE_W % 4 === 0 && o.PAGE_STRIDE_W % 4 === 0;
  if (spec.layout.kind === 'fp8' && !(onVec4 && o.D_NOPE % 16 === 0 && o.QUANT_TILE % 16 === 0)) {
    throw new Error(`keys "texture": the ${spec.layout.name} layout's records (token stride ${4 * o.TOKEN_STRIDE_W} B, page stride ${4 * o.PAGE_STRIDE_W} B, ${o.D_NOPE} latent values in tiles of ${o.QUANT_TILE}) are not in whole 16-byte loads, which shaders/cache_texture.wgsl reads`);
  }
  return { BF16_BY_VEC4: spec.layout.kind === 'bf16' && onVec4 && o.D_QK % 8 === 0 ? 1 : 0 };
}

/** The label of the scratch buffer cache_texture.wgsl decodes the cache into (`--keys texture`, unless it copies straight). */
export const CACHE_ROWS_LABEL = 'decoded cache rows';

/** The label of the scratch buffer of decoded key tiles ('tile-storage'): the plan names it, the passes bind it by it. */
export const STORAGE_TILE_LABEL = 'decoded key tiles';

export interface KernelPlan {
  readonly kernel: VersionName;
  /** KV splits per row (1: no combine pass). */
  readonly splits: number;
  /** Keys per tile (v1: 0, it has no tiles). */
  readonly tileN: number;
  /** Heads sharing one tile of keys (v1, v2: 1). */
  readonly headsPerWorkgroup: number;
  /** Threads of the main dispatch's workgroup. */
  readonly workgroupSize: number;
  /** Workgroup memory of the main dispatch, read from the shader's declarations. */
  readonly workgroupBytes: number;
  /** v4: where keys are read (the decoded tile or the cache); absent for other versions. */
  readonly keys?: KeyReads;
  /** v4: where the score step read the queries; absent for other versions. */
  readonly queries?: QueryReads;
  /** v4, v5, v6: the register blocks that ran (register-blocks.ts); absent for other versions. */
  readonly scoreBlock?: MatmulScoreBlockName;
  readonly outBlock?: OutBlockName;
  /** Other tuning values of the version, by their override names (e.g. DOT_PARTS). */
  readonly constants: Readonly<Record<string, number>>;
  /** Buffers the version needs besides inputs and outputs: the score matrix, the splits' partials, a storage tile. */
  readonly scratch: readonly { readonly label: string; readonly bytes: number }[];
  /** The cache's texture, where the version reads the cache from one (v4 `--keys texture`, v6). */
  readonly cacheTexture?: CacheTexture;
  /** Textures it needs besides the queries' and the cache's (v6: its score matrix's), rgba32float. */
  readonly scratchTextures?: readonly { readonly label: string; readonly size: TextureSize }[];
}

/** A plan that cannot fit this device's limits (as opposed to a bad option): "flash" then tries the next version down. */
export class PlanDoesNotFit extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanDoesNotFit';
  }
}

export interface KernelPass {
  /** e.g. "v4-tiled", "combine", "v1-naive:scores" */
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

/** A copy a call records between its dispatches (the cache into its texture): no pipeline, timed like a pass. */
export interface CopyPass {
  readonly label: string;
  readonly copy: (encoder: GPUCommandEncoder) => void;
}

/** What a call records, in order: dispatches, each its own compute pass, and copies. */
export type CallPass = KernelPass | CopyPass;

export function isDispatch(p: CallPass): p is KernelPass {
  return 'pipeline' in p;
}

/** Device buffers of one attention call. */
export interface AttentionBuffers {
  /** The cache's shards, in order (one buffer when it fits one binding). */
  readonly kv: readonly GPUBuffer[];
  readonly q: GPUBuffer;
  readonly out: GPUBuffer;
  readonly lse: GPUBuffer;
  /** The largest scaled score of each row, [b, s_q, h_q] f32 (FlashMLA's max_logits). */
  readonly maxLogits: GPUBuffer;
  readonly sink: GPUBuffer;
  /** seqlens (dense) or indices (sparse) */
  readonly keyList: GPUBuffer;
  readonly blockTable: GPUBuffer;
  readonly params: GPUBuffer;
  /** The queries as a texture (queryTextureSize), when the plan reads them from one (KernelPlan.queries 'texture'). */
  readonly queryTexture?: GPUTexture;
  /** The cache decoded into a texture (cacheTextureSize), when the plan reads keys from one (KernelPlan.keys 'texture'). */
  readonly cacheTexture?: GPUTexture;
  /** The plan's scratch textures (KernelPlan.scratchTextures), in its order. */
  readonly scratchTextures?: readonly GPUTexture[];
}

/** The key source's buffers (dense: seqlens and block table; sparse: indices) and the per-call params. */
export function keySourceBindings(sparse: boolean, b: AttentionBuffers): Partial<Record<BindingName, GPUBuffer>> {
  return sparse ? { indices: b.keyList, params: b.params } : { seqlens: b.keyList, block_table: b.blockTable, params: b.params };
}

/**
 * Record passes, each dispatch its own compute pass (so a timer can stamp
 * each). A copy is recorded between two empty compute passes, the first
 * stamping its beginning, the second its end: timestamps exist only at pass
 * boundaries, and so the copy is timed as a pass of its own.
 */
export function encodePasses(passes: readonly CallPass[], encoder: GPUCommandEncoder, timestampWrites?: (pass: number) => GPUComputePassTimestampWrites | undefined): void {
  passes.forEach((p, k) => {
    const stamps = timestampWrites?.(k);
    if (!isDispatch(p)) {
      if (stamps) encoder.beginComputePass({ label: `${p.label} (starts)`, timestampWrites: { querySet: stamps.querySet, beginningOfPassWriteIndex: stamps.beginningOfPassWriteIndex } }).end();
      p.copy(encoder);
      if (stamps) encoder.beginComputePass({ label: `${p.label} (ends)`, timestampWrites: { querySet: stamps.querySet, endOfPassWriteIndex: stamps.endOfPassWriteIndex } }).end();
      return;
    }
    const pass = encoder.beginComputePass({ label: p.label, timestampWrites: stamps });
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, p.bindGroup);
    pass.dispatchWorkgroups(...p.workgroups);
    pass.end();
  });
}
