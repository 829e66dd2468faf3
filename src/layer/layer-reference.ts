/**
 * The layer's CPU reference, in f64 and in the plainest loops: the ground
 * truth each GPU stage is checked against, run on the values that stage read.
 *
 *   cache rows   [c ; k_pe] = [kv_norm(x wkv_a^T)[0:512] ; rope_t((x wkv_a^T)[512:576])]
 *   queries      q = wq_b(q_norm(wq_a(x))) per head [q_nope ; rope_i(q_pe)]
 *   naive (MHA)  k[h,t] = [W_UK[h] c_t ; k_pe_t], v[h,t] = W_UV[h] c_t
 *                o[h] = sum_t softmax_t(scale q[h] . k[h,t]) v[h,t]
 *   absorbed     q_lat[h] = W_UK[h]^T q_nope[h]; s_t = scale (q_lat . c_t + q_pe . k_pe_t)
 *                o[h] = W_UV[h] sum_t p_t c_t
 *   output       y = wo o (all heads, flattened)
 *
 * With coupled RoPE (the option that shows why MLA decouples it) the naive
 * formula rotates each head's whole key and query part: k_nope = R_t W_UK c,
 * q_nope = R_i q_nope. The absorbed formula can only rotate what it has: the
 * cached row before caching (c -> R_t c, rotateCachedLatent) and q_lat by the
 * query's position; then W_UK sits on the wrong side of R_t and the two stop
 * agreeing (DeepSeek-V2, section 2.1.3).
 */
import type { LayerConfig, Yarn } from './layer-config';
import { rotate, ropeTable } from './rope';
import type { LayerWeights } from './layer-weights';

export type RopeMode = 'decoupled' | 'coupled';
export const ROPE_MODES: readonly RopeMode[] = ['decoupled', 'coupled'];

/** The per-head sizes the attention core needs (a LayerConfig has them all). */
export interface CoreDims {
  readonly heads: number;
  readonly qkNope: number;
  readonly qkRope: number;
  readonly vHead: number;
  readonly kvLoraRank: number;
}

/**
 * The attention core's inputs: what MHA mode and MQA mode both start from.
 * Query token i sits at position keys - sQ + i; key t at position t.
 */
export interface CoreTensors {
  readonly dims: CoreDims;
  readonly sQ: number;
  /** Cached tokens (L). */
  readonly keys: number;
  /** [sQ, heads, qkNope + qkRope]: q_nope, then q_pe already rotated. */
  readonly q: Float32Array;
  /** [keys, kvLoraRank + qkRope]: the normed latent c, then k_pe already rotated. */
  readonly latentRows: Float32Array;
  /** [heads, qkNope, kvLoraRank] */
  readonly wUK: Float32Array;
  /** [heads, vHead, kvLoraRank] */
  readonly wUV: Float32Array;
  readonly softmaxScale: number;
  readonly rope: RopeMode;
  /** RoPE's frequencies, for the coupled rotation. */
  readonly yarn: Yarn;
  /** Sparse: the key positions each query token attends (any order); absent: causal over every key. */
  readonly keySets?: readonly (readonly number[])[];
}

export function queryPosition(core: Pick<CoreTensors, 'sQ' | 'keys'>, i: number): number {
  return core.keys - core.sQ + i;
}

/** The key positions query token i attends. */
export function attendedKeys(core: Pick<CoreTensors, 'sQ' | 'keys' | 'keySets'>, i: number): readonly number[] {
  if (core.keySets) return core.keySets[i];
  return Array.from({ length: queryPosition(core, i) + 1 }, (_, t) => t);
}

/** y[r] = W x[r] for rows of x ([rows, inDim]) and W [outDim, inDim], in f64. */
function linear(x: ArrayLike<number>, xAt: number, w: Float32Array, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = 0;
    const base = o * inDim;
    for (let k = 0; k < inDim; k++) s += w[base + k] * x[xAt + k];
    y[o] = s;
  }
  return y;
}

/** RMSNorm of v[at .. at + n) in place: v * weight / sqrt(mean(v^2) + eps). */
function rmsNorm(v: Float64Array, at: number, n: number, weight: Float32Array, eps: number): void {
  let ss = 0;
  for (let k = 0; k < n; k++) ss += v[at + k] * v[at + k];
  const r = 1 / Math.sqrt(ss / n + eps);
  for (let k = 0; k < n; k++) v[at + k] = v[at + k] * r * weight[k];
}

