/**
 * Host side of version 6, "matmuls" (shaders/v6_scores.wgsl,
 * v6_softmax.wgsl, v6_values.wgsl): the decode as two plain matrix products
 * through a score matrix in memory, the softmax between. Every operand is
 * read as a texel: the queries' texture and the cache decoded into one (the
 * passes version 4 uses for `--queries texture` and `--keys texture`), and
 * the score matrix, copied into a texture between the softmax and P V.
 * A call:
 *   [query-texture] [cache-texture (or its copy)] v6-matmuls:scores
 *   v6-matmuls:softmax  v6-matmuls:probs (a copy)  v6-matmuls:values  [combine]
 */
import { getPipeline } from '../gpu/pipelines';
import { type ComposeOptions, type ShaderFileName, composeShader } from '../gpu/shader-source';
import { bindGroup, storageBuffersDeclared } from '../gpu/bindings';
import {
  type AttentionBuffers, type CallPass, type DeviceLimits, type KernelPlan, type PlanOptions, CACHE_ROWS_LABEL, PlanDoesNotFit,
  cacheRowLoads, cacheTextureCopiesStraight, cacheTextureRows, keySourceBindings, quadsCacheTexture, wordsCacheTexture,
} from './kernel-plan';
import { type AttentionSpec, maxKeysPerRow, probLayout, sharedConstants, sharedFiles } from './attention-spec';
import { cacheTexturePasses, chooseSplits, combinePass, queryTexturePass, splitBuffers, splitScratch } from './split-kv';
import { type BlockPair, type MatmulScoreBlockName, blockSize, longRows, parseMatmulScoreBlock, parseOutBlock, wideStrips } from './register-blocks';
import { refuseQueryTextureOver } from './tiled-kernel';

/** The three passes' own files (their modules add the shared ones: matmulsModules). */
export const MATMULS_FILES = ['v6_scores.wgsl', 'v6_softmax.wgsl', 'v6_values.wgsl', 'v6_layout.wgsl', 'v6_cache.wgsl', 'head_quads.wgsl'] as const;

/** Threads of the score pass's workgroups (its shader's WG). */
const WG = 64;

/** The score matrix's scratch buffer: S, then P in place (shaders/v6_layout.wgsl). */
export const SCORE_MATRIX_LABEL = 'score matrix';
const KEY_ROWS_LABEL = 'key rows';
const ROW_STATS_LABEL = 'row statistics';
const PROB_TEXTURE_LABEL = 'probabilities';

/** v6's pair of blocks: a score block of MATMUL_SCORE_BLOCKS (32x32 among them), an output block of OUT_BLOCKS. */
export interface MatmulBlocks {
  readonly score: MatmulScoreBlockName;
  readonly out: BlockPair['out'];
}

/**
 * The blocks v6 takes unless told. On a GPU version 4's (a GPU thread's
 * registers are few; not measured). On a software adapter whose compiler
 * takes 64-value output blocks (DeviceLimits.maxOutValues: llvmpipe) the
 * largest, 32x32 and 32x64, as the plain-matmul yardstick's best form is
 * 32x32; on another (SwiftShader, whose compiler takes about a minute over a
 * 32-head block and runs out of memory on 64 values) 16x16 and 16x32.
 * Measured in docs/kernels.md, "Version 6".
 */
export function defaultMatmulBlocks(limits: DeviceLimits): MatmulBlocks {
  if (limits.cpuThreads === 0) return { score: '8x8', out: '8x16' };
  return limits.maxOutValues >= 64 ? { score: '32x32', out: '32x64' } : { score: '16x16', out: '16x32' };
}

/** The threads of a softmax or P V workgroup: a few on a CPU (each workgroup runs on one core: every core should have some), 64 on a GPU. */
function rowsWorkgroup(limits: DeviceLimits): number {
  return limits.cpuThreads > 0 ? 8 : 64;
}

/** The module of each pass: shared files (the key source and the cache's overrides for the score and softmax passes; fused_io.wgsl's writes for P V), then its own. */
function matmulsModules(spec: AttentionSpec): Record<'scores' | 'softmax' | 'values', ShaderFileName[]> {
  return {
    scores: [...sharedFiles(spec), 'head_quads.wgsl', 'v6_layout.wgsl', 'v6_cache.wgsl', 'v6_scores.wgsl'],
    softmax: [...sharedFiles(spec), 'v6_layout.wgsl', 'v6_softmax.wgsl'],
    values: ['params.wgsl', 'fused_io.wgsl', 'head_quads.wgsl', 'v6_layout.wgsl', 'v6_cache.wgsl', 'v6_values.wgsl'],
  };
}

/**
 * The marked lines the modules keep: the 32-head and 64-value blocks' where
 * the blocks have them, the queries' texture always (every operand is a
 * texel), and the cache's texture as f32 quads or as bf16 words
 * (CACHE_WORDS: v6_cache.wgsl).
 */
