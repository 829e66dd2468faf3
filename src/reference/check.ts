/**
 * Compare a kernel's out and lse with the CPU reference. The metrics are
 * FlashMLA's (tests/kernelkit/compare.py) plus a few that catch the failures
 * users of other WebGPU attention kernels hit most (a finite-but-wrong value,
 * a NaN where the reference has a number):
 *   - inf/NaN positions must match exactly;
 *   - max abs error, and max abs error relative to max |ref|;
 *   - cosine difference 1 - 2 sum(a r) / sum(a^2 + r^2);
 *   - NMSE sum((a - r)^2) / sum(r^2);
 *   - lse: +inf rows must match, max abs error of the rest.
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
}

/** Sizes that turn a flat index into a position: out is [b, s_q, h_q, d_v], lse [b, h_q, s_q]. */
export interface OutputDims {
  readonly batch: number;
  readonly sQ: number;
  readonly hQ: number;
  readonly dV: number;
}

/** Where the largest error (or the first inf/NaN disagreement) is, with both values. */
export interface WorstElement {
  readonly tensor: 'out' | 'lse';
  readonly index: number;
  /** [b, i, h, c] for out, [b, h, i] for lse, when the dims are known. */
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
  /** Count of inf/NaN values in the kernel's out and lse. */
  readonly nonFinite: number;
  /** Positions where the kernel and the reference disagree on being inf/NaN. */
  readonly nonFiniteMismatch: number;
  readonly maxAbsRef: number;
  /** The out element with the largest error, or the first whose inf/NaN differs. */
  readonly worst?: WorstElement;
  /** The lse element with the largest error, or the first whose inf/NaN differs. */
  readonly worstLse?: WorstElement;
  /** A short reason when pass is false. */
  readonly failure?: string;
  /** The element that shows the failure: the first inf/NaN disagreement, or the worst error of the tensor that failed. */
  readonly failureAt?: WorstElement;
}

function positionOf(tensor: 'out' | 'lse', index: number, d?: OutputDims): number[] | undefined {
  if (!d) return undefined;
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
  const names = w.tensor === 'out' ? ['b', 'i', 'h', 'c'] : ['b', 'h', 'i'];
  const where = w.at ? w.at.map((v, k) => `${names[k]} ${v}`).join(', ') : String(w.index);
  return `${w.tensor}[${where}]: gpu ${w.gpu.toPrecision(6)} vs ref ${w.ref.toPrecision(6)}`;
}

function sameNonFinite(a: number, r: number): boolean {
  if (Number.isNaN(r)) return Number.isNaN(a);
  if (!Number.isFinite(r)) return a === r;
  return Number.isFinite(a);
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
  let lseMaxAbsErr = 0;
  let lseWorstAt = -1;
  let lseOver = 0; // largest |a - r| / lseTolerance(r)
  let lseMismatchAt = -1;
  const outMismatch = mismatch;
  for (let k = 0; k < ref.lse.length; k++) {
    if (skipLse(k)) continue;
    const a = gpu.lse[k];
    const r = ref.lse[k];
    if (!Number.isFinite(a)) nonFinite++;
    if (!sameNonFinite(a, r)) { if (mismatch++ === outMismatch) lseMismatchAt = k; continue; }
    if (!Number.isFinite(r)) continue;
    const over = Math.abs(a - r) / lseTolerance(r);
    if (over > lseOver || lseWorstAt < 0) lseWorstAt = k;
    lseOver = Math.max(lseOver, over);
    lseMaxAbsErr = Math.max(lseMaxAbsErr, Math.abs(a - r));
  }
  const element = (tensor: 'out' | 'lse', index: number): WorstElement | undefined => index < 0 ? undefined : {
    tensor, index, at: positionOf(tensor, index, dims),
    gpu: (tensor === 'out' ? gpu.out : gpu.lse)[index], ref: (tensor === 'out' ? ref.out : ref.lse)[index],
  };
  const worst = element('out', mismatchAt >= 0 ? mismatchAt : worstAt);
  const worstLse = element('lse', lseMismatchAt >= 0 ? lseMismatchAt : lseWorstAt);
  const maxRelErr = maxAbsRef > 0 ? maxAbsErr / maxAbsRef : maxAbsErr;
  const cosineDiff = sumSq > 0 ? 1 - (2 * dotAR) / sumSq : 0;
  const nmse = refSq > 0 ? errSq / refSq : errSq;
  let failure: string | undefined;
  let failureAt: WorstElement | undefined;
  if (mismatch > 0) {
    failure = `${mismatch} values are inf/NaN in one of kernel and reference but not the other`;
    failureAt = mismatchAt >= 0 ? worst : worstLse;
  } else if (!(maxRelErr <= TOLERANCE.outRelToMaxRef)) {
    failure = `out error ${maxRelErr.toExponential(2)} of max |ref| > ${TOLERANCE.outRelToMaxRef}`;
    failureAt = worst;
  } else if (!(cosineDiff <= TOLERANCE.cosineDiff)) {
    failure = `cosine difference ${cosineDiff.toExponential(2)} > ${TOLERANCE.cosineDiff}`;
    failureAt = worst;
  } else if (!(lseOver <= 1)) {
    failure = `lse error ${lseMaxAbsErr.toExponential(2)} > ${TOLERANCE.lseAbs} + ${TOLERANCE.lseRel} |lse|`;
    failureAt = worstLse;
  }
  return {
    pass: failure === undefined, maxAbsErr, maxRelErr, cosineDiff, nmse, lseMaxAbsErr,
    nonFinite, nonFiniteMismatch: mismatch, maxAbsRef, worst, worstLse, failure, failureAt,
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
    + `cos diff ${c.cosineDiff.toExponential(2)}, nmse ${c.nmse.toExponential(2)}, lse err ${c.lseMaxAbsErr.toExponential(2)}, non-finite ${c.nonFinite}`;
}
