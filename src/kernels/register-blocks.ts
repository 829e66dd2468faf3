/**
 * The register blocks of the tiled versions (shaders/tiled_blocks.wgsl): the
 * sizes a thread's block of S = Q K^T and of O = P V may take, and the
 * override constants that select them. The shader's branches are written for
 * exactly these sizes; this table is the one place that lists them, and a
 * size outside it is refused here, before a pipeline is made.
 */

/** A score block, heads x keys: SCORE_HEADS x SCORE_KEYS. */
export const SCORE_BLOCKS = ['8x8', '8x16', '16x8', '16x16'] as const;
export type ScoreBlockName = (typeof SCORE_BLOCKS)[number];

/** An output block, heads x values of the output row: OUT_HEADS x OUT_VALUES. */
export const OUT_BLOCKS = ['8x8', '8x16', '8x32', '16x8', '16x16', '16x32'] as const;
export type OutBlockName = (typeof OUT_BLOCKS)[number];

/** What v4 ran before blocks were a choice, and still runs unless told (and v5's score block always). */
export const DEFAULT_SCORE_BLOCK: ScoreBlockName = '8x8';
export const DEFAULT_OUT_BLOCK: OutBlockName = '8x16';

export interface BlockSize {
  /** Heads of the block (rows of Q, columns of the mat4x4 pieces). */
  readonly heads: number;
  /** Keys (score block) or values of the output row (output block). */
  readonly cols: number;
}

export function blockSize(name: ScoreBlockName | OutBlockName): BlockSize {
  const [heads, cols] = name.split('x').map(Number);
  return { heads, cols };
}

/** The override constants of a pair of blocks (tiled_blocks.wgsl's names). */
export function blockConstants(score: ScoreBlockName, out: OutBlockName): Record<string, number> {
  const s = blockSize(score);
  const o = blockSize(out);
  return { SCORE_HEADS: s.heads, SCORE_KEYS: s.cols, OUT_HEADS: o.heads, OUT_VALUES: o.cols };
}

function parseBlock<T extends string>(list: readonly T[], what: string, unit: string, value: string): T {
  if (!(list as readonly string[]).includes(value)) {
    throw new Error(`${what} ${JSON.stringify(value)} is not allowed: ${what} must be one of ${list.join(', ')} (heads x ${unit})`);
  }
  return value as T;
}

/** A score block by name; `what` names the flag or field in the message. */
export const parseScoreBlock = (value: string, what = 'scoreBlock'): ScoreBlockName => parseBlock(SCORE_BLOCKS, what, 'keys', value);
/** An output block by name; `what` names the flag or field in the message. */
export const parseOutBlock = (value: string, what = 'outBlock'): OutBlockName => parseBlock(OUT_BLOCKS, what, 'values', value);
