/**
 * Split-KV, shared by every fused version: how many chunks a row's keys are
 * cut into, the buffers of the chunks' partial results, and the dispatches
 * (the decode kernel, then shaders/combine.wgsl when there is more than one
 * chunk). See docs/kernels.md, "Split-KV".
 */
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { type ComposeOptions, type ShaderFileName, SHADER_FILES } from '../gpu/shader-source';
import {
  type AttentionBuffers, type CallPass, type DeviceLimits, type KernelPass, type KernelPlan, CACHE_ROWS_LABEL, PlanDoesNotFit, STORAGE_TILE_LABEL,
  cacheTextureCopiesStraight, cacheRowLoads, cacheTextureRows, keySourceBindings, queryTextureSize, straightCopies,
} from './kernel-plan';
import { type BindingName, type BoundResource, bindGroup } from '../gpu/bindings';
import { kvShardBindings } from './kv-shards';
import { longRows, wideStrips } from './register-blocks';
import { type AttentionSpec, cacheSlotsOf, maxKeysPerRow, sharedConstants, sharedFiles } from './attention-spec';

/** Auto split on a GPU: aim for this many workgroups in flight, but keep >= MIN_KEYS_PER_SPLIT keys per split. */
const GPU_TARGET_WORKGROUPS = 128;
/**
 * On a software adapter (DeviceLimits.cpuThreads > 0), this many workgroups
 * per CPU thread instead: a CPU runs a few workgroups at a time, and every
 * split adds its setup, its partial output and its share of the combine.
 * Measured (docs/kernels.md, "Split-KV and combine"): 16 splits, the GPU
 * rule's answer at h_q 64 and seqlen 4096, was the slowest of 4, 8 and 16.
 */
const WORKGROUPS_PER_CPU_THREAD = 4;
const MIN_KEYS_PER_SPLIT = 256;

/** Workgroups the auto split aims to have in flight on this device. */
export function targetWorkgroups(limits: DeviceLimits | undefined): number {
  return limits?.cpuThreads ? WORKGROUPS_PER_CPU_THREAD * limits.cpuThreads : GPU_TARGET_WORKGROUPS;
}

export const MAX_SPLITS = 1024;

export type SplitsOption = number | 'auto';

/**
 * How many loop iterations one thread of a version runs per tile of keys:
 * an upper bound read off its shader's loops, for devices that stop long
 * loops (DeviceLimits.maxLoopIterations; shaders/loop_probe.wgsl).
 */
export interface LoopCost {
  readonly keysPerTile: number;
  readonly loopsPerTile: number;
}

/** Share of the device's loop budget a plan may use: the costs are estimates, the rest is margin. */
const LOOP_SHARE = 0.5;

/** Loop iterations a plan may give one thread on this device (Infinity where no limit was found). */
export function loopBudget(limits: DeviceLimits | undefined): number {
  return limits?.maxLoopIterations ? LOOP_SHARE * limits.maxLoopIterations : Infinity;
}

/** The fewest splits that keep every thread's loops within the device's budget (1 where there is none). */
function splitsForLoops(spec: AttentionSpec, limits: DeviceLimits | undefined, cost: LoopCost | undefined): number {
  if (!limits?.maxLoopIterations || !cost) return 1;
  const tiles = Math.max(1, Math.floor(loopBudget(limits) / cost.loopsPerTile));
  return Math.ceil(maxKeysPerRow(spec.shape) / (tiles * cost.keysPerTile));
}

/**
 * The split count: `option`, or for 'auto' enough chunks to fill the device
 * (targetWorkgroups) without making them short, and short enough for a
 * device that stops long loops (llvmpipe: a thread may loop 65535 times in
 * all).
 */
