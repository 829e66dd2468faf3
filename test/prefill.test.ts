/**
 * Sparse prefill (FlashMLA's flash_mla_sparse_fwd) on the ladder's kernels:
 * cases made as FlashMLA's tests make them (irregular s_kv, topk past the
 * visible tokens, invalid indices from its list, tokens with no valid index,
 * sinks of +-inf, topk_length), over a flat cache and a paged one, out, lse
 * and max_logits against the f64 reference; the prompt cut into chunks;
 * s_q past the grid's 65,535.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { broadBlocks } from './support/broad-blocks';
import type { GpuContext } from '../src/gpu/device';
import { HEAD_PRESETS } from '../src/mla/shape';
import { KERNEL_VERSIONS, type KernelChoice, missingFeature } from '../src/kernels/versions';
import { formatCheck } from '../src/reference/check';
import { generatePrefillCase, type PrefillCaseOptions } from '../src/prefill/prefill-inputs';
import { runPrefill } from '../src/prefill/prefill-run';
import { runDensePrompt } from '../src/prefill/dense-prompt';
import { generatePromptCase, runPromptPipeline } from '../src/indexer/prompt-pipeline';
import { testGpu, testMatrix } from './support/gpu';
import { SMALL_HEAD } from './support/small-head';

let ctx: GpuContext | undefined;
beforeAll(async () => { ctx = await testGpu(); });
const gpu = await testGpu();
const llvmpipeOnly = !gpu || testMatrix(gpu) === 'cover';

// FlashMLA's irregular shapes (s_kv 1521, topk 512; s_kv 95 with topk 128 past it), with every feature on.
const CASES: readonly (Omit<PrefillCaseOptions, 'dims'> & { preset: 'v32' | 'model1' })[] = [
  { preset: 'model1', sQ: 62, sKv: 1521, hQ: 16, topk: 512, sink: true, topkLength: true, allInvalidShare: 0.05, softmaxScale: 0.5 },
  { preset: 'v32', sQ: 62, sKv: 95, hQ: 64, topk: 128, sink: true, allInvalidShare: 0.05 },
];

/**
 * llvmpipe: every version, the cases in turn (version k runs case k % 2) and the cache flat or paged in turn
 * (each case once flat and once paged over four versions); SwiftShader (it compiles v3-v5 slowly): the best
 * version on one. A prefill runs the decode kernels, which test/kernels.test.ts runs on both heads in every
 * version; what is the prefill's own (the calls' cases, the chunks, the flat or paged cache) runs here. Every
 * version on both cases took 71-72 s of the suite, this 29-34 s.
 */
function cases(gpu: GpuContext): { kernel: KernelChoice; c: (typeof CASES)[number]; pageSize?: number }[] {
  if (testMatrix(gpu) === 'cover') return [{ kernel: 'flash', c: CASES[1], pageSize: 53 }];
  return KERNEL_VERSIONS.filter((v) => !missingFeature(v, gpu.limits)).map((v, k) => ({ kernel: v.name, c: CASES[k % 2], pageSize: (k + (k >> 1)) % 2 ? 53 : undefined }));
}

