/**
 * A prompt's query tokens as a batch of one-token requests over one shared
 * cache, dense and causal: the token at position p is a request of seqlen
 * p + 1 whose block table is the cache's pages in order, so it attends every
 * token up to its own.
 *
 * Why: the ladder's kernels mask causally among at most 128 query tokens of
 * one request (SHAPE_LIMITS.maxQueryTokens). As requests, a chunk of query
 * tokens is limited only by the batch limit, and each token's work is its own
 * row of keys: what a dense prefill over the latent is. The sparse prefill
 * does the same with indices (prefill/prefill-call.ts).
 */
import type { PagedCache } from './paged-cache';
import { type MlaShape, SHAPE_LIMITS } from './shape';

export interface TokenBatch {
  /** One per position: position + 1. */
  readonly seqlens: number[];
  /** The shared pages, in order, for every request. */
  readonly cache: PagedCache;
}

/**
 * Requests for query tokens at `positions` (each attends 0..position) over a
 * cache of `numBlocks` pages of `pageSize` tokens whose token t is slot t.
 */
export function causalTokenBatch(positions: readonly number[], pageSize: number, numBlocks: number): TokenBatch {
  if (positions.length === 0) throw new Error('a token batch needs at least one query token');
  const last = Math.max(...positions);
  const width = Math.ceil((last + 1) / pageSize);
  if (width > numBlocks) throw new Error(`position ${last} is past the cache's ${numBlocks} pages of ${pageSize} tokens`);
  const row = Int32Array.from({ length: width }, (_, j) => j);
  const blockTable = new Int32Array(positions.length * width);
  positions.forEach((_, b) => blockTable.set(row, b * width));
  const usedSlots = new Uint8Array(numBlocks * pageSize);
  usedSlots.fill(1, 0, last + 1);
  const seqlens = positions.map((p) => p + 1);
  return { seqlens, cache: { numBlocks, maxBlocksPerSeq: width, blockTable, seqlens: Int32Array.from(seqlens), poisonBlock: -1, usedSlots } };
}

/** The decode-shaped call of a token batch: one query token per request, dense. */
export function tokenBatchShape(dims: Pick<MlaShape, 'dQk' | 'dNope' | 'dRope' | 'dV'>, hQ: number, batch: TokenBatch, pageSize: number, softmaxScale?: number): MlaShape {
  return {
    ...dims, hQ, sQ: 1, batch: batch.seqlens.length, seqlens: batch.seqlens, pageBlockSize: pageSize,
    topk: 0, causal: false, softmaxScale, attentionSink: false,
  };
}

/** Whether a chunk of sQ causal query tokens needs the token batch (past what one request takes). */
export function needsTokenBatch(sQ: number): boolean {
  return sQ > SHAPE_LIMITS.maxQueryTokens;
}
