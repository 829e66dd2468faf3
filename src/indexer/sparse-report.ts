/**
 * The pipeline's report in words, one line a stage (the CLI prints it, the
 * Run view shows it), and its verdict: every stage's check, the dense
 * decode's, and, when k >= L, the sparse output equal to the dense one.
 */
import { INDEXER_FLOPS_PER_TOKEN } from '../mla/indexer-shape';
import { formatCheck } from '../reference/check';
import { describeIndexCounts } from '../mla/index-counts';
import type { SparseReport } from './sparse-pipeline';

export function describeSparse(r: SparseReport): string[] {
  const lines = [
    `sparse   L ${r.keys}, s_q ${r.sQ}, h_q ${r.hQ}, top-${r.topk}; cache ${r.layout}; kernel ${r.kernel}`,
    `indexer  ${r.indexer.tokens} tokens against f64 ${formatCheck(r.indexer.check)}`,
    `top-k    ${r.topkCheck.pass ? 'PASS' : `FAIL (${r.topkCheck.wrongRows} rows; ${r.topkCheck.firstProblem})`}: the CPU's top-k of the same scores, as a set${r.topkCheck.tiedRows ? ` (${r.topkCheck.tiedRows} rows tied at the boundary: any tied token may be chosen)` : ''}`,
    `indices  ${describeIndexCounts(r.indices)}`,
  ];
  if (r.recall) lines.push(`recall   ${r.recall.found} of ${r.recall.of} planted (${r.recall.planted} tokens x ${r.sQ} query tokens) chosen`);
  lines.push(`decode   sparse, on the chosen indices${r.extra ? ` and the extra cache's ${r.extra.topk} per query token (${r.extra.tokens} slots), one softmax` : ''}: ${formatCheck(r.sparse)}`);
  if (r.dense) {
    lines.push(`dense    ${formatCheck(r.dense.check)}`);
    const e = r.dense.sparseError;
    if (e) lines.push(`sparsity the sparse output against the dense reference: ${r.topk >= r.keys ? formatCheck(e) : `off by ${e.maxRelErr.toExponential(2)} of max |ref|, cosine difference ${e.cosineDiff.toExponential(2)} (top-${r.topk} of ${r.keys})`}`);
  }
  if (r.ms) {
    const m = r.ms;
    const gflops = (INDEXER_FLOPS_PER_TOKEN * r.keys * r.sQ) / m.indexer / 1e6;
    lines.push(`time     indexer ${m.indexer.toFixed(2)} ms (${gflops.toFixed(2)} GFLOP/s), top-k ${m.topk.toFixed(2)} ms (${((100 * m.topk) / m.indexer).toFixed(1)} % of the indexer), sparse decode ${m.sparse.toFixed(2)} ms; all three in one submit ${m.pipeline.toFixed(2)} ms`);
    if (m.dense !== undefined) lines.push(`time     dense decode ${m.dense.toFixed(2)} ms: the pipeline is ${(m.dense / m.pipeline).toFixed(2)}x ${m.dense > m.pipeline ? 'faster' : 'slower'}`);
  }
  return lines;
}

export function sparsePasses(r: SparseReport): boolean {
  return r.indexer.check.pass && r.topkCheck.pass && r.sparse.pass && (r.dense ? r.dense.check.pass && (r.topk < r.keys || (r.dense.sparseError?.pass ?? true)) : true);
}
