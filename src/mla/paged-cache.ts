/**
 * The paged KV cache's bookkeeping: which physical page holds which part of
 * each request. Requests are scattered into shuffled pages (so code that
 * ignores the block table reads the wrong tokens), and every slot no request
 * references is marked, so the generator can fill it with NaN: a kernel that
 * reads past a seqlen, a page or an index shows it at once (FlashMLA's
 * tests/lib.py does the same).
 */
import { type MlaShape, maxBlocksPerSeq, pagesPerRequest } from './shape';
import type { SeededRandom } from '../random/seeded-random';

export interface PagedCache {
  /** Physical pages in the cache, including the spare and poison pages. */
  readonly numBlocks: number;
  /** Row width of the block table. */
  readonly maxBlocksPerSeq: number;
  /** [batch, maxBlocksPerSeq]: physical page of each logical page; unused entries point at the poison page. */
  readonly blockTable: Int32Array;
  readonly seqlens: Int32Array;
  /** A page no request uses, filled with NaN; unused block-table entries point here. */
  readonly poisonBlock: number;
  /** usedSlots[slot] = 1 when a request references that slot (block * page + offset). */
  readonly usedSlots: Uint8Array;
}

/** Physical slot of request b's token t: block_table[b][t / page] * page + t % page. */
export function slotOf(cache: PagedCache, pageBlockSize: number, b: number, t: number): number {
  const block = cache.blockTable[b * cache.maxBlocksPerSeq + Math.floor(t / pageBlockSize)];
  return block * pageBlockSize + (t % pageBlockSize);
}

/**
 * Scatter the requests of `shape` into shuffled pages. `sparePages` unused
 * pages are added (also NaN), plus the poison page.
 */
export function buildPagedCache(shape: MlaShape, rng: SeededRandom, sparePages = 1): PagedCache {
  const P = shape.pageBlockSize;
  const pages = pagesPerRequest(shape);
  const width = maxBlocksPerSeq(shape);
  const used = pages.reduce((a, b) => a + b, 0);
  const numBlocks = used + sparePages + 1;
  const order = rng.permutation(numBlocks);
  const poisonBlock = order[numBlocks - 1];
  const blockTable = new Int32Array(shape.batch * width).fill(poisonBlock);
  const usedSlots = new Uint8Array(numBlocks * P);
  let next = 0;
  for (let b = 0; b < shape.batch; b++) {
    for (let j = 0; j < pages[b]; j++) blockTable[b * width + j] = order[next++];
  }
  const cache: PagedCache = {
    numBlocks, maxBlocksPerSeq: width, blockTable, seqlens: Int32Array.from(shape.seqlens), poisonBlock, usedSlots,
  };
  for (let b = 0; b < shape.batch; b++) {
    for (let t = 0; t < shape.seqlens[b]; t++) usedSlots[slotOf(cache, P, b, t)] = 1;
  }
  return cache;
}
