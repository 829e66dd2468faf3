/**
 * The indexer's inputs for one request of L cached tokens and s_q query
 * tokens (the last s_q of the L), seeded: q [s_q, 64, 128], the head weights
 * w [s_q, 64] and the keys k [L, 128] (uniform with unit variance: one draw a
 * value, so a million keys take seconds), each vector Hadamard-transformed then
 * quantised to FP8 on the host as V3.2 does (indexer-quant.ts), and the keys
 * written into the paged indexer cache (indexer-shape.ts) through a shuffled
 * block table, so a kernel that ignores the table reads the wrong keys.
 */
import { SeededRandom } from '../mla/random';
import { decodeE4m3 } from '../numerics/fp8';
import { hadamard } from './hadamard';
import { type IndexerScaleFormat, quantizeBlock } from './indexer-quant';
import { INDEXER, type IndexerCacheLayout, indexerCacheLayout, indexerOffsets } from '../mla/indexer-shape';

export interface IndexerInputs {
  readonly keys: number;
  readonly sQ: number;
  readonly layout: IndexerCacheLayout;
  readonly scaleFormat: IndexerScaleFormat;
  /** [s_q, 64, 128] E4M3 codes. */
  readonly qCodes: Uint8Array;
  /** [s_q, 64] */
  readonly qScales: Float32Array;
  /** [s_q, 64] the head weights (V3.2 scales them by 64^-0.5 and the softmax scale; here unit normal). */
  readonly weights: Float32Array;
  /** The paged cache: pages of 132 B a token. */
  readonly cache: Uint8Array;
  /** [pages]: logical page -> physical page. */
  readonly blockTable: Int32Array;
}

export interface IndexerOptions {
  readonly seed?: number;
  readonly pageBlockSize?: number;
  readonly scaleFormat?: IndexerScaleFormat;
  /**
   * Tokens whose key is set along the queries (every query token's heads
   * summed, signed by their weights) instead of drawn: the relevant tokens the
   * indexer should find. Each must be visible to every query token.
   */
  readonly planted?: readonly number[];
}

export function checkIndexerSize(keys: number, sQ: number): void {
  if (!Number.isInteger(keys) || keys < 1 || keys > 2 ** 22) throw new Error(`keys = ${keys} is not allowed: the indexer takes 1 to ${2 ** 22} cached tokens`);
  if (!Number.isInteger(sQ) || sQ < 1 || sQ > 128 || sQ > keys) throw new Error(`s_q = ${sQ} is not allowed: s_q must be an integer from 1 to min(128, keys = ${keys})`);
}

const SQRT3 = Math.sqrt(3);

/**
 * Vectors of 128, uniform with unit variance (or `fixed(r)` where it gives
 * one), Hadamard-transformed, quantised block by block into codes; returns
 * the scales.
 */
function quantizedVectors(rng: SeededRandom, count: number, codes: Uint8Array, format: IndexerScaleFormat, fixed?: (r: number) => Float64Array | undefined): Float32Array {
  const d = INDEXER.headDim;
  const v = new Float64Array(d);
  const scales = new Float32Array(count);
  for (let r = 0; r < count; r++) {
    for (let k = 0; k < d; k++) v[k] = SQRT3 * (2 * rng.uniform() - 1);
    const f = fixed?.(r);
    if (f) v.set(f);
    hadamard(v, 0, d);
    scales[r] = quantizeBlock(v, 0, d, codes, r * d, format);
  }
  return scales;
}

/** How strongly a planted key points along the query: its length against a drawn key's (sqrt(128)). */
const PLANT_GAIN = 3;

/**
 * A key that scores high for every query token: the sum of their heads'
 * (decoded) queries, each signed by its head's weight, so ReLU keeps the
 * heads that count positively. Given before the Hadamard transform, which is its own
 * inverse: after it, the key is that sum.
 */
function plantedDirection(qCodes: Uint8Array, weights: Float32Array): Float64Array {
  const D = INDEXER.headDim;
  const u = new Float64Array(D);
  for (let r = 0; r < weights.length; r++) {
    const sign = Math.sign(weights[r]);
    for (let d = 0; d < D; d++) u[d] += sign * decodeE4m3(qCodes[r * D + d]);
  }
  const norm = Math.hypot(...u);
  for (let d = 0; d < D; d++) u[d] *= (PLANT_GAIN * Math.sqrt(D)) / norm;
  hadamard(u, 0, D);
  return u;
}

export function generateIndexerInputs(keys: number, sQ: number, options: IndexerOptions = {}): IndexerInputs {
  checkIndexerSize(keys, sQ);
  const rng = new SeededRandom(options.seed ?? 0);
  const format = options.scaleFormat ?? 'ue8m0';
  const layout = indexerCacheLayout(options.pageBlockSize ?? 64);
  const H = INDEXER.heads;
  const D = INDEXER.headDim;
  const qCodes = new Uint8Array(sQ * H * D);
  const qScales = quantizedVectors(rng, sQ * H, qCodes, format);
  const weights = Float32Array.from({ length: sQ * H }, () => rng.normal());
  const planted = new Set(options.planted ?? []);
  for (const t of planted) {
    if (!Number.isInteger(t) || t < 0 || t > keys - sQ) throw new Error(`planted token ${t} is not allowed: a planted token must be visible to every query token (0 to ${keys - sQ})`);
  }
  const plantedKey = plantedDirection(qCodes, weights);
  const kCodes = new Uint8Array(keys * D);
  const kScales = quantizedVectors(rng, keys, kCodes, format, (t) => (planted.has(t) ? plantedKey : undefined));
  const pages = Math.ceil(keys / layout.pageBlockSize);
  const blockTable = Int32Array.from(rng.permutation(pages));
  const cache = new Uint8Array(pages * layout.pageStride);
  const scaleBytes = new Uint8Array(kScales.buffer);
  for (let t = 0; t < keys; t++) {
    const slot = blockTable[Math.floor(t / layout.pageBlockSize)] * layout.pageBlockSize + (t % layout.pageBlockSize);
    const at = indexerOffsets(layout, slot);
    cache.set(kCodes.subarray(t * INDEXER.headDim, (t + 1) * INDEXER.headDim), at.key);
    cache.set(scaleBytes.subarray(4 * t, 4 * t + 4), at.scale);
  }
  return { keys, sQ, layout, scaleFormat: format, qCodes, qScales, weights, cache, blockTable };
}
