/** The prompt pipeline's report in words, one line a stage, and its verdict (prompt-pipeline.ts). */
import { INDEXER_FLOPS_PER_TOKEN } from '../mla/indexer-shape';
import { formatCheck } from '../reference/check';
import { fmtMs } from '../run/report';
import type { PromptReport } from './prompt-pipeline';

/** Indexer multiply-adds x 2 over a prompt: query token i scores the L - s_q + i + 1 tokens it sees. */
export function promptIndexerFlops(r: Pick<PromptReport, 'keys' | 'sQ'>): number {
  const seen = r.sQ * (r.keys - r.sQ) + (r.sQ * (r.sQ + 1)) / 2;
  return INDEXER_FLOPS_PER_TOKEN * seen;
}

export function describePrompt(r: PromptReport): string[] {
  const first = r.keys - r.sQ;
  const lines = [
    `prompt   query tokens ${first}..${r.keys - 1} of ${r.keys} (each sees the tokens up to its own), h_q ${r.hQ}, top-${r.topk}; cache ${r.layout}; kernel ${r.kernel}`,
    `chunks   ${r.chunks} of up to ${r.chunkTokens} query tokens (limited by ${r.chunkLimit}): indexer -> top-k -> sparse prefill in one submit each`,
    `checked  query tokens ${r.checkedTokens.map((t) => first + t).join(', ')} at every stage`,
    `indexer  ${formatCheck(r.indexer)}`,
    `top-k    ${r.topkCheck.pass ? 'PASS' : `FAIL (${r.topkCheck.wrongRows} rows; ${r.topkCheck.firstProblem})`}: the CPU's top-k of the same scores over the tokens each sees, as a set${r.topkCheck.tiedRows ? ` (${r.topkCheck.tiedRows} rows tied at the boundary)` : ''}`,
    `prefill  on the chosen indices: ${formatCheck(r.attention)}`,
  ];
  if (r.ms) {
    const m = r.ms;
    lines.push(`time     indexer ${fmtMs(m.indexer)} (${(promptIndexerFlops(r) / m.indexer / 1e6).toFixed(2)} GFLOP/s), top-k ${fmtMs(m.topk)}, sparse prefill ${fmtMs(m.attention)}; `
      + `all three in one submit a chunk ${fmtMs(m.pipeline)} (wall clock, the chunks summed)`);
  }
  return lines;
}

export function promptPasses(r: PromptReport): boolean {
  return r.indexer.pass && r.topkCheck.pass && r.attention.pass;
}
