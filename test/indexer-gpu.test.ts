/**
 * The lightning indexer on the GPU against its f64 reference on the same FP8
 * values: small causal shapes, a cache cut into shards and chunks, and both
 * scale formats.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/device';
import { compareToReference } from '../src/reference/check';
import { generateIndexerInputs } from '../src/indexer/indexer-inputs';
import { indexerReference } from '../src/indexer/indexer-reference';
import { prepareIndexer, submitIndexer } from '../src/indexer/indexer-run';
import { bufferOwner } from '../src/gpu/buffer-owner';
import { checkTopk, topkPass } from '../src/indexer/topk';
import { encodePasses } from '../src/kernels/kernel-plan';
import { SeededRandom } from '../src/random/seeded-random';
import { generateSparseCase, runSparsePipeline } from '../src/indexer/sparse-pipeline';
import { presetShape } from '../src/mla/shape';
import { testGpu, testMatrix } from './support/gpu';

let ctx: GpuContext | undefined;
beforeAll(async () => { ctx = await testGpu(); });

async function scoresOf(keys: number, sQ: number, options: Parameters<typeof generateIndexerInputs>[2], chunkKeys?: number, shardBytes?: number) {
  const inp = generateIndexerInputs(keys, sQ, options);
  const owner = bufferOwner(ctx!);
  try {
    const prepared = await prepareIndexer(ctx!, inp, { chunkKeys, shardBytes, owner });
    await submitIndexer(ctx!, prepared);
    return { inp, gpu: await prepared.readScores(), prepared };
  } finally {
    owner.destroy();
  }
}

describe('the lightning indexer', () => {
  it('scores every visible token of a causal chunk, -inf past each query\'s position', async (c) => {
    if (!ctx) return c.skip();
    const { inp, gpu } = await scoresOf(300, 5, { seed: 3, pageBlockSize: 64 });
    const ref = indexerReference(inp);
    expect(gpu.length).toBe(5 * 300);
    for (let i = 0; i < 5; i++) {
      expect(gpu[i * 300 + 300 - 5 + i]).toBeGreaterThan(-Infinity); // its own token
      if (i < 4) expect(gpu[i * 300 + 300 - 4 + i]).toBe(-Infinity); // the next one
    }
    const check = compareToReference({ out: gpu, lse: [] }, { out: ref, lse: new Float64Array(0) });
    expect(check.pass, check.failure).toBe(true);
  });

  it('reads a cache cut into shards, chunk by chunk, with f32 scales', async (c) => {
    if (!ctx) return c.skip();
    // 40 pages of 64 tokens (8448 B each) in shards of 4 pages; chunks of 1024 tokens (the last one short).
    const { inp, gpu, prepared } = await scoresOf(2500, 2, { seed: 5, pageBlockSize: 64, scaleFormat: 'f32' }, 1024, 4 * 64 * 132);
    expect(prepared.plan.shards).toBe(10);
    expect(prepared.plan.chunkKeys).toBe(1024);
    expect(prepared.passes).toHaveLength(3 * (10 + 1)); // per chunk: a decode per shard, then the scores
    const check = compareToReference({ out: gpu, lse: [] }, { out: indexerReference(inp), lse: new Float64Array(0) });
    expect(check.pass, check.failure).toBe(true);
  });
});

/** Top-k of the given scores [sQ, keys] on the GPU, through a shuffled block table of 64-token pages. */
async function topkOf(scores: Float32Array, keys: number, sQ: number, k: number) {
  const owner = bufferOwner(ctx!);
  try {
    const pages = Math.ceil(keys / 64);
    const table = Int32Array.from(new SeededRandom(keys).permutation(pages));
    const { pass, indices } = await topkPass(owner, owner.storage('scores', 4 * scores.length, scores), {
      keys, sQ, k, page: 64, blockTable: owner.storage('block table', 4 * pages, table),
    });
    const enc = ctx!.device.createCommandEncoder();
    encodePasses([pass], enc);
    ctx!.device.queue.submit([enc.finish()]);
    const got = new Int32Array((await owner.read(indices, 4 * sQ * k)).buffer);
    return checkTopk(scores, keys, sQ, k, got, (t) => table[Math.floor(t / 64)] * 64 + (t % 64));
  } finally {
    owner.destroy();
  }
}

