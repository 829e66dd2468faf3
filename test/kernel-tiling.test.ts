/**
 * The silent-wrong-answer bugs of production WebGPU attention kernels came
 * from tile and layout corners (ONNX Runtime #28520, llama.cpp #23040 and
 * #21669): sweep each version's tiling parameters, with values that do not
 * divide h_q, the seqlens or d_v; odd page sizes and head counts; sparse rows
 * with FlashMLA's invalid indices.
 */
import { describe, expect, it } from 'vitest';
import { testGpu, testMatrix } from './support/gpu';
import { SMALL_HEAD } from './support/small-head';
import { broadBlocks } from './support/broad-blocks';
import { presetShape } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { runAttention } from '../src/run/run-attention';
import { prepareAttention } from '../src/run/runner';
import { DECLARED_LAYOUTS } from '../src/gpu/bindings';
import { SHADER_FILES } from '../src/gpu/shader-source';
import { formatCheck } from '../src/reference/check';
import { makeAttentionSpec } from '../src/kernels/attention-spec';
import { kvLayout } from '../src/mla/kv-layout';
import { KERNEL_VERSIONS, missingFeature, versionByName } from '../src/kernels/versions';
import { type CallPass, KEY_READS, type PlanOptions, type VersionName, isDispatch } from '../src/kernels/kernel-plan';
import { DEFAULT_BLOCKS, MATMUL_SCORE_BLOCKS, OUT_BLOCKS, SCORE_BLOCKS, blockSize } from '../src/kernels/register-blocks';
import { MAX_OUT_VALUES_LLVMPIPE } from '../src/gpu/device';

const gpu = await testGpu();
/** On SwiftShader (compiles take seconds) every `every`-th point of each sweep; llvmpipe runs them all. */
const sweep = <T>(cases: T[], every = 2): T[] => (!gpu || testMatrix(gpu) === 'full' ? cases : cases.filter((_, k) => k % every === 0));

/** Every version this device runs (v5 needs subgroups), by name. */
const RUNNABLE = gpu ? KERNEL_VERSIONS.filter((v) => !missingFeature(v, gpu.limits)).map((v) => v.name) : [];
const SUBGROUPS = RUNNABLE.includes('subgroups');
/**
 * Versions the every-version corner tests run: all of them on the full matrix
 * (llvmpipe runs it in npm test); on SwiftShader's covering run, the version
 * only SwiftShader runs here (v5; v4 where there are no subgroups), to keep
 * CI's time: v4's corners run on llvmpipe with the same blocks, and v4 runs
 * on SwiftShader in every sweep above and in test/kernels.test.ts.
 */
const CORNER_VERSIONS = !gpu || testMatrix(gpu) === 'full' ? RUNNABLE : [SUBGROUPS ? 'subgroups' as const : 'tiled' as const];

/** A pass as its label and grid, a copy as its label. */
const passShape = (p: CallPass) => (isDispatch(p) ? [p.label, ...p.workgroups] : [p.label]);

/** The largest tile the version's planner allows for these options. */
function largestTile(name: VersionName, shape: ReturnType<typeof presetShape>, options: PlanOptions): number {
  return versionByName(name).plan(makeAttentionSpec(shape, kvLayout('fp8', shape, shape.pageBlockSize), 1), gpu!.limits, options).tileN;
}