export function chooseSplits(spec: AttentionSpec, workgroupsPerSplit: number, option: SplitsOption = 'auto', limits?: DeviceLimits, cost?: LoopCost): number {
  const fewest = splitsForLoops(spec, limits, cost);
  const why = () => `this device stops a shader invocation's loops after ${limits?.maxLoopIterations} iterations (shaders/loop_probe.wgsl), so ${maxKeysPerRow(spec.shape)} keys need at least ${fewest} splits`;
  if (option === 'auto') {
    const keys = maxKeysPerRow(spec.shape);
    const splits = Math.max(fewest, 1, Math.min(Math.ceil(targetWorkgroups(limits) / workgroupsPerSplit), Math.floor(keys / MIN_KEYS_PER_SPLIT)));
    if (splits > MAX_SPLITS) throw new PlanDoesNotFit(`${why()}, over the ${MAX_SPLITS} a call may have`);
    return splits;
  }
  if (!Number.isInteger(option) || option < 1 || option > MAX_SPLITS) {
    throw new Error(`splits = ${option} is not allowed: splits must be "auto" or an integer from 1 to ${MAX_SPLITS}`);
  }
  if (option < fewest) throw new PlanDoesNotFit(`splits = ${option} is too few: ${why()}`);
  return option;
}

/** The scratch buffers of a fused version's plan: the splits' partials, when it splits. */
export function splitScratch(spec: AttentionSpec, splits: number): KernelPlan['scratch'] {
  if (splits === 1) return [];
  // out [rows, splits, d_v], lse and max_logits [rows, splits], f32
  const rows = spec.shape.batch * spec.shape.sQ * spec.shape.hQ;
  return [
    { label: 'split partial out', bytes: 4 * rows * splits * spec.shape.dV },
    { label: 'split partial lse', bytes: 4 * rows * splits },
    { label: 'split partial max', bytes: 4 * rows * splits },
  ];
}

/** The scratch buffer of decoded key tiles (v4, `--keys tile-storage`: tiled-kernel.ts), bound as keyTileStorage; none otherwise. */
function storageTileBinding(plan: KernelPlan, scratch: readonly GPUBuffer[]): Partial<Record<BindingName, GPUBuffer>> {
  if (plan.constants.KEY_TILE_STORAGE !== 1) return {};
  const buffer = scratch[plan.scratch.findIndex((s) => s.label === STORAGE_TILE_LABEL)];
  if (!buffer) throw new Error('the decoded key tiles\' scratch buffer is required when keys are "tile-storage"');
  return { keyTileStorage: buffer };
}

/** The queries' texture (v4, `--queries texture`), or none when the plan reads q from storage. */
function queryTextureOf(plan: KernelPlan, buffers: AttentionBuffers): GPUTexture | undefined {
  if (plan.queries !== 'texture') return undefined;
  if (!buffers.queryTexture) throw new Error('the queries\' texture is required when queries are "texture"');
  return buffers.queryTexture;
}

/** The cache decoded into a texture (v4, `--keys texture`), or none when the plan reads keys elsewhere. */
function cacheTextureOf(plan: KernelPlan, buffers: AttentionBuffers): GPUTexture | undefined {
  if (plan.constants.KEYS_TEXTURE !== 1) return undefined;
  if (!buffers.cacheTexture) throw new Error('the cache\'s texture is required when keys are "texture"');
  return buffers.cacheTexture;
}

/** Threads of cache_texture.wgsl's workgroup. */
const CACHE_TEXTURE_WG = shaderConstant(SHADER_FILES['cache_texture.wgsl'], 'WG');

/**
 * What fills the cache's texture (the plan's cacheTexture) before the decode
 * dispatch: the pass that decodes the cache into rows
 * (shaders/cache_texture.wgsl) and the copy of those rows into the texture,
 * or, for an f32 cache whose slots are already the texture's rows
 * (cacheCopiesStraight) and a bf16 cache's own words (cacheTextureCopiesStraight), copies
 * of the cache itself, one a column of the texture.
 */
