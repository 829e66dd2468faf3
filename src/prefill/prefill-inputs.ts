/**
 * Seeded prefill cases made the way FlashMLA's tests make them (tests/lib.py,
 * generate_testcase, for flash_mla_sparse_fwd):
 *   q, kv       N(0, 1) / 10 plus one offset per tensor drawn from [-0.05, 0.05)
 *   indices     topk distinct tokens of the s_kv per query token, in random order;
 *               when topk > s_kv the rest are invalid values from FlashMLA's list
 *               (-2147483648, -123456, -1, s_kv, 114514, 1919810, 2147480000, 2147483647,
 *               those out of range); a share of tokens (allInvalidShare) get no valid index
 *   attn_sink   N(0, 1) per head, about 31 % of the heads -inf and 31 % +inf
 *   topk_length uniform from 0 to topk per query token
 * The cache is flat ([s_kv, 1, d_qk]), or paged: pages of pageSize tokens in
 * shuffled order, one spare page, NaN in every slot that holds no token, and
 * the indices are the tokens' physical slots (block * page + offset), as the
 * decode caches take them. Flat and paged caches of the same seed hold the
 * same tokens, so they give the same attention.
 */
import { SeededRandom } from '../random/seeded-random';
import { type HeadDims, type PrefillCall, flatPageSize, withTopkLength } from './prefill-call';

export interface PrefillCaseOptions {
  readonly dims: HeadDims;
  readonly sQ: number;
  readonly sKv: number;
  readonly hQ: number;
  readonly topk: number;
  readonly seed?: number;
  /** Tokens per page of a paged cache; undefined: the flat cache. */
  readonly pageSize?: number;
  /**
   * The flat cache's page size as the kernels see it (it must divide s_kv;
   * default flatPageSize(s_kv)): prompts of several lengths given one page
   * size run one pipeline of each kernel (prompt-cost.ts).
   */
  readonly flatPage?: number;
  readonly sink?: boolean;
  readonly topkLength?: boolean;
  /** Share of query tokens whose indices are all invalid (FlashMLA's is_all_indices_invalid: about 2 %). */
  readonly allInvalidShare?: number;
  readonly softmaxScale?: number;
}

/** The seed's stream of each part. */
const STREAMS = { q: 1, kv: 2, offsets: 3, indices: 4, sink: 5, topkLength: 6, pages: 7, allInvalid: 8 } as const;

/** FlashMLA's invalid index values (tests/lib.py), those invalid for a cache of `slots`. */
export function invalidCandidates(slots: number): number[] {
  return [-2147483648, -123456, -1, slots, 114514, 1919810, 2147480000, 2147483647].filter((v) => v < 0 || v >= slots);
}

/** k distinct integers of [0, n) in random order (k <= n). */
function distinctDraw(rng: SeededRandom, n: number, k: number): number[] {
  if (4 * k > n) return rng.permutation(n).slice(0, k);
  const seen = new Set<number>();
  while (seen.size < k) seen.add(rng.int(0, n - 1));
  return [...seen];
}

/** N(0, 1) / 10 + one offset, clamped to [-10, 10] as FlashMLA clamps. */
function fillScaledNormal(out: Float32Array, rng: SeededRandom, offset: number): void {
  for (let k = 0; k < out.length; k++) out[k] = Math.max(-10, Math.min(10, rng.normal() / 10 + offset));
}

export function generatePrefillCase(o: PrefillCaseOptions): PrefillCall {
  const seed = o.seed ?? 0;
  const { dQk } = o.dims;
  const { sQ, sKv, hQ, topk } = o;
  const offsets = new SeededRandom(seed, STREAMS.offsets);
  const q = new Float32Array(sQ * hQ * dQk);
  fillScaledNormal(q, new SeededRandom(seed, STREAMS.q), (offsets.uniform() - 0.5) / 10);
  const tokens = new Float32Array(sKv * dQk);
  fillScaledNormal(tokens, new SeededRandom(seed, STREAMS.kv), (offsets.uniform() - 0.5) / 10);

  // Where token t lives: flat, slot t; paged, its page's place in a shuffled order.
  const flat = o.pageSize === undefined;
  if (o.flatPage !== undefined && (!flat || sKv % o.flatPage !== 0)) throw new Error(`a flat page of ${o.flatPage} tokens is not allowed: it must divide s_kv (${sKv}) and the cache be flat`);
  const pageSize = o.pageSize ?? o.flatPage ?? flatPageSize(sKv);
  const numBlocks = flat ? sKv / pageSize : Math.ceil(sKv / pageSize) + 1;
  const order = flat ? undefined : new SeededRandom(seed, STREAMS.pages).permutation(numBlocks);
  const slotOf = (t: number) => (order ? order[Math.floor(t / pageSize)] * pageSize + (t % pageSize) : t);
  const kvRows = new Float32Array(numBlocks * pageSize * dQk).fill(NaN);
  for (let t = 0; t < sKv; t++) kvRows.set(tokens.subarray(t * dQk, (t + 1) * dQk), slotOf(t) * dQk);

  const slots = numBlocks * pageSize;
  const invalid = invalidCandidates(slots);
  const allInvalid = new SeededRandom(seed, STREAMS.allInvalid);
  let indices: Int32Array = new Int32Array(sQ * topk);
  for (let i = 0; i < sQ; i++) {
    const rng = new SeededRandom(seed, STREAMS.indices, i);
    const row = indices.subarray(i * topk, (i + 1) * topk);
    if (allInvalid.uniform() < (o.allInvalidShare ?? 0)) {
      row.fill(invalid[rng.int(0, invalid.length - 1)]);
      continue;
    }
    const chosen = distinctDraw(rng, sKv, Math.min(topk, sKv)).map(slotOf);
    while (chosen.length < topk) chosen.push(invalid[rng.int(0, invalid.length - 1)]);
    rng.permutation(topk).forEach((from, k) => { row[k] = chosen[from]; });
  }
  if (o.topkLength) {
    const rng = new SeededRandom(seed, STREAMS.topkLength);
    const lengths = Int32Array.from({ length: sQ }, () => rng.int(0, topk));
    indices = withTopkLength(indices, lengths, sQ, topk, 'topk_length');
  }
  let sink: Float32Array | undefined;
  if (o.sink) {
    const rng = new SeededRandom(seed, STREAMS.sink);
    sink = Float32Array.from({ length: hQ }, () => {
      const value = rng.normal();
      const mask = rng.normal();
      return mask < -0.5 ? -Infinity : mask > 0.5 ? Infinity : value;
    });
  }
  return { dims: o.dims, sQ, hQ, topk, q, pageSize, numBlocks, flat, kvRows, indices, sink, softmaxScale: o.softmaxScale };
}
