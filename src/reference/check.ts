/**
 * Compare a kernel's out and lse with the CPU reference. The metrics are
 * FlashMLA's (tests/kernelkit/compare.py) plus a few that catch the failures
 * users of other WebGPU attention kernels hit most (a finite-but-wrong value,
 * a NaN where the reference has a number):
 *   - inf/NaN positions must match exactly;
 *   - max abs error, and max abs error relative to max |ref|;
 *   - cosine difference 1 - 2 sum(a r) / sum(a^2 + r^2);
 *   - NMSE sum((a - r)^2) / sum(r^2);
 *   - lse: +inf rows must match, max abs error of the rest;
 *   - max_logits, when the kernel returns it: -inf rows must match, and the
 *     rest within lse's tolerance (both are scores in natural units).
 */
import type { AttentionResult } from './reference';

/**
 * The one tolerance of the GPU tests: out error <= 1e-4 of max |ref|, for f32,
 * bf16 and FP8 caches alike (the reference runs on the dequantised values the
 * kernel read, so quantisation error does not count here). Kernels compute in
 * f32; FlashMLA's own bf16 kernels are held to abs 8e-4..1e-3 and cosine 5e-6.
 */
export const TOLERANCE = {
  outRelToMaxRef: 1e-4,
  cosineDiff: 1e-6,
  /** lse may be off by lseAbs + lseRel * |lse|: f32 carries about 7 digits, so a large lse cannot be held to 1e-4. */
  lseAbs: 1e-4,
  lseRel: 1e-6,
} as const;

/** How far an lse may be from the reference's `r`. */
export function lseTolerance(r: number): number {
  return TOLERANCE.lseAbs + TOLERANCE.lseRel * Math.abs(r);
}

export interface KernelOutput {
  readonly out: ArrayLike<number>;
  readonly lse: ArrayLike<number>;
  /** [b, s_q, h_q]; compared when both the kernel and the reference have it. */
  readonly maxLogits?: ArrayLike<number>;
}

export type CheckedTensor = 'out' | 'lse' | 'max_logits';

/** Sizes that turn a flat index into a position: out is [b, s_q, h_q, d_v], lse [b, h_q, s_q], max_logits [b, s_q, h_q]. */
export interface OutputDims {
  readonly batch: number;
  readonly sQ: number;
  readonly hQ: number;
  readonly dV: number;
}

/** Where the largest error (or the first inf/NaN disagreement) is, with both values. */
export interface WorstElement {
  readonly tensor: CheckedTensor;
  readonly index: number;
  /** [b, i, h, c] for out, [b, h, i] for lse, [b, i, h] for max_logits, when the dims are known. */
  readonly at?: readonly number[];
  readonly gpu: number;
  readonly ref: number;
}

export interface CheckResult {
  readonly pass: boolean;
  readonly maxAbsErr: number;
  /** max |a - r| / max |r| */
  readonly maxRelErr: number;
  readonly cosineDiff: number;
  readonly nmse: number;
  readonly lseMaxAbsErr: number;
  /** Largest max_logits error; undefined when max_logits was not compared. */
  readonly maxLogitsMaxAbsErr?: number;
  /** Count of inf/NaN values in the kernel's out and lse (and max_logits other than a -inf row). */
  readonly nonFinite: number;
  /** Positions where the kernel and the reference disagree on being inf/NaN. */
  readonly nonFiniteMismatch: number;
  readonly maxAbsRef: number;
  /** The out element with the largest error, or the first whose inf/NaN differs. */
  readonly worst?: WorstElement;
  /** The lse element with the largest error, or the first whose inf/NaN differs. */
  readonly worstLse?: WorstElement;
  readonly worstMaxLogits?: WorstElement;
  /** A short reason when pass is false. */
  readonly failure?: string;
  /** The element that shows the failure: the first inf/NaN disagreement, or the worst error of the tensor that failed. */
  readonly failureAt?: WorstElement;
}

function positionOf(tensor: CheckedTensor, index: number, d?: OutputDims): number[] | undefined {
  if (!d) return undefined;
  if (tensor === 'max_logits') return [Math.floor(index / (d.hQ * d.sQ)), Math.floor(index / d.hQ) % d.sQ, index % d.hQ];
  if (tensor === 'out') {
    const c = index % d.dV;
    const h = Math.floor(index / d.dV) % d.hQ;
    const i = Math.floor(index / (d.dV * d.hQ)) % d.sQ;
    return [Math.floor(index / (d.dV * d.hQ * d.sQ)), i, h, c];
  }
  const i = index % d.sQ;
  const h = Math.floor(index / d.sQ) % d.hQ;
  return [Math.floor(index / (d.sQ * d.hQ)), h, i];
}

