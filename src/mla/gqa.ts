/**
 * A dense decode call with several KV heads (GQA), as FlashMLA's
 * flash_mla_with_kvcache takes it: k_cache [blocks, page, h_kv, d_qk], h_q a
 * multiple of h_kv, query head h reading KV head floor(h / (h_q / h_kv)) (each
 * group of G = h_q / h_kv consecutive query heads shares one KV head, as
 * torch's repeat_interleave lays them out).
 *
 * The kernels attend one KV head (MLA's shared latent), so the call runs as
 * an MQA call of its own: request b's KV head g becomes request b * h_kv + g,
 * with query heads g*G .. g*G + G - 1 and the pages of KV head g. The cache
 * is laid out head by head ([h_kv, blocks, page, d_qk]: KV head g's block p
 * is page g * blocks + p), so request (b, g)'s block table is b's plus
 * g * blocks. Outputs come back in the call's order. Nothing else changes:
 * the same kernels, the same plans, the same checks (reference/reference-gqa.ts
 * is the reference on the call as given, not on this form).
 */
import type { MlaShape } from './shape';
import { type MlaInputs, generateInputs } from './inputs';
import type { PagedCache } from './paged-cache';
import { SeededRandom } from '../random/seeded-random';

/** The most KV heads a call takes (FlashMLA's tests use up to 8). */
export const MAX_KV_HEADS = 128;

export interface GqaCall {
  /** The call's shape: h_q every query head, topk 0 (dense), pageBlockSize the cache's page. */
  readonly shape: MlaShape;
  readonly hKv: number;
  /** [b, s_q, h_q, d_qk] */
  readonly q: Float32Array;
  /** [blocks, page, h_kv, d_qk]: row (slot * h_kv + g) is KV head g of cache slot `slot`; NaN where no request reads. */
  readonly kvRows: Float32Array;
  /** Pages, block table and seqlens, as for one KV head: every head of a token sits in the same slot. */
  readonly cache: PagedCache;
  /** [h_q] */
  readonly sink?: Float32Array;
}

/** The KV head query head h reads. */
export function kvHeadOf(hQ: number, hKv: number, h: number): number {
  return Math.floor(h / (hQ / hKv));
}

/** Refuse KV heads a shape cannot take, naming the field: before anything is generated or loaded. */
export function checkKvHeads(shape: MlaShape, hKv: number): void {
  if (!Number.isInteger(hKv) || hKv < 1 || hKv > MAX_KV_HEADS) throw new Error(`h_kv = ${hKv} is not allowed: the KV heads must be an integer from 1 to ${MAX_KV_HEADS}`);
  if (shape.hQ % hKv !== 0) throw new Error(`h_q = ${shape.hQ} is not allowed with h_kv = ${hKv}: h_q must be a multiple of h_kv (each KV head is read by h_q / h_kv query heads)`);
  if (shape.topk !== 0) throw new Error(`a sparse call (topk ${shape.topk}) takes one KV head: FlashMLA's sparse calls have h_kv = 1`);
}

/** Refuse a call the GQA path cannot run, naming the field. */
export function validateGqa(call: GqaCall): GqaCall {
  const { shape, hKv } = call;
  checkKvHeads(shape, hKv);
  const slots = call.cache.numBlocks * shape.pageBlockSize;
  if (call.kvRows.length !== slots * hKv * shape.dQk) throw new Error(`the cache holds ${call.kvRows.length} values; ${call.cache.numBlocks} pages of ${shape.pageBlockSize} tokens x ${hKv} KV heads x ${shape.dQk} need ${slots * hKv * shape.dQk}`);
  return call;
}

/** The shape of the call's MQA form: a request per (request, KV head), G query heads each. */
export function mqaShapeOf(call: GqaCall): MlaShape {
  const { shape, hKv } = call;
  return { ...shape, hQ: shape.hQ / hKv, batch: shape.batch * hKv, seqlens: shape.seqlens.flatMap((len) => Array<number>(hKv).fill(len)) };
}

/** The call as an MQA call over a head-by-head cache (the module's comment). */
export function gqaAsMqa(call: GqaCall): MlaInputs {
  validateGqa(call);
  const { shape, hKv, cache } = call;
  const { batch, sQ, hQ, dQk, pageBlockSize: P } = shape;
  const G = hQ / hKv;
  const blocks = cache.numBlocks;
  const slots = blocks * P;
  // q: request (b, g) token i head j is the call's q[b, i, g*G + j].
  const q = new Float32Array(call.q.length);
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < hKv; g++) {
      for (let i = 0; i < sQ; i++) {
        const from = ((b * sQ + i) * hQ + g * G) * dQk;
        q.set(call.q.subarray(from, from + G * dQk), (((b * hKv + g) * sQ + i) * G) * dQk);
      }
    }
  }
  // The cache, head by head: KV head g's slot s is row g * slots + s.
  const kvRows = new Float32Array(call.kvRows.length);
  for (let s = 0; s < slots; s++) {
    for (let g = 0; g < hKv; g++) kvRows.set(call.kvRows.subarray((s * hKv + g) * dQk, (s * hKv + g + 1) * dQk), (g * slots + s) * dQk);
  }
  // Request (b, g)'s pages: b's, moved to KV head g's copy of the cache. Entries past its last page are left as given (never read).
  const width = cache.maxBlocksPerSeq;
  const blockTable = new Int32Array(batch * hKv * width);
  const usedSlots = new Uint8Array(hKv * slots);
  for (let b = 0; b < batch; b++) {
    const pages = Math.ceil(cache.seqlens[b] / P);
    for (let g = 0; g < hKv; g++) {
      const row = (b * hKv + g) * width;
      for (let p = 0; p < width; p++) {
        const entry = cache.blockTable[b * width + p];
        blockTable[row + p] = p < pages ? entry + g * blocks : entry;
      }
    }
  }
  for (let g = 0; g < hKv; g++) usedSlots.set(cache.usedSlots, g * slots);
  const mqaCache: PagedCache = {
    numBlocks: hKv * blocks, maxBlocksPerSeq: width, blockTable,
    seqlens: Int32Array.from(mqaShapeOf(call).seqlens), poisonBlock: cache.poisonBlock, usedSlots,
  };
  return { shape: mqaShapeOf(call), q, kvRows, cache: mqaCache, sink: call.sink ? groupSink(call.sink, hKv) : undefined };
}

