/**
 * What an attempt's wrong result looks like, computed from the comparison
 * with the reference, never written per exercise.
 *
 * compareTensor compares one tensor of one case: the first wrong element
 * (expected, got, where), NaN where the reference has a number, and how the
 * wrong values relate to the right ones (one factor for all, a factor per
 * row, only some requests). diagnose then reads the cases together: which
 * tags (exercise-cases.ts) every failing case has and no passing case has.
 */
import { lseTolerance, TOLERANCE } from '../reference/check';
import type { CaseTag } from './exercise-cases';

export type TensorName = 'scores' | 'out' | 'lse' | 'indices';

/** A tensor's dims, outermost first, with the name of each; the last is a row's length (1 for lse). */
export interface TensorDims {
  readonly names: readonly string[];
  readonly sizes: readonly number[];
}

export interface WrongElement {
  readonly tensor: TensorName;
  readonly index: number;
  /** Position per dim, e.g. [b, i, h, c]. */
  readonly at: readonly number[];
  readonly names: readonly string[];
  readonly expected: number;
  readonly got: number;
  /** What is wrong, in words, where no single expected value says it (a top-k row's choice). */
  readonly note?: string;
}

export interface TensorComparison {
  readonly tensor: TensorName;
  readonly pass: boolean;
  readonly wrong: number;
  readonly total: number;
  /** The first element (in memory order) beyond the tolerance. */
  readonly firstWrong?: WrongElement;
  /** Elements that are inf or NaN where the reference has a finite number. */
  readonly nonFiniteWhereFinite: number;
  /** Every compared value is this factor times the reference's (one factor for all, not 1). */
  readonly factor?: number;
  /** Each row is its own factor times the reference's row, the factors differing: [smallest, largest]. */
  readonly rowFactors?: readonly [number, number];
  /** The requests (the 'b' dim) with a wrong element, when the tensor has one. */
  readonly wrongRequests: readonly number[];
  readonly requests: number;
}

/** The score of a key that is not read: any value at or below this counts as "not read". */
const MASKED_BELOW = -1e38;

function positionOf(index: number, sizes: readonly number[]): number[] {
  const at: number[] = [];
  let rest = index;
  for (let d = sizes.length - 1; d >= 0; d--) {
    at.unshift(rest % sizes[d]);
    rest = Math.floor(rest / sizes[d]);
  }
  return at;
}

/** Least-squares factor c of got ~ c * expected over the given pairs, and how well it fits (max |got - c e| / max |e|). */
function fitFactor(pairs: readonly (readonly [number, number])[]): { c: number; misfit: number } | undefined {
  let ge = 0;
  let ee = 0;
  let maxE = 0;
  for (const [g, e] of pairs) { ge += g * e; ee += e * e; maxE = Math.max(maxE, Math.abs(e)); }
  if (ee === 0 || maxE === 0) return undefined;
  const c = ge / ee;
  let misfit = 0;
  for (const [g, e] of pairs) misfit = Math.max(misfit, Math.abs(g - c * e));
  return { c, misfit: misfit / maxE };
}

/** How close a fit must be to call the error "a factor", and how far from 1 the factor must be. */
const FACTOR_FIT = 1e-3;
const FACTOR_OFF = 1e-3;

