/**
 * Seeded, reproducible inputs for one MLA decode call: q, the f32 KV rows of
 * a paged cache (unused slots NaN), and for sparse shapes the indices.
 *
 * Each part is drawn from its own stream of the seed (STREAMS), and the key
 * of request b's token t from a stream of its own, set by (seed, b, t)
 * alone (src/random/): a token's values do not depend on the page it landed
 * in, the page size, h_q or the cache format, and a long cache is drawn a
 * chunk at a time with the same values as whole.
 */
import { type MlaShape, pagesPerRequest, validateShape } from './shape';
import { SeededRandom } from '../random/seeded-random';
import { type PagedCache, buildPagedCache, slotOf } from './paged-cache';
import { type KvLayout, type ScaleRounding, cacheBytes as cacheBytesOf } from './kv-layout';
import { quantizeSlots } from './kv-quant';

export type InputDistribution = 'normal' | 'outliers';
export const INPUT_DISTRIBUTIONS: readonly InputDistribution[] = ['normal', 'outliers'];

export interface MlaInputs {
  readonly shape: MlaShape;
  /** [batch, sQ, hQ, dQk] */
  readonly q: Float32Array;
  /**
   * f32 [numBlocks * pageBlockSize, dQk]; NaN in every slot no request
   * references. Empty when the cache comes as bytes (cacheBytes).
   */
  readonly kvRows: Float32Array;
  /**
   * The cache already in its byte layout: a loaded FP8 cache, or a long one
   * generated straight into its format. When set, kvRows is empty and not used.
   */
  readonly cacheBytes?: Uint8Array;
  /** The layout of cacheBytes. */
  readonly cacheLayout?: KvLayout;
  readonly cache: PagedCache;
  /** [batch, sQ, topk] global slots (block * page + offset), -1 etc. = skip; only when topk > 0. */
  readonly indices?: Int32Array;
  /** [hQ] attention sink logits; only when shape.attentionSink. */
  readonly sink?: Float32Array;
}

