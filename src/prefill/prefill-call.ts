/**
 * A sparse prefill call, FlashMLA's flash_mla_sparse_fwd (docs/prefill.md):
 *
 *   q            [s_q, h_q, d_qk]   one row of heads per query token of the prompt
 *   kv           [s_kv, 1, d_qk]    the flat prefill cache (FlashMLA's: bf16), or a paged cache
 *                                   (its decode caches: pages of any size, in any order)
 *   indices      [s_q, 1, topk]     int32: the cache slots token i attends; negative or
 *                                   >= the cache's slots: skipped (FlashMLA: -1 or >= s_kv)
 *   attn_sink    [h_q]              optional: out *= 1 / (1 + exp(sink_h - lse))
 *   topk_length  [s_q]              optional: token i reads its first topk_length[i] indices
 *   returns out [s_q, h_q, d_v], max_logits [s_q, h_q], lse [s_q, h_q]
 *   (FlashMLA's tests/ref.py, ref_sparse_attn_fwd: natural units; a token with no
 *   valid index has out 0, max_logits -inf, lse +inf)
 *
 * How it runs: a prefill is the sparse decode with one query token per
 * request. Token i of the prompt is request i (batch s_q, one query token
 * each) and its indices are that request's, so the ladder's kernels run it
 * unchanged. The prompt is cut into chunks of requests that fit the device
 * (prefill-run.ts); the chunks share one upload of the cache.
 *
 * The flat cache is given the kernels as pages whose size divides s_kv
 * (flatPageSize), so the cache has exactly s_kv slots and an index at or
 * past s_kv falls past its end, as FlashMLA's rule says.
 */
import { type HeadPreset, type MlaShape, SHAPE_LIMITS, validateShape } from '../mla/shape';
import type { MlaInputs } from '../mla/inputs';
import type { PagedCache } from '../mla/paged-cache';
import type { KvLayout } from '../mla/kv-layout';

/** The most query tokens one prefill call takes (FlashMLA's tests go to 70,000). */
export const MAX_PREFILL_TOKENS = 1 << 20;

export type HeadDims = Pick<HeadPreset, 'dQk' | 'dNope' | 'dRope' | 'dV'>;

export interface PrefillCall {
  readonly dims: HeadDims;
  /** Query tokens of the prompt. */
  readonly sQ: number;
  readonly hQ: number;
  /** Indices per query token. */
  readonly topk: number;
  /** [s_q, h_q, d_qk] */
  readonly q: Float32Array;
  /** Tokens per page of the cache (flat: flatPageSize(s_kv)). */
  readonly pageSize: number;
  /** Pages of the cache. */
  readonly numBlocks: number;
  /** Whether the cache is FlashMLA's flat prefill cache ([s_kv, 1, d_qk]) rather than a paged one. */
  readonly flat: boolean;
  /** f32 rows [numBlocks * pageSize, d_qk], quantised into the run's format; or empty when cacheBytes is set. */
  readonly kvRows: Float32Array;
  /** The cache already in its byte layout (FP8 records from a file), with that layout. */
  readonly cacheBytes?: Uint8Array;
  readonly cacheLayout?: KvLayout;
  /** [s_q, topk] slots, with every index past a token's topk_length already made -1 (withTopkLength). */
  readonly indices: Int32Array;
  readonly sink?: Float32Array;
  /** Softmax scale; undefined: 1 / sqrt(d_qk) (FlashMLA's tests pass 0.5). */
  readonly softmaxScale?: number;
}

/** Slots of the cache: s_kv for a flat one. */
export function cacheSlots(call: Pick<PrefillCall, 'numBlocks' | 'pageSize'>): number {
  return call.numBlocks * call.pageSize;
}

/**
 * Page size for a flat cache of sKv tokens: the largest divisor of sKv up to
 * the largest page the sandbox takes, so the pages hold exactly sKv slots
 * (a prime sKv past it gets pages of one token: still correct).
 */
export function flatPageSize(sKv: number): number {
  for (let p = Math.min(sKv, SHAPE_LIMITS.maxPageBlockSize); p > 1; p--) {
    if (sKv % p === 0) return p;
  }
  return 1;
}

