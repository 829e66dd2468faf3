/**
 * Split-KV and its merge, as the fused kernels + combine.wgsl do it, in f64:
 * split s takes the contiguous chunk [s*chunk, (s+1)*chunk) of the row's keys
 * (chunk = ceil(n / splits)), and returns its own normalised output o_s and
 * log-sum-exp lse_s. The merge needs nothing else:
 *     lse = log(sum_s exp(lse_s)),   w_s = exp(lse_s - lse),   out = sum_s w_s o_s
 * An empty split has lse_s = -inf and weight 0.
 */
export interface SplitPartial {
  readonly start: number;
  readonly end: number;
  readonly lse: number;
  readonly out: Float64Array;
}

export interface SplitMerge {
  readonly parts: readonly SplitPartial[];
  /** w_s = exp(lse_s - lse); they sum to 1. */
  readonly weights: readonly number[];
  readonly lse: number;
  readonly out: Float64Array;
}

export function splitPartials(scores: readonly number[], value: (t: number, c: number) => number, dV: number, splits: number): SplitPartial[] {
  if (!Number.isInteger(splits) || splits < 1) throw new Error(`splits = ${splits} is not allowed: splits must be an integer >= 1`);
  const n = scores.length;
  const chunk = Math.ceil(n / splits);
  const parts: SplitPartial[] = [];
  for (let s = 0; s < splits; s++) {
    const start = Math.min(s * chunk, n);
    const end = Math.min(start + chunk, n);
    const out = new Float64Array(dV);
    if (end === start) { parts.push({ start, end, lse: -Infinity, out }); continue; }
    let m = -Infinity;
    for (let t = start; t < end; t++) m = Math.max(m, scores[t]);
    let sum = 0;
    for (let t = start; t < end; t++) sum += Math.exp(scores[t] - m);
    for (let t = start; t < end; t++) {
      const p = Math.exp(scores[t] - m) / sum;
      for (let c = 0; c < dV; c++) out[c] += p * value(t, c);
    }
    parts.push({ start, end, lse: m + Math.log(sum), out });
  }
  return parts;
}

export function mergeByLse(parts: readonly SplitPartial[]): SplitMerge {
  const dV = parts[0]?.out.length ?? 0;
  let m = -Infinity;
  for (const p of parts) m = Math.max(m, p.lse);
  if (m === -Infinity) return { parts, weights: parts.map(() => 0), lse: Infinity, out: new Float64Array(dV) };
  let sum = 0;
  for (const p of parts) sum += Math.exp(p.lse - m);
  const lse = m + Math.log(sum);
  const weights = parts.map((p) => Math.exp(p.lse - lse));
  const out = new Float64Array(dV);
  parts.forEach((p, s) => { for (let c = 0; c < dV; c++) out[c] += weights[s] * p.out[c]; });
  return { parts, weights, lse, out };
}