export function compareTensor(tensor: TensorName, got: ArrayLike<number>, expected: ArrayLike<number>, dims: TensorDims): TensorComparison {
  const total = dims.sizes.reduce((a, b) => a * b, 1);
  if (got.length < total || expected.length !== total) throw new Error(`${tensor}: ${got.length} values computed, ${expected.length} in the reference, ${total} in its dims`);
  let maxRef = 0;
  for (let k = 0; k < total; k++) if (Number.isFinite(expected[k]) && expected[k] > MASKED_BELOW) maxRef = Math.max(maxRef, Math.abs(expected[k]));
  const bDim = dims.names.indexOf('b');
  const rowLength = dims.sizes[dims.sizes.length - 1];
  const wrongRequests = new Set<number>();
  let wrong = 0;
  let nonFiniteWhereFinite = 0;
  let firstWrong: WrongElement | undefined;
  const pairs: [number, number][] = [];
  const rows = new Map<number, [number, number][]>();
  for (let k = 0; k < total; k++) {
    const g = got[k];
    const e = expected[k];
    let ok: boolean;
    if (tensor === 'scores' && e <= MASKED_BELOW) ok = g <= MASKED_BELOW; // a key not read: any huge negative
    else if (!Number.isFinite(e)) ok = Object.is(g, e) || (Number.isNaN(e) && Number.isNaN(g));
    else if (!Number.isFinite(g)) { ok = false; nonFiniteWhereFinite++; }
    else {
      const tol = tensor === 'lse' ? lseTolerance(e) : TOLERANCE.outRelToMaxRef * maxRef + 1e-30;
      ok = Math.abs(g - e) <= tol;
      pairs.push([g, e]);
      const row = Math.floor(k / rowLength);
      if (!rows.has(row)) rows.set(row, []);
      rows.get(row)!.push([g, e]);
    }
    if (ok) continue;
    wrong++;
    const at = positionOf(k, dims.sizes);
    if (bDim >= 0) wrongRequests.add(at[bDim]);
    firstWrong ??= { tensor, index: k, at, names: dims.names, expected: e, got: g };
  }
  const pass = wrong === 0;
  let factor: number | undefined;
  let rowFactors: [number, number] | undefined;
  if (!pass && nonFiniteWhereFinite === 0 && tensor !== 'lse') {
    const all = fitFactor(pairs);
    if (all && all.misfit < FACTOR_FIT && Math.abs(all.c - 1) > FACTOR_OFF) factor = all.c;
    else if (rowLength > 1) {
      const fits = [...rows.values()].map(fitFactor).filter((f) => f !== undefined);
      if (fits.length > 1 && fits.every((f) => f.misfit < FACTOR_FIT)) {
        const cs = fits.map((f) => f.c);
        const lo = Math.min(...cs);
        const hi = Math.max(...cs);
        // A row of zeros fits a factor of 0: output missing, not a row left unnormalised.
        if (hi - lo > FACTOR_OFF && lo > FACTOR_OFF) rowFactors = [lo, hi];
      }
    }
  }
  return {
    tensor, pass, wrong, total, firstWrong, nonFiniteWhereFinite, factor, rowFactors,
    wrongRequests: [...wrongRequests].sort((a, b) => a - b), requests: bDim >= 0 ? dims.sizes[bDim] : 1,
  };
}

/** "out[b 0, i 1, h 3, c 17]: expected 0.1234, got 0.4567" */
export function formatWrong(w: WrongElement): string {
  const where = w.at.map((v, k) => `${w.names[k]} ${v}`).join(', ');
  if (w.note !== undefined) return `${w.tensor}[${where}]: ${w.note}`;
  const num = (x: number) => (Number.isFinite(x) ? x.toPrecision(6) : String(x));
  return `${w.tensor}[${where}]: expected ${num(w.expected)}, got ${num(w.got)}`;
}

export interface CaseOutcome {
  readonly name: string;
  readonly tags: readonly CaseTag[];
  /** Keys each request's rows read (its seqlen, or topk), when known: a request right only because it is short is not "one request". */
  readonly requestKeys?: readonly number[];
  readonly tensors: readonly TensorComparison[];
}

export function casePasses(c: CaseOutcome): boolean {
  return c.tensors.every((t) => t.pass);
}

export type DiagnosisKind =
  | 'nan' | 'scale' | 'normalisation' | 'first-tile' | 'large-logits' | 'skipped-keys' | 'empty-row' | 'empty-split' | 'sink'
  | 'key-width' | 'model-layout' | 'block-size' | 'ties' | 'short-rows' | 'negative-scores' | 'query-tokens' | 'one-request' | 'lse-only'
  | 'wrong-values';

export interface Diagnosis {
  readonly kind: DiagnosisKind;
  readonly message: string;
}