describe.skipIf(!gpu)('sparse prefill', () => {
  it('every version, over a flat cache and a paged one: out, lse and max_logits against the reference', async () => {
    for (const { kernel, c, pageSize } of cases(ctx!)) {
      const call = generatePrefillCase({ ...c, dims: HEAD_PRESETS[c.preset], seed: 3, pageSize });
      const r = await runPrefill(ctx!, call, { kernel, ...broadBlocks(kernel), kvFormat: 'bf16' }, { time: false, checkTokens: 'all' });
      const what = `${kernel} ${c.preset} s_kv ${c.sKv} ${pageSize ? `pages of ${pageSize}` : 'flat'}`;
      expect(r.check.pass, `${what}: ${formatCheck(r.check)}`).toBe(true);
      expect(r.check.maxLogitsMaxAbsErr, what).toBeDefined();
      expect(r.checkedTokens.length).toBe(c.sQ);
      // A token with no valid index: out 0, max_logits -inf, lse +inf (the check holds -inf and +inf to match exactly).
      const empty = [...Array(c.sQ).keys()].filter((i) => !call.indices.subarray(i * c.topk, (i + 1) * c.topk).some((s) => s >= 0 && s < call.numBlocks * call.pageSize));
      expect(empty.length, what).toBeGreaterThan(0);
      for (const i of empty) {
        expect(r.output.maxLogits[i * c.hQ]).toBe(-Infinity);
        expect(r.output.lse[i * c.hQ]).toBe(Infinity);
      }
    }
  });

  // The rest is the host's cutting and mapping, the same on every adapter: on llvmpipe only.
  it.skipIf(llvmpipeOnly)('a flat cache and a paged one of the same tokens give the same result; chunks give what one run gives', async () => {
    const c = CASES[0];
    const flat = generatePrefillCase({ ...c, dims: HEAD_PRESETS[c.preset], seed: 5 });
    const paged = generatePrefillCase({ ...c, dims: HEAD_PRESETS[c.preset], seed: 5, pageSize: 61 });
    expect(paged.indices).not.toEqual(flat.indices); // physical slots of shuffled pages
    const config = { kernel: 'flash', kvFormat: 'bf16' } as const;
    const a = await runPrefill(ctx!, flat, config, { time: false, checkTokens: 4 });
    const b = await runPrefill(ctx!, paged, config, { time: false, checkTokens: 4 });
    const chunked = await runPrefill(ctx!, flat, config, { time: false, checkTokens: 4, chunkTokens: 20 });
    expect(a.chunks).toBe(1);
    expect(chunked.chunks).toBe(4);
    for (const other of [b, chunked]) {
      for (const key of ['out', 'lse', 'maxLogits'] as const) {
        const x = a.output[key];
        const y = other.output[key];
        let worst = 0;
        for (let k = 0; k < x.length; k++) worst = Math.max(worst, x[k] === y[k] ? 0 : Math.abs(x[k] - y[k]));
        expect(worst, key).toBeLessThanOrEqual(1e-6);
      }
    }
  });

  it.skipIf(llvmpipeOnly)('a plan whose buffer passes a binding halves the chunk (v1\'s score matrix under a 1 MiB binding)', async () => {
    const call = generatePrefillCase({ dims: HEAD_PRESETS.model1, sQ: 62, sKv: 1521, hQ: 16, topk: 1024, seed: 8, pageSize: 53 });
    const small = { ...ctx!, limits: { ...ctx!.limits, maxStorageBufferBindingSize: 1 << 20 } };
    // q and out allow 32 tokens a chunk (32 KiB each); v1's score matrix is 64 KiB a token: 16.
    const r = await runPrefill(small, call, { kernel: 'naive', kvFormat: 'bf16' }, { time: false, checkTokens: 6 });
    expect(r.chunkTokens).toBe(16);
    expect(r.chunks).toBe(4);
    expect(r.chunkLimit).toMatch(/score matrix/);
    expect(r.check.pass, formatCheck(r.check)).toBe(true);
  });

  it.skipIf(llvmpipeOnly)('a plan the chunk\'s size does not fit halves the chunk (queries from a texture 256 rows tall)', async () => {
    const call = generatePrefillCase({ dims: SMALL_HEAD, sQ: 62, sKv: 300, hQ: 8, topk: 64, seed: 8, pageSize: 64 });
    const small = { ...ctx!, limits: { ...ctx!.limits, maxTextureDimension2D: 256 } };
    // A chunk of 62 tokens is 496 query rows of 8 heads; 31 is 248, under 256.
    const r = await runPrefill(small, call, { kernel: 'tiled', kvFormat: 'f32', queries: 'texture' }, { time: false, checkTokens: 6 });
    expect(r.chunkTokens).toBe(31);
    expect(r.chunks).toBe(2);
    expect(r.chunkLimit).toMatch(/^the plan, which refused twice this chunk \(queries "texture": 496 query rows/);
    expect(r.check.pass, formatCheck(r.check)).toBe(true);
  });

  it.skipIf(llvmpipeOnly)('s_q past the grid\'s 65,535 (FlashMLA\'s 70,000-token case) runs in chunks and passes on its sampled tokens', async () => {
    // FlashMLA's case has s_kv 256, topk 256 and 64 or 128 heads; one head, topk 64 and a head of 68 dims (the
    // token count is under test here, every head size elsewhere) keep the test short: with MODEL1's 512 dims
    // its 69 chunks took 46 s of the suite, about 0.43 s of GPU work each on llvmpipe (18 s with these).
    const call = generatePrefillCase({ dims: SMALL_HEAD, sQ: 70_000, sKv: 256, hQ: 1, topk: 64, seed: 9, sink: true, topkLength: true });
    const r = await runPrefill(ctx!, call, { kernel: 'fused', kvFormat: 'bf16' }, { time: false });
    expect(r.chunks).toBeGreaterThan(1);
    expect(r.checkedTokens).toContain(69_999);
    expect(r.check.pass, formatCheck(r.check)).toBe(true);
  }, 300_000);

  it('dense causal over a prompt: each token attends every token up to its own, in chunks of one-token requests', async () => {
    const sQ = 200, sKv = 300;
    const call = generatePrefillCase({ dims: HEAD_PRESETS.model1, sQ, sKv, hQ: 8, topk: sKv, seed: 6 });
    const dense = await runDensePrompt(ctx!, call, { kernel: 'flash', kvFormat: 'bf16' }, { checkTokens: 5, chunkTokens: 90, time: false });
    expect(dense.chunks).toBe(3);
    expect(dense.checkedTokens).toEqual([0, 50, 100, 149, 199]);
    expect(dense.check.pass, formatCheck(dense.check)).toBe(true);
    expect(dense.pairs).toBe(sQ * (sKv - sQ) + (sQ * (sQ + 1)) / 2);
    // The same tokens through the sparse prefill with indices 0 .. position: the same attention.
    const indices = new Int32Array(sQ * sKv).fill(-1);
    for (let i = 0; i < sQ; i++) for (let t = 0; t <= sKv - sQ + i; t++) indices[i * sKv + t] = t;
    const sparse = await runPrefill(ctx!, { ...call, indices }, { kernel: 'flash', kvFormat: 'bf16' }, { time: false, checkTokens: 1 });
    const row = 8 * 512;
    dense.checkedTokens.forEach((t, k) => {
      const a = dense.checkedOutput.out.subarray(k * row, (k + 1) * row);
      const b = sparse.output.out.subarray(t * row, (t + 1) * row);
      expect(Math.max(...a.map((v, j) => Math.abs(v - b[j]))), `token ${t}`).toBeLessThan(1e-5);
      expect(dense.checkedOutput.lse[k * 8]).toBeCloseTo(sparse.output.lse[t * 8], 4);
    });
  });

  it.skipIf(llvmpipeOnly)('the indexer over a whole prompt: each token\'s top-k of the tokens up to its own, in chunks, feeding the sparse prefill in one submit', async () => {
    const c = generatePromptCase({ dims: HEAD_PRESETS.model1, keys: 300, sQ: 300, hQ: 16, topk: 64, seed: 4 });
    const r = await runPromptPipeline(ctx!, c, { kernel: 'flash', kvFormat: 'bf16' }, { checkTokens: 6, chunkTokens: 128, time: false });
    expect(r.chunks).toBe(3);
    expect(r.checkedTokens).toEqual([0, 60, 120, 179, 239, 299]);
    expect(r.indexer.pass, formatCheck(r.indexer)).toBe(true);
    expect(r.topkCheck.pass, r.topkCheck.firstProblem).toBe(true);
    expect(r.attention.pass, formatCheck(r.attention)).toBe(true);
    // Token 0 sees itself alone; token 10 its 11 tokens, the rest -1; a late token 64 of the tokens before it.
    expect([...r.indices.subarray(0, 64)]).toEqual([0, ...new Array(63).fill(-1)]);
    expect([...r.indices.subarray(10 * 64, 10 * 64 + 11)].sort((a, b) => a - b)).toEqual([...Array(11).keys()]);
    expect(r.indices.subarray(10 * 64 + 11, 11 * 64).every((v) => v === -1)).toBe(true);
    const late = r.indices.subarray(299 * 64, 300 * 64);
    expect(new Set(late).size).toBe(64);
    expect(late.every((v) => v >= 0 && v <= 299)).toBe(true);
  });
});