/** The smallest page sharedFlatPage gives: FlashMLA's page block size. */
export const MIN_SHARED_PAGE = 64;

/**
 * One flat page size for prompts of several lengths: the largest page up to
 * the largest the sandbox takes that divides every length (flatPageSize of
 * their gcd). The page size is an override constant of the kernels, so with
 * one page every length runs the same pipelines, compiled once. Undefined
 * when that page is under MIN_SHARED_PAGE (lengths with little in common,
 * 1000 and 1001): each length then takes its own, flatPageSize(L), rather
 * than a block table of one entry a token.
 */
export function sharedFlatPage(lengths: readonly number[]): number | undefined {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const page = flatPageSize(lengths.reduce(gcd));
  return page >= MIN_SHARED_PAGE ? page : undefined;
}

/**
 * FlashMLA's topk_length [s_q]: token i reads its first topk_length[i]
 * indices. Returned as indices with the rest made -1 (a copy). `name` is
 * how a message calls the lengths (a flag and file).
 */
export function withTopkLength(indices: Int32Array, lengths: Int32Array, sQ: number, topk: number, name: string): Int32Array {
  if (lengths.length !== sQ) throw new Error(`${name} has ${lengths.length} values: it must have one per query token (s_q = ${sQ})`);
  const masked = indices.slice();
  lengths.forEach((len, i) => {
    if (len < 0 || len > topk) throw new Error(`${name}[${i}] = ${len} is not allowed: a topk length must be from 0 to topk (${topk}, the indices' last dim)`);
    masked.fill(-1, i * topk + len, (i + 1) * topk);
  });
  return masked;
}