/** What a tag shared by every failing case (and no passing one) says about the mistake. */
const TAG_DIAGNOSES: Partial<Record<CaseTag, { kind: DiagnosisKind; message: string }>> = {
  'large-logits': { kind: 'large-logits', message: 'wrong only for large logits: subtract the row\'s max before exp (exp overflows f32 past 88, exp2 past 128)' },
  'multi-tile': { kind: 'first-tile', message: 'right while a row\'s keys fit in one tile, wrong past it: when the running max grows, what was summed before (the sum and the output) must be rescaled by exp2(m_old - m_new)' },
  'skipped-keys': { kind: 'skipped-keys', message: 'wrong only where keys are skipped: an index of -1 or past the cache names no key and must be left out (and unused cache slots hold NaN)' },
  'empty-row': { kind: 'empty-row', message: 'wrong only on a row with no key: its out must be 0 and its lse +inf (FlashMLA\'s rule)' },
  'empty-split': { kind: 'empty-split', message: 'wrong only when a split has no key: its partial lse is -3e38 and its weight must come out 0' },
  sink: { kind: 'sink', message: 'wrong only with an attention sink: out is multiplied by 1 / (1 + exp(sink[h] - lse)), the lse is left as it is' },
  'query-tokens': { kind: 'query-tokens', message: 'wrong only where a request has several query tokens: a row is (request b, query token i), and token i has keys of its own (the causal count seqlen - s_q + i + 1, its own indices)' },
  model1: { kind: 'model-layout', message: 'wrong only on MODEL1\'s shape (d_qk 512: 448 latent values in 7 FP8 tiles of 64 with a one-byte ue8m0 scale each, then 64 RoPE), right on V3.2\'s (512 latent in 4 tiles of 128 with f32 scales, then 64 RoPE): a size or offset of one model\'s layout written as a number instead of its constant (D_NOPE, QUANT_TILE, D_QK)' },
  'wide-score-block': { kind: 'block-size', message: 'right with an 8 x 8 score block, wrong with 16 x 16: a block of SCORE_KEYS 16 keys has four strips (k0 .. k3), SCORE_HEADS 16 heads four pieces a piece (pieces = SCORE_HEADS / 4)' },
  ties: { kind: 'ties', message: 'wrong only where many tokens share the k-th largest score: the order of equal scores must stay equal (the same key for the same float), so that the select counts them in one bin' },
  'short-rows': { kind: 'short-rows', message: 'wrong only where a row sees fewer tokens than k: it chooses every token it sees and pads with -1' },
  'negative-scores': { kind: 'negative-scores', message: 'wrong only where the scores chosen are negative: a negative f32\'s bits grow as its value falls (sign and magnitude), so its key must reverse them: flip every bit of a negative, only the sign bit of a positive' },
  'narrow-value': { kind: 'key-width', message: 'wrong only where the value is narrower than the key (V3.2: d_qk 576, d_v 512), right where they are equal (MODEL1, 512): the key\'s width D_QK and the value\'s D_V are swapped somewhere' },
};

/** Tags with a diagnosis, in the order preferred when several fit on as many cases. */
const TAG_ORDER: readonly CaseTag[] = [
  'large-logits', 'multi-tile', 'empty-split', 'empty-row', 'skipped-keys', 'sink', 'wide-score-block', 'narrow-value', 'model1', 'negative-scores', 'ties',
  'short-rows', 'query-tokens',
];

/** Pairs of tags that explain the failures together and neither alone. */
function twoTagCover(cases: readonly CaseOutcome[], failing: readonly CaseOutcome[]): [CaseTag, CaseTag][] {
  const pairs: [CaseTag, CaseTag][] = [];
  TAG_ORDER.forEach((a, k) => TAG_ORDER.slice(k + 1).forEach((b) => {
    const has = (c: CaseOutcome) => c.tags.includes(a) || c.tags.includes(b);
    const neither = cases.filter((c) => !has(c));
    const onlyA = failing.some((c) => c.tags.includes(a) && !c.tags.includes(b));
    const onlyB = failing.some((c) => c.tags.includes(b) && !c.tags.includes(a));
    if (neither.length > 0 && neither.every(casePasses) && failing.every(has) && onlyA && onlyB) pairs.push([a, b]);
  }));
  return pairs;
}

/**
 * The diagnosis of an attempt from its cases' comparisons: the most specific
 * first. Empty when every case passes.
 */