/** "out[b 0, i 1, h 3, c 17]: gpu 0.1234 vs ref 0.4567" */
export function formatWorst(w: WorstElement): string {
  const names = { out: ['b', 'i', 'h', 'c'], lse: ['b', 'h', 'i'], max_logits: ['b', 'i', 'h'] }[w.tensor];
  const where = w.at ? w.at.map((v, k) => `${names[k]} ${v}`).join(', ') : String(w.index);
  return `${w.tensor}[${where}]: gpu ${w.gpu.toPrecision(6)} vs ref ${w.ref.toPrecision(6)}`;
}

function sameNonFinite(a: number, r: number): boolean {
  if (Number.isNaN(r)) return Number.isNaN(a);
  if (!Number.isFinite(r)) return a === r;
  return Number.isFinite(a);
}

/** One per-row statistic (lse, max_logits) against the reference: inf/NaN positions must match, the rest within lseTolerance. */
interface StatisticComparison {
  readonly maxAbsErr: number;
  /** Largest |a - r| / lseTolerance(r): 1 is the limit. */
  readonly over: number;
  readonly worstAt: number;
  /** The first position whose inf/NaN differs, or -1. */
  readonly mismatchAt: number;
  readonly mismatches: number;
  readonly nonFinite: number;
}

function compareStatistic(gpu: ArrayLike<number>, ref: ArrayLike<number>, skip: (k: number) => boolean, counts: (a: number) => boolean): StatisticComparison {
  let maxAbsErr = 0;
  let over = 0;
  let worstAt = -1;
  let mismatchAt = -1;
  let mismatches = 0;
  let nonFinite = 0;
  for (let k = 0; k < ref.length; k++) {
    if (skip(k)) continue;
    const a = gpu[k];
    const r = ref[k];
    if (counts(a)) nonFinite++;
    if (!sameNonFinite(a, r)) { if (mismatches++ === 0) mismatchAt = k; continue; }
    if (!Number.isFinite(r)) continue;
    const o = Math.abs(a - r) / lseTolerance(r);
    if (o > over || worstAt < 0) worstAt = k;
    over = Math.max(over, o);
    maxAbsErr = Math.max(maxAbsErr, Math.abs(a - r));
  }
  return { maxAbsErr, over, worstAt, mismatchAt, mismatches, nonFinite };
}

