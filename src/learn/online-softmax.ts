/**
 * The online softmax of the fused kernels (v3_shared_latent.wgsl), one key tile at a time, written
 * out in f64 so each step can be shown: the tile's max, the running max, the
 * factor that rescales what was accumulated so far, the running sum and the
 * accumulator. After the last tile, out = acc / sum and lse = max + log(sum)
 * equal the plain softmax of the reference (the test checks it).
 *
 * The kernel does the same in base 2 (exp2 is one instruction; the scores
 * are pre-multiplied by log2(e)); here it is natural log, as in the reference.
 */
export interface OnlineSoftmaxStep {
  /** Keys [start, end) of this tile. */
  readonly start: number;
  readonly end: number;
  readonly tileMax: number;
  readonly maxBefore: number;
  readonly maxAfter: number;
  /** exp(maxBefore - maxAfter): what the old sum and accumulator are multiplied by. */
  readonly rescale: number;
  /** sum over the tile of exp(s_t - maxAfter). */
  readonly tileSum: number;
  readonly sumAfter: number;
  /** The first dims of the accumulator after this tile (acc = sum_t exp(s_t - max) v_t). */
  readonly accHead: readonly number[];
  /** The first dims of acc / sum: the output if the keys stopped here. */
  readonly outHead: readonly number[];
}

export interface OnlineSoftmaxTrace {
  readonly steps: readonly OnlineSoftmaxStep[];
  readonly out: Float64Array;
  readonly lse: number;
}

export function onlineSoftmaxTrace(
  scores: readonly number[], value: (t: number, c: number) => number, dV: number, tileN: number, shownDims = 6,
): OnlineSoftmaxTrace {
  if (!Number.isInteger(tileN) || tileN < 1) throw new Error(`tileN = ${tileN} is not allowed: tileN must be an integer >= 1`);
  const acc = new Float64Array(dV);
  let m = -Infinity;
  let sum = 0;
  const steps: OnlineSoftmaxStep[] = [];
  for (let start = 0; start < scores.length; start += tileN) {
    const end = Math.min(start + tileN, scores.length);
    let tileMax = -Infinity;
    for (let t = start; t < end; t++) tileMax = Math.max(tileMax, scores[t]);
    const maxAfter = Math.max(m, tileMax);
    const rescale = m === -Infinity ? 0 : Math.exp(m - maxAfter);
    sum *= rescale;
    for (let c = 0; c < dV; c++) acc[c] *= rescale;
    let tileSum = 0;
    for (let t = start; t < end; t++) {
      const p = Math.exp(scores[t] - maxAfter);
      tileSum += p;
      for (let c = 0; c < dV; c++) acc[c] += p * value(t, c);
    }
    sum += tileSum;
    const shown = Array.from(acc.subarray(0, Math.min(shownDims, dV)));
    steps.push({
      start, end, tileMax, maxBefore: m, maxAfter, rescale, tileSum, sumAfter: sum,
      accHead: shown, outHead: shown.map((a) => a / sum),
    });
    m = maxAfter;
  }
  const out = acc.map((a) => (sum > 0 ? a / sum : 0));
  return { steps, out, lse: sum > 0 ? m + Math.log(sum) : Infinity };
}