/**
 * The sink of the MQA form. Its G heads are a different group's in every
 * request, but a sink is one value a head for the whole call; so the GQA
 * path takes a sink only when every group's is the same ([h_q] repeating
 * every G): otherwise it is refused here, by name.
 */
function groupSink(sink: Float32Array, hKv: number): Float32Array {
  const G = sink.length / hKv;
  for (let h = G; h < sink.length; h++) {
    if (!Object.is(sink[h], sink[h % G])) throw new Error(`attn_sink with h_kv = ${hKv}: head ${h}'s sink ${sink[h]} differs from head ${h % G}'s ${sink[h % G]}; the GQA path takes a sink that repeats every h_q / h_kv = ${G} heads`);
  }
  return sink.slice(0, G);
}

/** A head-by-head cache's rows back in the call's order ([blocks, page, h_kv, d_qk]). */
export function rowsFromHeadMajor(rows: Float32Array, hKv: number, dQk: number): Float32Array {
  const slots = rows.length / (hKv * dQk);
  const out = new Float32Array(rows.length);
  for (let s = 0; s < slots; s++) {
    for (let g = 0; g < hKv; g++) out.set(rows.subarray((g * slots + s) * dQk, (g * slots + s + 1) * dQk), (s * hKv + g) * dQk);
  }
  return out;
}

/**
 * Move an output of the MQA form into the call's order, or back: out and
 * max_logits are [b, s_q, h_q, w] against the form's [b, h_kv, s_q, G, w]
 * (w = d_v, or 1); lse [b, h_q, s_q] is the form's [b, h_kv, G, s_q] as it is.
 */
export function permuteRows<T extends Float32Array | Float64Array>(x: T, shape: Pick<MlaShape, 'batch' | 'sQ' | 'hQ'>, hKv: number, toCall: boolean): T {
  const { batch, sQ, hQ } = shape;
  const G = hQ / hKv;
  const w = x.length / (batch * sQ * hQ);
  const out = new (x.constructor as new (n: number) => T)(x.length);
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < hKv; g++) {
      for (let i = 0; i < sQ; i++) {
        const call = ((b * sQ + i) * hQ + g * G) * w;
        const form = (((b * hKv + g) * sQ + i) * G) * w;
        if (toCall) out.set(x.subarray(form, form + G * w), call);
        else out.set(x.subarray(call, call + G * w), form);
      }
    }
  }
  return out;
}

/** A position [b', i, h'] of the MQA form as the call's [b, i, h]. */
export function positionInCall(at: readonly number[], hQ: number, hKv: number): number[] {
  const G = hQ / hKv;
  const [b, i, h, ...rest] = at;
  return [Math.floor(b / hKv), i, (b % hKv) * G + h, ...rest];
}

/** SeededRandom's stream of the KV heads past the first (inputs.ts's streams stay below it). */
const GQA_KV_STREAM = 0x20000;

/**
 * A seeded GQA call: q, the pages and the sink as generateInputs makes them
 * for `shape` (its cache is KV head 0; the sink repeats every G heads, as
 * the GQA path takes it), KV heads 1.. drawn N(0, 1) for every read slot;
 * NaN in every slot no request reads, every head.
 */
export function generateGqaCall(shape: MlaShape, hKv: number, seed = 0): GqaCall {
  checkKvHeads(shape, hKv);
  const base = generateInputs(shape, { seed });
  const { dQk, pageBlockSize: P } = shape;
  const slots = base.cache.numBlocks * P;
  const kvRows = new Float32Array(slots * hKv * dQk).fill(NaN);
  for (let s = 0; s < slots; s++) {
    if (!base.cache.usedSlots[s]) continue;
    kvRows.set(base.kvRows.subarray(s * dQk, (s + 1) * dQk), s * hKv * dQk);
    for (let g = 1; g < hKv; g++) {
      const rng = new SeededRandom(seed, GQA_KV_STREAM + g, s);
      for (let c = 0; c < dQk; c++) kvRows[(s * hKv + g) * dQk + c] = rng.normal();
    }
  }
  const G = shape.hQ / hKv;
  const sink = base.sink && Float32Array.from(base.sink, (_, h) => base.sink![h % G]);
  return validateGqa({ shape, hKv, q: base.q, kvRows, cache: base.cache, sink });
}
