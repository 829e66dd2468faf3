/**
 * A yardstick between the FMA ceiling and the kernels: how fast a plain
 * matrix multiply of the decode's score step, S = Q K^T, runs on this device
 * with its keys read from a storage buffer and its queries from storage or a
 * texture, or both from textures, as version 4 may read them
 * (shaders/plain_matmul.wgsl). No
 * softmax, no P V, no barriers, no cache lookups: the score step of a
 * version with the same register blocks is this product and more. Timed
 * with v4's 8 x 8 blocks (a GPU's default), 16 x 16 and 32 x 32 ones, each
 * reading in those three ways: the best of the nine is the yardstick. See
 * docs/kernels.md, "What a read costs".
 */
import type { GpuContext } from '../gpu/device';
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { SHADER_FILES } from '../gpu/shader-source';
import { bindGroup } from '../gpu/bindings';
import { rgba32Texture } from '../gpu/textures';
import { HEAD_PRESETS } from '../mla/shape';
import { QUERY_READS, type QueryReads } from '../kernels/kernel-plan';
import { type TimedWork, type TimingOptions, timeWork } from './timer';
import { ownedBuffers, singlePass } from './roofline';
import type { Roofline } from './work';

const WG = shaderConstant(SHADER_FILES['plain_matmul.wgsl'], 'WG');

/** The register blocks timed (the shader's BLOCK override): v4's on a GPU, and ones four and sixteen times larger. */
export const MATMUL_BLOCKS = [8, 16, 32] as const;
export type MatmulBlock = (typeof MATMUL_BLOCKS)[number];
/** How reports name each block. */
export const MATMUL_BLOCK_NAMES: Readonly<Record<MatmulBlock, string>> = { 8: '8x8 blocks (v4\'s on a GPU)', 16: '16x16 blocks', 32: '32x32 blocks' };
/**
 * The entry point each block runs: the hand-written accumulators for 8 and
 * 16, v4's strips for 32 (plain_matmul.wgsl says why).
 */
export const MATMUL_ENTRY: Readonly<Record<MatmulBlock, string>> = { 8: 'scoresOnly', 16: 'scoresOnly', 32: 'scoresOnlyStrips' };

/** Where a form reads the keys: a storage buffer (as v4 reads the cache), or a texture (as v4 reads the decoded cache, `--keys texture`). */
export type MatmulKeyReads = 'storage' | 'texture';

/** A form of the product: its register block, and where it reads the queries and the keys (the shader's QUERIES_TEXTURE, KEYS_TEXTURE). */
export interface MatmulForm {
  readonly block: MatmulBlock;
  readonly queries: QueryReads;
  readonly keys: MatmulKeyReads;
}

/**
 * Every form timed: each block reading the queries from storage and from a
 * texture with the keys in storage, and reading both from textures (keys
 * from a texture with the queries in storage is no read v4 makes).
 */
export const MATMUL_FORMS: readonly MatmulForm[] = MATMUL_BLOCKS.flatMap((block) => [
  ...QUERY_READS.map((queries) => ({ block, queries, keys: 'storage' as const })), { block, queries: 'texture' as const, keys: 'texture' as const },
]);

/** A form as reports name it: "32x32 blocks, queries from a texture". */
export function matmulFormName(f: MatmulForm): string {
  if (f.keys === 'texture') return `${MATMUL_BLOCK_NAMES[f.block]}, queries and keys from textures`;
  return `${MATMUL_BLOCK_NAMES[f.block]}, queries from ${f.queries === 'texture' ? 'a texture' : 'storage'}`;
}

/** A form in a few words: "32x32 texture", "32x32 textures" (both operands). */
export function matmulFormShort(f: MatmulForm): string {
  return `${f.block}x${f.block} ${f.keys === 'texture' ? 'textures' : f.queries}`;
}

/** A product's size: HEADS x DQ4 quads times KEYS x DQ4 quads. */
export interface MatmulSize {
  readonly heads: number;
  readonly keys: number;
  /** Quads per row (d_qk / 4). */
  readonly dq4: number;
}

/** The size timed: the score step of the ladder's main point (V3.2, h_q 64, seqlen 4096). */
export const LADDER_SCORE_STEP: MatmulSize = { heads: 64, keys: 4096, dq4: HEAD_PRESETS.v32.dQk / 4 };

export interface PlainMatmulForm extends MatmulForm {
  readonly gflops: number;
  /** gflops / the same run's FMA ceiling. */
  readonly fmaFraction: number;
}

export interface PlainMatmul {
  readonly size: MatmulSize;
  readonly forms: readonly PlainMatmulForm[];
}

