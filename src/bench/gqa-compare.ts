/**
 * MLA beside GQA at equal cache bytes: one budget of values per cached token
 * (the preset's d_qk: 576 for V3.2, 512 for MODEL1) held as one shared head
 * (MLA's latent, h_kv 1) or split into h_kv heads of d_qk / h_kv (GQA as
 * FlashMLA's dense decode takes it: each head's value is the first d_v / h_kv
 * of its key). Every point is the same h_q, seqlen and cache bytes; what
 * changes is how many query heads read each cached value (h_q / h_kv), so the
 * multiply-adds per byte read fall as h_kv grows. Each point is checked
 * against the reference on the call as given, then timed (run/gqa-run.ts).
 *
 * What this cannot show: what a model gains from each query head seeing a
 * 576-dim key rather than a 72-dim one. That is the model's quality, not the
 * kernel's speed.
 */
import type { GpuContext } from '../gpu/device';
import { HEAD_PRESETS, type MlaShape, type PresetName, presetShape } from '../mla/shape';
import type { KvFormat } from '../mla/kv-layout';
import { generateGqaCall } from '../mla/gqa';
import { type ReferenceOnCall, measureGqa } from '../run/gqa-run';
import { formatCheck } from '../reference/check';

/** The KV heads compared by default. */
export const GQA_KV_HEADS = [1, 2, 4, 8];
/** Formats the comparison runs in: FlashMLA's FP8 layouts exist only for MLA's two head shapes. */
export const GQA_FORMATS: readonly KvFormat[] = ['bf16', 'f32'];

export interface GqaCompareSpec {
  readonly preset: PresetName;
  readonly kvFormat: KvFormat;
  readonly hQ: number;
  readonly seqlen: number;
  readonly kvHeads: readonly number[];
  /** Timed runs (the median is kept). Default 3. */
  readonly samples?: number;
  readonly signal?: AbortSignal;
  /** The reference on the call (default: here, on this thread; the page passes one that runs in a worker). */
  readonly reference?: ReferenceOnCall;
  readonly onProgress?: (step: string) => void;
}

export interface GqaPoint {
  readonly hKv: number;
  /** Each KV head's dims: key d_qk (value = its first d_v). */
  readonly dQk: number;
  readonly dV: number;
  /** Query heads reading each KV head. */
  readonly group: number;
  readonly bytesPerToken: number;
  readonly ms: number;
  readonly gflops: number;
  readonly gbps: number;
  /** FLOPs per byte of the cache read. */
  readonly intensity: number;
  readonly pass: boolean;
  readonly check: string;
}

/** The shape of one point: h_q query heads over h_kv heads of the preset's d_qk / h_kv. */
export function gqaPointShape(spec: Pick<GqaCompareSpec, 'preset' | 'hQ' | 'seqlen'>, hKv: number): MlaShape {
  const p = HEAD_PRESETS[spec.preset];
  if (!Number.isInteger(hKv) || hKv < 1 || spec.hQ % hKv !== 0) throw new Error(`KV heads ${hKv} is not allowed with h_q ${spec.hQ}: h_q must be a multiple of each h_kv`);
  if (p.dQk % (4 * hKv) !== 0 || p.dV % (4 * hKv) !== 0) throw new Error(`KV heads ${hKv} is not allowed: ${p.label}'s ${p.dQk} and ${p.dV} dims split into ${hKv} heads must stay multiples of 4 (the kernels read four values at a time)`);
  if (hKv === 1) return presetShape(spec.preset, { hQ: spec.hQ, seqlens: [spec.seqlen] });
  const dQk = p.dQk / hKv;
  return presetShape(spec.preset, { hQ: spec.hQ, seqlens: [spec.seqlen], dQk, dNope: dQk, dRope: 0, dV: p.dV / hKv });
}

/** Refuse a spec before any work, naming what is wrong. */
export function checkGqaCompare(spec: GqaCompareSpec): void {
  if (!GQA_FORMATS.includes(spec.kvFormat)) throw new Error(`--kv ${spec.kvFormat} is not allowed for MLA beside GQA: ${GQA_FORMATS.join(' or ')} (FlashMLA's FP8 layouts exist only for MLA's own head shapes)`);
  if (spec.kvHeads.length === 0) throw new Error('the KV heads to compare are empty: give at least one, e.g. 1,2,4,8');
  for (const h of spec.kvHeads) gqaPointShape(spec, h);
}

export async function compareGqa(ctx: GpuContext, spec: GqaCompareSpec, onPoint?: (p: GqaPoint, done: number) => void): Promise<GqaPoint[]> {
  checkGqaCompare(spec);
  const points: GqaPoint[] = [];
  for (const hKv of spec.kvHeads) {
    spec.signal?.throwIfAborted();
    const shape = gqaPointShape(spec, hKv);
    spec.onProgress?.(`h_kv ${hKv}: ${hKv} head${hKv > 1 ? 's' : ''} of ${shape.dQk}, generating, checking, timing`);
    const call = generateGqaCall(shape, hKv, 1);
    const r = await measureGqa(ctx, call, { kernel: 'flash', kvFormat: spec.kvFormat, splits: 'auto', scaleRounding: 'pow2' }, {
      timing: { samples: spec.samples ?? 3 }, signal: spec.signal, reference: spec.reference,
    });
    const t = r.throughput!;
    const point: GqaPoint = {
      hKv, dQk: shape.dQk, dV: shape.dV, group: spec.hQ / hKv, bytesPerToken: hKv * r.layout.bytesPerToken,
      ms: r.timing!.medianMs, gflops: t.gflops, gbps: t.gbps, intensity: r.work.flops / r.work.bytes,
      pass: r.check.pass, check: formatCheck(r.check),
    };
    points.push(point);
    onPoint?.(point, points.length);
  }
  return points;
}

export const GQA_TABLE_HEAD = ['h_kv', 'head (key / value)', 'query heads a KV head', 'cache B/token', 'time', 'GFLOP/s', 'GB/s', 'FLOP/byte', 'check'];

export function gqaTableCells(p: GqaPoint, fmtMs: (ms: number) => string): string[] {
  return [
    p.hKv === 1 ? '1 (MLA)' : String(p.hKv), `${p.dQk} / ${p.dV}`, String(p.group), String(p.bytesPerToken), fmtMs(p.ms),
    p.gflops.toFixed(2), p.gbps.toFixed(2), p.intensity.toFixed(1), p.pass ? 'pass' : 'FAIL',
  ];
}

export function gqaCompareMarkdown(spec: GqaCompareSpec, points: readonly GqaPoint[], fmtMs: (ms: number) => string): string {
  const rows = points.map((p) => `| ${gqaTableCells(p, fmtMs).join(' | ')} |`);
  const mla = points.find((p) => p.hKv === 1);
  const ratios = mla ? points.filter((p) => p !== mla).map((p) => `h_kv ${p.hKv}: ${(mla.ms / p.ms).toFixed(2)}x MLA's speed, ${(mla.intensity / p.intensity).toFixed(1)}x fewer FLOPs a byte`) : [];
  return [
    `MLA beside GQA at equal cache bytes: ${HEAD_PRESETS[spec.preset].label}, ${spec.kvFormat}, h_q ${spec.hQ}, seqlen ${spec.seqlen}`,
    '',
    `| ${GQA_TABLE_HEAD.join(' | ')} |`,
    `|${GQA_TABLE_HEAD.map(() => '---').join('|')}|`,
    ...rows,
    '',
    ...ratios,
  ].join('\n');
}
