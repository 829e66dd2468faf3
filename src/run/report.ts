/**
 * Plain-text and JSON forms of a kernel report and of the device, shared by
 * the CLI and the page's export.
 */
import { CACHE_ROWS_LABEL, type KernelPlan, type KeyReads } from '../kernels/kernel-plan';
import { type MlaShape, fmtBytes, softmaxScaleOf } from '../mla/shape';
import type { KernelReport } from './run-attention';
import type { GpuContext } from '../gpu/device';
import { describeAdapter } from '../gpu/device';
import type { RooflineMeasurement } from '../timing/roofline';
import type { ReadCost } from '../timing/read-cost';
import { type PlainMatmul, matmulFormName } from '../timing/plain-matmul';
import type { TimingResult } from '../timing/timer';
import { formatCheck } from '../reference/check';
import { describeIndexCounts } from '../mla/index-counts';
import type { AttentionResult } from '../reference/reference';
import { REFERENCE_BUDGET } from '../reference/reference-chunked';

export function describeShape(s: MlaShape): string {
  const listed = s.seqlens.length > 6 ? `${s.seqlens.slice(0, 6).join(',')},...` : s.seqlens.join(',');
  const seq = s.topk > 0 && s.seqlens.every((l) => l === 0) ? 'none (the indices name the keys)' : listed;
  return `d_qk ${s.dQk} (${s.dNope}+${s.dRope}), d_v ${s.dV}, h_q ${s.hQ}, s_q ${s.sQ}${s.sQ > 1 ? (s.causal ? ' causal' : ' non-causal') : ''}, `
    + `batch ${s.batch}, seqlens ${seq}, page ${s.pageBlockSize}${s.topk > 0 ? `, topk ${s.topk}` : ''}${s.attentionSink ? ', sink' : ''}, scale ${softmaxScaleOf(s).toPrecision(4)}`;
}

/** 3 significant digits, no exponent for ordinary sizes. */
export function fmtRate(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 0.001 ? x.toPrecision(3) : x.toExponential(2);
}

export function fmtMs(ms: number): string {
  if (ms >= 2 * 86_400_000) return `${(ms / 86_400_000).toFixed(1)} days`;
  if (ms >= 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1e3).toFixed(1)} us`;
}

export function describeTiming(t: TimingResult): string {
  return `median ${fmtMs(t.medianMs)} (min ${fmtMs(t.minMs)}, p90 ${fmtMs(t.p90Ms)}; ${t.samplesMs.length} samples x ${t.iterations} iterations, ${t.method})`;
}

export function describeRoofline(r: RooflineMeasurement): string[] {
  return [
    `copy bandwidth   ${fmtRate(r.copyGBps)} GB/s   (${fmtBytes(r.copyBytes)} streamed; ${describeTiming(r.copy)})`,
    `FMA throughput   ${fmtRate(r.fmaGflops)} GFLOP/s (${r.fmaChains} chains, the faster of ${r.fmaForms.map((f) => `${f.chains}: ${fmtRate(f.gflops)}`).join(', ')}; ${describeTiming(r.fma)})`,
    `empty dispatch   ${fmtMs(r.emptyDispatch.medianMs)} per dispatch (${r.emptyDispatch.method})`,
  ];
}

/** What a read costs (src/timing/read-cost.ts), as a sentence. */
export function readCostSentence(c: ReadCost): string {
  return `One vec4 read takes as long as ${c.workgroup.toFixed(1)} vec4 multiply-adds from workgroup memory, ${c.storage.toFixed(1)} from a storage buffer, ${c.uniform.toFixed(1)} from a uniform buffer, ${c.texture.toFixed(1)} from a texture (addresses differing by lane; a kernel doing r multiply-adds per read reaches at most about r / (r + cost) of the FMA ceiling).`;
}

/** The same, as a line of the roofline's report. */
export function describeReadCost(c: ReadCost): string {
  return `read cost        ${readCostSentence(c)}`;
}

/** The plain matmul yardstick (src/timing/plain-matmul.ts), as a sentence. */
export function plainMatmulSentence(m: PlainMatmul): string {
  const forms = m.forms.map((f) => `${fmtRate(f.gflops)} GFLOP/s with ${matmulFormName(f)}, ${(100 * f.fmaFraction).toFixed(1)} % of the FMA ceiling`);
  return `S = Q K^T alone (${m.size.heads} heads x ${m.size.keys} keys x ${4 * m.size.dq4}, no softmax, no P V; the keys read from storage unless said): ${forms.join('; ')}. A version's score step is this product and more.`;
}

/** The same, as a line of the roofline's report. */
export function describePlainMatmul(m: PlainMatmul): string {
  return `plain matmul     ${plainMatmulSentence(m)}`;
}

export function describeDevice(ctx: GpuContext): string[] {
  return [
    `adapter  ${describeAdapter(ctx.adapter)}`,
    `features ${ctx.features.join(', ') || '(none)'}`,
    ...Object.entries(ctx.limits).map(([k, v]) => `limit    ${k} = ${v}`),
  ];
}

/** Where a plan's keys are read, in its line (describePlan). */
const KEY_READ_WORDS: Readonly<Record<KeyReads, string>> = {
  cache: ' read from the cache', tile: ' decoded into workgroup memory', 'tile-bf16': ' decoded into workgroup memory as bf16',
  'tile-storage': ' decoded into a storage buffer', texture: ' read from the cache decoded into a texture',
};

