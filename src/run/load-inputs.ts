/**
 * Build a call's inputs from your own tensors (e.g. dumped from FlashMLA's
 * flash_mla_with_kvcache), in FlashMLA's shapes:
 *   q              float32 [b, s_q, h_q, d_qk]
 *   kv cache       float32 [num_blocks, page, 1, d_qk]            (quantised here when the format is not f32)
 *                  uint8   [num_blocks, page, 1, record bytes]     (already FP8: 656 B V3.2 / 584 B MODEL1)
 *   block table    int32   [b, max_blocks_per_seq]                 (default: request b owns blocks b*w .. b*w+w-1)
 *   cache seqlens  int32   [b]                                     (dense; a sparse call may leave it out, as FlashMLA's does)
 *   indices        int32   [b, s_q, topk]                          (sparse)
 *   topk length    int32   [b]                                     (sparse: request b reads its first topk_length[b] indices)
 *   attn sink      float32 [h_q]                                   (+inf: that head's out is 0; -inf: no effect)
 *   extra cache    float32 or uint8 [blocks', page', 1, ...]         (MODEL1's second source, a page size of its own)
 *   extra indices  int32   [b, s_q, extra_topk], extra topk length int32 [b]
 * A sparse call reads only its valid indices: without cache seqlens no slot
 * counts as read otherwise, and indices past a request's topk length are
 * made -1 here (FlashMLA's reference masks them the same way). Every
 * mismatch names the tensor, the expected and the found shape.
 */
import { type NpyArray, expectNpy } from './npy';
import { HEAD_PRESETS, type MlaShape, ShapeError, validateShape } from '../mla/shape';
import type { MlaInputs } from '../mla/inputs';
import type { PagedCache } from '../mla/paged-cache';
import { slotOf } from '../mla/paged-cache';
import { type KvFormat, type KvLayout, kvLayout } from '../mla/kv-layout';
import { appendExtraCache } from '../mla/extra-cache';

export interface TensorArrays {
  readonly q: NpyArray;
  readonly kvCache: NpyArray;
  /** Needed for a dense call; a sparse one (with indices) may leave it out. */
  readonly cacheSeqlens?: NpyArray;
  readonly blockTable?: NpyArray;
  readonly indices?: NpyArray;
  readonly topkLength?: NpyArray;
  readonly attnSink?: NpyArray;
  /** MODEL1's second KV source (FlashMLA's extra_k_cache, extra_indices_in_kvcache, extra_topk_length). */
  readonly extraKvCache?: NpyArray;
  readonly extraIndices?: NpyArray;
  readonly extraTopkLength?: NpyArray;
  /** Names to use in messages (file names). */
  readonly names?: Partial<Record<Exclude<keyof TensorArrays, 'names'>, string>>;
}

/** A tensor file's key in TensorArrays. */
export type TensorKey = Exclude<keyof TensorArrays, 'names'>;

/**
 * The tensor files of a call, by the command line's flag names (the page's
 * Your tensors mode takes the same names), with what each holds: the one
 * list both faces read.
 */
export const TENSOR_FILES: readonly { readonly flag: string; readonly key: TensorKey; readonly what: string }[] = [
  { flag: 'q', key: 'q', what: 'float32 [b, s_q, h_q, d_qk]' },
  { flag: 'kv-cache', key: 'kvCache', what: 'float32 [blocks, page, h_kv, d_qk] (h_kv > 1: GQA, dense), or uint8 FP8 records (KV cache fp8)' },
  { flag: 'cache-seqlens', key: 'cacheSeqlens', what: 'int32 [b]: a dense call' },
  { flag: 'block-table', key: 'blockTable', what: 'int32 [b, w]' },
  { flag: 'indices', key: 'indices', what: 'int32 [b, s_q, topk]: a sparse call' },
  { flag: 'topk-length', key: 'topkLength', what: 'int32 [b]: request b reads its first topk_length[b] indices' },
  { flag: 'attn-sink', key: 'attnSink', what: 'float32 [h_q]: +inf zeroes a head, -inf does nothing' },
  { flag: 'extra-kv-cache', key: 'extraKvCache', what: 'MODEL1\'s second cache, a page size of its own, in the main cache\'s form' },
  { flag: 'extra-indices', key: 'extraIndices', what: 'int32 [b, s_q, extra_topk]: into the extra cache' },
  { flag: 'extra-topk-length', key: 'extraTopkLength', what: 'int32 [b]' },
];

export interface LoadOptions {
  readonly kvFormat: KvFormat;
  /** Shape fields the files do not carry. dNope/dRope/dV default to the preset with the same dQk. */
  readonly shape?: Partial<Pick<MlaShape, 'dNope' | 'dRope' | 'dV' | 'causal' | 'softmaxScale'>>;
}