/** Cache rows of the given tokens ([count, kvLora + rope]) from hidden states x [*, dim]; token t sits at position t. */
export function referenceCacheRows(w: LayerWeights, x: Float32Array, tokens: readonly number[]): Float64Array {
  const c = w.config;
  const width = c.kvLoraRank + c.qkRope;
  const table = ropeTable(c.qkRope, c.yarn, Math.max(...tokens) + 1);
  const rows = new Float64Array(tokens.length * width);
  tokens.forEach((t, k) => {
    const row = linear(x, t * c.dim, w.wkv_a, c.dim, width);
    rmsNorm(row, 0, c.kvLoraRank, w.kv_norm, c.normEps);
    rotate(row, c.kvLoraRank, c.qkRope, table, t);
    rows.set(row, k * width);
  });
  return rows;
}

/** Queries [count, heads, nope + rope] of the given tokens of x (q_pe rotated by each token's position). */
export function referenceQueries(w: LayerWeights, x: Float32Array, tokens: readonly number[]): Float64Array {
  const c = w.config;
  const head = c.qkNope + c.qkRope;
  const table = ropeTable(c.qkRope, c.yarn, Math.max(...tokens) + 1);
  const q = new Float64Array(tokens.length * c.heads * head);
  tokens.forEach((t, k) => {
    const a = linear(x, t * c.dim, w.wq_a, c.dim, c.qLoraRank);
    rmsNorm(a, 0, c.qLoraRank, w.q_norm, c.normEps);
    const row = linear(a, 0, w.wq_b, c.qLoraRank, c.heads * head);
    for (let h = 0; h < c.heads; h++) rotate(row, h * head + c.qkNope, c.qkRope, table, t);
    q.set(row, k * c.heads * head);
  });
  return q;
}

/** Softmax-weighted sum: given scores s over keys, returns p (summing to 1) and lse. */
function softmax(s: Float64Array): { p: Float64Array; lse: number } {
  let m = -Infinity;
  for (const v of s) m = Math.max(m, v);
  let sum = 0;
  for (const v of s) sum += Math.exp(v - m);
  const lse = m + Math.log(sum);
  return { p: s.map((v) => Math.exp(v - lse)), lse };
}

export interface HeadOutputs {
  /** [sQ, heads, vHead]; heads not computed are 0. */
  readonly o: Float64Array;
  /** The heads computed (all, or a stated sample). */
  readonly heads: readonly number[];
}

/** MHA mode's formula, the ground truth: per-head keys and values materialised from the latent. */
export function referenceNaive(core: CoreTensors, heads: readonly number[] = allHeads(core.dims)): HeadOutputs {
  const { dims, sQ, keys, q, latentRows, softmaxScale } = core;
  const { qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc, heads: H } = dims;
  const width = dc + dr;
  const qHead = dn + dr;
  const coupled = core.rope === 'coupled';
  const table = coupled ? ropeTable(dn, core.yarn, keys) : undefined;
  const o = new Float64Array(sQ * H * dv);
  for (const h of heads) {
    const k = new Float64Array(keys * dn);
    const v = new Float64Array(keys * dv);
    for (let t = 0; t < keys; t++) {
      k.set(linear(latentRows, t * width, core.wUK.subarray(h * dn * dc, (h + 1) * dn * dc), dc, dn), t * dn);
      v.set(linear(latentRows, t * width, core.wUV.subarray(h * dv * dc, (h + 1) * dv * dc), dc, dv), t * dv);
      if (table) rotate(k, t * dn, dn, table, t);
    }
    for (let i = 0; i < sQ; i++) {
      const qn = Float64Array.from(q.subarray((i * H + h) * qHead, (i * H + h) * qHead + dn));
      if (table) rotate(qn, 0, dn, table, queryPosition(core, i));
      const qp = (i * H + h) * qHead + dn;
      const ts = attendedKeys(core, i);
      if (ts.length === 0) continue; // no key: out stays 0 (FlashMLA's rule)
      const s = new Float64Array(ts.length);
      ts.forEach((t, j) => {
        let dot = 0;
        for (let c = 0; c < dn; c++) dot += qn[c] * k[t * dn + c];
        for (let c = 0; c < dr; c++) dot += q[qp + c] * latentRows[t * width + dc + c];
        s[j] = softmaxScale * dot;
      });
      const { p } = softmax(s);
      const out = (i * H + h) * dv;
      ts.forEach((t, j) => {
        for (let c = 0; c < dv; c++) o[out + c] += p[j] * v[t * dv + c];
      });
    }
  }
  return { o, heads };
}

