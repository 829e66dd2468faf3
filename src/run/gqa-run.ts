/**
 * Run a GQA call (mla/gqa.ts) as every other call runs: its MQA form through
 * measureAttention (the same kernels, plans, request groups, timing), checked
 * against the reference on the call as given (reference/reference-gqa.ts) on
 * exactly the values the GPU read (the form's cache dequantised, put back in
 * the call's order). The report's outputs and the check's positions are the
 * call's: out [b, s_q, h_q, d_v], lse [b, h_q, s_q].
 */
import type { GpuContext } from '../gpu/device';
import { type GqaCall, gqaAsMqa, mqaShapeOf, permuteRows, positionInCall, rowsFromHeadMajor } from '../mla/gqa';
import type { MlaShape } from '../mla/shape';
import { dequantizeKvCache } from '../mla/kv-quant';
import type { AttentionResult } from '../reference/reference';
import { referenceGqa } from '../reference/reference-gqa';
import type { CheckResult, WorstElement } from '../reference/check';
import type { RunConfig } from './runner';
import { type KernelReport, type MeasureOptions, measureAttention } from './run-attention';
import { describeReport } from './report';

export interface GqaReport extends KernelReport {
  /** The MQA form that ran: a request per (request, KV head), h_q / h_kv heads each. */
  readonly form: MlaShape;
  readonly hKv: number;
}

/** A reference in the call's order, put in the form's (out and max_logits move; lse is the same array). */
function inFormOrder(r: AttentionResult, shape: MlaShape, hKv: number): AttentionResult {
  return { out: permuteRows(r.out, shape, hKv, false), lse: r.lse, maxLogits: r.maxLogits && permuteRows(r.maxLogits, shape, hKv, false) };
}

/** A worst element of the form as the call's: its position and its flat index. */
function elementInCall(w: WorstElement | undefined, shape: MlaShape, hKv: number): WorstElement | undefined {
  if (!w?.at) return w;
  const G = shape.hQ / hKv;
  const { sQ, hQ, dV } = shape;
  if (w.tensor === 'lse') {
    const [b, h, i] = w.at;
    const at = [Math.floor(b / hKv), (b % hKv) * G + h, i];
    return { ...w, at, index: (at[0] * hQ + at[1]) * sQ + at[2] };
  }
  const at = positionInCall(w.at, hQ, hKv);
  const row = (at[0] * sQ + at[1]) * hQ + at[2];
  return { ...w, at, index: w.tensor === 'out' ? row * dV + at[3] : row };
}

function checkInCall(c: CheckResult, shape: MlaShape, hKv: number): CheckResult {
  const f = (w?: WorstElement) => elementInCall(w, shape, hKv);
  return { ...c, worst: f(c.worst), worstLse: f(c.worstLse), worstMaxLogits: f(c.worstMaxLogits), failureAt: f(c.failureAt) };
}

/** The reference on the call as given, on rows in the call's order (the page runs it in a worker). */
export type ReferenceOnCall = (call: Omit<GqaCall, 'kvRows'>, kvRows: Float32Array) => Promise<AttentionResult>;

export interface GqaMeasureOptions extends Omit<MeasureOptions, 'reference' | 'originalReference'> {
  /** Default: referenceGqa here. */
  readonly reference?: ReferenceOnCall;
}

export async function measureGqa(ctx: GpuContext, call: GqaCall, config: RunConfig, options: GqaMeasureOptions = {}): Promise<GqaReport> {
  const { shape, hKv } = call;
  const form = gqaAsMqa(call);
  let onCall: AttentionResult | undefined;
  const { reference: onRows = async (c, rows) => referenceGqa(c, rows), ...rest } = options;
  const report = await measureAttention(ctx, form, config, {
    ...rest,
    reference: async (_inputs, bytes, layout) => {
      const { kvRows: _given, ...described } = call;
      onCall = await onRows(described, rowsFromHeadMajor(dequantizeKvCache(bytes, layout), hKv, shape.dQk));
      return inFormOrder(onCall, shape, hKv);
    },
    originalReference: () => inFormOrder(referenceGqa(call, call.kvRows), shape, hKv),
  });
  return {
    ...report,
    output: { out: permuteRows(report.output.out, shape, hKv, true), lse: report.output.lse },
    reference: onCall!,
    check: checkInCall(report.check, shape, hKv),
    form: mqaShapeOf(call), hKv,
  };
}

/** The report's lines (report.ts's) with the call's shape, and what ran: the MQA form. */
export function describeGqaReport(call: GqaCall, r: GqaReport): string[] {
  const G = call.shape.hQ / call.hKv;
  const [first, ...rest] = describeReport(call.shape, r);
  return [
    first,
    `gqa      h_kv ${call.hKv}: query heads g*${G} .. g*${G}+${G - 1} read KV head g; run as an MQA call of ${r.form.batch} requests (request x KV head) of ${G} head${G > 1 ? 's' : ''} over the cache laid out head by head`,
    ...rest,
  ];
}
