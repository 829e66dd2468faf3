/**
 * A dense call with several KV heads from your own tensors (mla/gqa.ts):
 * k_cache float32 [blocks, page, h_kv, d_qk] with h_kv > 1, beside the
 * decode call's q, cache_seqlens, block_table and attn_sink. The shapes,
 * seqlens and block table go through the one-head loader's checks (on KV
 * head 0's rows); every head of every slot a request reads must be finite.
 */
import { type NpyArray, expectNpy } from './npy';
import { type LoadOptions, type TensorArrays, inputsFromArrays } from './load-inputs';
import { checkInputValues } from './input-scan';
import { type GqaCall, validateGqa } from '../mla/gqa';

/** KV heads of a cache file: its third dim (1 for MLA's one latent head). */
export function kvHeadsOfFile(kvCache: NpyArray): number {
  return kvCache.shape.length === 4 ? kvCache.shape[2] : 1;
}

const ONE_HEAD_ONLY = ['indices', 'topkLength', 'extraKvCache', 'extraIndices', 'extraTopkLength'] as const;

export function gqaFromArrays(t: TensorArrays, options: LoadOptions): GqaCall {
  const name = (k: keyof NonNullable<TensorArrays['names']>, fallback: string) => t.names?.[k] ?? fallback;
  const kvName = name('kvCache', 'kv cache');
  const hKv = kvHeadsOfFile(t.kvCache);
  if (t.kvCache.dtype !== 'float32') throw new Error(`${kvName}: FP8 records with ${hKv} KV heads are not taken (FlashMLA's FP8 caches have one KV head): give the cache as float32 [blocks, page, h_kv, d_qk] and pick its format with --kv`);
  expectNpy(t.kvCache, kvName, ['float32'], [null, null, hKv, null], 'num_blocks, page, h_kv, d_qk');
  for (const k of ONE_HEAD_ONLY) {
    if (t[k]) throw new Error(`${name(k, k)}: a sparse call takes one KV head (FlashMLA's sparse calls have h_kv = 1), and ${kvName} has ${hKv}`);
  }
  const [blocks, page, , d] = t.kvCache.shape;
  const rows = t.kvCache.data as Float32Array;
  const head0 = new Float32Array(blocks * page * d);
  for (let s = 0; s < blocks * page; s++) head0.set(rows.subarray(s * hKv * d, (s * hKv + 1) * d), s * d);
  const one = inputsFromArrays({ ...t, kvCache: { dtype: 'float32', shape: [blocks, page, 1, d], data: head0 } }, options);
  let call: GqaCall;
  try {
    call = validateGqa({ shape: one.shape, hKv, q: one.q, kvRows: rows, cache: one.cache, sink: one.sink });
  } catch (e) {
    throw new Error(`${name('q', 'q')} and ${kvName}: ${(e as Error).message}`);
  }
  checkInputValues(one, rows, { q: name('q', 'q'), kvCache: kvName, sink: t.attnSink ? name('attnSink', 'attn sink') : undefined }, hKv);
  return call;
}