export async function cacheTexturePasses(
  device: GPUDevice, spec: AttentionSpec, plan: KernelPlan, buffers: AttentionBuffers, texture: GPUTexture, scratch: readonly GPUBuffer[],
): Promise<CallPass[]> {
  const t = plan.cacheTexture;
  if (!t) throw new Error(`kernel ${plan.kernel}: a cache texture was bound but the plan has none`);
  const { size } = t; // the texture was made from it (runner.ts)
  if (cacheTextureCopiesStraight(spec, t)) {
    const [kv] = buffers.kv;
    return [{
      label: 'cache-texture:copy',
      copy: (encoder) => straightCopies(spec, t).forEach(({ offset, x, rows, bytesPerRow, texels }) => {
        encoder.copyBufferToTexture({ buffer: kv, offset, bytesPerRow, rowsPerImage: rows }, { texture, origin: [x, 0] }, [texels, rows]);
      }),
    }];
  }
  const rows = scratch[plan.scratch.findIndex((s) => s.label === CACHE_ROWS_LABEL)];
  if (!rows) throw new Error('the decoded cache rows\' scratch buffer is required when keys are "texture"');
  const { rowTexels } = cacheTextureRows(size);
  const words = t.format === 'rgba32uint';
  const pipeline = await getPipeline(device, {
    kernel: 'cache-texture', files: ['params.wgsl', 'fp8.wgsl', 'kv_cache.wgsl', 'kv_shards.wgsl', 'cache_texture.wgsl'], entryPoint: 'main',
    edits: spec.edits, constants: { ...sharedConstants(spec), ...cacheRowLoads(spec), ROWS: size.height, ROW_TEXELS: rowTexels, SLOT_TEXELS: t.slotTexels, SLOTS_PER_ROW: t.slotsPerRow },
    cacheTexture: !words, cacheWords: words,
  });
  return [{
    label: 'cache-texture', pipeline, workgroups: [Math.ceil(cacheSlotsOf(spec) / CACHE_TEXTURE_WG), 1, 1],
    bindGroup: bindGroup(device, pipeline, 'cache-texture', { ...kvShardBindings(buffers.kv), params: buffers.params, [words ? 'cacheWordRows' : 'cacheRows']: rows }),
  }, {
    label: 'cache-texture:copy',
    copy: (encoder) => encoder.copyBufferToTexture({ buffer: rows, bytesPerRow: 16 * rowTexels, rowsPerImage: size.height }, { texture }, [size.width, size.height]),
  }];
}

/** Threads of query_texture.wgsl's workgroup. */
const QUERY_TEXTURE_WG = shaderConstant(SHADER_FILES['query_texture.wgsl'], 'WG');

/** The pass that writes q into the queries' texture (shaders/query_texture.wgsl), first in the call. */
export async function queryTexturePass(device: GPUDevice, spec: AttentionSpec, q: GPUBuffer, texture: GPUTexture): Promise<KernelPass> {
  const pipeline = await getPipeline(device, { kernel: 'query-texture', files: ['query_texture.wgsl'], entryPoint: 'main', constants: { D_QK: spec.shape.dQk } });
  const { width, height } = queryTextureSize(spec.shape);
  return {
    label: 'query-texture', pipeline, workgroups: [Math.ceil(width / QUERY_TEXTURE_WG), height, 1],
    bindGroup: bindGroup(device, pipeline, 'query-texture', { q, queryRows: texture.createView() }),
  };
}

/**
 * The marked lines a fused module with these override constants keeps
 * (src/gpu/shader-source.ts): the 32-head strips, the storage tile's
 * binding and lines (KEY_TILE_STORAGE), the query texture's
 * (QUERIES_TEXTURE) and the cache texture's (KEYS_TEXTURE). The pipeline and the count of its storage buffers
 * (versions.ts) compose with the same options.
 */
export function fusedModuleOptions(constants: Readonly<Record<string, number>>): ComposeOptions {
  return {
    wideStrips: wideStrips(constants), longRows: longRows(constants), storageTile: constants.KEY_TILE_STORAGE === 1, queryTexture: constants.QUERIES_TEXTURE === 1,
    cacheTexture: constants.KEYS_TEXTURE === 1,
  };
}

/** Files of a fused version's module: params, cache reader, key source, fused_io, then the version's own (`files`). */
export function fusedFiles(spec: AttentionSpec, files: readonly ShaderFileName[]): ShaderFileName[] {
  return [...sharedFiles(spec), 'fused_io.wgsl', ...files];
}