/** The plan in a line: tile, head block, threads, workgroup memory, splits; or v1's score matrix; or v6's blocks and scratch. */
export function describePlan(plan: KernelPlan): string {
  const scratch = plan.scratch.map((s) => `${s.label} ${fmtBytes(s.bytes)}`).join(', ');
  const splits = `${plan.splits} split${plan.splits > 1 ? 's + combine' : ''}`;
  const blocks = plan.scoreBlock && plan.outBlock ? `register blocks ${plan.scoreBlock} (S, heads x keys) and ${plan.outBlock} (O, heads x values), ` : '';
  if (plan.kernel === 'naive') return `3 dispatches, ${scratch}`;
  if (plan.kernel === 'matmuls') {
    const decoded = plan.scratch.some((x) => x.label === CACHE_ROWS_LABEL);
    const cache = plan.cacheTexture?.format !== 'rgba32uint' ? 'the cache in a texture of f32 quads'
      : decoded ? 'the cache decoded into a texture of bf16 words, exact: every value of it is a bf16 value' : 'the bf16 cache\'s own words copied into a texture, no decode pass';
    return `${blocks}every operand a texel (keys and values: ${cache}), no workgroup memory; scores, softmax and P V passes (${plan.workgroupSize} threads/workgroup) through ${scratch}; ${splits}`;
  }
  const shown = ['HEADS_PER_WG', 'TILE_N', 'WG_SIZE', 'KEYS_FROM_CACHE', 'KEYS_TEXTURE', 'KEY_TILE_BF16', 'QUERIES_TEXTURE', 'SCORE_HEADS', 'SCORE_KEYS', 'OUT_HEADS', 'OUT_VALUES'];
  const extra = Object.entries(plan.constants).filter(([k]) => !shown.includes(k)).map(([k, v]) => `${k} ${v}`);
  const keys = (plan.keys === undefined ? '' : KEY_READ_WORDS[plan.keys]) + (plan.queries === 'texture' ? ', queries from a texture' : '');
  return `${blocks}tile ${plan.tileN} keys${keys}, ${plan.headsPerWorkgroup} head${plan.headsPerWorkgroup > 1 ? 's' : ''}/workgroup (${plan.workgroupSize} threads, `
    + `${fmtBytes(plan.workgroupBytes)} workgroup memory${extra.length ? `, ${extra.join(', ')}` : ''}), ${splits}`;
}

/** " in 5 shards of at most 183 KiB (the shard cap ...)", or nothing for one buffer. */
export function describeShards(u: KernelReport['upload']): string {
  if (u.kvShards.length < 2) return '';
  return ` in ${u.kvShards.length} shards of at most ${fmtBytes(Math.max(...u.kvShards))} (${u.kvShardLimit})`;
}

/** What the reference covered: every key, and every head or a sample of them. */
export function describeCoverage(shape: MlaShape, ref: AttentionResult): string {
  const heads = ref.heads
    ? `heads ${ref.heads.join(', ')} of ${shape.hQ} (a sample: all heads would cost more than ${REFERENCE_BUDGET.toExponential(1)} multiply-adds; the check compares these)`
    : `all ${shape.hQ} heads`;
  return `f64 over every key each row attends, ${heads}`;
}

export function describeReport(shape: MlaShape, r: KernelReport): string[] {
  const plan = describePlan(r.plan);
  const lines = [
    `shape    ${describeShape(shape)}`,
    `kernel   ${r.version.id} ${r.version.name}${r.config.kernel === 'flash' ? ' (the best version for this device)' : ''} on a ${r.layout.name} cache (${r.layout.bytesPerToken} B/token; ${r.layout.source}): ${plan}`,
    `upload   kv cache ${fmtBytes(r.upload.kv)}${describeShards(r.upload)}, q ${fmtBytes(r.upload.q)}`,
    ...(r.groups ? [`groups   ${r.groups.count} groups of up to ${r.groups.size} requests over the one cache, one submit (the whole call's ${r.groups.overBuffer} buffer is over one binding)`] : []),
    ...(r.indices ? [`indices  ${describeIndexCounts(r.indices)}`] : []),
    `check    ${formatCheck(r.check)}`,
    `ref      ${describeCoverage(shape, r.reference)}`,
  ];
  if (r.quantization) {
    lines.push(`quant    ${r.layout.name} vs f32 cache (reference on both): rel err ${r.quantization.maxRelErr.toExponential(2)}, cos diff ${r.quantization.cosineDiff.toExponential(2)}, nmse ${r.quantization.nmse.toExponential(2)}`);
  }
  if (r.timing && r.throughput) {
    lines.push(`time     ${describeTiming(r.timing)}`);
    if (r.timing.passes.length > 1) lines.push(`passes   ${r.timing.passes.map((p) => `${p.label} ${fmtMs(p.medianMs)}`).join(', ')}`);
    for (const note of r.timing.notes) lines.push(`note     ${note}`);
    const t = r.throughput;
    lines.push(`speed    ${fmtRate(t.gbps)} GB/s, ${fmtRate(t.gflops)} GFLOP/s; ${(100 * t.rooflineFraction).toFixed(1)}% of the roofline bound (${t.boundBy}-bound, ${fmtMs(t.boundMs)} at the ceiling)`);
    lines.push(`work     ${(r.work.flops / 1e9).toFixed(3)} GFLOP, ${fmtBytes(r.work.bytes)} (kv ${fmtBytes(r.work.kvBytes)})${r.work.note ? `; ${r.work.note}` : ''}`);
    if (t.suspect) lines.push('WARNING  faster than this device\'s own copy bandwidth allows: this time is suspect');
  }
  return lines;
}

/** The report without its large arrays, for --json. */
export function reportJson(shape: MlaShape, r: KernelReport): Record<string, unknown> {
  const { output: _o, reference: _r, roofline, ...rest } = r;
  return {
    shape, ...rest, referenceHeads: r.reference.heads ?? 'all',
    roofline: roofline && { copyGBps: roofline.copyGBps, fmaGflops: roofline.fmaGflops, emptyDispatchMs: roofline.emptyDispatch.medianMs },
  };
}
