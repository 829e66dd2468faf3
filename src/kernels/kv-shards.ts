/**
 * A cache larger than one storage binding, split into shards of whole pages.
 *
 * WebGPU caps one storage binding (maxStorageBufferBindingSize: 128 MiB on
 * many adapters, about 230K tokens of a MODEL1 FP8 cache) and one buffer
 * (maxBufferSize). A longer cache is cut into shards of `pagesPerShard`
 * pages, each its own buffer and binding: page p is page p % pagesPerShard
 * of shard p / pagesPerShard (shaders/kv_cache.wgsl). The kernels still read
 * through the block table; only the address of a page changes.
 *
 * WGSL has no array of buffers, so the shader needs one `var` per shard:
 * for more than one shard this module writes shaders/kv_shards.wgsl anew
 * (kvShardsSource). It is the one WGSL text the host writes. See
 * docs/long-context.md.
 */
import { fmtBytes } from '../mla/shape';
import type { KvLayout } from '../mla/kv-layout';
import type { DeviceLimits } from '../gpu/device';
import { BINDINGS, type BindingName } from '../gpu/bindings';

/** The cache's bindings in shard order: kv, kv1, kv2, ... (bindings.ts). */
export const KV_SHARD_BINDINGS = (Object.keys(BINDINGS) as BindingName[]).filter((n) => /^kv\d*$/.test(n));
/** Most shards a kernel can bind. */
export const MAX_KV_SHARDS = KV_SHARD_BINDINGS.length;

/**
 * The shader's SHARD_PAGES for a cache in one buffer: the largest u32, so
 * every page p is in shard p / SHARD_PAGES = 0, at page p % SHARD_PAGES = p.
 * It does not follow the cache's page count, so one compiled pipeline serves
 * every cache length (a sweep over seqlens compiles each kernel once).
 */
export const ONE_BUFFER_SHARD_PAGES = 0xffffffff;

/** The value of the shader's SHARD_PAGES override for these shards. */
export function shardPagesOverride(shards: KvShards): number {
  return shards.count === 1 ? ONE_BUFFER_SHARD_PAGES : shards.pagesPerShard;
}

export interface KvShards {
  /** Shard buffers the cache is cut into (1: the whole cache in one buffer). */
  readonly count: number;
  /** Pages per shard (the last shard may hold fewer). */
  readonly pagesPerShard: number;
  /** Bytes of each shard, in order. */
  readonly bytes: readonly number[];
  /** The largest shard the device and the cap allow, in bytes. */
  readonly limitBytes: number;
  /** What set that limit, for messages: "maxStorageBufferBindingSize" or "the shard cap". */
  readonly limitName: string;
  /** Whether a cap smaller than the device's limit set the shard size. */
  readonly capped: boolean;
}

/**
 * Cut a cache of `numBlocks` pages into as few shards as the device's
 * binding and buffer limits (and `capBytes`, when given) allow.
 */
export function planKvShards(layout: KvLayout, numBlocks: number, limits: DeviceLimits, capBytes?: number): KvShards {
  const deviceLimit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const capped = capBytes !== undefined && capBytes < deviceLimit;
  const limitName = capped ? `the shard cap (${fmtBytes(capBytes)})` : `this device's maxStorageBufferBindingSize/maxBufferSize (${fmtBytes(deviceLimit)})`;
  const limitBytes = Math.floor((capped ? capBytes : deviceLimit) / 16) * 16; // buffers are whole vec4s
  const pagesPerShard = Math.floor(limitBytes / layout.pageStride);
  if (pagesPerShard < 1) {
    throw new Error(`one page of the ${layout.name} cache is ${fmtBytes(layout.pageStride)} (${layout.pageBlockSize} tokens), over ${limitName}: raise the cap or make --page-block-size smaller`);
  }
  const count = Math.max(1, Math.ceil(numBlocks / pagesPerShard));
  if (count > MAX_KV_SHARDS) {
    const fit = Math.max(0, MAX_KV_SHARDS * pagesPerShard - 2) * layout.pageBlockSize; // less a generated cache's spare and poison pages
    throw new Error(`the ${layout.name} cache of ${numBlocks} pages (${fmtBytes(numBlocks * layout.pageStride)}) needs ${count} shards of at most ${limitName}; the kernels bind at most ${MAX_KV_SHARDS} `
      + `(${fmtBytes(MAX_KV_SHARDS * pagesPerShard * layout.pageStride)}): at most about ${fit} cached tokens fit; make seqlens or batch smaller${capped ? ', or raise the cap' : ''}`);
  }
  const bytes = Array.from({ length: count }, (_, k) => Math.min(pagesPerShard, numBlocks - k * pagesPerShard) * layout.pageStride);
  return { count, pagesPerShard: count === 1 ? Math.max(1, numBlocks) : pagesPerShard, bytes, limitBytes, limitName, capped };
}

/** shaders/kv_shards.wgsl for `count` shards (count 1: the shipped file, unchanged). */
export function kvShardsSource(count: number, shipped: string): string {
  if (count === 1) return shipped;
  // Keep the shipped file's opening comment; its one-buffer kvVec is replaced.
  const body = shipped.indexOf('// The vec4 at index i');
  if (body < 0) throw new Error('shaders/kv_shards.wgsl no longer has its "// The vec4 at index i" line, after which the host writes the shards\' kvVec');
  const header = shipped.slice(0, body);
  const vars = KV_SHARD_BINDINGS.slice(1, count).map((name) => `@group(0) @binding(${BINDINGS[name]}) var<storage, read> ${name}: array<vec4<u32>>;`);
  const cases = KV_SHARD_BINDINGS.slice(1, count).map((name, k) => `    case ${k + 1}u: { return ${name}[i]; }`);
  return `${header}// Written by the host for ${count} shards.\n${vars.join('\n')}\n\n// The vec4 at index i of shard \`shard\`.\nconst KV_SHARDED = true;\nfn kvVec(shard: u32, i: u32) -> vec4<u32> {\n  switch shard {\n${cases.join('\n')}\n    default: { return kv[i]; }\n  }\n}\n`;
}

/** The cache's shard buffers by binding name, for a bind group. */
export function kvShardBindings(shards: readonly GPUBuffer[]): Partial<Record<BindingName, GPUBuffer>> {
  return Object.fromEntries(shards.map((buffer, k) => [KV_SHARD_BINDINGS[k], buffer]));
}