/** Check a call's sizes (the arrays against the dims); throws naming the field and what is allowed. */
export function validatePrefill(call: PrefillCall): PrefillCall {
  const need = (field: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${field} = ${v} is not allowed: ${field} must be an integer from ${min} to ${max}`);
  };
  need('s_q', call.sQ, 1, MAX_PREFILL_TOKENS);
  need('h_q', call.hQ, 1, SHAPE_LIMITS.maxHeads);
  need('topk', call.topk, 1, SHAPE_LIMITS.maxTopk);
  validateShape(chunkShape(call, 1)); // the head dims, the page size, the scale
  const { dQk } = call.dims;
  if (call.q.length !== call.sQ * call.hQ * dQk) throw new Error(`q has ${call.q.length} values: [s_q, h_q, d_qk] = [${call.sQ}, ${call.hQ}, ${dQk}] needs ${call.sQ * call.hQ * dQk}`);
  if (call.indices.length !== call.sQ * call.topk) throw new Error(`indices have ${call.indices.length} values: [s_q, topk] = [${call.sQ}, ${call.topk}] needs ${call.sQ * call.topk}`);
  if (!call.cacheBytes && call.kvRows.length !== cacheSlots(call) * dQk) {
    throw new Error(`the cache has ${call.kvRows.length} values: ${call.numBlocks} pages of ${call.pageSize} tokens x ${dQk} need ${cacheSlots(call) * dQk}`);
  }
  if (call.sink && call.sink.length !== call.hQ) throw new Error(`attn_sink has ${call.sink.length} values: it must have one per head (h_q = ${call.hQ})`);
  return call;
}

/** The decode-shaped call of `rows` query tokens: one request each, reading only its indices. */
export function chunkShape(call: PrefillCall, rows: number): MlaShape {
  return {
    ...call.dims, hQ: call.hQ, sQ: 1, batch: rows, seqlens: new Array<number>(rows).fill(0), pageBlockSize: call.pageSize,
    topk: call.topk, causal: false, softmaxScale: call.softmaxScale, attentionSink: call.sink !== undefined,
  };
}

/** The cache's bookkeeping as a sparse call sees it: pages, no request owning any by length. */
export function prefillPagedCache(call: PrefillCall, rows: number): PagedCache {
  return {
    numBlocks: call.numBlocks, maxBlocksPerSeq: 1, blockTable: new Int32Array(rows), seqlens: new Int32Array(rows), poisonBlock: -1,
    usedSlots: new Uint8Array(cacheSlots(call)),
  };
}

/** The inputs of query tokens first .. first + rows - 1, on the cache's bytes in `layout`. */
export function chunkInputs(call: PrefillCall, first: number, rows: number, cacheBytes: Uint8Array, layout: KvLayout): MlaInputs {
  const qRow = call.hQ * call.dims.dQk;
  return {
    shape: chunkShape(call, rows),
    q: call.q.subarray(first * qRow, (first + rows) * qRow),
    kvRows: new Float32Array(0),
    cacheBytes, cacheLayout: layout, cache: prefillPagedCache(call, rows),
    indices: call.indices.subarray(first * call.topk, (first + rows) * call.topk),
    sink: call.sink,
  };
}

/** The rows (of `row` values each) of the listed query tokens, in the list's order. */
export function tokenRows<T extends Float32Array | Int32Array>(all: T, row: number, tokens: readonly number[]): T {
  const out = new (all.constructor as new (n: number) => T)(tokens.length * row);
  tokens.forEach((t, k) => out.set(all.subarray(t * row, (t + 1) * row), k * row));
  return out;
}

/** The inputs of the listed query tokens (a sample to check), on the cache's bytes. */
export function sampledInputs(call: PrefillCall, tokens: readonly number[], cacheBytes: Uint8Array, layout: KvLayout): MlaInputs {
  const q = tokenRows(call.q, call.hQ * call.dims.dQk, tokens);
  const indices = tokenRows(call.indices, call.topk, tokens);
  return { shape: chunkShape(call, tokens.length), q, kvRows: new Float32Array(0), cacheBytes, cacheLayout: layout, cache: prefillPagedCache(call, tokens.length), indices, sink: call.sink };
}

/** The sizes a prefill's host memory follows. */
export interface PrefillSizes {
  readonly dims: HeadDims;
  readonly sQ: number;
  readonly hQ: number;
  readonly topk: number;
  /** Slots of the cache (pages x page size). */
  readonly slots: number;
  /** Indexer scores kept on the host (s_q x L for a prompt's scores written out), floats. */
  readonly keptScores?: number;
}

/**
 * Host bytes of a prefill: q, the f32 cache and its bytes (at most 4 B a
 * value), the indices (and their topk_length copy), the prompt's out, lse
 * and max_logits, one chunk's read-back, and any indexer scores kept.
 */
export function prefillHostBytes(s: PrefillSizes): number {
  const { dQk, dV } = s.dims;
  return 4 * (s.sQ * s.hQ * dQk + 2 * s.slots * dQk + 2 * s.sQ * s.topk + s.sQ * s.hQ * (dV + 2) + (s.keptScores ?? 0)) + 4 * SHAPE_LIMITS.maxBatch * s.hQ * (dV + 2);
}

/** Refuse a prefill whose host memory would pass `budget` bytes (`where` says whose), or whose q would pass one array, naming the sizes. */
export function checkPrefillMemory(s: PrefillSizes, budget: number, where: string): void {
  const qBytes = 4 * s.sQ * s.hQ * s.dims.dQk;
  if (qBytes > 2 ** 32 || 4 * s.sQ * s.hQ * s.dims.dV > 2 ** 32) {
    throw new Error(`q or out of s_q ${s.sQ} x h_q ${s.hQ} is over the 4 GiB one array holds on the host: make s_q or h_q smaller`);
  }
  if (4 * (s.keptScores ?? 0) > 2 ** 32) throw new Error(`the indexer's scores kept (${s.keptScores} floats) are over the 4 GiB one array holds on the host: make the prompt shorter or keep no scores`);
  const bytes = prefillHostBytes(s);
  if (bytes > budget) {
    throw new Error(`this prefill needs about ${(bytes / 2 ** 30).toFixed(2)} GiB of memory (q, the cache, indices, out${s.keptScores ? ', the scores kept' : ''}), over the ${(budget / 2 ** 30).toFixed(2)} GiB ${where}: make s_q, h_q or s_kv smaller`);
  }
}