describe('top-k on the GPU', () => {
  it('chooses the k best indexer scores of each causal row, as FlashMLA indices', async (c) => {
    if (!ctx) return c.skip();
    const { gpu } = await scoresOf(3000, 3, { seed: 8 });
    const check = await topkOf(gpu, 3000, 3, 100);
    expect(check.pass, check.firstProblem).toBe(true);
  });

  it('handles ties at the boundary, negative scores and -inf', async (c) => {
    if (!ctx) return c.skip();
    const rng = new SeededRandom(2);
    // Five distinct values, so the 37th largest is shared by many tokens; some rows end in -inf.
    const scores = Float32Array.from({ length: 2 * 500 }, () => [-2.5, -1, 0, 0.75, 3][rng.int(0, 4)]);
    scores[510] = -Infinity; // row 1, token 10: visible, and never among the best
    const check = await topkOf(scores, 500, 2, 37);
    expect(check.pass, check.firstProblem).toBe(true);
    expect(check.tiedRows).toBe(2);
  });

  it('pads with -1 when k is more than the visible tokens', async (c) => {
    if (!ctx) return c.skip();
    const rng = new SeededRandom(4);
    const scores = Float32Array.from({ length: 4 * 90 }, () => rng.normal());
    const check = await topkOf(scores, 90, 4, 2048);
    expect(check.pass, check.firstProblem).toBe(true);
  });

  it('the check catches a wrong choice', () => {
    const scores = Float32Array.of(1, 5, 3, 4);
    expect(checkTopk(scores, 4, 1, 2, Int32Array.of(1, 3), (t) => t).pass).toBe(true);
    expect(checkTopk(scores, 4, 1, 2, Int32Array.of(1, 2), (t) => t).firstProblem).toBe('query token 0: token 2 scores 3, below the k-th largest 4');
    expect(checkTopk(scores, 4, 1, 3, Int32Array.of(1, 3, 1), (t) => t).firstProblem).toBe('query token 0: token 1 is chosen twice');
    expect(checkTopk(scores, 4, 1, 5, Int32Array.of(1, 3, 2, 0, 7), (t) => t).firstProblem).toBe('query token 0: index 4 is 7, expected -1 (only 4 tokens are visible)');
  });
});

describe('indexer -> top-k -> sparse decode', () => {
  it('finds the planted tokens, passes every check, and matches the dense decode when k >= L', async (c) => {
    if (!ctx) return c.skip();
    const shape = presetShape('v32', { seqlens: [700], hQ: 8, sQ: 2 });
    const sc = generateSparseCase(shape, { seed: 4, plant: 3 });
    const small = await runSparsePipeline(ctx, sc, { kernel: 'flash', kvFormat: 'fp8', topk: 64 });
    expect(small.indexer.check.pass, small.indexer.check.failure).toBe(true);
    expect(small.topkCheck.pass, small.topkCheck.firstProblem).toBe(true);
    expect(small.sparse.pass, small.sparse.failure).toBe(true);
    expect(small.recall).toEqual({ planted: 3, found: 6, of: 6 });
    expect(small.indices).toMatchObject({ total: 128, attended: 128, padding: 0, outOfRange: 0 });
    expect(small.dense?.check.pass).toBe(true);
    expect(small.dense?.sparseError?.pass).toBe(false); // 64 of 700 keys: not the dense answer
    if (testMatrix(ctx) !== 'full') return; // the rest on the full matrix's adapter (llvmpipe in CI)
    const all = await runSparsePipeline(ctx, sc, { kernel: 'v2', kvFormat: 'fp8', topk: 1024 });
    expect(all.topkCheck.pass, all.topkCheck.firstProblem).toBe(true);
    expect(all.sparse.pass).toBe(true);
    // causal: query tokens 0 and 1 see 699 and 700 tokens; the rest of each 1024 is -1
    expect(all.indices).toMatchObject({ total: 2048, attended: 1399, padding: 649, outOfRange: 0 });
    expect(all.dense?.sparseError?.pass, all.dense?.sparseError?.failure).toBe(true); // every key chosen: the dense answer
  });
});

describe('the pipeline with MODEL1\'s extra cache', () => {
  it('top-k fills the first k columns, the extra indices follow, one softmax over both caches', async (c) => {
    if (!ctx) return c.skip();
    const shape = presetShape('model1', { seqlens: [600], hQ: 4, sQ: 2 });
    const sc = generateSparseCase(shape, { seed: 9, extra: { seqlen: 200, topk: 48, topkLength: 30 } });
    const r = await runSparsePipeline(ctx, sc, { kernel: 'flash', kvFormat: 'fp8', topk: 64, compareDense: false });
    expect(r.topkCheck.pass, r.topkCheck.firstProblem).toBe(true);
    expect(r.extra).toEqual({ topk: 48, tokens: 384 }); // 200 tokens in 4 pages of 64, a spare page and the poison page
    expect(r.sparse.pass, r.sparse.failure).toBe(true);
  });
});