export function inputsFromArrays(t: TensorArrays, options: LoadOptions): MlaInputs {
  const given = Object.fromEntries(Object.entries(t.names ?? {}).filter(([, v]) => v !== undefined));
  const n = {
    q: 'q', kvCache: 'kv cache', cacheSeqlens: 'cache seqlens', blockTable: '--block-table', indices: 'indices', topkLength: '--topk-length', attnSink: '--attn-sink',
    extraKvCache: '--extra-kv-cache', extraIndices: '--extra-indices', extraTopkLength: '--extra-topk-length', ...given,
  };
  expectNpy(t.q, n.q, ['float32'], [null, null, null, null], 'b, s_q, h_q, d_qk');
  const [batch, sQ, hQ, dQk] = t.q.shape;
  const preset = Object.values(HEAD_PRESETS).find((p) => p.dQk === dQk);
  const dRope = options.shape?.dRope ?? preset?.dRope ?? 0;
  const dNope = options.shape?.dNope ?? dQk - dRope;
  const dV = options.shape?.dV ?? preset?.dV ?? dQk;
  if (!t.cacheSeqlens && !t.indices) throw new Error(`${n.cacheSeqlens}: a dense call needs the cache seqlens (int32 [b]); only a sparse call (with indices) leaves them out`);
  if (t.cacheSeqlens) expectNpy(t.cacheSeqlens, n.cacheSeqlens, ['int32'], [batch], 'b');
  // A sparse call without seqlens reads only its indices: no token counts as cached past them.
  const seqlens = t.cacheSeqlens ? [...(t.cacheSeqlens.data as Int32Array)] : new Array<number>(batch).fill(0);
  let sink: Float32Array | undefined;
  if (t.attnSink) {
    expectNpy(t.attnSink, n.attnSink, ['float32'], [hQ], 'h_q');
    sink = t.attnSink.data as Float32Array;
  }

  expectNpy(t.kvCache, n.kvCache, ['float32', 'uint8'], [null, null, 1, null], 'num_blocks, page, 1, d_qk or record bytes');
  const [numBlocks, page] = t.kvCache.shape;
  const topk = t.indices ? t.indices.shape[2] ?? 0 : 0;
  let shape: MlaShape;
  try {
    shape = validateShape({
      dQk, dNope, dRope, dV, hQ, sQ, batch, seqlens, pageBlockSize: page, topk,
      causal: options.shape?.causal ?? true, softmaxScale: options.shape?.softmaxScale, attentionSink: sink !== undefined,
    });
  } catch (e) {
    // Name the file whose shape or values gave the field.
    if (!(e instanceof ShapeError)) throw e;
    const source = e.field.startsWith('seqlens') ? n.cacheSeqlens : e.field === 'pageBlockSize' ? n.kvCache : e.field === 'topk' ? n.indices : n.q;
    throw new Error(`${source}: ${e.message}`);
  }
  const layout = kvLayout(options.kvFormat, shape, page);
  const { rows, bytes: cacheBytes } = cacheOf(t.kvCache, n.kvCache, layout);
  const kvRows = rows ?? new Float32Array(0); // FP8 records: the rows are set from the bytes by the runner

  const width = t.blockTable ? t.blockTable.shape[1] : Math.max(1, ...seqlens.map((l) => Math.ceil(l / page)));
  let blockTable: Int32Array;
  if (t.blockTable) {
    expectNpy(t.blockTable, n.blockTable, ['int32'], [batch, null], 'b, max_blocks_per_seq');
    blockTable = t.blockTable.data as Int32Array;
  } else if (seqlens.every((len) => len === 0)) {
    blockTable = new Int32Array(batch * width); // nothing cached by length (a sparse call): the table is never read
  } else {
    if (batch * width > numBlocks) throw new Error(`${n.blockTable}: none given, and ${numBlocks} blocks are too few to give each of ${batch} requests ${width} blocks: pass --block-table`);
    blockTable = Int32Array.from({ length: batch * width }, (_, k) => k);
  }
  seqlens.forEach((len, b) => {
    if (len > width * page) throw new Error(`${n.cacheSeqlens}[${b}] = ${len} is more than the ${width * page} tokens its block-table row holds`);
    for (let j = 0; j < Math.ceil(len / page); j++) {
      const blk = blockTable[b * width + j];
      if (blk < 0 || blk >= numBlocks) throw new Error(`${n.blockTable}[${b}][${j}] = ${blk} is not allowed: it must be a block from 0 to ${numBlocks - 1}`);
    }
  });
  let indices: Int32Array | undefined;
  if (t.indices) {
    expectNpy(t.indices, n.indices, ['int32'], [batch, sQ, null], 'b, s_q, topk');
    indices = t.indices.data as Int32Array;
  }
  if (t.topkLength) {
    if (!indices) throw new Error(`${n.topkLength} is only used by a sparse call: give --indices as well`);
    indices = withTopkLength(indices, t.topkLength, n.topkLength, batch, sQ, topk);
  }
  const cache: PagedCache = {
    numBlocks, maxBlocksPerSeq: width, blockTable, seqlens: Int32Array.from(seqlens), poisonBlock: -1,
    usedSlots: new Uint8Array(numBlocks * page),
  };
  seqlens.forEach((len, b) => { for (let k = 0; k < len; k++) cache.usedSlots[slotOf(cache, page, b, k)] = 1; });
  const inputs: MlaInputs = { shape, q: t.q.data as Float32Array, kvRows, cacheBytes, cacheLayout: cacheBytes ? layout : undefined, cache, indices, sink };
  if (!t.extraKvCache && (t.extraIndices || t.extraTopkLength)) {
    throw new Error(`${t.extraIndices ? n.extraIndices : n.extraTopkLength} belongs to an extra cache: give --extra-kv-cache as well`);
  }
  return t.extraKvCache ? withExtraCache(inputs, t, n, options.kvFormat) : inputs;
}

