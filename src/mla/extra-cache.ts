/**
 * MODEL1's sparse decode reads two KV sources in one softmax (FlashMLA's
 * `flash_mla_with_kvcache`: `indices` with `topk_length`, and
 * `extra_k_cache` with `extra_indices_in_kvcache` and `extra_topk_length`):
 * query row (b, i) attends the first topk_length[b] of its main indices and
 * the first extra_topk_length[b] of its extra indices, each an index
 * `block * block_size + offset` into its own cache; invalid ones (negative or
 * past the cache) are skipped.
 *
 * The sandbox attends both without changing a kernel: the extra cache's rows
 * go after the main cache's, in pages of the same size, and the extra indices
 * after the main ones, shifted by the main cache's slot count; entries past a
 * request's length, and invalid ones, become -1. Every version of the ladder
 * then reads the union through its sparse key source. The reference
 * (referenceTwoSources) does not combine anything: it reads each cache
 * through its own indices, so a mistake in the combining shows.
 */
import type { MlaInputs } from './inputs';
import type { PagedCache } from './paged-cache';
import { type MlaShape, validateShape } from './shape';
import { type KvLayout, tokenOffsets } from './kv-layout';

export interface ExtraSource {
  /** f32 rows [numBlocks * pageBlockSize, dQk] of the extra cache (the main cache's dims and page size). */
  readonly kvRows: Float32Array;
  readonly numBlocks: number;
  /** [batch, sQ, topk]: indices into the extra cache. */
  readonly indices: Int32Array;
  readonly topk: number;
  /** [batch]: how many of each request's extra indices are used (default all). */
  readonly topkLength?: Int32Array;
}

export interface CombinedSources {
  readonly inputs: MlaInputs;
  /** Index entries within the lengths that were invalid (negative other than -1, or past their cache): skipped, as FlashMLA skips them. */
  readonly skipped: number;
}

function checkLengths(name: string, lengths: Int32Array | undefined, batch: number, topk: number): void {
  if (!lengths) return;
  if (lengths.length !== batch) throw new Error(`${name} has ${lengths.length} values, one per request is ${batch}`);
  lengths.forEach((n, b) => {
    if (!Number.isInteger(n) || n < 0 || n > topk) throw new Error(`${name}[${b}] = ${n} is not allowed: it must be from 0 to topk = ${topk}`);
  });
}

/**
 * The two sources' indices as one list per row: the main ones within
 * topk_length, then the extra ones within extra_topk_length shifted by the
 * main cache's slots; invalid entries and those past a length are -1.
 */
export function combinedIndices(
  shape: MlaShape, mainIndices: Int32Array, mainSlots: number, topkLength: Int32Array | undefined,
  extra: { readonly indices: Int32Array; readonly topk: number; readonly topkLength?: Int32Array; readonly slots: number } | undefined,
): { indices: Int32Array; skipped: number; topk: number } {
  const { batch, sQ } = shape;
  const extraTopk = extra?.topk ?? 0;
  const topk = shape.topk + extraTopk;
  const indices = new Int32Array(batch * sQ * topk).fill(-1);
  let skipped = 0;
  const take = (v: number, slots: number, shift: number): number => {
    if (v >= 0 && v < slots) return v + shift;
    if (v !== -1) skipped++;
    return -1;
  };
  for (let b = 0; b < batch; b++) {
    const mainLen = topkLength?.[b] ?? shape.topk;
    const extraLen = extra?.topkLength?.[b] ?? extraTopk;
    for (let i = 0; i < sQ; i++) {
      const row = b * sQ + i;
      for (let k = 0; k < mainLen; k++) indices[row * topk + k] = take(mainIndices[row * shape.topk + k], mainSlots, 0);
      for (let k = 0; k < extraLen; k++) indices[row * topk + shape.topk + k] = take(extra!.indices[row * extraTopk + k], extra!.slots, mainSlots);
    }
  }
  return { indices, skipped, topk };
}

