/**
 * A sparse prefill call from your own tensors, in flash_mla_sparse_fwd's shapes:
 *   q            float32 [s_q, h_q, d_qk]
 *   kv cache     float32 [s_kv, 1, d_qk]                   (FlashMLA's flat prefill cache; its bf16 given as float32)
 *                float32 [blocks, page, 1, d_qk]           (a paged cache, as the decode call's)
 *                uint8   [blocks, page, 1, record bytes]   (a paged FP8 cache: --kv fp8)
 *   indices      int32   [s_q, 1, topk] (or [s_q, topk])   slots of the cache; negative or past it: skipped
 *   attn sink    float32 [h_q]                             optional
 *   topk length  int32   [s_q]                             optional: token i reads its first topk_length[i] indices
 * Every mismatch names the file, the expected and the found shape; non-finite
 * values are refused where they are read (q, the sink's NaN, the cache rows
 * a valid index names), so NaN in every unread slot is accepted.
 */
import { type NpyArray, expectNpy } from '../run/npy';
import { cacheOf } from '../run/load-inputs';
import { checkInputValues } from '../run/input-scan';
import { HEAD_PRESETS } from '../mla/shape';
import { type KvFormat, kvLayout } from '../mla/kv-layout';
import { dequantizeKvCache } from '../mla/kv-quant';
import { type PrefillCall, chunkShape, flatPageSize, prefillPagedCache, validatePrefill, withTopkLength } from './prefill-call';

/** The prefill's files: flag (the command line's; the page's field), the array's key, what it holds. */
export const PREFILL_FILES = [
  { flag: 'q', key: 'q', what: 'float32 [s_q, h_q, d_qk]' },
  { flag: 'kv-cache', key: 'kvCache', what: 'float32 [s_kv, 1, d_qk]: the flat cache; or [blocks, page, 1, d_qk], or uint8 FP8 records (KV cache fp8): a paged one' },
  { flag: 'indices', key: 'indices', what: 'int32 [s_q, 1, topk]: negative or past the cache: skipped' },
  { flag: 'attn-sink', key: 'attnSink', what: 'float32 [h_q]: +inf zeroes a head, -inf does nothing' },
  { flag: 'topk-length', key: 'topkLength', what: 'int32 [s_q]: token i reads its first topk_length[i] indices' },
] as const satisfies readonly { flag: string; key: keyof PrefillArrays; what: string }[];

/** The files a prefill call cannot run without. */
export const PREFILL_REQUIRED = ['q', 'kv-cache', 'indices'] as const;

export interface PrefillArrays {
  readonly q: NpyArray;
  readonly kvCache: NpyArray;
  readonly indices: NpyArray;
  readonly attnSink?: NpyArray;
  readonly topkLength?: NpyArray;
  /** Names to use in messages (flags and files). */
  readonly names?: Partial<Record<'q' | 'kvCache' | 'indices' | 'attnSink' | 'topkLength', string>>;
}

export interface PrefillLoadOptions {
  readonly kvFormat: KvFormat;
  /** Head dims the files do not carry; default: the preset with the same d_qk (d_v 512, FlashMLA's default), else d_rope 0 and d_v = d_qk. */
  readonly dNope?: number;
  readonly dRope?: number;
  readonly dV?: number;
  readonly softmaxScale?: number;
}

export function prefillFromArrays(t: PrefillArrays, options: PrefillLoadOptions): PrefillCall {
  const n = { q: 'q', kvCache: 'kv cache', indices: 'indices', attnSink: 'attn sink', topkLength: 'topk length', ...Object.fromEntries(Object.entries(t.names ?? {}).filter(([, v]) => v !== undefined)) };
  expectNpy(t.q, n.q, ['float32'], [null, null, null], 's_q, h_q, d_qk');
  const [sQ, hQ, dQk] = t.q.shape;
  const preset = Object.values(HEAD_PRESETS).find((p) => p.dQk === dQk);
  const dRope = options.dRope ?? preset?.dRope ?? 0;
  const dims = { dQk, dRope, dNope: options.dNope ?? dQk - dRope, dV: options.dV ?? preset?.dV ?? dQk };

  // The cache: flat [s_kv, 1, d_qk], or pages [blocks, page, 1, ...].
  const kv = t.kvCache;
  const flat = kv.shape.length === 3;
  if (flat) expectNpy(kv, n.kvCache, ['float32'], [null, 1, dQk], 's_kv, 1, d_qk: the flat prefill cache');
  else expectNpy(kv, n.kvCache, ['float32', 'uint8'], [null, null, 1, null], 'num_blocks, page, 1, d_qk or record bytes: a paged cache');
  const pageSize = flat ? flatPageSize(kv.shape[0]) : kv.shape[1];
  const numBlocks = flat ? kv.shape[0] / pageSize : kv.shape[0];
  const layout = kvLayout(options.kvFormat, dims, pageSize);
  const { rows, bytes } = flat ? { rows: kv.data as Float32Array, bytes: undefined } : cacheOf(kv, n.kvCache, layout);

  if (t.indices.shape.length === 2) expectNpy(t.indices, n.indices, ['int32'], [sQ, null], 's_q, topk');
  else expectNpy(t.indices, n.indices, ['int32'], [sQ, 1, null], 's_q, h_kv = 1, topk');
  const topk = t.indices.shape[t.indices.shape.length - 1];
  let indices = t.indices.data as Int32Array;
  if (t.topkLength) {
    expectNpy(t.topkLength, n.topkLength, ['int32'], [sQ], 's_q');
    indices = withTopkLength(indices, t.topkLength.data as Int32Array, sQ, topk, n.topkLength);
  }
  let sink: Float32Array | undefined;
  if (t.attnSink) {
    expectNpy(t.attnSink, n.attnSink, ['float32'], [hQ], 'h_q');
    sink = t.attnSink.data as Float32Array;
  }
  const call = validatePrefill({
    dims, sQ, hQ, topk, q: t.q.data as Float32Array, pageSize, numBlocks, flat,
    kvRows: rows ?? new Float32Array(0), cacheBytes: bytes, cacheLayout: bytes ? layout : undefined, indices, sink, softmaxScale: options.softmaxScale,
  });
  const kvRows = bytes ? dequantizeKvCache(bytes, layout) : call.kvRows;
  checkInputValues(
    { shape: chunkShape(call, sQ), q: call.q, kvRows, cache: prefillPagedCache(call, sQ), indices, sink },
    kvRows, { q: n.q, kvCache: n.kvCache, sink: t.attnSink ? n.attnSink : undefined },
  );
  return call;
}
