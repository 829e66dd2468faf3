/**
 * What the sandbox refuses in your own tensors before any GPU work (see
 * README, "Non-finite values and sizes"):
 *   - a NaN or an infinity in q or in a cache row a request reads (a slot
 *     under its seqlen, or one a valid index names), a NaN in the sink:
 *     FlashMLA propagates NaN into every output row that reads one, so the
 *     result would say nothing about the kernel. The message names the
 *     file, the first position and how many there are. A sink of +inf or
 *     -inf is FlashMLA's own (+inf: that head's out is 0; -inf: no effect);
 *   - values whose scores could pass what f32 carries (|q| |k| scale above
 *     F32_SCORE_LIMIT): the kernels compute in f32, the reference in f64, and
 *     an overflow is the input's, not the kernel's.
 * Slots no request reads may hold anything (the generated caches put NaN
 * there on purpose).
 */
import type { MlaInputs } from '../mla/inputs';
import { softmaxScaleOf } from '../mla/shape';

/** Largest score the check accepts as input: f32's max (3.4e38) with room for the sums of a softmax. */
export const F32_SCORE_LIMIT = 1e37;

export interface InputNames {
  readonly q: string;
  readonly kvCache: string;
  readonly sink?: string;
}

/** "[1, 0, 3, 17]" for flat index `k` of an array of shape `dims`. */
function position(k: number, dims: readonly number[]): string {
  const at: number[] = [];
  for (let d = dims.length - 1; d >= 0; d--) {
    at.unshift(k % dims[d]);
    k = Math.floor(k / dims[d]);
  }
  return `[${at.join(', ')}]`;
}

function describeValue(x: number): string {
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'inf' : '-inf';
}

/**
 * Throws, naming the file, if `data` (of shape `dims`) holds a non-finite
 * value (only NaN with `infinityAllowed`) where `read` says it is read.
 */
function requireFinite(name: string, data: ArrayLike<number>, dims: readonly number[], read: (k: number) => boolean = () => true, infinityAllowed = false): void {
  let first = -1;
  let count = 0;
  for (let k = 0; k < data.length; k++) {
    if (Number.isFinite(data[k]) || (infinityAllowed && !Number.isNaN(data[k])) || !read(k)) continue;
    if (first < 0) first = k;
    count++;
  }
  if (first < 0) return;
  throw new Error(`${name} holds ${describeValue(data[first])} at ${position(first, dims)}${count > 1 ? ` and ${count - 1} more non-finite values` : ''}: `
    + 'non-finite inputs are refused (FlashMLA propagates NaN into every output row that reads one, so the check would say nothing about the kernel)');
}

/** Largest Euclidean norm of `rows` rows of width `d` (only the rows `read` says are read). */
function maxRowNorm(data: ArrayLike<number>, d: number, rows: number, read: (row: number) => boolean = () => true): number {
  let best = 0;
  for (let r = 0; r < rows; r++) {
    if (!read(r)) continue;
    let s = 0;
    for (let c = 0; c < d; c++) s += data[r * d + c] * data[r * d + c];
    best = Math.max(best, s);
  }
  return Math.sqrt(best);
}

/**
 * Refuse non-finite values and f32 overflow in the inputs (q, the read rows
 * of `kvRows`, the sink). `kvRows` is the cache as the kernels will read it
 * (for an FP8 file, its dequantised rows); with `kvHeads` > 1 (GQA,
 * mla/gqa.ts) it is [blocks, page, kvHeads, d_qk], every head of a read slot read.
 */
export function checkInputValues(inputs: MlaInputs, kvRows: Float32Array, names: InputNames, kvHeads = 1): void {
  const { shape, cache } = inputs;
  const d = shape.dQk;
  const page = shape.pageBlockSize;
  requireFinite(names.q, inputs.q, [shape.batch, shape.sQ, shape.hQ, d]);
  const readSlots = new Uint8Array(cache.numBlocks * page);
  for (let s = 0; s < readSlots.length; s++) readSlots[s] = cache.usedSlots[s];
  if (inputs.indices) for (const s of inputs.indices) if (s >= 0 && s < readSlots.length) readSlots[s] = 1;
  requireFinite(names.kvCache, kvRows, [cache.numBlocks, page, kvHeads, d], (k) => readSlots[Math.floor(k / (d * kvHeads))] === 1);
  if (inputs.sink && names.sink) requireFinite(names.sink, inputs.sink, [shape.hQ], () => true, true);
  const bound = maxRowNorm(inputs.q, d, shape.batch * shape.sQ * shape.hQ) * maxRowNorm(kvRows, d, readSlots.length * kvHeads, (r) => readSlots[Math.floor(r / kvHeads)] === 1) * softmaxScaleOf(shape);
  if (bound > F32_SCORE_LIMIT) {
    throw new Error(`${names.q} and ${names.kvCache}: scores can reach ${bound.toExponential(2)} (largest |q| x largest |k| x softmax scale), `
      + `beyond what f32 carries (about 3.4e38; the sandbox accepts up to ${F32_SCORE_LIMIT.toExponential(0)}): scale the inputs down`);
  }
}