/** Coupled RoPE's cache: every row's latent rotated by its position ("rotate the whole key before caching"). */
export function rotateCachedLatent(core: Pick<CoreTensors, 'dims' | 'keys' | 'latentRows' | 'yarn'>): Float32Array {
  const { kvLoraRank: dc, qkRope: dr } = core.dims;
  const table = ropeTable(dc, core.yarn, core.keys);
  const rows = Float32Array.from(core.latentRows);
  for (let t = 0; t < core.keys; t++) rotate(rows, t * (dc + dr), dc, table, t);
  return rows;
}

/**
 * MQA mode's formula in f64: the query absorbed into the latent's space.
 * Equal to referenceNaive up to rounding with decoupled RoPE; not with
 * coupled, where `latentRows` must be the cache as coupled RoPE writes it
 * (rotateCachedLatent) and q_lat is rotated by the query's position.
 */
export function referenceAbsorbed(core: CoreTensors, heads: readonly number[] = allHeads(core.dims)): HeadOutputs {
  const { dims, sQ, keys, q, latentRows: cache, softmaxScale } = core;
  const { qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc, heads: H } = dims;
  const width = dc + dr;
  const qHead = dn + dr;
  const table = core.rope === 'coupled' ? ropeTable(dc, core.yarn, keys) : undefined;
  const o = new Float64Array(sQ * H * dv);
  for (const h of heads) {
    for (let i = 0; i < sQ; i++) {
      const qLat = new Float64Array(dc);
      for (let r = 0; r < dn; r++) {
        const qv = q[(i * H + h) * qHead + r];
        for (let c = 0; c < dc; c++) qLat[c] += core.wUK[(h * dn + r) * dc + c] * qv;
      }
      if (table) rotate(qLat, 0, dc, table, queryPosition(core, i));
      const ts = attendedKeys(core, i);
      if (ts.length === 0) continue;
      const qp = (i * H + h) * qHead + dn;
      const s = new Float64Array(ts.length);
      ts.forEach((t, j) => {
        let dot = 0;
        for (let c = 0; c < dc; c++) dot += qLat[c] * cache[t * width + c];
        for (let c = 0; c < dr; c++) dot += q[qp + c] * cache[t * width + dc + c];
        s[j] = softmaxScale * dot;
      });
      const { p } = softmax(s);
      const outLat = new Float64Array(dc);
      ts.forEach((t, j) => {
        for (let c = 0; c < dc; c++) outLat[c] += p[j] * cache[t * width + c];
      });
      o.set(linear(outLat, 0, core.wUV.subarray(h * dv * dc, (h + 1) * dv * dc), dc, dv), (i * H + h) * dv);
    }
  }
  return { o, heads };
}

/** The layer's output y [sQ, dim] = wo o, from every head's output. */
export function referenceOutput(c: LayerConfig, wo: Float32Array, o: ArrayLike<number>, sQ: number): Float64Array {
  const width = c.heads * c.vHead;
  const y = new Float64Array(sQ * c.dim);
  for (let i = 0; i < sQ; i++) y.set(linear(o, i * width, wo, width, c.dim), i * c.dim);
  return y;
}

export function allHeads(dims: Pick<CoreDims, 'heads'>): number[] {
  return Array.from({ length: dims.heads }, (_, h) => h);
}

/** Multiply-adds of referenceNaive over `heads` heads: the per-head keys and values, then the attention. */
export function naiveReferenceCost(core: Pick<CoreTensors, 'dims' | 'sQ' | 'keys'>, heads: number): number {
  const { qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc } = core.dims;
  return heads * (core.keys * (dn + dv) * dc + core.sQ * core.keys * (dn + dr + dv));
}
