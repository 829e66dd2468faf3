/**
 * The register blocks of the tiled versions (shaders/tiled_blocks.wgsl): the
 * sizes a thread's block of S = Q K^T and of O = P V may take, and the
 * override constants that select them. The shader's branches are written for
 * exactly these sizes; this table is the one place that lists them, and a
 * size outside it is refused here, before a pipeline is made. The 32-head
 * blocks (a strip of eight mat4x4, shaders/head_quads.wgsl) are for devices
 * whose registers are a CPU's stack: on llvmpipe a score block of 32x16 with
 * an output block of 32x32 was the tuner's pick (docs/tuning.md, "32-head
 * blocks"); a GPU thread would spill them. The 64-value output blocks
 * (sixteen strips a thread: 8x64, 32x64) only where the device's shader
 * compiler takes them (DeviceLimits.maxOutValues: Mesa llvmpipe, where
 * 32x64 was 8-15 % faster than 32x32; SwiftShader's compiler ran out of
 * memory on them).
 */

/** A score block, heads x keys: SCORE_HEADS x SCORE_KEYS. */
export const SCORE_BLOCKS = ['8x8', '8x16', '16x8', '16x16', '32x16'] as const;
export type ScoreBlockName = (typeof SCORE_BLOCKS)[number];

/**
 * Version 6's score blocks (shaders/v6_scores.wgsl): version 4's and 32x32,
 * the plain-matmul yardstick's largest block. Version 4's block cannot be 32
 * keys wide (its tile's score blocks would leave most of a workgroup idle:
 * docs/tuning.md, "32-head blocks"); version 6's pass has a block of S per
 * thread over the whole row, as the yardstick has.
 */
export const MATMUL_SCORE_BLOCKS = [...SCORE_BLOCKS, '32x32'] as const;
export type MatmulScoreBlockName = (typeof MATMUL_SCORE_BLOCKS)[number];

/** An output block, heads x values of the output row: OUT_HEADS x OUT_VALUES. */
export const OUT_BLOCKS = ['8x8', '8x16', '8x32', '8x64', '16x8', '16x16', '16x32', '32x32', '32x64'] as const;
export type OutBlockName = (typeof OUT_BLOCKS)[number];

/** A pair of blocks: one for S, one for O. */
export interface BlockPair {
  readonly score: ScoreBlockName;
  readonly out: OutBlockName;
}

/**
 * The blocks a plan takes when none is chosen (a device profile's pick, or
 * `--score-block` / `--out-block`, overrides them), by the kind of adapter.
 *
 * - A GPU: 8x8 and 8x16, what v4 ran before blocks were a choice. A GPU
 *   thread's registers are few (255 32-bit registers on NVIDIA's, fewer
 *   for full occupancy); a 16x32 output block alone is 512 floats and
 *   would spill. Not measured on a GPU yet: `bench --tune` finds the
 *   device's own.
 * - A software adapter (DeviceLimits.cpuThreads > 0: SwiftShader, llvmpipe),
 *   whose "registers" are the CPU's stack and L1 cache: a 16x16 output
 *   block and a score block of 8x16 over keys read from the cache (or its
 *   texture), from a tile decoded in bf16 or from one in storage (8x8 over a tile decoded in f32: a tile of 16
 *   such keys of d_qk 576 is 36 KiB, over 32 KiB of workgroup memory; in
 *   bf16 it is 18 KiB). The tuner's pick, a 16x32 output
 *   block, is faster still (4 % on llvmpipe, 20 % on SwiftShader) but takes
 *   llvmpipe half as long again to compile (9.5 s against 6.3 s a
 *   pipeline), a cost every new shape pays; a profile from `bench --tune`
 *   takes it where it pays. Measured (V3.2, h_q 64, seqlen 4096,
 *   docs/tuning.md "Defaults").
 */
export const DEFAULT_BLOCKS = {
  gpu: { score: '8x8', out: '8x16' },
  software: {
    cache: { score: '8x16', out: '16x16' }, tile: { score: '8x8', out: '16x16' }, 'tile-bf16': { score: '8x16', out: '16x16' }, 'tile-storage': { score: '8x16', out: '16x16' },
    texture: { score: '8x16', out: '16x16' },
  },
} as const satisfies { gpu: BlockPair; software: Record<'cache' | 'tile' | 'tile-bf16' | 'tile-storage' | 'texture', BlockPair> };

/** The default blocks on a device: software (cpuThreads > 0) or a GPU, and for a software adapter where the keys are read. */
export function defaultBlocks(cpuThreads: number, keys: keyof typeof DEFAULT_BLOCKS.software): BlockPair {
  return cpuThreads > 0 ? DEFAULT_BLOCKS.software[keys] : DEFAULT_BLOCKS.gpu;
}

export interface BlockSize {
  /** Heads of the block (rows of Q, columns of the mat4x4 pieces). */
  readonly heads: number;
  /** Keys (score block) or values of the output row (output block). */
  readonly cols: number;
}

export function blockSize(name: MatmulScoreBlockName | OutBlockName): BlockSize {
  const [heads, cols] = name.split('x').map(Number);
  return { heads, cols };
}

/** The override constants of a pair of blocks (tiled_blocks.wgsl's names). */
export function blockConstants(score: ScoreBlockName, out: OutBlockName): Record<string, number> {
  const s = blockSize(score);
  const o = blockSize(out);
  return { SCORE_HEADS: s.heads, SCORE_KEYS: s.cols, OUT_HEADS: o.heads, OUT_VALUES: o.cols };
}

/**
 * Whether a module's override constants hold a 32-head block: its strips are
 * then eight pieces wide (the lines marked for 32 heads are kept,
 * src/gpu/shader-source.ts WIDE_LINE).
 */
export function wideStrips(constants: Readonly<Record<string, number>>): boolean {
  return constants.SCORE_HEADS === 32 || constants.OUT_HEADS === 32;
}

/** Whether a module's output block is 64 values long: sixteen strips (src/gpu/shader-source.ts LONG_ROW_LINE). */
export function longRows(constants: Readonly<Record<string, number>>): boolean {
  return constants.OUT_VALUES === 64;
}

function parseBlock<T extends string>(list: readonly T[], what: string, unit: string, value: string): T {
  if (!(list as readonly string[]).includes(value)) {
    throw new Error(`${what} ${JSON.stringify(value)} is not allowed: ${what} must be one of ${list.join(', ')} (heads x ${unit})`);
  }
  return value as T;
}

/** A score block by name; `what` names the flag or field in the message. */
export const parseScoreBlock = (value: string, what = 'scoreBlock'): ScoreBlockName => parseBlock(SCORE_BLOCKS, what, 'keys', value);
/** A score block of version 6 by name (MATMUL_SCORE_BLOCKS). */
export const parseMatmulScoreBlock = (value: string, what = 'scoreBlock'): MatmulScoreBlockName => parseBlock(MATMUL_SCORE_BLOCKS, what, 'keys', value);
/** An output block by name; `what` names the flag or field in the message. */
export const parseOutBlock = (value: string, what = 'outBlock'): OutBlockName => parseBlock(OUT_BLOCKS, what, 'values', value);
