/**
 * DeepSeek's sparse attention over a prompt from your own tensors: the
 * indexer's (index q [s_q, 64, 128], index k [L, 128], weights [s_q, 64],
 * before the Hadamard transform, as the decode's `sparse --index-q ...`
 * takes them) and, optionally, the attention's own q [s_q, h_q, d_qk] and
 * flat cache [L, 1, d_qk]; without them the attention's are generated
 * (seeded), so the indexer's choice can be seen on its own. The query tokens
 * are the last s_q of the L. Every value the pipeline may read is checked
 * finite: top-k may pick any token a query token sees, so the whole cache.
 */
import { type NpyArray, expectNpy } from '../run/npy';
import { HEAD_PRESETS } from '../mla/shape';
import type { KvFormat } from '../mla/kv-layout';
import { prefillFromArrays } from '../prefill/prefill-files';
import { generatePrefillCase } from '../prefill/prefill-inputs';
import { type IndexerArrays, indexerInputsFromArrays } from './indexer-inputs';
import type { PromptCase } from './prompt-pipeline';

export interface PromptArrays {
  readonly indexer: IndexerArrays;
  /** The attention's q and flat cache, together; generated when left out. */
  readonly attention?: { readonly q: NpyArray; readonly kvCache: NpyArray; readonly names: Readonly<Record<'q' | 'kvCache', string>> };
}

export interface PromptFileOptions {
  readonly topk: number;
  readonly kvFormat: KvFormat;
  /** For generated attention tensors: the head and h_q (your own q gives both). */
  readonly preset?: keyof typeof HEAD_PRESETS;
  readonly hQ?: number;
  readonly seed?: number;
  readonly softmaxScale?: number;
}

function checkFinite(data: Float32Array, row: number, name: string, what: string): void {
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${name}: ${what} ${Math.floor(bad / row)} holds ${data[bad]} (value ${bad % row}): the indexer may pick any token a query token sees, so every value must be finite`);
}

export function promptCaseFromArrays(a: PromptArrays, o: PromptFileOptions): PromptCase {
  const indexer = indexerInputsFromArrays(a.indexer, { seed: o.seed, prompt: true });
  const { keys, sQ } = indexer;
  const empty = new Int32Array(sQ * o.topk).fill(-1);
  if (!a.attention) {
    const dims = HEAD_PRESETS[o.preset ?? 'model1'];
    const call = generatePrefillCase({ dims, sQ, sKv: keys, hQ: o.hQ ?? 64, topk: o.topk, seed: o.seed, softmaxScale: o.softmaxScale });
    return { call: { ...call, indices: empty }, indexer, keys };
  }
  const { q, kvCache, names } = a.attention;
  expectNpy(q, names.q, ['float32'], [sQ, null, null], `s_q = ${sQ} as ${a.indexer.names.q} has, h_q, d_qk`);
  expectNpy(kvCache, names.kvCache, ['float32'], [keys, 1, q.shape[2]], `L = ${keys} as ${a.indexer.names.k} has, 1, d_qk: the prompt's flat cache`);
  checkFinite(kvCache.data as Float32Array, q.shape[2], names.kvCache, 'token');
  const call = prefillFromArrays({
    q, kvCache, indices: { dtype: 'int32', shape: [sQ, 1, o.topk], data: empty },
    names: { q: names.q, kvCache: names.kvCache, indices: 'the indices (top-k writes them)' },
  }, { kvFormat: o.kvFormat, softmaxScale: o.softmaxScale });
  return { call, indexer, keys };
}
