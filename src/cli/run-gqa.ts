/**
 * `run` with several KV heads (GQA, mla/gqa.ts): generated (`--h-kv N` beside
 * the shape flags) or from a cache file [blocks, page, h_kv, d_qk]; checked
 * and timed as every run is, reported with the call's shape and the MQA form
 * that ran (run/gqa-run.ts).
 */
import { type FlagValues, intFlag, seedFromFlags, shapeFromFlags } from '../run/run-options';
import { type GqaCall, MAX_KV_HEADS, generateGqaCall } from '../mla/gqa';
import { fmtBytes } from '../mla/shape';
import { cliMemoryBudget } from './memory-budget';

/** A generated GQA call for the shape flags and --h-kv; its host memory checked first. */
export function gqaFromFlags(v: FlagValues): GqaCall {
  const shape = shapeFromFlags(v);
  const hKv = intFlag('h-kv', v['h-kv'], 1, MAX_KV_HEADS)!;
  if (shape.topk > 0) throw new Error(`--h-kv ${hKv} with --topk ${shape.topk}: a sparse call takes one KV head (FlashMLA's sparse calls have h_kv = 1)`);
  if (shape.hQ % hKv !== 0) throw new Error(`--h-kv ${hKv} is not allowed with --h-q ${shape.hQ}: h_q must be a multiple of h_kv (each KV head is read by h_q / h_kv query heads)`);
  // The cache three times over (the call's rows, the head-by-head copy, the rows the reference reads), f32; pages rounded up, two spare.
  const pages = shape.seqlens.reduce((a, l) => a + Math.ceil(l / shape.pageBlockSize), 2);
  const bytes = 3 * 4 * pages * shape.pageBlockSize * hKv * shape.dQk;
  const budget = cliMemoryBudget();
  if (bytes > budget.bytes) throw new Error(`--h-kv ${hKv}: the cache needs about ${fmtBytes(bytes)} on the host (its rows, the head-by-head copy the kernels read, the reference's), over the ${fmtBytes(budget.bytes)} ${budget.where}: make --seqlens or --h-kv smaller`);
  return generateGqaCall(shape, hKv, seedFromFlags(v));
}