/**
 * A cache file as f32 rows, or (uint8) as FP8 records laid out in `layout`'s
 * pages: FlashMLA's tensor view of a page leaves out the layout's padding.
 */
export function cacheOf(file: NpyArray, name: string, layout: KvLayout): { rows?: Float32Array; bytes?: Uint8Array } {
  const [numBlocks, page] = file.shape;
  if (file.dtype === 'float32') {
    expectNpy(file, name, ['float32'], [numBlocks, page, 1, layout.dQk], 'num_blocks, page, 1, d_qk');
    return { rows: file.data as Float32Array };
  }
  if (layout.kind !== 'fp8') throw new Error(`${name}: a uint8 cache holds FP8 records: use --kv fp8 with it (or give a float32 cache)`);
  expectNpy(file, name, ['uint8'], [numBlocks, page, 1, layout.bytesPerToken], `num_blocks, page, 1, ${layout.name} record bytes`);
  const bytes = new Uint8Array(numBlocks * layout.pageStride);
  const src = file.data as Uint8Array;
  const perPage = page * layout.bytesPerToken;
  for (let blk = 0; blk < numBlocks; blk++) bytes.set(src.subarray(blk * perPage, (blk + 1) * perPage), blk * layout.pageStride);
  return { bytes };
}

/** MODEL1's extra cache (its own page size), its indices and lengths, appended to the main sparse call (mla/extra-cache.ts). */
function withExtraCache(main: MlaInputs, t: TensorArrays, n: Record<string, string>, kvFormat: KvFormat): MlaInputs {
  const { shape } = main;
  if (!main.indices) throw new Error(`${n.extraKvCache} is for a sparse call: give --indices as well`);
  if (!t.extraIndices) throw new Error(`${n.extraKvCache} needs its indices: give --extra-indices (int32 [b, s_q, extra_topk]) as well`);
  const file = t.extraKvCache!;
  expectNpy(file, n.extraKvCache, ['float32', 'uint8'], [null, null, 1, null], 'num_blocks, page, 1, d_qk or record bytes');
  if ((file.dtype === 'uint8') !== (main.cacheBytes !== undefined)) {
    throw new Error(`${n.extraKvCache} is ${file.dtype} and ${n.kvCache} is not: give both caches as FP8 records (uint8) or both as float32 rows`);
  }
  const [numBlocks, page] = file.shape;
  const layout = kvLayout(file.dtype === 'uint8' ? 'fp8' : kvFormat, shape, page);
  const { rows, bytes } = cacheOf(file, n.extraKvCache, layout);
  expectNpy(t.extraIndices, n.extraIndices, ['int32'], [shape.batch, shape.sQ, null], 'b, s_q, extra_topk');
  let topkLength: Int32Array | undefined;
  if (t.extraTopkLength) {
    expectNpy(t.extraTopkLength, n.extraTopkLength, ['int32'], [shape.batch], 'b');
    topkLength = t.extraTopkLength.data as Int32Array;
  }
  const topk = t.extraIndices.shape[2];
  return appendExtraCache(main, { rows, bytes, layout, numBlocks, indices: t.extraIndices.data as Int32Array, topk, topkLength }).inputs;
}

/**
 * FlashMLA's topk_length [b]: request b reads only the first topk_length[b]
 * of its topk indices. Returned as indices with the rest made -1 (a copy:
 * the file's array is left as it was).
 */
function withTopkLength(indices: Int32Array, lengths: NpyArray, name: string, batch: number, sQ: number, topk: number): Int32Array {
  expectNpy(lengths, name, ['int32'], [batch], 'b');
  const masked = indices.slice();
  (lengths.data as Int32Array).forEach((len, b) => {
    if (len < 0 || len > topk) throw new Error(`${name}[${b}] = ${len} is not allowed: a topk length must be from 0 to topk (${topk}, the indices' last dim)`);
    for (let i = 0; i < sQ; i++) masked.fill(-1, (b * sQ + i) * topk + len, (b * sQ + i + 1) * topk);
  });
  return masked;
}
