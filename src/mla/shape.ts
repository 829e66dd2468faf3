/**
 * The shape of one MLA decode call, its presets, and the validator.
 *
 * Field names follow FlashMLA's `flash_mla_with_kvcache` (docs/design.md section 1):
 *   q            [batch, sQ, hQ, dQk]
 *   kv cache     [numBlocks, pageBlockSize, 1, dQk]  (or its FP8 byte form)
 *   block table  [batch, maxBlocksPerSeq]
 *   seqlens      [batch]
 *   indices      [batch, sQ, topk]   (sparse only, topk > 0)
 *   out          [batch, sQ, hQ, dV]
 *   lse          [batch, hQ, sQ]
 */

export interface MlaShape {
  /** Query/key head dim: dNope + dRope (576 for V3.2, 512 for MODEL1). */
  readonly dQk: number;
  /** Latent ("no position") part of the key. */
  readonly dNope: number;
  /** Rotary part of the key, stored in bf16 even in the FP8 cache. */
  readonly dRope: number;
  /** Value dim: value = key[0:dV]. */
  readonly dV: number;
  /** Query heads, all sharing the one latent KV head. */
  readonly hQ: number;
  /** Query tokens per request (1 = plain decode; >1 = speculative/MTP tokens). */
  readonly sQ: number;
  /** Number of requests. Must equal seqlens.length. */
  readonly batch: number;
  /** Keys cached per request. */
  readonly seqlens: readonly number[];
  /** Tokens per page of the paged cache (FlashMLA uses 64). */
  readonly pageBlockSize: number;
  /** 0 = dense attention over the whole cache; >0 = sparse over `topk` indices per query. */
  readonly topk: number;
  /** Causal masking between the sQ query tokens (dense only). */
  readonly causal: boolean;
  /** Softmax scale; undefined means 1/sqrt(dQk). */
  readonly softmaxScale?: number;
  /** Per-head attention sink (MODEL1): out *= 1 / (1 + exp(sink_h - lse)). */
  readonly attentionSink: boolean;
}

export type PresetName = 'v32' | 'model1';

export interface HeadPreset {
  readonly name: PresetName;
  readonly label: string;
  readonly dQk: number;
  readonly dNope: number;
  readonly dRope: number;
  readonly dV: number;
}

/** docs/design.md section 2 (FlashMLA's V32_FP8Sparse and MODEL1_FP8Sparse). */
export const HEAD_PRESETS: Readonly<Record<PresetName, HeadPreset>> = {
  v32: { name: 'v32', label: 'V3.2 (576)', dQk: 576, dNope: 512, dRope: 64, dV: 512 },
  model1: { name: 'model1', label: 'MODEL1 (512)', dQk: 512, dNope: 448, dRope: 64, dV: 512 },
};

export const PRESET_NAMES = Object.keys(HEAD_PRESETS) as PresetName[];

/** A shape from a preset with sensible decode defaults, overridden by `overrides`. */
export function presetShape(name: string, overrides: Partial<MlaShape> = {}): MlaShape {
  const preset = HEAD_PRESETS[name as PresetName];
  if (!preset) throw new ShapeError('preset', name, `one of ${PRESET_NAMES.join(', ')}`);
  const seqlens = overrides.seqlens ?? [256];
  const shape: MlaShape = {
    dQk: preset.dQk, dNope: preset.dNope, dRope: preset.dRope, dV: preset.dV,
    hQ: 16, sQ: 1, batch: seqlens.length, seqlens, pageBlockSize: 64, topk: 0,
    causal: true, attentionSink: false,
    ...overrides,
  };
  return shape;
}

export function softmaxScaleOf(shape: MlaShape): number {
  return shape.softmaxScale ?? 1 / Math.sqrt(shape.dQk);
}

/** Error for a bad input: names the field, the value and what is allowed. */
export class ShapeError extends Error {
  constructor(readonly field: string, readonly value: unknown, readonly allowed: string) {
    super(`${field} = ${formatValue(value)} is not allowed: ${field} must be ${allowed}`);
    this.name = 'ShapeError';
  }
}

