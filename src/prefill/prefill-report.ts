/** Plain-text and JSON forms of a prefill report (prefill-run.ts). */
import { fmtBytes } from '../mla/shape';
import { describeIndexCounts } from '../mla/index-counts';
import { formatCheck } from '../reference/check';
import { describePlan, fmtMs, fmtRate } from '../run/report';
import { matmulFormName } from '../timing/plain-matmul';
import type { PrefillCall } from './prefill-call';
import type { PrefillReport } from './prefill-run';

/** "s_q 4096, h_q 64, topk 2048 over a flat cache of 65536 tokens (d_qk 512 = 448+64, d_v 512, sink)" */
export function describePrefillCall(c: PrefillCall): string {
  const cache = c.flat ? `a flat cache of ${c.numBlocks * c.pageSize} tokens` : `a paged cache of ${c.numBlocks} pages of ${c.pageSize} tokens`;
  return `s_q ${c.sQ}, h_q ${c.hQ}, topk ${c.topk} over ${cache} (d_qk ${c.dims.dQk} = ${c.dims.dNope}+${c.dims.dRope}, d_v ${c.dims.dV}${c.sink ? ', sink' : ''}${c.softmaxScale !== undefined ? `, scale ${c.softmaxScale}` : ''})`;
}

/** The checked tokens, shortened: "0, 132, 264, ..., 4095 (32 of 4096)". */
function listTokens(tokens: readonly number[], sQ: number): string {
  const shown = tokens.length > 8 ? `${tokens.slice(0, 4).join(', ')}, ..., ${tokens.slice(-2).join(', ')}` : tokens.join(', ');
  return `${shown} (${tokens.length} of ${sQ})`;
}

/** The prefill's GFLOP/s over the plain matmul's, timed between its chunks. */
export function yardstickShare(r: PrefillReport): number | undefined {
  return r.throughput && r.yardstick ? r.throughput.gflops / r.yardstick.gflops : undefined;
}

export function describePrefill(call: PrefillCall, r: PrefillReport): string[] {
  const lines = [
    `prefill  ${describePrefillCall(call)}`,
    `kernel   ${r.version.id} ${r.version.name}${r.config.kernel === 'flash' ? ' (the best version for this device)' : ''} on a ${r.layout.name} cache (${r.layout.bytesPerToken} B/token): ${describePlan(r.plan)}`,
    `chunks   ${r.chunks} of up to ${r.chunkTokens} query tokens (limited by ${r.chunkLimit}), one request per query token; the cache (${fmtBytes((r.layout.pageStride * call.numBlocks))}) uploaded once`,
    `indices  ${describeIndexCounts(r.indices)}`,
    `check    ${formatCheck(r.check)}`,
    `checked  query tokens ${listTokens(r.checkedTokens, call.sQ)}, every head, f64 (positions b above are query tokens)`,
  ];
  if (r.timing && r.throughput) {
    const t = r.throughput;
    lines.push(`time     ${fmtMs(r.timing.ms)} over ${r.chunks} chunk${r.chunks > 1 ? 's' : ''} (${r.timing.method}; each chunk the median of ${r.timing.samples} run${r.timing.samples > 1 ? 's' : ''} after a first)`);
    lines.push(`speed    ${fmtRate(t.gflops)} GFLOP/s, ${fmtRate(t.gbps)} GB/s; ${(100 * t.rooflineFraction).toFixed(1)} % of the roofline bound (${t.boundBy}-bound)`);
    lines.push(`work     ${(r.work.flops / 1e9).toFixed(1)} GFLOP (FlashMLA's count: 2 x s_q x h_q x topk x (d_qk + d_v)), ${fmtBytes(r.work.bytes)}`);
  }
  if (r.ceilings && r.yardstick) {
    const y = r.yardstick;
    const share = yardstickShare(r);
    const range = y.timings.length > 1 ? `, from ${fmtRate(Math.min(...y.timings))} to ${fmtRate(Math.max(...y.timings))}` : '';
    lines.push(`ceilings FMA ${fmtRate(r.ceilings.ceilings.fmaGflops)} GFLOP/s, copy ${fmtRate(r.ceilings.ceilings.copyGBps)} GB/s (measured before the prompt)`);
    lines.push(`yardstick plain matmul ${fmtRate(y.gflops)} GFLOP/s (${matmulFormName(y.form)}; the median of ${y.timings.length} timing${y.timings.length > 1 ? 's' : ''}, before the prompt and after each chunk${range})`
      + (share !== undefined ? `: the prefill reaches ${(100 * share).toFixed(1)} % of it` : ''));
  }
  return lines;
}

/** The report without its large arrays, for --json. */
export function prefillJson(call: PrefillCall, r: PrefillReport): Record<string, unknown> {
  const { output: _o, ceilings, ...rest } = r;
  return {
    call: { dims: call.dims, sQ: call.sQ, hQ: call.hQ, topk: call.topk, flat: call.flat, pageSize: call.pageSize, numBlocks: call.numBlocks, sink: call.sink !== undefined, softmaxScale: call.softmaxScale ?? null },
    ...rest, ceilings: ceilings?.ceilings, yardstickShare: yardstickShare(r) ?? null,
  };
}