export function compareToReference(gpu: KernelOutput, ref: AttentionResult, dims?: OutputDims): CheckResult {
  if (gpu.out.length !== ref.out.length || gpu.lse.length !== ref.lse.length) {
    throw new Error(`kernel output has ${gpu.out.length} out / ${gpu.lse.length} lse values, reference has ${ref.out.length} / ${ref.lse.length}`);
  }
  let nonFinite = 0;
  let mismatch = 0;
  let maxAbsErr = 0;
  let maxAbsRef = 0;
  let dotAR = 0;
  let sumSq = 0;
  let errSq = 0;
  let refSq = 0;
  let worstAt = -1;
  let mismatchAt = -1;
  // A reference over a sample of heads (a long cache): compare those heads only.
  const sampled = ref.heads ? new Set(ref.heads) : undefined;
  if (sampled && !dims) throw new Error('a reference over a sample of heads needs the output dims to know each value\'s head');
  const skipOut = (k: number) => sampled !== undefined && !sampled.has(Math.floor(k / dims!.dV) % dims!.hQ);
  const skipLse = (k: number) => sampled !== undefined && !sampled.has(Math.floor(k / dims!.sQ) % dims!.hQ);
  for (let k = 0; k < ref.out.length; k++) {
    if (skipOut(k)) continue;
    const a = gpu.out[k];
    const r = ref.out[k];
    if (!Number.isFinite(a)) nonFinite++;
    if (!sameNonFinite(a, r)) { if (mismatch++ === 0) mismatchAt = k; continue; }
    if (!Number.isFinite(r)) continue;
    if (Math.abs(a - r) > maxAbsErr || worstAt < 0) worstAt = k;
    maxAbsErr = Math.max(maxAbsErr, Math.abs(a - r));
    maxAbsRef = Math.max(maxAbsRef, Math.abs(r));
    dotAR += a * r;
    sumSq += a * a + r * r;
    errSq += (a - r) * (a - r);
    refSq += r * r;
  }
  const lseCmp = compareStatistic(gpu.lse, ref.lse, skipLse, (a) => !Number.isFinite(a));
  // max_logits: a row with no valid key is -inf in both (not counted as non-finite); the rest within lse's tolerance.
  const gpuMax = gpu.maxLogits;
  const refMax = ref.maxLogits;
  if (gpuMax && refMax && gpuMax.length !== refMax.length) throw new Error(`kernel output has ${gpuMax.length} max_logits values, reference has ${refMax.length}`);
  const maxCmp = gpuMax && refMax
    ? compareStatistic(gpuMax, refMax, (k) => sampled !== undefined && !sampled.has(k % dims!.hQ), (a) => !Number.isFinite(a) && a !== -Infinity)
    : undefined;
  const outMismatch = mismatch;
  const lseMismatchAt = lseCmp.mismatchAt;
  const maxMismatchAt = maxCmp?.mismatchAt ?? -1;
  mismatch += lseCmp.mismatches + (maxCmp?.mismatches ?? 0);
  nonFinite += lseCmp.nonFinite + (maxCmp?.nonFinite ?? 0);
  const lseMaxAbsErr = lseCmp.maxAbsErr;
  const lseOver = lseCmp.over;
  const maxLogitsMaxAbsErr = maxCmp?.maxAbsErr;
  const source = { out: [gpu.out, ref.out], lse: [gpu.lse, ref.lse], max_logits: [gpuMax ?? [], refMax ?? []] } as const;
  const element = (tensor: CheckedTensor, index: number): WorstElement | undefined => index < 0 ? undefined : {
    tensor, index, at: positionOf(tensor, index, dims), gpu: source[tensor][0][index], ref: source[tensor][1][index],
  };
  const worst = element('out', mismatchAt >= 0 ? mismatchAt : worstAt);
  const worstLse = element('lse', lseMismatchAt >= 0 ? lseMismatchAt : lseCmp.worstAt);
  const worstMaxLogits = maxCmp ? element('max_logits', maxMismatchAt >= 0 ? maxMismatchAt : maxCmp.worstAt) : undefined;
  const maxRelErr = maxAbsRef > 0 ? maxAbsErr / maxAbsRef : maxAbsErr;
  const cosineDiff = sumSq > 0 ? 1 - (2 * dotAR) / sumSq : 0;
  const nmse = refSq > 0 ? errSq / refSq : errSq;
  let failure: string | undefined;
  let failureAt: WorstElement | undefined;
  if (mismatch > 0) {
    failure = `${mismatch} values are inf/NaN in one of kernel and reference but not the other`;
    failureAt = outMismatch > 0 ? worst : lseMismatchAt >= 0 ? worstLse : worstMaxLogits;
  } else if (!(maxRelErr <= TOLERANCE.outRelToMaxRef)) {
    failure = `out error ${maxRelErr.toExponential(2)} of max |ref| > ${TOLERANCE.outRelToMaxRef}`;
    failureAt = worst;
  } else if (!(cosineDiff <= TOLERANCE.cosineDiff)) {
    failure = `cosine difference ${cosineDiff.toExponential(2)} > ${TOLERANCE.cosineDiff}`;
    failureAt = worst;
  } else if (!(lseOver <= 1)) {
    failure = `lse error ${lseMaxAbsErr.toExponential(2)} > ${TOLERANCE.lseAbs} + ${TOLERANCE.lseRel} |lse|`;
    failureAt = worstLse;
  } else if (maxCmp && !(maxCmp.over <= 1)) {
    failure = `max_logits error ${maxLogitsMaxAbsErr!.toExponential(2)} > ${TOLERANCE.lseAbs} + ${TOLERANCE.lseRel} |max_logits|`;
    failureAt = worstMaxLogits;
  }
  return {
    pass: failure === undefined, maxAbsErr, maxRelErr, cosineDiff, nmse, lseMaxAbsErr, maxLogitsMaxAbsErr,
    nonFinite, nonFiniteMismatch: mismatch, maxAbsRef, worst, worstLse, worstMaxLogits, failure, failureAt,
  };
}

/** Why it failed and where, for a status line: "out error ... > 0.0001; at out[b 0, i 0, h 3, c 17]: gpu ... vs ref ...". */
export function failureText(c: CheckResult): string {
  return `${c.failure}${c.failureAt ? `; at ${formatWorst(c.failureAt)}` : ''}`;
}

/** One line for logs and the CLI. */
export function formatCheck(c: CheckResult): string {
  const verdict = c.pass ? 'PASS' : `FAIL (${failureText(c)})`;
  return `${verdict}: max abs err ${c.maxAbsErr.toExponential(2)}, rel ${c.maxRelErr.toExponential(2)} of max|ref| ${c.maxAbsRef.toFixed(3)}, `
    + `cos diff ${c.cosineDiff.toExponential(2)}, nmse ${c.nmse.toExponential(2)}, lse err ${c.lseMaxAbsErr.toExponential(2)}, `
    + `${c.maxLogitsMaxAbsErr !== undefined ? `max_logits err ${c.maxLogitsMaxAbsErr.toExponential(2)}, ` : ''}non-finite ${c.nonFinite}`;
}