function formatValue(v: unknown): string {
  if (Array.isArray(v)) return v.length > 8 ? `[${v.slice(0, 8).join(', ')}, ...]` : `[${v.join(', ')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

/** Largest sizes the sandbox accepts, whatever the budget says. */
export const SHAPE_LIMITS = {
  maxHeadDim: 1024,
  maxHeads: 1024,
  maxQueryTokens: 128,
  maxBatch: 1024,
  maxSeqlen: 1 << 22,
  maxPageBlockSize: 4096,
  maxTopk: 1 << 16,
} as const;

function requireInt(field: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ShapeError(field, v, `an integer from ${min} to ${max}`);
  }
}

/** Derived sizes of a shape: pages per request and in the whole cache. */
export function pagesPerRequest(shape: MlaShape): number[] {
  return shape.seqlens.map((len) => Math.ceil(len / shape.pageBlockSize));
}

/** Widest block-table row: max over requests of ceil(seqlen / page). */
export function maxBlocksPerSeq(shape: MlaShape): number {
  return Math.max(1, ...pagesPerRequest(shape));
}

/**
 * Check a shape. Throws a ShapeError naming the first bad field. What a shape
 * costs in memory is checked by run-size.ts.
 */
export function validateShape(shape: MlaShape): MlaShape {
  const L = SHAPE_LIMITS;
  if (shape === null || typeof shape !== 'object') throw new ShapeError('shape', shape, 'an object');
  requireInt('dQk', shape.dQk, 4, L.maxHeadDim);
  if (shape.dQk % 4 !== 0) throw new ShapeError('dQk', shape.dQk, 'a multiple of 4 (kernels read keys four values at a time)');
  requireInt('dRope', shape.dRope, 0, shape.dQk);
  requireInt('dNope', shape.dNope, 0, shape.dQk);
  if (shape.dNope + shape.dRope !== shape.dQk) {
    throw new ShapeError('dNope', shape.dNope, `dQk - dRope = ${shape.dQk - shape.dRope} (dNope + dRope = dQk)`);
  }
  requireInt('dV', shape.dV, 4, shape.dQk);
  if (shape.dV % 4 !== 0) throw new ShapeError('dV', shape.dV, 'a multiple of 4');
  requireInt('hQ', shape.hQ, 1, L.maxHeads);
  requireInt('sQ', shape.sQ, 1, L.maxQueryTokens);
  requireInt('batch', shape.batch, 1, L.maxBatch);
  if (!Array.isArray(shape.seqlens) || shape.seqlens.length !== shape.batch) {
    throw new ShapeError('seqlens', shape.seqlens, `an array of batch = ${shape.batch} integers`);
  }
  requireInt('pageBlockSize', shape.pageBlockSize, 1, L.maxPageBlockSize);
  requireInt('topk', shape.topk, 0, L.maxTopk);
  if (typeof shape.causal !== 'boolean') throw new ShapeError('causal', shape.causal, 'true or false');
  if (typeof shape.attentionSink !== 'boolean') throw new ShapeError('attentionSink', shape.attentionSink, 'true or false');
  // A request may have no cached tokens (FlashMLA's dense tests give some a seqlen of 0, causal or not):
  // its rows attend nothing, out 0 and lse +inf; so may a causal token before the cache's first (seqlen < s_q).
  shape.seqlens.forEach((len, b) => {
    if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > L.maxSeqlen) {
      throw new ShapeError(`seqlens[${b}]`, len, `an integer from 0 to ${L.maxSeqlen}`);
    }
  });
  if (shape.softmaxScale !== undefined && !(Number.isFinite(shape.softmaxScale) && shape.softmaxScale > 0)) {
    throw new ShapeError('softmaxScale', shape.softmaxScale, 'a finite number > 0 (or unset for 1/sqrt(dQk))');
  }
  return shape;
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 40) return `${(n / 2 ** 40).toFixed(2)} TiB`;
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}
