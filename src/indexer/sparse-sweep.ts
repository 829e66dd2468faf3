/**
 * Dense against sparse over growing contexts: at each length L the same
 * cache is decoded densely and through indexer -> top-k -> sparse decode,
 * every stage checked and timed. The dense time grows with L; the sparse
 * decode's stays flat (it reads k keys), and the indexer's grows with L at a
 * seventeenth of the dense decode's FLOPs: the crossover is the first L at
 * which the indexer takes longer than the sparse decode it feeds.
 */
import type { GpuContext } from '../gpu/device';
import type { KernelChoice } from '../kernels/versions';
import type { KvFormat } from '../mla/kv-layout';
import { type PresetName, presetShape } from '../mla/shape';
import { generatesStraightIntoFormat } from '../run/run-size';
import { generateSparseCase, runSparsePipeline } from './sparse-pipeline';

export interface SparseSweepSpec {
  readonly preset: PresetName;
  readonly hQ: number;
  readonly sQ: number;
  readonly kvFormat: KvFormat;
  readonly kernel: KernelChoice;
  readonly topk: number;
  readonly seed: number;
  readonly lengths: readonly number[];
}

export interface SparseSweepRow {
  readonly keys: number;
  readonly indexerMs: number;
  readonly topkMs: number;
  readonly sparseMs: number;
  readonly pipelineMs: number;
  readonly denseMs: number;
  /** Every stage's check, the dense decode's too. */
  readonly pass: boolean;
}

export async function sweepSparse(ctx: GpuContext, spec: SparseSweepSpec, onRow?: (row: SparseSweepRow, done: number, total: number) => void): Promise<SparseSweepRow[]> {
  const rows: SparseSweepRow[] = [];
  for (const keys of spec.lengths) {
    const shape = presetShape(spec.preset, { hQ: spec.hQ, sQ: spec.sQ, seqlens: [keys] });
    const sc = generateSparseCase(shape, { seed: spec.seed, kvFormat: spec.kvFormat, straightIntoFormat: generatesStraightIntoFormat(shape) });
    const r = await runSparsePipeline(ctx, sc, { kernel: spec.kernel, kvFormat: spec.kvFormat, topk: spec.topk, time: true, timing: { warmup: 0, samples: 1 } });
    const ms = r.ms!;
    const row: SparseSweepRow = {
      keys, indexerMs: ms.indexer, topkMs: ms.topk, sparseMs: ms.sparse, pipelineMs: ms.pipeline, denseMs: ms.dense!,
      pass: r.indexer.check.pass && r.topkCheck.pass && r.sparse.pass && r.dense!.check.pass,
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

export function sparseSweepMarkdown(rows: readonly SparseSweepRow[]): string {
  const lines = ['| L | indexer ms | top-k ms | sparse decode ms | pipeline ms | dense ms | dense / pipeline | checks |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.keys} | ${r.indexerMs.toFixed(2)} | ${r.topkMs.toFixed(2)} | ${r.sparseMs.toFixed(2)} | ${r.pipelineMs.toFixed(2)} | ${r.denseMs.toFixed(2)} | ${(r.denseMs / r.pipelineMs).toFixed(2)}x | ${r.pass ? 'pass' : 'FAIL'} |`);
  }
  const x = indexerCrossover(rows);
  lines.push('', x === undefined ? 'The indexer stays under the sparse decode at every length here.' : `The indexer overtakes the sparse decode at L = ${x} (the first length swept where it takes longer).`);
  return lines.join('\n');
}