describe.skipIf(!gpu)('tiling sweeps (h_q 11, s_q 3, seqlens 3, 40, 17, page 16)', () => {
  const shape = presetShape('v32', { seqlens: [3, 40, 17], sQ: 3, hQ: 11, pageBlockSize: 16 });
  const inputs = generateInputs(shape, { seed: 5 });
  // The same calls with d_qk 68 and d_v 36: no dimension a multiple of 64 or 16.
  const small = generateInputs(presetShape('v32', { seqlens: [3, 40, 17], sQ: 3, hQ: 11, pageBlockSize: 16, ...SMALL_HEAD }), { seed: 12 });

  // The tile, head-block and slice sweeps run the GPU's default blocks (8 heads a block) on every
  // adapter, so that 8-head workgroups and 8-key tiles are allowed; every pair of blocks has its own tests below.
  const GPU_BLOCKS = { scoreBlock: DEFAULT_BLOCKS.gpu.score, outBlock: DEFAULT_BLOCKS.gpu.out };
  // v3 (flash never runs it): every fifth point on SwiftShader, tiles of 1, 3 and the largest with 1, 8 and 3 heads.
  const v3 = sweep([1, 3, 7, 'max'].flatMap((tileN) => [1, 3, 8].map((headsPerWorkgroup) => ({ tileN, headsPerWorkgroup }))), 5);
  it.each(v3)('v3 shared-latent: tileN $tileN, $headsPerWorkgroup heads per workgroup', async ({ tileN, headsPerWorkgroup }) => {
    const t = tileN === 'max' ? largestTile('shared-latent', shape, { headsPerWorkgroup }) : tileN as number;
    const run = await runAttention(gpu!, inputs, { kernel: 'shared-latent', kvFormat: 'fp8', tileN: t, headsPerWorkgroup, splits: 2 });
    expect(run.plan.tileN).toBe(t);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  // v4: heads per workgroup 8 (h_q 11 spans two blocks, the second mostly past h_q) and 16;
  // tiles of 8 and the largest; one slice of the head dim, a few, and many (uneven: 144 quads / 5, / 13).
  const v4 = sweep([8, 16].flatMap((headsPerWorkgroup) => [8, 'max'].flatMap((tileN) => [1, 5, 13].map((dotParts) => ({ headsPerWorkgroup, tileN, dotParts })))), 4);
  // Keys decoded into an f32 tile (the key reads have their own sweep below).
  it.each(v4)('v4 tiled: $headsPerWorkgroup heads per workgroup, tileN $tileN, dotParts $dotParts', async ({ headsPerWorkgroup, tileN, dotParts }) => {
    const t = tileN === 'max' ? largestTile('tiled', shape, { headsPerWorkgroup, keys: 'tile', ...GPU_BLOCKS }) : tileN as number;
    const run = await runAttention(gpu!, inputs, { kernel: 'tiled', kvFormat: 'fp8', keys: 'tile', tileN: t, headsPerWorkgroup, dotParts, splits: 2, ...GPU_BLOCKS });
    expect(run.plan.constants.SCORE_SLICES).toBe(dotParts);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  // v4's key reads on every format: decoded into the tile (f32, or bf16 where exact: bf16 and FP8 caches),
  // into a storage buffer (each workgroup, 2 splits x 3 query tokens x 3 requests, its own part), or read from the cache where
  // used (the default for f32 and bf16), or from the whole cache decoded into a texture by a first pass (its
  // unused slots too, which are NaN here), at tiles of 8 and the largest the plan allows (64 from the cache,
  // the texture or storage, twice the f32 tile's in bf16).
  const keyReads = sweep((['f32', 'bf16', 'fp8'] as const).flatMap((kvFormat) => KEY_READS.filter((keys) => keys !== 'tile-bf16' || kvFormat !== 'f32')
    .flatMap((keys) => [8, 'max'].map((tileN) => ({ kvFormat, keys, tileN })))), 3);
  it.each(keyReads)('v4 tiled: keys from the $keys, $kvFormat cache, tileN $tileN', async ({ kvFormat, keys, tileN }) => {
    const t = tileN === 'max' ? versionByName('tiled').plan(makeAttentionSpec(shape, kvLayout(kvFormat, shape, shape.pageBlockSize), 1), gpu!.limits, { keys, ...GPU_BLOCKS }).tileN : tileN as number;
    const run = await runAttention(gpu!, inputs, { kernel: 'tiled', kvFormat, keys, tileN: t, splits: 2, ...GPU_BLOCKS });
    expect(run.plan.keys).toBe(keys);
    expect(run.plan.constants.KEYS_FROM_CACHE).toBe(keys === 'cache' || keys === 'texture' ? 1 : 0);
    expect(run.plan.constants.KEYS_TEXTURE).toBe(keys === 'texture' ? 1 : 0);
    expect(run.plan.constants.KEY_TILE_BF16).toBe(keys === 'tile-bf16' ? 1 : 0);
    expect(run.plan.constants.KEY_TILE_STORAGE).toBe(keys === 'tile-storage' ? 1 : 0);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  // Queries read from a texture (--queries texture): 99 texture rows (three requests of three query tokens,
  // h_q 11: a second head block of 8 mostly past h_q, whose rows clamp to the last head), two splits; written
  // by the call's first pass, for V3.2's d_qk (144 texels a row) and for d_qk 68 (17, not a multiple of 64).
  it.each([{ kvFormat: 'f32', keys: 'cache', dQk: 68 }, { kvFormat: 'fp8', keys: 'tile-bf16', dQk: 576 }] as const)('v4 tiled: queries from a texture, $kvFormat cache, keys from the $keys, d_qk $dQk', async ({ kvFormat, keys, dQk }) => {
    const data = dQk === 68 ? small : inputs;
    const config = { kernel: 'tiled', kvFormat, keys, queries: 'texture', splits: 2, headsPerWorkgroup: 8, ...GPU_BLOCKS } as const;
    const run = await runAttention(gpu!, data, config);
    expect(run.plan.queries).toBe('texture');
    expect(run.plan.constants.QUERIES_TEXTURE).toBe(1);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
    const prepared = await prepareAttention(gpu!, data, config);
    expect(prepared.passes.map(passShape)).toEqual([['query-texture', Math.ceil(dQk / 4 / 64), 99, 1], ['v4-tiled', 4, 3, 3], ['combine', 11, 3, 3]]);
    prepared.destroy();
  });

  // Keys from the cache decoded into a texture (--keys texture), with the queries from theirs: the first passes
  // write both (the cache's 3 requests' pages of 16 slots and spare pages: one column), then v4 reads them; sparse
  // rows with FlashMLA's invalid indices and an all-invalid row read only listed slots.
  it('v4 tiled: keys from the cache decoded into a texture, its passes, and sparse rows with invalid indices', async () => {
    const config = { kernel: 'tiled', kvFormat: 'bf16', keys: 'texture', queries: 'texture', splits: 2, headsPerWorkgroup: 8, ...GPU_BLOCKS } as const;
    const prepared = await prepareAttention(gpu!, small, config);
    try {
      const slots = prepared.spec.numBlocks * 16;
      expect(prepared.passes.map(passShape)).toEqual([
        ['query-texture', 1, 99, 1], ['cache-texture', Math.ceil(slots / 64), 1, 1], ['cache-texture:copy'], ['v4-tiled', 4, 3, 3], ['combine', 11, 3, 3],
      ]);
    } finally {
      prepared.destroy();
    }
    const s = presetShape('v32', { seqlens: [90, 200], sQ: 2, hQ: 7, topk: 40, pageBlockSize: 16, ...SMALL_HEAD });
    const sparse = generateInputs(s, { seed: 21, invalidIndexFraction: 0.3, allInvalidRows: [1] });
    for (const kvFormat of ['bf16', 'f32'] as const) {
      const run = await runAttention(gpu!, sparse, { ...config, kvFormat });
      expect(run.check.pass, `${kvFormat}: ${formatCheck(run.check)}`).toBe(true);
      expect(run.output.lse[(0 * 7 + 2) * 2 + 1]).toBe(Infinity); // row 1 (b 0, i 1), head 2
    }
    // A cache taller than the device's textures wraps into columns (cache_texture.wgsl's layout): told the
    // textures are 64 texels a side, the 128 slots above (8 pages) take two columns of 17 texels, 34 x 64.
    const short = { ...gpu!, limits: { ...gpu!.limits, maxTextureDimension2D: 64 } };
    const wrapped = await prepareAttention(short, small, { ...config, queries: 'storage' });
    try {
      expect(wrapped.spec.numBlocks * 16).toBe(128);
      expect(wrapped.passes.map(passShape)).toEqual([['cache-texture', 2, 1, 1], ['cache-texture:copy'], ['v4-tiled', 4, 3, 3], ['combine', 11, 3, 3]]);
    } finally {
      wrapped.destroy();
    }
    const run = await runAttention(short, small, { ...config, queries: 'storage' });
    expect(run.check.pass, `two columns: ${formatCheck(run.check)}`).toBe(true);
  });

  // An f32 cache whose slots are the texture's rows (d_qk 576: 2304 bytes a slot, a multiple of 256) is copied
  // into the texture as it is, with no decode pass, one copy a column: told the device's textures are 300 texels
  // a side, 352 slots (22 pages: 19 + 2 requests' and a spare) take two columns of 144 texels, the second
  // partly filled; the unused slots' NaN are copied and never read.
  it('v4 tiled: an f32 cache copied straight into its texture, two columns', async () => {
    const long = generateInputs(presetShape('v32', { seqlens: [300, 17], hQ: 11, pageBlockSize: 16 }), { seed: 8 });
    const short = { ...gpu!, limits: { ...gpu!.limits, maxTextureDimension2D: 300 } };
    const config = { kernel: 'tiled', kvFormat: 'f32', keys: 'texture', splits: 2, headsPerWorkgroup: 8, ...GPU_BLOCKS } as const;
    const prepared = await prepareAttention(short, long, config);
    try {
      expect(prepared.spec.numBlocks * 16).toBeGreaterThan(300);
      expect(prepared.passes.map(passShape)).toEqual([['cache-texture:copy'], ['v4-tiled', 4, 1, 2], ['combine', 11, 1, 2]]);
      expect(prepared.plan.scratch.map((s) => s.label)).not.toContain('decoded cache rows');
    } finally {
      prepared.destroy();
    }
    const run = await runAttention(short, long, config);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  // A module that keeps marked lines (here the storage tile's), given an empty set of edits (as
  // scripts/shaders-ab.ts gives its working-tree side), is still the shipped files, not an edit: its
  // pipeline takes the 'auto' layout, not the edited modules' layout of every declared binding.
  it('v4 tiled: a shipped module with its marked lines kept takes the shipped files\' layout', async () => {
    const prepared = await prepareAttention(gpu!, inputs, { kernel: 'tiled', kvFormat: 'fp8', keys: 'tile-storage', tileN: 8, ...GPU_BLOCKS, shaderEdits: {} });
    try {
      expect(prepared.plan.constants.KEY_TILE_STORAGE).toBe(1);
      expect(DECLARED_LAYOUTS.has(prepared.passes.filter(isDispatch)[0].pipeline)).toBe(false);
    } finally {
      prepared.destroy();
    }
  });

  // An edited module (the page's editor, an exercise) takes a layout of every binding it declares, the queries'
  // texture included when the plan reads them from one (a tuned pick may): the edit here is a comment.
  it('v4 tiled: an edited module reading the queries from a texture binds it on its declared layout', async () => {
    const edited = { 'v4_tiled.wgsl': `${SHADER_FILES['v4_tiled.wgsl']}\n// an edit\n` };
    const config = { kernel: 'tiled', kvFormat: 'f32', keys: 'cache', queries: 'texture', splits: 1, ...GPU_BLOCKS, shaderEdits: edited } as const;
    const run = await runAttention(gpu!, inputs, config);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
    const prepared = await prepareAttention(gpu!, inputs, config);
    try {
      expect(DECLARED_LAYOUTS.get(prepared.passes.filter(isDispatch)[1].pipeline)?.find((d) => d.name === 'queryTexture')).toEqual({ name: 'queryTexture', binding: 22, type: 'texture' });
    } finally {
      prepared.destroy();
    }
  });

  // Every pair of register blocks (register-blocks.ts) on llvmpipe's full matrix (45); on SwiftShader's
  // cover eight, every score block and every output block at least once, the two 32-head blocks together
  // (every pair there would add about 10 minutes to the suite: a narrow pair's test takes 1.5-3 s, one with a
  // 32-head block about 55 s; the cover held all 24 pairs before 32-head blocks). On a small head
  // (d_qk 68, d_v 36: the output row is not a whole number of blocks), which keeps the compiles short;
  // f32 and bf16 rotate over the pairs. Keys are read from the cache, and from the decoded tile in every
  // other pair on the full matrix, in the cover's pairs on the diagonal of the table.
  // The 64-value output blocks only where the compiler takes them (DeviceLimits.maxOutValues: llvmpipe; SwiftShader's
  // ran out of memory on both): llvmpipe runs their pairs, SwiftShader checks that they are refused.
  const full = !gpu || testMatrix(gpu) === 'full';
  const cover = new Set(['8x8 8x8', '8x16 8x16', '16x8 8x32', '16x16 16x8', '8x16 16x16', '16x8 16x32', '32x16 32x32']);
  const pairs = SCORE_BLOCKS.flatMap((scoreBlock) => OUT_BLOCKS.map((outBlock) => ({ scoreBlock, outBlock })))
    .filter((p) => !gpu || blockSize(p.outBlock).cols <= gpu.limits.maxOutValues);
  const fromTile = (k: number) => (full ? Math.floor(k / 2) % 2 === 1 : k % (OUT_BLOCKS.length + 1) === 0);
  const blockPairs = pairs.map((p, k) => ({ ...p, kvFormat: (['f32', 'bf16'] as const)[k % 2], keys: fromTile(k) ? 'tile' as const : 'cache' as const }))
    .filter((p) => full || cover.has(`${p.scoreBlock} ${p.outBlock}`));
  it('the cover holds every block SwiftShader compiles; llvmpipe runs every pair; a 64-value block is refused elsewhere', async () => {
    expect(new Set([...cover].map((c) => c.split(' ')[0]))).toEqual(new Set(SCORE_BLOCKS));
    expect(new Set([...cover].map((c) => c.split(' ')[1]))).toEqual(new Set(OUT_BLOCKS.filter((b) => !b.endsWith('x64'))));
    if (gpu!.limits.maxOutValues >= MAX_OUT_VALUES_LLVMPIPE) {
      expect(pairs).toHaveLength(SCORE_BLOCKS.length * OUT_BLOCKS.length);
    } else {
      await expect(runAttention(gpu!, small, { kernel: 'tiled', kvFormat: 'bf16', outBlock: '8x64' })).rejects.toThrow(/output block 8x64 holds 64 values .* only Mesa llvmpipe takes 64/);
    }
  });
  const expectBlocks = (run: Awaited<ReturnType<typeof runAttention>>, scoreBlock: string, outBlock: string) => {
    const [sh, sk] = scoreBlock.split('x').map(Number);
    const [oh, ov] = outBlock.split('x').map(Number);
    expect(run.plan.constants).toMatchObject({ SCORE_HEADS: sh, SCORE_KEYS: sk, OUT_HEADS: oh, OUT_VALUES: ov });
    expect(run.plan.tileN % sk).toBe(0);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  };
  it.each(blockPairs)('v4 tiled: score block $scoreBlock, output block $outBlock ($kvFormat, keys from the $keys)', async ({ scoreBlock, outBlock, kvFormat, keys }) => {
    expectBlocks(await runAttention(gpu!, small, { kernel: 'tiled', kvFormat, keys, scoreBlock, outBlock, splits: 2 }), scoreBlock, outBlock);
  });
  // FP8 on V3.2's head (576, the largest tile): FP8 changes how keys are decoded, not the blocks (every pair
  // runs above, in f32 and bf16), so the full matrix runs each way a block reads FP8 keys: an 8-key block over
  // the decoded tile, a 16-key block from the cache, and the 32-head blocks from the cache with O 32x64,
  // sixteen value quads a thread over d_v 512, where the small head's 9 quads take one thread (its strips
  // v0 .. v7 are O 32x32's, whose own FP8 pair, 33 s of the suite, added no read of a key this one lacks);
  // SwiftShader the 16-key one (where FP8 keys also run in the key-read sweep above).
  const fp8Pairs = full
    ? ([['8x8', '8x32'], ['16x16', '16x32'], ['32x16', '32x64']] as const).map(([scoreBlock, outBlock]) => ({ scoreBlock, outBlock }))
      .filter((p) => !gpu || blockSize(p.outBlock).cols <= gpu.limits.maxOutValues)
    : [{ scoreBlock: '16x16' as const, outBlock: '16x32' as const }];
  it.each(fp8Pairs)('v4 tiled: score block $scoreBlock, output block $outBlock (fp8)', async ({ scoreBlock, outBlock }) => {
    const keys = scoreBlock.endsWith('x16') ? 'cache' : 'tile';
    expectBlocks(await runAttention(gpu!, inputs, { kernel: 'tiled', kvFormat: 'fp8', keys, scoreBlock, outBlock, splits: 2 }), scoreBlock, outBlock);
  });

  // v6's blocks (its score and output passes, v6_scores.wgsl and v6_values.wgsl): on llvmpipe a cover in which every
  // score block (32x32 among them) and every output block runs once, on the small head (h_q 11: a 32-head block
  // past the last head; 40 keys: a 32-key block past the row's end), f32 and bf16 rotating (FP8 needs FlashMLA's heads;
  // v6 reads it decoded, as f32, from the cache's texture, and runs it in every broad test); on SwiftShader three
  // pairs of 8- and 16-head blocks (a 32-head module takes it about a minute to compile). The tests that run every
  // version give v6 its smallest blocks (test/support/broad-blocks.ts).
  const v6Pairs = (full
    ? [['8x8', '8x8'], ['8x16', '8x16'], ['16x8', '8x32'], ['16x16', '16x8'], ['32x16', '16x16'], ['32x32', '16x32'], ['8x8', '32x32'], ['16x16', '8x64'], ['32x32', '32x64']] as const
    : [['8x8', '8x8'], ['16x8', '8x32'], ['8x16', '16x32']] as const)
    .map(([scoreBlock, outBlock], k) => ({ scoreBlock, outBlock, kvFormat: (['f32', 'bf16'] as const)[k % 2] }));
  it('v6 matmuls: the cover holds every block of its passes that this device compiles', () => {
    expect(new Set(v6Pairs.map((p) => p.scoreBlock))).toEqual(new Set(full ? MATMUL_SCORE_BLOCKS : ['8x8', '16x8', '8x16']));
    if (full) expect(new Set(v6Pairs.map((p) => p.outBlock))).toEqual(new Set(OUT_BLOCKS));
  });
  it.each(v6Pairs)('v6 matmuls: score block $scoreBlock, output block $outBlock ($kvFormat)', async ({ scoreBlock, outBlock, kvFormat }) => {
    const run = await runAttention(gpu!, small, { kernel: 'matmuls', kvFormat, scoreBlock, outBlock, splits: 2 });
    expect(run.plan).toMatchObject({ kernel: 'matmuls', scoreBlock, outBlock });
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  it('v6 matmuls: a row longer than one band of its score matrix\'s texture (20,000 keys: 5,000 quads over bands of 4,096)', async () => {
    const long = presetShape('model1', { seqlens: [20_000, 5], hQ: 3 });
    const run = await runAttention(gpu!, generateInputs(long, { seed: 14 }), { kernel: 'matmuls', kvFormat: 'bf16', ...broadBlocks('matmuls'), splits: 3 });
    expect(run.plan.scratchTextures?.[0].size).toEqual({ width: 4096, height: 2 * 3 * 2 });
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  // A bf16 cache's own words copied into an rgba32uint texture with no decode pass (v6_cache.wgsl): V3.2's 1152-byte
  // slots two a texture row; told the device's textures are 300 texels a side, 976 slots and the zero slot (489 rows)
  // take two columns of 144 texels, the second partly filled, the unused slots' NaN copied and never read. Sparse rows
  // with FlashMLA's invalid indices and an all-invalid row read only listed slots. MODEL1's 1024-byte slot is one a
  // row; an odd count of V3.2 slots (a page of 15, 5 pages) cannot be copied two a row and is decoded into f32 quads.
  it('v6 matmuls: a bf16 cache\'s words copied straight into its texture, two V3.2 slots a row, two columns; sparse rows', async () => {
    const short = { ...gpu!, limits: { ...gpu!.limits, maxTextureDimension2D: 300 } };
    const config = { kernel: 'matmuls', kvFormat: 'bf16', ...broadBlocks('matmuls'), splits: 2 } as const;
    const dense = generateInputs(presetShape('v32', { seqlens: [900, 17], hQ: 11, pageBlockSize: 16 }), { seed: 31 });
    const prepared = await prepareAttention(short, dense, config);
    try {
      expect(prepared.spec.numBlocks * 16).toBe(976);
      expect(prepared.plan.cacheTexture).toEqual({ format: 'rgba32uint', size: { width: 288, height: 300 }, slotTexels: 72, slotsPerRow: 2 });
      expect(prepared.passes.map((p) => p.label)).toEqual(['query-texture', 'cache-texture:copy', 'v6-matmuls:scores', 'v6-matmuls:softmax', 'v6-matmuls:probs', 'v6-matmuls:values', 'combine']);
      expect(prepared.plan.scratch.map((x) => x.label)).not.toContain('decoded cache rows');
    } finally {
      prepared.destroy();
    }
    const run = await runAttention(short, dense, config);
    expect(run.check.pass, `two columns: ${formatCheck(run.check)}`).toBe(true);
    const sparse = generateInputs(presetShape('v32', { seqlens: [900, 17], sQ: 2, hQ: 5, topk: 40, pageBlockSize: 16 }), { seed: 32, invalidIndexFraction: 0.3, allInvalidRows: [1] });
    const sparseRun = await runAttention(short, sparse, config);
    expect(sparseRun.plan.cacheTexture?.format).toBe('rgba32uint');
    expect(sparseRun.check.pass, `sparse: ${formatCheck(sparseRun.check)}`).toBe(true);
    expect(sparseRun.output.lse[(0 * 5 + 2) * 2 + 1]).toBe(Infinity); // row 1 (b 0, i 1), head 2
    const model1 = await runAttention(gpu!, generateInputs(presetShape('model1', { seqlens: [70], hQ: 5, pageBlockSize: 16 }), { seed: 33 }), config);
    expect(model1.plan.cacheTexture).toMatchObject({ format: 'rgba32uint', slotTexels: 64, slotsPerRow: 1 });
    expect(model1.check.pass, `MODEL1: ${formatCheck(model1.check)}`).toBe(true);
    const odd = await runAttention(gpu!, generateInputs(presetShape('v32', { seqlens: [45], hQ: 5, pageBlockSize: 15 }), { seed: 34 }), config);
    expect(odd.plan.cacheTexture).toMatchObject({ format: 'rgba32uint', slotTexels: 72, slotsPerRow: 2 });
    expect(odd.plan.scratch.map((x) => x.label)).toContain('decoded cache rows');
    expect(odd.check.pass, `odd slots: ${formatCheck(odd.check)}`).toBe(true);
  });

  // An FP8 cache whose scales are powers of two (FlashMLA's quantiser) holds only bf16 values: v6 decodes it into
  // bf16 words (cache_texture.wgsl's [cache words] lines), exactly; with scales of any value (--scale-rounding plain)
  // into f32 quads. Both heads' layouts; V3.2's with sparse rows and invalid indices (the words' columns: above).
  it('v6 matmuls: an FP8 cache with power-of-two scales decoded into bf16 words, other scales into f32 quads', async () => {
    const config = { kernel: 'matmuls', kvFormat: 'fp8', ...broadBlocks('matmuls'), splits: 2 } as const;
    const sparse = generateInputs(presetShape('v32', { seqlens: [900, 17], sQ: 2, hQ: 5, topk: 40, pageBlockSize: 16 }), { seed: 35, invalidIndexFraction: 0.3, allInvalidRows: [1] });
    const words = await runAttention(gpu!, sparse, config);
    expect(words.plan.cacheTexture).toMatchObject({ format: 'rgba32uint', slotTexels: 72, slotsPerRow: 2 });
    expect(words.check.pass, `V3.2 words: ${formatCheck(words.check)}`).toBe(true);
    expect(words.output.lse[(0 * 5 + 2) * 2 + 1]).toBe(Infinity);
    const plain = await runAttention(gpu!, sparse, { ...config, scaleRounding: 'plain' });
    expect(plain.plan.cacheTexture?.format).toBe('rgba32float');
    expect(plain.check.pass, `V3.2 quads: ${formatCheck(plain.check)}`).toBe(true);
    const model1 = await runAttention(gpu!, generateInputs(presetShape('model1', { seqlens: [70], hQ: 5, pageBlockSize: 16 }), { seed: 36 }), config);
    expect(model1.plan.cacheTexture).toMatchObject({ format: 'rgba32uint', slotTexels: 64, slotsPerRow: 1 });
    expect(model1.check.pass, `MODEL1 words: ${formatCheck(model1.check)}`).toBe(true);
  });

  // v5's output blocks (only SwiftShader runs v5 here). A module with a 32-head block takes SwiftShader about
  // 55 s to compile whatever the pair (its accumulators are 1024 floats a thread; 16-head modules 2-4 s), so the
  // cover runs one such module, v4's 32x16 / 32x32 pair above (the tuner's pick on both adapters); v5's 32 x 32
  // block is the same code (tiled_blocks.wgsl's accumulatePV and writeBlock), and MLA_TEST_MATRIX=full runs it.
  it.skipIf(!SUBGROUPS).each(OUT_BLOCKS.filter((b) => (full || !b.startsWith('32x')) && blockSize(b).cols <= (gpu?.limits.maxOutValues ?? 0)))('v5 subgroups: output block %s', async (outBlock) => {
    const run = await runAttention(gpu!, small, { kernel: 'subgroups', kvFormat: 'bf16', outBlock, splits: 2 });
    expect(run.plan.outBlock).toBe(outBlock);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  // v5: lanes per team from 1 to the smallest subgroup (every team size this device allows; teams of
  // fewer lanes than a subgroup share it), heads per workgroup 8 (h_q 11 spans two blocks) and 16.
  const lanes = SUBGROUPS ? [1, 2, 4, 8, 16, 32].filter((n) => n <= gpu!.limits.subgroupMinSize) : [];
  // Every team size on 8 heads, and 16 heads with the largest (no other adapter here runs v5, so no halving).
  const v5 = [...lanes.map((dotParts) => ({ headsPerWorkgroup: 8, dotParts })), ...lanes.slice(-1).map((dotParts) => ({ headsPerWorkgroup: 16, dotParts }))];
  it.skipIf(!SUBGROUPS).each(v5)('v5 subgroups: $headsPerWorkgroup heads per workgroup, $dotParts lanes per team', async ({ headsPerWorkgroup, dotParts }) => {
    const run = await runAttention(gpu!, inputs, { kernel: 'subgroups', kvFormat: 'fp8', headsPerWorkgroup, dotParts, splits: 2, outBlock: GPU_BLOCKS.outBlock });
    expect(run.plan.constants.TEAM_LANES).toBe(dotParts);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  it.skipIf(!SUBGROUPS)('v5 subgroups: a team cut short by a partial subgroup takes no work', async () => {
    // d_v 36: 3 threads per 8 heads, so 24 heads are 9 threads, and with teams of 4 lanes the last
    // subgroup holds lane 8 without lanes 9-11 (subgroup size 4 or more). Two teams form and share
    // the three head blocks; a team formed from lane 8 alone would compute head block 2 wrong.
    const odd = presetShape('v32', { seqlens: [100, 37], hQ: 17, ...SMALL_HEAD });
    const dotParts = Math.min(4, gpu!.limits.subgroupMinSize);
    const run = await runAttention(gpu!, generateInputs(odd, { seed: 8 }), { kernel: 'subgroups', kvFormat: 'bf16', headsPerWorkgroup: 24, dotParts, splits: 1, outBlock: DEFAULT_BLOCKS.gpu.out });
    expect(run.plan.workgroupSize).toBe(9);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  it('v4 tiled: a d_v that is not a multiple of 16 (d_v 36: the last thread block is cut)', async () => {
    // For v5 this is also a workgroup of 3 threads per 8 heads: a partial subgroup, where a team of
    // 2 lanes forms and the third lane, whose team is cut short, takes no work.
    const odd = presetShape('v32', { seqlens: [30, 9], hQ: 9, ...SMALL_HEAD });
    for (const kernel of CORNER_VERSIONS.filter((k) => k !== 'naive')) {
      const run = await runAttention(gpu!, generateInputs(odd, { seed: 6 }), { kernel, ...broadBlocks(kernel), kvFormat: 'bf16', splits: 2 });
      expect(run.check.pass, `${kernel}: ${formatCheck(run.check)}`).toBe(true);
    }
  });

  // The slowest sweep here (two layouts, every corner version): SwiftShader takes its first point only.
  it.each(sweep([2, 53, 61, 69], 4))('page size %i (not a power of two) on both layouts, every version', async (pageBlockSize) => {
    for (const preset of ['v32', 'model1'] as const) {
      const s = presetShape(preset, { seqlens: [1, 100, 138], hQ: 5, pageBlockSize });
      const inp = generateInputs(s, { seed: pageBlockSize });
      for (const kernel of CORNER_VERSIONS) {
        const run = await runAttention(gpu!, inp, { kernel, ...broadBlocks(kernel), kvFormat: 'fp8', splits: kernel === 'naive' ? 'auto' : 2 });
        expect(run.check.pass, `${preset} ${kernel}: ${formatCheck(run.check)}`).toBe(true);
      }
    }
  });

  it('sparse with every version: FlashMLA\'s invalid indices, all-invalid rows, splits, sink', async () => {
    const s = presetShape('model1', { seqlens: [90, 5, 200], sQ: 2, hQ: 7, topk: 96, attentionSink: true });
    const inp = generateInputs(s, { seed: 9, invalidIndexFraction: 0.3, allInvalidRows: [0, 5] });
    for (const kernel of CORNER_VERSIONS) {
      for (const splits of kernel === 'naive' ? [1] : [1, 4]) {
        const run = await runAttention(gpu!, inp, { kernel, ...broadBlocks(kernel), kvFormat: 'fp8', splits });
        expect(run.check.pass, `${kernel} splits ${splits}: ${formatCheck(run.check)}`).toBe(true);
        // rows 0 (b 0, i 0) and 5 (b 2, i 1): lse +inf, exactly as the reference
        expect(run.output.lse[(0 * 7 + 3) * 2 + 0]).toBe(Infinity);
        expect(run.output.lse[(2 * 7 + 3) * 2 + 1]).toBe(Infinity);
      }
    }
  });

  it('sinks of +inf and -inf (FlashMLA\'s tests give them): +inf zeroes that head\'s out, -inf changes nothing, the lse stays', async () => {
    const s = presetShape('v32', { seqlens: [70, 130], sQ: 2, hQ: 5, attentionSink: true });
    const inp = generateInputs(s, { seed: 13 });
    const sink = Float32Array.of(Infinity, -Infinity, 0.5, -1, 3);
    const plain = await runAttention(gpu!, { ...inp, shape: { ...s, attentionSink: false }, sink: undefined }, { kernel: 'naive', kvFormat: 'bf16' });
    for (const kernel of CORNER_VERSIONS) {
      for (const splits of kernel === 'naive' ? [1] : [1, 4]) {
        const run = await runAttention(gpu!, { ...inp, sink }, { kernel, ...broadBlocks(kernel), kvFormat: 'bf16', splits });
        expect(run.check.pass, `${kernel} splits ${splits}: ${formatCheck(run.check)}`).toBe(true);
        for (let row = 0; row < 2 * 2; row++) {
          const at = (h: number) => (row * 5 + h) * s.dV;
          expect(run.output.out.subarray(at(0), at(1)).every((x) => x === 0), `${kernel}: head 0 (sink +inf) is zero`).toBe(true);
          const off = plain.output.out.subarray(at(1), at(2)).reduce((worst, x, c) => Math.max(worst, Math.abs(x - run.output.out[at(1) + c])), 0);
          expect(off, `${kernel}: head 1 (sink -inf) as without a sink`).toBeLessThan(1e-5);
        }
        expect(run.output.lse.every((x, k) => Math.abs(x - plain.output.lse[k]) < 1e-4), `${kernel}: the lse is the sink-free one`).toBe(true);
      }
    }
  });

  it('lazy rescale: a score that jumps by more than the threshold mid-row, and one that grows by less', async () => {
    // Outlier channels make some keys score far above the rest: the running max moves in big and small steps.
    const s = presetShape('v32', { seqlens: [300, 77], hQ: 16 });
    const inp = generateInputs(s, { seed: 11, distribution: 'outliers' });
    for (const kernel of CORNER_VERSIONS.filter((k) => k === 'tiled' || k === 'shared-latent' || k === 'subgroups')) {
      const run = await runAttention(gpu!, inp, { kernel, ...broadBlocks(kernel), kvFormat: 'f32', splits: 1 });
      expect(run.check.pass, `${kernel}: ${formatCheck(run.check)}`).toBe(true);
    }
  });

  it('plain amax/448 scales (V3.2) and outlier channels', async () => {
    const s = presetShape('v32', { seqlens: [77, 130], hQ: 16 });
    const inp = generateInputs(s, { seed: 3, distribution: 'outliers' });
    const run = await runAttention(gpu!, inp, { kernel: 'flash', kvFormat: 'fp8', scaleRounding: 'plain' });
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  it('non-causal with s_q > 1, and a custom softmax scale', async () => {
    const s = presetShape('model1', { seqlens: [33, 70], sQ: 4, hQ: 9, causal: false, softmaxScale: 0.3 });
    const inp = generateInputs(s, { seed: 4 });
    for (const kernel of CORNER_VERSIONS) {
      const run = await runAttention(gpu!, inp, { kernel, ...broadBlocks(kernel), kvFormat: 'f32', splits: kernel === 'naive' ? 'auto' : 3 });
      expect(run.check.pass, `${kernel}: ${formatCheck(run.check)}`).toBe(true);
    }
  });
});
