/**
 * Dense against sparse over growing contexts: at each length L the same
 * cache is decoded densely and through indexer -> top-k -> sparse decode,
 * every stage checked and timed. The dense time grows with L; the sparse
 * decode's stays flat (it reads k keys), and the indexer's grows with L at a
 * seventeenth of the dense decode's FLOPs: the crossover is the first L at
 * which the indexer takes longer than the sparse decode it feeds. The CLI
 * runs it in `sparse --sweep` and `bench --long` (there the dense times come
 * from the long-context sweep's own points), the page in Compare.
 */
import type { GpuContext } from '../gpu/device';
import type { KernelChoice } from '../kernels/versions';
import type { KvFormat } from '../mla/kv-layout';
import { type MlaShape, type PresetName, presetShape } from '../mla/shape';
import type { ReferenceRunner } from '../run/run-attention';
import { generatesStraightIntoFormat } from '../run/run-size';
import { type SparseCase, type SparseCaseOptions, generateSparseCase, runSparsePipeline } from './sparse-pipeline';

export interface SparseSweepSpec {
  readonly preset: PresetName;
  readonly hQ: number;
  readonly sQ: number;
  readonly kvFormat: KvFormat;
  readonly kernel: KernelChoice;
  readonly topk: number;
  readonly seed: number;
  readonly lengths: readonly number[];
  /** Run and time the dense decode at each length too (default true). */
  readonly compareDense?: boolean;
}

/** How a sweep does its CPU work; the page moves it to Web Workers. */
export interface SparseSweepOptions {
  /** Generate a point's case (default: generateSparseCase, here). */
  readonly generate?: (shape: MlaShape, options: SparseCaseOptions) => Promise<SparseCase>;
  /** The dense decode's reference (default: the chunked reference, here). */
  readonly denseReference?: ReferenceRunner;
  readonly signal?: AbortSignal;
  readonly onStep?: (keys: number, step: string) => void;
}

export interface SparseSweepRow {
  readonly keys: number;
  readonly indexerMs: number;
  readonly topkMs: number;
  readonly sparseMs: number;
  readonly pipelineMs: number;
  /** Absent when the sweep leaves the dense decode out. */
  readonly denseMs?: number;
  /** Every stage's check, the dense decode's too. */
  readonly pass: boolean;
}

export async function sweepSparse(
  ctx: GpuContext, spec: SparseSweepSpec, onRow?: (row: SparseSweepRow, done: number, total: number) => void, options: SparseSweepOptions = {},
): Promise<SparseSweepRow[]> {
  const rows: SparseSweepRow[] = [];
  const generate = options.generate ?? (async (shape: MlaShape, o: SparseCaseOptions) => generateSparseCase(shape, o));
  for (const keys of spec.lengths) {
    options.signal?.throwIfAborted();
    const shape = presetShape(spec.preset, { hQ: spec.hQ, sQ: spec.sQ, seqlens: [keys] });
    options.onStep?.(keys, 'generating the cache and the indexer\'s inputs');
    const sc = await generate(shape, { seed: spec.seed, kvFormat: spec.kvFormat, straightIntoFormat: generatesStraightIntoFormat(shape) });
    const r = await runSparsePipeline(ctx, sc, {
      kernel: spec.kernel, kvFormat: spec.kvFormat, topk: spec.topk, time: true, timing: { warmup: 0, samples: 1 }, compareDense: spec.compareDense,
      denseReference: options.denseReference, signal: options.signal, onStep: (step) => options.onStep?.(keys, step),
    });
    const ms = r.ms!;
    const row: SparseSweepRow = {
      keys, indexerMs: ms.indexer, topkMs: ms.topk, sparseMs: ms.sparse, pipelineMs: ms.pipeline, denseMs: ms.dense,
      pass: r.indexer.check.pass && r.topkCheck.pass && r.sparse.pass && (r.dense?.check.pass ?? true),
    };
    rows.push(row);
    onRow?.(row, rows.length, spec.lengths.length);
  }
  return rows;
}

/** The first length at which the indexer takes longer than the sparse decode, if any. */
export function indexerCrossover(rows: readonly SparseSweepRow[]): number | undefined {
  return rows.find((r) => r.indexerMs > r.sparseMs)?.keys;
}

/** One point in a line, for progress. */
export function sparseRowLine(r: SparseSweepRow): string {
  return `L ${r.keys}: pipeline ${r.pipelineMs.toFixed(2)} ms (indexer ${r.indexerMs.toFixed(2)}, top-k ${r.topkMs.toFixed(2)}, sparse decode ${r.sparseMs.toFixed(2)})`
    + `${r.denseMs === undefined ? '' : `, dense ${r.denseMs.toFixed(2)} ms`}${r.pass ? '' : ' FAIL'}`;
}

/** The sweep's table columns, shared by the Markdown report and the page's table. */
export const SPARSE_SWEEP_HEAD = ['L', 'indexer ms', 'top-k ms', 'sparse decode ms', 'pipeline ms', 'dense ms', 'dense / pipeline', 'checks'] as const;

/** One row's cells, in SPARSE_SWEEP_HEAD's order. */
export function sparseSweepCells(r: SparseSweepRow): string[] {
  const dense = r.denseMs === undefined ? ['-', '-'] : [r.denseMs.toFixed(2), `${(r.denseMs / r.pipelineMs).toFixed(2)}x`];
  return [String(r.keys), r.indexerMs.toFixed(2), r.topkMs.toFixed(2), r.sparseMs.toFixed(2), r.pipelineMs.toFixed(2), ...dense, r.pass ? 'pass' : 'FAIL'];
}

/** Where the indexer overtakes the sparse decode, in a sentence. */
export function crossoverSentence(rows: readonly SparseSweepRow[]): string {
  const x = indexerCrossover(rows);
  return x === undefined ? 'The indexer stays under the sparse decode at every length here.' : `The indexer overtakes the sparse decode at L = ${x} (the first length swept where it takes longer).`;
}

export function sparseSweepMarkdown(rows: readonly SparseSweepRow[]): string {
  const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [row(SPARSE_SWEEP_HEAD), row(SPARSE_SWEEP_HEAD.map(() => '---')), ...rows.map((r) => row(sparseSweepCells(r))), '', crossoverSentence(rows)].join('\n');
}
