/** Your own indexer tensors from the command line (`sparse` and `prefill --indexer`): --index-q, --index-k, --index-weights, together. */
import { readNpyFile } from './read-npy';
import type { FlagValues } from '../run/run-options';
import type { IndexerArrays } from '../indexer/indexer-inputs';

export const INDEX_FILES = ['index-q', 'index-k', 'index-weights'] as const;

/** The three files as arrays, or undefined when none is given; one or two alone are refused. */
export function indexerArraysFromFlags(v: FlagValues, given: ReadonlySet<string>): IndexerArrays | undefined {
  const files = INDEX_FILES.filter((f) => given.has(f));
  if (files.length === 0) return undefined;
  if (files.length < INDEX_FILES.length) throw new Error(`your own indexer tensors go together: ${INDEX_FILES.filter((f) => !given.has(f)).map((f) => `--${f}`).join(', ')} missing`);
  const name = (f: string) => `--${f} ${v[f] as string}`;
  return {
    q: readNpyFile('index-q', v['index-q'] as string), k: readNpyFile('index-k', v['index-k'] as string), weights: readNpyFile('index-weights', v['index-weights'] as string),
    names: { q: name('index-q'), k: name('index-k'), weights: name('index-weights') },
  };
}