export interface InputOptions {
  readonly seed?: number;
  /** 'normal': N(0,1) everywhere. 'outliers': a few latent channels 10-30x larger, as real latents have. */
  readonly distribution?: InputDistribution;
  /** Fraction of sparse indices replaced by invalid ones (FlashMLA's list). */
  readonly invalidIndexFraction?: number;
  /** Sparse query rows (b * sQ + i) whose indices are all invalid. */
  readonly allInvalidRows?: readonly number[];
  /**
   * Generate the cache straight into this layout, a chunk of slots at a time,
   * never as a whole f32 array (a million-token cache). The values are the
   * same as without it, then quantised.
   */
  readonly cacheLayout?: KvLayout;
  readonly scaleRounding?: ScaleRounding;
  /** Called after each chunk of the cache with the slots done and the slots in all. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * The stream of the seed each part is drawn from. Request b's keys use
 * stream kvFirst + b, row t for its token t.
 */
const STREAMS = { pages: 1, q: 2, channelGains: 3, indices: 4, sink: 5, kvFirst: 0x10000 } as const;

/** Slots generated at a time when the cache goes straight into its layout. */
const GENERATE_CHUNK_SLOTS = 4096;

/** Invalid sparse indices FlashMLA's tests draw (tests/lib.py), filtered to those out of range. */
export function invalidIndexPool(numSlots: number): number[] {
  return [-(2 ** 31), -123456, -1, numSlots, 114514, 2 ** 31 - 1].filter((v) => v < 0 || v >= numSlots);
}

export function generateInputs(shape: MlaShape, options: InputOptions = {}): MlaInputs {
  validateShape(shape);
  const distribution = options.distribution ?? 'normal';
  if (!INPUT_DISTRIBUTIONS.includes(distribution)) {
    throw new Error(`distribution ${JSON.stringify(distribution)} is not allowed: distribution must be one of ${INPUT_DISTRIBUTIONS.join(', ')}`);
  }
  const seed = options.seed ?? 0;
  const cache = buildPagedCache(shape, new SeededRandom(seed, STREAMS.pages));
  const d = shape.dQk;

  const q = new Float32Array(shape.batch * shape.sQ * shape.hQ * d);
  const qStream = new SeededRandom(seed, STREAMS.q);
  for (let i = 0; i < q.length; i++) q[i] = qStream.normal();

  const channelGain = new Float32Array(d).fill(1);
  if (distribution === 'outliers') {
    const gains = new SeededRandom(seed, STREAMS.channelGains);
    const count = Math.max(1, Math.round(shape.dNope / 64));
    for (let k = 0; k < count; k++) channelGain[gains.int(0, Math.max(0, shape.dNope - 1))] = 10 + 20 * gains.uniform();
  }
  const numSlots = cache.numBlocks * shape.pageBlockSize;
  const owners = slotOwners(shape, cache);
  // Rows of slots first .. first + rows.length / d - 1, in slot order: each used slot's
  // row from the stream of its request and token, so the same values whole or in chunks.
  const fillRows = (rows: Float32Array, first: number) => {
    for (let k = 0; k < rows.length / d; k++) {
      const slot = first + k;
      const page = Math.floor(slot / shape.pageBlockSize);
      const b = owners.request[page];
      const t = owners.firstToken[page] + (slot % shape.pageBlockSize);
      if (b < 0 || cache.usedSlots[slot] !== 1) {
        rows.fill(NaN, k * d, (k + 1) * d);
        continue;
      }
      const token = new SeededRandom(seed, STREAMS.kvFirst + b, t);
      for (let c = 0; c < d; c++) rows[k * d + c] = token.normal() * channelGain[c];
    }
  };
  let kvRows: Float32Array;
  let bytes: Uint8Array | undefined;
  const layout = options.cacheLayout;
  if (layout) {
    kvRows = new Float32Array(0);
    bytes = new Uint8Array(cacheBytesOf(layout, cache.numBlocks));
    const rows = new Float32Array(GENERATE_CHUNK_SLOTS * d);
    for (let first = 0; first < numSlots; first += GENERATE_CHUNK_SLOTS) {
      const chunk = rows.subarray(0, Math.min(GENERATE_CHUNK_SLOTS, numSlots - first) * d);
      fillRows(chunk, first);
      quantizeSlots(chunk, first, bytes, layout, { scaleRounding: options.scaleRounding });
      options.onProgress?.(first + chunk.length / d, numSlots);
    }
  } else {
    kvRows = new Float32Array(numSlots * d);
    fillRows(kvRows, 0);
  }

  const indices = shape.topk > 0 ? sparseIndices(shape, cache, seed, options) : undefined;
  let sink: Float32Array | undefined;
  if (shape.attentionSink) {
    const sinkStream = new SeededRandom(seed, STREAMS.sink);
    sink = new Float32Array(shape.hQ);
    for (let h = 0; h < shape.hQ; h++) sink[h] = sinkStream.normal() * 2;
  }
  return { shape, q, kvRows, cacheBytes: bytes, cacheLayout: bytes ? layout : undefined, cache, indices, sink };
}

/**
 * For each query row, `topk` distinct positions of its request drawn at random and
 * mapped through the block table to global slots; when the request has fewer
 * keys than topk, the rest are -1. Then some entries become invalid values.
 */
function sparseIndices(shape: MlaShape, cache: PagedCache, seed: number, options: InputOptions): Int32Array {
  const { topk, sQ } = shape;
  const numSlots = cache.numBlocks * shape.pageBlockSize;
  const pool = invalidIndexPool(numSlots);
  const fraction = options.invalidIndexFraction ?? 0.1;
  const allInvalid = new Set(options.allInvalidRows ?? []);
  const indices = new Int32Array(shape.batch * sQ * topk);
  for (let b = 0; b < shape.batch; b++) {
    for (let i = 0; i < sQ; i++) {
      const row = b * sQ + i;
      const rng = new SeededRandom(seed, STREAMS.indices, row);
      const positions = rng.permutation(shape.seqlens[b]);
      for (let k = 0; k < topk; k++) {
        let v = k < positions.length ? slotOf(cache, shape.pageBlockSize, b, positions[k]) : -1;
        if (allInvalid.has(row) || rng.uniform() < fraction) v = pool[rng.int(0, pool.length - 1)];
        indices[row * topk + k] = v;
      }
    }
  }
  return indices;
}

/**
 * For each physical page, the request that owns it (-1: none) and the
 * position of its first token in that request.
 */
function slotOwners(shape: MlaShape, cache: PagedCache): { request: Int32Array; firstToken: Int32Array } {
  const request = new Int32Array(cache.numBlocks).fill(-1);
  const firstToken = new Int32Array(cache.numBlocks);
  const perRequest = pagesPerRequest(shape);
  for (let b = 0; b < shape.batch; b++) {
    for (let j = 0; j < perRequest[b]; j++) {
      const page = cache.blockTable[b * cache.maxBlocksPerSeq + j];
      request[page] = b;
      firstToken[page] = j * shape.pageBlockSize;
    }
  }
  return { request, firstToken };
}
