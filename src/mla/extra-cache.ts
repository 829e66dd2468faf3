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

/** The main sparse call and the extra source as one call over one cache. */
export function combineSources(main: MlaInputs, extra: ExtraSource | undefined, topkLength?: Int32Array): CombinedSources {
  const { shape } = main;
  if (shape.topk === 0 || !main.indices) throw new Error('the extra KV source is for the sparse decode: the main call needs topk > 0 and indices');
  if (main.cacheBytes) throw new Error('the extra KV source is combined as f32 rows: generate the main cache as rows (a shorter context)');
  const { batch, sQ, dQk, pageBlockSize: P } = shape;
  checkLengths('topk_length', topkLength, batch, shape.topk);
  const extraTopk = extra?.topk ?? 0;
  if (extra) {
    checkLengths('extra_topk_length', extra.topkLength, batch, extra.topk);
    if (extra.kvRows.length !== extra.numBlocks * P * dQk) throw new Error(`the extra cache has ${extra.kvRows.length} values, ${extra.numBlocks} pages of ${P} rows of ${dQk} need ${extra.numBlocks * P * dQk}`);
    if (extra.indices.length !== batch * sQ * extra.topk) throw new Error(`extra indices have ${extra.indices.length} values, [batch ${batch}, s_q ${sQ}, topk ${extra.topk}] needs ${batch * sQ * extra.topk}`);
  }
  const mainSlots = main.cache.numBlocks * P;
  const extraSlots = (extra?.numBlocks ?? 0) * P;
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
      for (let k = 0; k < mainLen; k++) indices[row * topk + k] = take(main.indices[row * shape.topk + k], mainSlots, 0);
      for (let k = 0; k < extraLen; k++) indices[row * topk + shape.topk + k] = take(extra!.indices[row * extraTopk + k], extraSlots, mainSlots);
    }
  }
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