function matmulsModuleOptions(c: Readonly<Record<string, number>>): ComposeOptions {
  const words = c.CACHE_WORDS === 1;
  return { wideStrips: wideStrips(c), longRows: longRows(c), queryTexture: true, cacheTexture: !words, cacheWords: words };
}

/** The most storage buffers any of the three modules declares (versions.ts checks it against the device). */
export function matmulsStorageBuffers(spec: AttentionSpec, plan: KernelPlan): number {
  return Math.max(...Object.values(matmulsModules(spec)).map((files) => storageBuffersDeclared(composeShader(files, spec.edits, matmulsModuleOptions(plan.constants)).code)));
}

export function matmulsPlan(spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions = {}): KernelPlan {
  const { shape } = spec;
  const defaults = defaultMatmulBlocks(limits);
  const blocks: MatmulBlocks = {
    score: parseMatmulScoreBlock(options.scoreBlock ?? defaults.score),
    out: parseOutBlock(options.outBlock ?? defaults.out),
  };
  const score = blockSize(blocks.score);
  const out = blockSize(blocks.out);
  if (out.cols > limits.maxOutValues) {
    throw new PlanDoesNotFit(`output block ${blocks.out} holds ${out.cols} values of the output row a thread, over the ${limits.maxOutValues} this device's shader compiler is known to take (maxOutValues: only Mesa llvmpipe takes 64); use an output block of ${limits.maxOutValues} values or fewer`);
  }
  // The score matrix's texture: prob_width texels a row, `bands` rows per matrix row (batch x s_q x h_q of them).
  const { width, bands } = probLayout(shape);
  const rows = shape.batch * shape.sQ * shape.hQ;
  const prob = { width, height: rows * bands };
  const most = limits.maxTextureDimension2D;
  const matrixBytes = 16 * prob.width * prob.height;
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (prob.height > most || matrixBytes > binding) {
    throw new PlanDoesNotFit(`kernel matmuls keeps every score in memory: ${rows} rows (batch x s_q x h_q) of ${maxKeysPerRow(shape)} keys are ${matrixBytes} bytes in a texture ${prob.height} texels tall, over this device's ${binding}-byte storage binding or maxTextureDimension2D of ${most}; use a fused version (tiled), which keeps none`);
  }
  // Every operand a texel: the cache's texture and the queries' (the passes version 4's `--keys texture` and `--queries texture` use);
  // bf16 words where every value of the cache is a bf16 value (a bf16 cache's own bytes copied in, or an FP8 cache
  // with power-of-two scales decoded into them), else f32 quads.
  const cacheTexture = wordsCacheTexture(spec, limits)
    ?? quadsCacheTexture(spec, limits, 'kernel matmuls reads every key from it: use a fused version (tiled), which reads a sharded cache');
  const words = cacheTexture.format === 'rgba32uint';
  const decoded = !cacheTextureCopiesStraight(spec, cacheTexture);
  if (decoded) cacheRowLoads(spec);
  refuseQueryTextureOver(spec, limits);
  const dimGroups = Math.ceil(shape.dV / out.cols);
  const rowsWg = rowsWorkgroup(limits);
  const threadsPerSplit = shape.batch * shape.sQ * Math.ceil(shape.hQ / out.heads) * dimGroups;
  // A thread of the softmax walks its chunk twice; one of P V once, four keys a step.
  const splits = chooseSplits(spec, Math.ceil(threadsPerSplit / rowsWg), options.splits, limits, { keysPerTile: 4, loopsPerTile: 2 });
  return {
    kernel: 'matmuls', splits, tileN: 0, headsPerWorkgroup: out.heads, workgroupSize: rowsWg, workgroupBytes: 0,
    keys: 'texture', queries: 'texture', scoreBlock: blocks.score, outBlock: blocks.out,
    constants: {
      SCORE_HEADS: score.heads, SCORE_KEYS: score.cols, OUT_HEADS: out.heads, OUT_VALUES: out.cols, VALUES_WG: rowsWg, SOFTMAX_WG: rowsWg,
      CACHE_WORDS: words ? 1 : 0, SLOT_TEXELS: cacheTexture.slotTexels, SLOTS_PER_ROW: cacheTexture.slotsPerRow,
    },
    scratch: [
      ...splitScratch(spec, splits),
      { label: SCORE_MATRIX_LABEL, bytes: matrixBytes },
      { label: KEY_ROWS_LABEL, bytes: 16 * width * bands * shape.batch * shape.sQ },
      { label: ROW_STATS_LABEL, bytes: 16 * rows * splits },
      ...(decoded ? [{ label: CACHE_ROWS_LABEL, bytes: cacheTextureRows(cacheTexture.size).bytes }] : []),
    ],
    cacheTexture,
    scratchTextures: [{ label: PROB_TEXTURE_LABEL, size: prob }],
  };
}

