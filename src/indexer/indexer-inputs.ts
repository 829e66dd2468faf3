/**
 * The indexer's inputs for one request of L cached tokens and s_q query
 * tokens (the last s_q of the L), seeded: q [s_q, 64, 128], the head weights
 * w [s_q, 64] and the keys k [L, 128] (uniform with unit variance: one draw a
 * value, so a million keys take seconds), each vector Hadamard-transformed then
 * quantised to FP8 on the host as V3.2 does (indexer-quant.ts), and the keys
 * written into the paged indexer cache (indexer-shape.ts) through a shuffled
 * block table, so a kernel that ignores the table reads the wrong keys.
 */
import { SeededRandom } from '../random/seeded-random';
import { type NpyArray, expectNpy } from '../run/npy';
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
  /** A prompt's query tokens (up to keys of them, run in chunks) rather than a decode step's (up to 128). */
  readonly prompt?: boolean;
}

/** Query tokens of a decode step the indexer takes (a prompt takes up to all its keys, in chunks). */
export const MAX_DECODE_QUERIES = 128;

export function checkIndexerSize(keys: number, sQ: number, prompt = false): void {
  if (!Number.isInteger(keys) || keys < 1 || keys > 2 ** 22) throw new Error(`keys = ${keys} is not allowed: the indexer takes 1 to ${2 ** 22} cached tokens`);
  const most = prompt ? keys : Math.min(MAX_DECODE_QUERIES, keys);
  if (!Number.isInteger(sQ) || sQ < 1 || sQ > most) throw new Error(`s_q = ${sQ} is not allowed: s_q must be an integer from 1 to ${prompt ? `keys = ${keys}` : `min(${MAX_DECODE_QUERIES}, keys = ${keys})`}`);
}

const SQRT3 = Math.sqrt(3);

/** Writes row r's raw values (before the Hadamard transform) into v. */
type RowSource = (r: number, v: Float64Array) => void;

/** Rows of 128 from `fill`, Hadamard-transformed, quantised block by block into codes; returns the scales. */
function quantizedVectors(count: number, codes: Uint8Array, format: IndexerScaleFormat, fill: RowSource): Float32Array {
  const d = INDEXER.headDim;
  const v = new Float64Array(d);
  const scales = new Float32Array(count);
  for (let r = 0; r < count; r++) {
    fill(r, v);
    hadamard(v, 0, d);
    scales[r] = quantizeBlock(v, 0, d, codes, r * d, format);
  }
  return scales;
}

/** Uniform values with unit variance, one draw each. */
function drawn(rng: SeededRandom): RowSource {
  return (_r, v) => { for (let k = 0; k < v.length; k++) v[k] = SQRT3 * (2 * rng.uniform() - 1); };
}

/** How strongly a planted key points along the query: its length against a drawn key's (sqrt(128)). */
const PLANT_GAIN = 3;

/**
 * A key that scores high for every query token: the sum of their heads'
 * (decoded) queries, each signed by its head's weight, so ReLU keeps the
 * heads that count positively. Given before the Hadamard transform, which is
 * its own inverse: after it, the key is that sum.
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

interface Sources {
  readonly keys: number;
  readonly sQ: number;
  readonly q: RowSource;
  readonly weights: Float32Array;
  /** Given q's codes, the keys' rows (a planted key is aimed at the quantised queries). */
  readonly k: (qCodes: Uint8Array) => RowSource;
  /** Shuffles the block table. */
  readonly rng: SeededRandom;
}

