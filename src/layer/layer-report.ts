/**
 * A layer run in words (the CLI's lines) and as JSON (without the tensors),
 * with its costs from the shapes beside its measured stage times.
 */
import { formatCheck } from '../reference/check';
import { type KvLayout, kvLayout } from '../mla/kv-layout';
import { COST_WAYS, COST_WAY_LABELS, type StepCost, stepCost } from './layer-costs';
import type { LayerReport, StageWay, WayResult } from './layer-run';

/** The two ways' outputs may differ by this much of max |ref| (f32 sums in two orders). */
export const AGREEMENT_TOLERANCE = 1e-5;

/** The run's verdict: every check that should pass does (with coupled RoPE, MQA against the naive formula is expected to fail). */
export function layerPasses(r: LayerReport): boolean {
  const front = r.front ? r.front.cache.pass && r.front.query.pass : true;
  const mha = r.mha.check.pass && (r.mha.yCheck?.pass ?? true);
  const mqa = r.rope === 'coupled'
    ? (r.mqa.absorbedFormula?.pass ?? false)
    : r.mqa.check.pass && (r.mqa.yCheck?.pass ?? true) && r.agreement <= AGREEMENT_TOLERANCE;
  return front && mha && r.mqa.ladder.pass && mqa;
}

export function layerLayout(r: Pick<LayerReport, 'dims' | 'kvFormat'>): KvLayout {
  return kvLayout(r.kvFormat, { dQk: r.dims.kvLoraRank + r.dims.qkRope, dNope: r.dims.kvLoraRank, dRope: r.dims.qkRope }, 64);
}

/** The step's cost each way, bf16 weights and per-head caches, the run's latent layout. */
export function layerCosts(r: Pick<LayerReport, 'dims' | 'kvFormat' | 'keys' | 'sQ' | 'topk'>): StepCost[] {
  const record = layerLayout(r).bytesPerToken;
  return COST_WAYS.map((w) => stepCost(w, r.dims, r.keys, r.sQ, 2, record, r.topk));
}

/** Measured ms of one way's stages (MHA: decompress + attention; MQA: absorb + kernel + W_UV). */
export function wayMs(r: LayerReport, way: StageWay): number | undefined {
  const s = r.stages.filter((t) => t.way === way);
  return s.length ? s.reduce((a, t) => a + t.ms, 0) : undefined;
}

function wayLine(name: string, w: WayResult): string {
  return `${name.padEnd(8)} o ${formatCheck(w.check)}`;
}

/** A count with its unit and a metric prefix: "4.19 MB", "512 B", "0 B". */
function fmtCount(x: number, unit: string): string {
  return x >= 1e9 ? `${(x / 1e9).toFixed(2)} G${unit}` : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M${unit}` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} K${unit}` : `${x} ${unit}`;
}

export function describeLayer(r: LayerReport): string[] {
  const d = r.dims;
  const lines = [
    `layer    ${d.heads} heads, per head ${d.qkNope} + ${d.qkRope} (q, k) / ${d.vHead} (v), latent ${d.kvLoraRank}; L ${r.keys}, s_q ${r.sQ}${r.topk > 0 ? `, sparse: ${r.topk} keys per query token (MHA mode masks the rest)` : ', causal'}; cache ${r.layout} (${layerLayout(r).bytesPerToken} B/token); RoPE ${r.rope}; scale ${r.softmaxScale.toFixed(6)}`,
  ];
  if (r.front) {
    lines.push(`front    cache rows (tokens ${r.front.tokens.join(', ')}) ${formatCheck(r.front.cache)}`);
    lines.push(`front    queries (tokens ${r.front.queryTokens.join(', ')}) ${formatCheck(r.front.query)}`);
  }
  const ref = r.reference;
  lines.push(ref.formula === 'naive'
    ? `reference f64, the naive formula, ${ref.heads.length === d.heads ? 'every head' : `heads ${ref.heads.join(', ')} (a sample: the budget)`}`
    : `reference f64, every head by the absorbed formula; the naive formula on heads ${ref.naiveHeads.join(', ')} agrees to ${ref.formulasAgree?.toExponential(1)} of max |o|`);
  lines.push(`${wayLine('MHA', r.mha)}  (heads in blocks of ${r.mha.headsPerBlock})`);
  lines.push(`MQA      attention (${r.mqa.kernel}) ${formatCheck(r.mqa.ladder)}`);
  lines.push(`${wayLine('MQA', r.mqa)}${r.rope === 'coupled' ? '  (expected to fail: coupled RoPE)' : ''}`);
  if (r.mqa.absorbedFormula) lines.push(`MQA      o against the absorbed formula in f64 ${formatCheck(r.mqa.absorbedFormula)}`);
  lines.push(`agree    max |o_MHA - o_MQA| = ${r.agreement.toExponential(2)} of max |ref| (allowed: ${AGREEMENT_TOLERANCE}${r.rope === 'coupled' ? '; not expected with coupled RoPE' : ''})`);
  if (r.mha.yCheck && r.mqa.yCheck) {
    lines.push(`y = wo o MHA ${formatCheck(r.mha.yCheck)}`);
    lines.push(`y = wo o MQA ${formatCheck(r.mqa.yCheck)}  (against ${r.yAgainst})${r.rope === 'coupled' ? ' (expected to fail: coupled RoPE)' : ''}`);
  }
  if (r.mha.formatError) {
    const e = r.mha.formatError;
    lines.push(`format   ${r.kvFormat} against the unrounded rows: o off by ${e.maxRelErr.toExponential(2)} of max |o|, cosine difference ${e.cosineDiff.toExponential(2)} (MQA: ${r.mqa.formatError?.maxRelErr.toExponential(2)})`);
  }
  for (const c of layerCosts(r)) {
    const weights = c.weightBytes > 0 ? `weights ${fmtCount(c.weightBytes, 'B')} (bf16)` : 'no weights read (the keys and values are stored per head)';
    lines.push(`cost     ${COST_WAY_LABELS[c.way].padEnd(48)} ${fmtCount(c.flops, 'FLOP')}, cache ${fmtCount(c.cacheBytes, 'B')}, ${weights}`);
  }
  for (const s of r.stages) lines.push(`time     ${s.way.padEnd(5)} ${s.stage.padEnd(40)} ${s.ms.toFixed(3)} ms (${s.dispatches} dispatches)`);
  const mha = wayMs(r, 'mha');
  const mqa = wayMs(r, 'mqa');
  if (mha !== undefined && mqa !== undefined) {
    lines.push(`time     MHA mode ${mha.toFixed(2)} ms, MQA mode ${mqa.toFixed(2)} ms: ${mha < mqa ? `MHA mode wins by ${(mqa / mha).toFixed(2)}x` : `MQA mode wins by ${(mha / mqa).toFixed(2)}x`} on this device`);
  }
  lines.push(`verdict  ${layerPasses(r) ? 'PASS' : 'FAIL'}`);
  return lines;
}

export function layerJson(r: LayerReport): Record<string, unknown> {
  const way = ({ o: _o, y: _y, ...rest }: WayResult) => rest;
  return {
    dims: r.dims, keys: r.keys, sQ: r.sQ, topk: r.topk, kvFormat: r.kvFormat, layout: r.layout, rope: r.rope, softmaxScale: r.softmaxScale,
    front: r.front, reference: r.reference, yAgainst: r.yAgainst,
    mha: way(r.mha), mqa: way(r.mqa), agreement: r.agreement,
    costs: layerCosts(r), stages: r.stages, mhaMs: wayMs(r, 'mha'), mqaMs: wayMs(r, 'mqa'), pass: layerPasses(r),
  };
}
