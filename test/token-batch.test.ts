/**
 * A prompt's query tokens as one-token requests (src/mla/token-batch.ts) and
 * a call cut into groups of requests (src/run/request-groups.ts): the
 * bookkeeping on the host, element by element.
 */
import { describe, expect, it } from 'vitest';
import { causalTokenBatch, needsTokenBatch, tokenBatchShape } from '../src/mla/token-batch';
import { validateShape, presetShape, HEAD_PRESETS } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { requestGroup } from '../src/run/request-groups';

describe('the token batch', () => {
  it('makes token p a request of seqlen p + 1 over the pages in order', () => {
    const b = causalTokenBatch([3, 9, 10], 4, 5);
    expect(b.seqlens).toEqual([4, 10, 11]);
    expect(b.cache.maxBlocksPerSeq).toBe(3); // position 10 is on page 2
    expect([...b.cache.blockTable]).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect([...b.cache.seqlens]).toEqual([4, 10, 11]);
    expect([...b.cache.usedSlots]).toEqual([...new Array(11).fill(1), ...new Array(9).fill(0)]);
    const shape = tokenBatchShape(HEAD_PRESETS.model1, 8, b, 4, 0.5);
    expect(validateShape(shape)).toMatchObject({ batch: 3, sQ: 1, topk: 0, causal: false, seqlens: [4, 10, 11], softmaxScale: 0.5 });
  });

  it('refuses a position past the cache and an empty batch; past 128 query tokens a chunk needs it', () => {
    expect(() => causalTokenBatch([20], 4, 5)).toThrow(/position 20 is past the cache's 5 pages of 4 tokens/);
    expect(() => causalTokenBatch([], 4, 5)).toThrow(/at least one query token/);
    expect(needsTokenBatch(128)).toBe(false);
    expect(needsTokenBatch(129)).toBe(true);
  });
});

describe('a group of requests', () => {
  it('cuts q, the block table, the seqlens and the indices by request and shares the cache', () => {
    const shape = presetShape('v32', { seqlens: [5, 17, 9, 30], sQ: 2, hQ: 3, pageBlockSize: 8, topk: 4 });
    const inputs = generateInputs(shape, { seed: 3 });
    const g = requestGroup(inputs, 1, 2);
    expect(g.shape.batch).toBe(2);
    expect(g.shape.seqlens).toEqual([17, 9]);
    const qRow = 2 * 3 * 576;
    expect([...g.q]).toEqual([...inputs.q.subarray(qRow, 3 * qRow)]);
    const w = inputs.cache.maxBlocksPerSeq;
    expect([...g.cache.blockTable]).toEqual([...inputs.cache.blockTable.subarray(w, 3 * w)]);
    expect([...g.cache.seqlens]).toEqual([17, 9]);
    expect([...g.indices!]).toEqual([...inputs.indices!.subarray(2 * 4, 6 * 4)]);
    expect(g.kvRows).toBe(inputs.kvRows);
    expect(g.cache.usedSlots).toBe(inputs.cache.usedSlots);
  });
});