export function diagnose(cases: readonly CaseOutcome[]): Diagnosis[] {
  const failing = cases.filter((c) => !casePasses(c));
  if (failing.length === 0) return [];
  const passing = cases.filter(casePasses);
  const found: Diagnosis[] = [];
  const names = (cs: readonly CaseOutcome[]) => cs.map((c) => `"${c.name}"`).join(', ');
  const tensors = failing.flatMap((c) => c.tensors.filter((t) => !t.pass).map((t) => ({ c, t })));

  const nan = tensors.find(({ t }) => t.nonFiniteWhereFinite > 0);
  if (nan) {
    const first = nan.t.firstWrong!;
    found.push({ kind: 'nan', message: `NaN or inf where the reference has a number (${nan.t.nonFiniteWhereFinite} values in case "${nan.c.name}", first ${formatWrong(first)}): an exp that overflowed, a division by a zero sum, or a read of a slot no key is in (the cache's unused slots hold NaN)` });
  }
  // A tag every failing case has, where every case without it passes (one with it may pass too: a long row
  // whose max is in its first tile needs no rescale); of several, the one on the fewest cases says most.
  const tagged = (tag: CaseTag) => cases.filter((c) => c.tags.includes(tag)).length;
  const fitting = TAG_ORDER.filter((tag) => {
    const without = cases.filter((c) => !c.tags.includes(tag));
    return without.length > 0 && without.every(casePasses) && failing.every((c) => c.tags.includes(tag));
  }).sort((a, b) => tagged(a) - tagged(b) || TAG_ORDER.indexOf(a) - TAG_ORDER.indexOf(b));
  if (fitting.length > 0) {
    const d = TAG_DIAGNOSES[fitting[0]]!;
    found.push({ kind: d.kind, message: `${d.message} (fails: ${names(failing)}; passes: ${names(passing)})` });
  } else {
    // Two mistakes at once: two tags that between them hold every failing case, each needed, every other case passing.
    const pair = twoTagCover(cases, failing).sort((a, b) => tagged(a[0]) + tagged(a[1]) - tagged(b[0]) - tagged(b[1]))[0];
    for (const tag of pair ?? []) {
      const d = TAG_DIAGNOSES[tag]!;
      found.push({ kind: d.kind, message: `${d.message} (fails: ${names(failing.filter((c) => c.tags.includes(tag)))}; one of two mistakes: the other failing cases have another cause)` });
    }
  }
  // Each failing tensor one factor off (the factor may differ between shapes: the softmax scale is 1 / sqrt(d_qk)).
  if (tensors.every(({ t }) => t.factor !== undefined)) {
    const byFactor = new Map<string, string[]>();
    for (const { c, t } of tensors) {
      const key = `${t.factor!.toPrecision(4)} (1 / ${(1 / t.factor!).toPrecision(4)})`;
      byFactor.set(key, [...(byFactor.get(key) ?? []), c.name]);
    }
    const shown = [...byFactor].map(([f, cs]) => `${f} in ${cs.length === 1 ? `case "${cs[0]}"` : `${cs.length} cases`}`);
    found.push({ kind: 'scale', message: `off by a constant factor: every ${tensors[0].t.tensor} value is the reference's times ${shown.join(', ')}: a scale left out, applied twice, or the wrong one` });
  }
  const rowScaled = tensors.filter(({ t }) => t.rowFactors !== undefined);
  if (rowScaled.length > 0 && !found.some((d) => d.kind === 'scale')) {
    const [lo, hi] = rowScaled[0].t.rowFactors!;
    found.push({ kind: 'normalisation', message: `each row is right up to a factor of its own (${lo.toPrecision(3)} to ${hi.toPrecision(3)} times the reference in case "${rowScaled[0].c.name}"): the rows are not normalised; a row's probabilities must sum to one (subtract the lse, or divide by the row's sum)` });
  }
  // Some requests right and others wrong in a case, where their lengths do not explain it (a mistake that
  // shows on long rows only leaves a short request right: that is not about which request it is).
  const partial = failing.flatMap((c) => {
    const requests = Math.max(...c.tensors.map((t) => t.requests));
    const wrongs = [...new Set(c.tensors.flatMap((t) => t.wrongRequests))].sort((a, b) => a - b);
    if (requests < 2 || wrongs.length === 0 || wrongs.length === requests) return [];
    const keys = c.requestKeys;
    const rights = Array.from({ length: requests }, (_, b) => b).filter((b) => !wrongs.includes(b));
    const byLength = keys !== undefined && Math.max(...rights.map((b) => keys[b])) < Math.min(...wrongs.map((b) => keys[b]));
    return byLength ? [] : [{ c, wrongs, requests }];
  })[0];
  if (partial) {
    found.push({ kind: 'one-request', message: `wrong only on request${partial.wrongs.length > 1 ? 's' : ''} ${partial.wrongs.join(', ')} of ${partial.requests} (case "${partial.c.name}"): look at how a request's row, length or block table is found` });
  }
  if (failing.every((c) => c.tensors.every((t) => t.pass || t.tensor === 'lse'))) {
    const lse = tensors.find(({ t }) => t.tensor === 'lse')!;
    found.push({ kind: 'lse-only', message: `out is right but the lse is not (case "${lse.c.name}", ${formatWrong(lse.t.firstWrong!)}): lse = m + log(sum of exp(s - m)), a natural log, written as f32 bits` });
  }
  if (found.length === 0) {
    found.push({ kind: 'wrong-values', message: 'wrong values that look like no scale, normalisation or NaN: compare your formula with the statement term by term, on the first wrong element' });
  }
  return found;
}