/** The plan's scratch buffer by label. */
function scratchOf(plan: KernelPlan, scratch: readonly GPUBuffer[], label: string): GPUBuffer {
  const buffer = scratch[plan.scratch.findIndex((s) => s.label === label)];
  if (!buffer) throw new Error(`kernel matmuls needs its scratch buffer "${label}"`);
  return buffer;
}

export async function matmulsPasses(
  device: GPUDevice, spec: AttentionSpec, plan: KernelPlan, buffers: AttentionBuffers, scratch: readonly GPUBuffer[],
): Promise<CallPass[]> {
  const { shape } = spec;
  const { queryTexture, cacheTexture } = buffers;
  const probTexture = buffers.scratchTextures?.[0];
  if (!queryTexture || !cacheTexture || !probTexture) throw new Error('kernel matmuls needs the queries\', the cache\'s and its score matrix\'s textures');
  const c = plan.constants;
  const modules = matmulsModules(spec);
  const pipeline = (pass: keyof typeof modules, constants: Record<string, number>) => getPipeline(device, {
    kernel: `v6-matmuls:${pass}`, files: modules[pass], entryPoint: 'main', edits: spec.edits, constants, ...matmulsModuleOptions(c),
  });
  const [scoresP, softmaxP, valuesP] = await Promise.all([
    pipeline('scores', { ...sharedConstants(spec), SCORE_HEADS: c.SCORE_HEADS, SCORE_KEYS: c.SCORE_KEYS, SLOT_TEXELS: c.SLOT_TEXELS, SLOTS_PER_ROW: c.SLOTS_PER_ROW }),
    pipeline('softmax', { ...sharedConstants(spec), SOFTMAX_WG: c.SOFTMAX_WG }),
    pipeline('values', { D_V: shape.dV, OUT_HEADS: c.OUT_HEADS, OUT_VALUES: c.OUT_VALUES, VALUES_WG: c.VALUES_WG }),
  ]);
  // The cache's texture is bound by the name the modules declare it by (v6_cache.wgsl): f32 quads or bf16 words.
  const cacheBinding = c.CACHE_WORDS === 1 ? 'cacheWords' : 'cacheTexture';
  const scores = scratchOf(plan, scratch, SCORE_MATRIX_LABEL);
  const keyRows = scratchOf(plan, scratch, KEY_ROWS_LABEL);
  const rowStats = scratchOf(plan, scratch, ROW_STATS_LABEL);
  const keys = keySourceBindings(spec.sparse, buffers);
  const rows = shape.batch * shape.sQ * shape.hQ;
  const keyBlocks = Math.ceil(Math.max(1, maxKeysPerRow(shape)) / c.SCORE_KEYS);
  const headBlocks = (heads: number) => Math.ceil(shape.hQ / heads);
  const dimGroups = Math.ceil(shape.dV / c.OUT_VALUES);
  const [out, lse, maxLogits] = plan.splits === 1 ? [buffers.out, buffers.lse, buffers.maxLogits] : splitBuffers(scratch);
  const { width, height } = { width: probTexture.width, height: probTexture.height };
  return [
    await queryTexturePass(device, spec, buffers.q, queryTexture),
    ...await cacheTexturePasses(device, spec, plan, buffers, cacheTexture, scratch),
    {
      label: 'v6-matmuls:scores', pipeline: scoresP, workgroups: [Math.ceil(headBlocks(c.SCORE_HEADS) * keyBlocks / WG), shape.sQ, shape.batch],
      bindGroup: bindGroup(device, scoresP, 'v6-matmuls:scores', { scores, keyRows, queryTexture: queryTexture.createView(), [cacheBinding]: cacheTexture.createView(), ...keys }),
    },
    {
      label: 'v6-matmuls:softmax', pipeline: softmaxP, workgroups: [Math.ceil(rows * plan.splits / c.SOFTMAX_WG), 1, 1],
      // The softmax reads the row's key count only: seqlens (dense) and params; a sparse row's is params.topk.
      bindGroup: bindGroup(device, softmaxP, 'v6-matmuls:softmax', { scores, rowStats, params: buffers.params, ...(spec.sparse ? {} : { seqlens: buffers.keyList }) }),
    },
    {
      label: 'v6-matmuls:probs',
      copy: (encoder) => encoder.copyBufferToTexture({ buffer: scores, bytesPerRow: 16 * width, rowsPerImage: height }, { texture: probTexture }, [width, height]),
    },
    {
      label: 'v6-matmuls:values', pipeline: valuesP, workgroups: [Math.ceil(headBlocks(c.OUT_HEADS) * dimGroups * plan.splits / c.VALUES_WG), shape.sQ, shape.batch],
      bindGroup: bindGroup(device, valuesP, 'v6-matmuls:values', {
        probTexture: probTexture.createView(), [cacheBinding]: cacheTexture.createView(), keyRows, rowStats, out, lse, max_logits: maxLogits, sink: buffers.sink, params: buffers.params,
      }),
    },
    ...(plan.splits > 1 ? [await combinePass(device, spec, buffers, scratch)] : []),
  ];
}