function buildIndexerInputs(src: Sources, options: IndexerOptions): IndexerInputs {
  const { keys, sQ } = src;
  checkIndexerSize(keys, sQ, options.prompt);
  const format = options.scaleFormat ?? 'ue8m0';
  const layout = indexerCacheLayout(options.pageBlockSize ?? 64);
  const D = INDEXER.headDim;
  const qCodes = new Uint8Array(sQ * INDEXER.heads * D);
  const qScales = quantizedVectors(sQ * INDEXER.heads, qCodes, format, src.q);
  const kCodes = new Uint8Array(keys * D);
  const kScales = quantizedVectors(keys, kCodes, format, src.k(qCodes));
  const pages = Math.ceil(keys / layout.pageBlockSize);
  const blockTable = Int32Array.from(src.rng.permutation(pages));
  const cache = new Uint8Array(pages * layout.pageStride);
  const scaleBytes = new Uint8Array(kScales.buffer);
  for (let t = 0; t < keys; t++) {
    const slot = blockTable[Math.floor(t / layout.pageBlockSize)] * layout.pageBlockSize + (t % layout.pageBlockSize);
    const at = indexerOffsets(layout, slot);
    cache.set(kCodes.subarray(t * D, (t + 1) * D), at.key);
    cache.set(scaleBytes.subarray(4 * t, 4 * t + 4), at.scale);
  }
  return { keys, sQ, layout, scaleFormat: format, qCodes, qScales, weights: src.weights, cache, blockTable };
}

/** Rows of a flat array, 128 values each. */
function rowsOf(values: ArrayLike<number>): RowSource {
  return (r, v) => { for (let k = 0; k < v.length; k++) v[k] = values[r * v.length + k]; };
}

export function generateIndexerInputs(keys: number, sQ: number, options: IndexerOptions = {}): IndexerInputs {
  checkIndexerSize(keys, sQ, options.prompt);
  const rng = new SeededRandom(options.seed ?? 0);
  const planted = new Set(options.planted ?? []);
  for (const t of planted) {
    if (!Number.isInteger(t) || t < 0 || t > keys - sQ) throw new Error(`planted token ${t} is not allowed: a planted token must be visible to every query token (0 to ${keys - sQ})`);
  }
  // The seed fixes q, then the weights, then the keys (drawn as they are quantised: a million keys are never held raw).
  const qRaw = new Float64Array(sQ * INDEXER.heads * INDEXER.headDim);
  drawn(rng)(0, qRaw);
  const weights = Float32Array.from({ length: sQ * INDEXER.heads }, () => rng.normal());
  return buildIndexerInputs({
    keys, sQ, rng, q: rowsOf(qRaw), weights,
    k: (qCodes) => {
      const key = drawn(rng);
      const aim = planted.size > 0 ? plantedDirection(qCodes, weights) : undefined;
      return (t, v) => { key(t, v); if (aim && planted.has(t)) v.set(aim); };
    },
  }, options);
}

export interface IndexerArrays {
  /** float32 [s_q, 64, 128], before the Hadamard transform and FP8. */
  readonly q: NpyArray;
  /** float32 [L, 128], the same. */
  readonly k: NpyArray;
  /** float32 [s_q, 64] */
  readonly weights: NpyArray;
  readonly names: Readonly<Record<'q' | 'k' | 'weights', string>>;
}

/** Your own indexer tensors, checked, then transformed and quantised as generated ones are. */
export function indexerInputsFromArrays(a: IndexerArrays, options: IndexerOptions = {}): IndexerInputs {
  const { heads: H, headDim: D } = INDEXER;
  expectNpy(a.q, a.names.q, ['float32'], [null, H, D], `s_q, ${H}, ${D}`);
  const sQ = a.q.shape[0];
  expectNpy(a.weights, a.names.weights, ['float32'], [sQ, H], `s_q, ${H}`);
  expectNpy(a.k, a.names.k, ['float32'], [null, D], `L, ${D}`);
  const keys = a.k.shape[0];
  try {
    checkIndexerSize(keys, sQ, options.prompt);
  } catch (e) {
    throw new Error(`${a.names.k} (L ${keys}) and ${a.names.q} (s_q ${sQ}): ${(e as Error).message}`);
  }
  for (const [arr, name] of [[a.q, a.names.q], [a.k, a.names.k], [a.weights, a.names.weights]] as const) {
    const data = arr.data as Float32Array;
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${name}: value ${bad} is ${data[bad]}: every value must be finite`);
  }
  if (options.planted?.length) throw new Error('planted tokens are for generated indexer inputs: your own keys decide what is relevant');
  return buildIndexerInputs({
    keys, sQ, rng: new SeededRandom(options.seed ?? 0), q: rowsOf(a.q.data as Float32Array), weights: a.weights.data as Float32Array,
    k: () => rowsOf(a.k.data as Float32Array),
  }, options);
}