export async function matmulPipeline(device: GPUDevice, form: MatmulForm, size: MatmulSize): Promise<GPUComputePipeline> {
  const { block } = form;
  if (size.heads % block !== 0 || size.keys % block !== 0) {
    throw new Error(`plain matmul: heads ${size.heads} and keys ${size.keys} must be multiples of the block (${block})`);
  }
  const texture = form.queries === 'texture';
  const keysTexture = form.keys === 'texture';
  if (keysTexture && !texture) throw new Error('plain matmul: keys from a texture are timed with the queries from one');
  return getPipeline(device, {
    kernel: 'plain-matmul', files: ['plain_matmul.wgsl', 'head_quads.wgsl'], entryPoint: MATMUL_ENTRY[block],
    constants: { BLOCK: block, HEADS: size.heads, KEYS: size.keys, DQ4: size.dq4, QUERIES_TEXTURE: texture ? 1 : 0, KEYS_TEXTURE: keysTexture ? 1 : 0 },
    wideStrips: block === 32, queryTexture: texture, cacheTexture: keysTexture,
  });
}

/**
 * A texture form's operand: DQ4 x rows rgba32float texels, row r holding row
 * r of the queries (HEADS rows) or of the keys (KEYS rows: cache_texture.wgsl's
 * layout for a cache of KEYS slots), written from `rows` ([rows][dq4 * 4]
 * f32) where given, else zero.
 */
export function matmulTexture(device: GPUDevice, operand: 'queries' | 'keys', size: MatmulSize, rows?: Float32Array<ArrayBuffer>): GPUTexture {
  const extent = { width: size.dq4, height: operand === 'queries' ? size.heads : size.keys };
  const texture = rgba32Texture(device, `matmul ${operand}`, extent, GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST);
  if (rows) device.queue.writeTexture({ texture }, rows, { bytesPerRow: 16 * size.dq4 }, extent);
  return texture;
}

/** Workgroups for one product: one thread per block. */
export function matmulWorkgroups(block: MatmulBlock, size: MatmulSize): number {
  return Math.ceil((size.heads / block) * (size.keys / block) / WG);
}

/** One form as timed work on zero-filled operands (the values do not matter to the time); release() frees them. */
export async function plainMatmulWork(ctx: GpuContext, form: MatmulForm, size: MatmulSize = LADDER_SCORE_STEP): Promise<{ work: TimedWork; flops: number; release: () => void }> {
  const { device } = ctx;
  const { buffer, release } = ownedBuffers(device);
  const texture = form.queries === 'texture' ? matmulTexture(device, 'queries', size) : undefined;
  const keyTexture = form.keys === 'texture' ? matmulTexture(device, 'keys', size) : undefined;
  const releaseAll = () => { release(); texture?.destroy(); keyTexture?.destroy(); };
  try {
    const q = buffer('matmul q', 16 * size.heads * size.dq4);
    const keys = buffer('matmul keys', 16 * size.keys * size.dq4);
    const scores = buffer('matmul scores', 4 * size.heads * size.keys);
    const pipeline = await matmulPipeline(device, form, size);
    const label = `plain matmul ${matmulFormName(form)}`;
    const work = singlePass(label, pipeline, bindGroup(device, pipeline, 'plain matmul', {
      q, keys, scores, ...(texture ? { queryTexture: texture.createView() } : {}), ...(keyTexture ? { cacheTexture: keyTexture.createView() } : {}),
    }), matmulWorkgroups(form.block, size));
    return { work, flops: 2 * size.heads * size.keys * size.dq4 * 4, release: releaseAll };
  } catch (e) {
    releaseAll();
    throw e;
  }
}

/** The forms at `size` (every one unless `forms` names some), timed against `roof`'s FMA ceiling of the same session. */
export async function measurePlainMatmul(
  ctx: GpuContext, roof: Roofline, options: TimingOptions = {}, size: MatmulSize = LADDER_SCORE_STEP, forms: readonly MatmulForm[] = MATMUL_FORMS,
): Promise<PlainMatmul> {
  const timed: PlainMatmulForm[] = [];
  for (const form of forms) {
    const { work, flops, release } = await plainMatmulWork(ctx, form, size);
    try {
      const t = await timeWork(ctx, work, options);
      const gflops = flops / (t.medianMs / 1e3) / 1e9;
      timed.push({ block: form.block, queries: form.queries, keys: form.keys, gflops, fmaFraction: gflops / roof.fmaGflops });
    } finally {
      release();
    }
  }
  return { size, forms: timed };
}
