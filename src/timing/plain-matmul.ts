/**
 * A yardstick between the FMA ceiling and the kernels: how fast a plain
 * matrix multiply of the decode's score step, S = Q K^T, runs on this device
 * with its operands read from storage buffers (shaders/plain_matmul.wgsl).
 * No softmax, no P V, no barriers, no cache lookups: the score step of a
 * version with the same register blocks is this product and more. Timed with
 * v4's 8 x 8 blocks (a GPU's default), 16 x 16 and 32 x 32 ones: the best of
 * them is the yardstick. See docs/kernels.md, "What a read costs".
 */
import type { GpuContext } from '../gpu/device';
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { SHADER_FILES } from '../gpu/shader-source';
import { bindGroup } from '../gpu/bindings';
import { HEAD_PRESETS } from '../mla/shape';
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

/** A product's size: HEADS x DQ4 quads times KEYS x DQ4 quads. */
export interface MatmulSize {
  readonly heads: number;
  readonly keys: number;
  /** Quads per row (d_qk / 4). */
  readonly dq4: number;
}

/** The size timed: the score step of the ladder's main point (V3.2, h_q 64, seqlen 4096). */
export const LADDER_SCORE_STEP: MatmulSize = { heads: 64, keys: 4096, dq4: HEAD_PRESETS.v32.dQk / 4 };

export interface PlainMatmulForm {
  readonly block: MatmulBlock;
  readonly gflops: number;
  /** gflops / the same run's FMA ceiling. */
  readonly fmaFraction: number;
}

export interface PlainMatmul {
  readonly size: MatmulSize;
  readonly forms: readonly PlainMatmulForm[];
}

export async function matmulPipeline(device: GPUDevice, block: MatmulBlock, size: MatmulSize): Promise<GPUComputePipeline> {
  if (size.heads % block !== 0 || size.keys % block !== 0) {
    throw new Error(`plain matmul: heads ${size.heads} and keys ${size.keys} must be multiples of the block (${block})`);
  }
  return getPipeline(device, {
    kernel: 'plain-matmul', files: ['plain_matmul.wgsl', 'head_quads.wgsl'], entryPoint: MATMUL_ENTRY[block],
    constants: { BLOCK: block, HEADS: size.heads, KEYS: size.keys, DQ4: size.dq4 }, wideStrips: block === 32,
  });
}

/** Workgroups for one product: one thread per block. */
export function matmulWorkgroups(block: MatmulBlock, size: MatmulSize): number {
  return Math.ceil((size.heads / block) * (size.keys / block) / WG);
}

/** One block form as timed work on zero-filled buffers (the values do not matter to the time); release() frees them. */
export async function plainMatmulWork(ctx: GpuContext, block: MatmulBlock, size: MatmulSize = LADDER_SCORE_STEP): Promise<{ work: TimedWork; flops: number; release: () => void }> {
  const { device } = ctx;
  const { buffer, release } = ownedBuffers(device);
  try {
    const q = buffer('matmul q', 16 * size.heads * size.dq4);
    const keys = buffer('matmul keys', 16 * size.keys * size.dq4);
    const scores = buffer('matmul scores', 4 * size.heads * size.keys);
    const pipeline = await matmulPipeline(device, block, size);
    const work = singlePass(`plain matmul ${block}x${block}`, pipeline, bindGroup(device, pipeline, 'plain matmul', { q, keys, scores }), matmulWorkgroups(block, size));
    return { work, flops: 2 * size.heads * size.keys * size.dq4 * 4, release };
  } catch (e) {
    release();
    throw e;
  }
}

/** Every block form at `size`, timed against `roof`'s FMA ceiling of the same session. */
export async function measurePlainMatmul(ctx: GpuContext, roof: Roofline, options: TimingOptions = {}, size: MatmulSize = LADDER_SCORE_STEP): Promise<PlainMatmul> {
  const forms: PlainMatmulForm[] = [];
  for (const block of MATMUL_BLOCKS) {
    const { work, flops, release } = await plainMatmulWork(ctx, block, size);
    try {
      const t = await timeWork(ctx, work, options);
      const gflops = flops / (t.medianMs / 1e3) / 1e9;
      forms.push({ block, gflops, fmaFraction: gflops / roof.fmaGflops });
    } finally {
      release();
    }
  }
  return { size, forms };
}