export interface FusedKernel {
  /** Label of the decode dispatch, e.g. "v4-tiled". */
  readonly label: string;
  /** The version's own files (e.g. key_tile.wgsl, v4_tiled.wgsl), appended to the shared files and fused_io.wgsl. */
  readonly files: readonly ShaderFileName[];
  readonly plan: KernelPlan;
  /** Workgroups along x for one split (head blocks). */
  readonly headBlocks: number;
}

/** The decode dispatch of a fused version (after the queries' and the cache's textures are written, when it reads them), then the combine when it splits. */
export async function fusedPasses(
  device: GPUDevice, spec: AttentionSpec, kernel: FusedKernel, buffers: AttentionBuffers, scratch: readonly GPUBuffer[],
): Promise<CallPass[]> {
  const { shape } = spec;
  const { plan } = kernel;
  const decode = await getPipeline(device, {
    kernel: kernel.label,
    files: fusedFiles(spec, kernel.files),
    entryPoint: 'main',
    edits: spec.edits,
    constants: { ...sharedConstants(spec), D_V: shape.dV, ...plan.constants },
    ...fusedModuleOptions(plan.constants),
  });
  const keys = keySourceBindings(spec.sparse, buffers);
  const tiles = storageTileBinding(plan, scratch);
  const queryTexture = queryTextureOf(plan, buffers);
  const cacheTexture = cacheTextureOf(plan, buffers);
  const textures: Partial<Record<BindingName, BoundResource>> = {
    ...(queryTexture ? { queryTexture: queryTexture.createView() } : {}), ...(cacheTexture ? { cacheTexture: cacheTexture.createView() } : {}),
  };
  const first: CallPass[] = [
    ...(queryTexture ? [await queryTexturePass(device, spec, buffers.q, queryTexture)] : []),
    ...(cacheTexture ? await cacheTexturePasses(device, spec, plan, buffers, cacheTexture, scratch) : []),
  ];
  const grid: [number, number, number] = [kernel.headBlocks * plan.splits, shape.sQ, shape.batch];
  const decodePass = (out: GPUBuffer, lse: GPUBuffer, maxLogits: GPUBuffer): KernelPass => ({
    label: kernel.label, pipeline: decode, workgroups: grid,
    bindGroup: bindGroup(device, decode, kernel.label, { ...kvShardBindings(buffers.kv), q: buffers.q, out, lse, max_logits: maxLogits, sink: buffers.sink, ...keys, ...tiles, ...textures }),
  });
  if (plan.splits === 1) return [...first, decodePass(buffers.out, buffers.lse, buffers.maxLogits)];
  const [partOut, partLse, partMax] = splitBuffers(scratch);
  return [...first, decodePass(partOut, partLse, partMax), await combinePass(device, spec, buffers, scratch)];
}

/** The splits' partial out, lse and max (splitScratch's first three buffers of a plan that splits). */
export function splitBuffers(scratch: readonly GPUBuffer[]): [GPUBuffer, GPUBuffer, GPUBuffer] {
  const [partOut, partLse, partMax] = scratch;
  if (!partOut || !partLse || !partMax) throw new Error('split buffers are required when splits > 1');
  return [partOut, partLse, partMax];
}

/** The pass that merges the splits' partials into out, lse and max_logits (shaders/combine.wgsl). */
export async function combinePass(device: GPUDevice, spec: AttentionSpec, buffers: AttentionBuffers, scratch: readonly GPUBuffer[]): Promise<KernelPass> {
  const { shape } = spec;
  const [partOut, partLse, partMax] = splitBuffers(scratch);
  const combine = await getPipeline(device, {
    kernel: 'combine',
    files: ['params.wgsl', 'combine.wgsl'],
    entryPoint: 'main',
    edits: spec.edits,
    constants: { D_V: shape.dV },
  });
  return {
    label: 'combine', pipeline: combine, workgroups: [shape.hQ, shape.sQ, shape.batch],
    bindGroup: bindGroup(device, combine, 'combine', {
      partOut, partLse, partMax, out: buffers.out, lse: buffers.lse, max_logits: buffers.maxLogits, sink: buffers.sink, params: buffers.params,
    }),
  };
}