/** The main sparse call and the extra source as one call over one cache. */
export function combineSources(main: MlaInputs, extra: ExtraSource | undefined, topkLength?: Int32Array): CombinedSources {
  const { shape } = main;
  if (shape.topk === 0 || !main.indices) throw new Error('the extra KV source is for the sparse decode: the main call needs topk > 0 and indices');
  if (main.cacheBytes) throw new Error('the extra KV source is combined as f32 rows: generate the main cache as rows (a shorter context)');
  const { batch, sQ, dQk, pageBlockSize: P } = shape;
  checkLengths('topk_length', topkLength, batch, shape.topk);
  if (extra) {
    checkLengths('extra_topk_length', extra.topkLength, batch, extra.topk);
    if (extra.kvRows.length !== extra.numBlocks * P * dQk) throw new Error(`the extra cache has ${extra.kvRows.length} values, ${extra.numBlocks} pages of ${P} rows of ${dQk} need ${extra.numBlocks * P * dQk}`);
    if (extra.indices.length !== batch * sQ * extra.topk) throw new Error(`extra indices have ${extra.indices.length} values, [batch ${batch}, s_q ${sQ}, topk ${extra.topk}] needs ${batch * sQ * extra.topk}`);
  }
  const mainSlots = main.cache.numBlocks * P;
  const { indices, skipped, topk } = combinedIndices(shape, main.indices, mainSlots, topkLength, extra && { ...extra, slots: extra.numBlocks * P });
  const numBlocks = main.cache.numBlocks + (extra?.numBlocks ?? 0);
  const kvRows = new Float32Array(numBlocks * P * dQk);
  kvRows.set(main.kvRows);
  if (extra) kvRows.set(extra.kvRows, mainSlots * dQk);
  const usedSlots = new Uint8Array(numBlocks * P);
  usedSlots.set(main.cache.usedSlots);
  for (const v of indices) if (v >= mainSlots) usedSlots[v] = 1;
  const cache: PagedCache = { ...main.cache, numBlocks, usedSlots };
  const combined: MlaShape = validateShape({ ...shape, topk });
  return { inputs: { ...main, shape: combined, kvRows, cache, indices }, skipped };
}

/**
 * MODEL1's extra cache as FlashMLA takes it, with a page size of its own:
 * f32 rows, or FP8 records in the main cache's layout at its own page size.
 */
export interface ExtraCacheFile {
  /** f32 rows [numBlocks * its page, dQk], or the FP8 records (bytes in `layout`). */
  readonly rows?: Float32Array;
  readonly bytes?: Uint8Array;
  readonly layout: KvLayout;
  readonly numBlocks: number;
  readonly indices: Int32Array;
  readonly topk: number;
  readonly topkLength?: Int32Array;
}

/** Copy the FP8 record of `from` slot in `src` (its layout) to slot `to` of `dst` (its layout): latent bytes, bf16 rope, scales, exactly. */
function copyRecord(src: Uint8Array, srcLayout: KvLayout, from: number, dst: Uint8Array, dstLayout: KvLayout, to: number): void {
  const a = tokenOffsets(srcLayout, from);
  const b = tokenOffsets(dstLayout, to);
  const scaleBytes = srcLayout.numTiles * (srcLayout.scaleEncoding === 'f32' ? 4 : 1);
  dst.set(src.subarray(a.token, a.token + srcLayout.dNope), b.token);
  dst.set(src.subarray(a.rope, a.rope + 2 * srcLayout.dRope), b.rope);
  dst.set(src.subarray(a.scales, a.scales + scaleBytes), b.scales);
}

/**
 * The main sparse call (its topk_length already applied to its indices) and
 * an extra cache from files as one call over one cache: the extra cache's
 * tokens move, in slot order, into pages of the main cache's size after the
 * main cache (an FP8 record byte for byte, an f32 row as it is), and its
 * indices follow the main ones, shifted by the main cache's slots.
 */
export function appendExtraCache(main: MlaInputs, extra: ExtraCacheFile): CombinedSources {
  const { shape } = main;
  if (shape.topk === 0 || !main.indices) throw new Error('an extra cache is for the sparse decode: give the main call its indices');
  const { batch, dQk, pageBlockSize: P } = shape;
  checkLengths('extra topk length', extra.topkLength, batch, extra.topk);
  const mainSlots = main.cache.numBlocks * P;
  const extraSlots = extra.numBlocks * extra.layout.pageBlockSize;
  const { indices, skipped, topk } = combinedIndices(shape, main.indices, mainSlots, undefined, { ...extra, slots: extraSlots });
  const numBlocks = main.cache.numBlocks + Math.ceil(extraSlots / P);
  let kvRows = main.kvRows;
  let cacheBytes = main.cacheBytes;
  if (main.cacheBytes && main.cacheLayout) {
    if (!extra.bytes) throw new Error('the main cache is FP8 records and the extra cache is not: give both as records (uint8) or both as float32 rows');
    cacheBytes = new Uint8Array(numBlocks * main.cacheLayout.pageStride);
    cacheBytes.set(main.cacheBytes);
    for (let s = 0; s < extraSlots; s++) copyRecord(extra.bytes, extra.layout, s, cacheBytes, main.cacheLayout, mainSlots + s);
  } else {
    if (!extra.rows) throw new Error('the main cache is float32 rows and the extra cache is FP8 records: give both as records (uint8) or both as float32 rows');
    kvRows = new Float32Array(numBlocks * P * dQk).fill(NaN); // slots past the extra cache's end: never read
    kvRows.set(main.kvRows);
    kvRows.set(extra.rows, mainSlots * dQk);
  }
  const usedSlots = new Uint8Array(numBlocks * P);
  usedSlots.set(main.cache.usedSlots);
  for (const v of indices) if (v >= mainSlots) usedSlots[v] = 1;
  const cache: PagedCache = { ...main.cache, numBlocks, usedSlots };
  return { inputs: { ...main, shape: validateShape({ ...shape, topk }), kvRows, cacheBytes, cache, indices }, skipped };
}
