/**
 * The Learn view's small case of sparse attention: a short cache with a few
 * planted tokens, the indexer's scores in f64 (its reference, on the FP8
 * values), the top-k each query token keeps, and how many planted tokens
 * were kept. All on the CPU, so the view works without WebGPU.
 */
import { generateIndexerInputs } from './indexer-inputs';
import { indexerReference } from './indexer-reference';

export interface IndexerLearnCase {
  readonly keys: number;
  readonly sQ: number;
  readonly k: number;
  readonly planted: readonly number[];
  /** scores[i][t]; -Infinity where query token i does not see token t. */
  readonly scores: readonly (readonly number[])[];
  /** The tokens each query token keeps, best first. */
  readonly chosen: readonly (readonly number[])[];
  readonly found: number;
  readonly of: number;
}

export function indexerLearnCase(keys = 96, sQ = 4, k = 12, planted: readonly number[] = [9, 40, 77], seed = 0): IndexerLearnCase {
  const inp = generateIndexerInputs(keys, sQ, { seed, planted, pageBlockSize: 16 });
  const flat = indexerReference(inp);
  const scores = Array.from({ length: sQ }, (_, i) => Array.from(flat.subarray(i * keys, (i + 1) * keys)));
  const chosen = scores.map((row) => row.map((s, t) => ({ s, t })).filter((x) => Number.isFinite(x.s))
    .sort((a, b) => b.s - a.s || a.t - b.t).slice(0, k).map((x) => x.t));
  const found = chosen.reduce((n, row) => n + planted.filter((t) => row.includes(t)).length, 0);
  return { keys, sQ, k, planted, scores, chosen, found, of: planted.length * sQ };
}
