/**
 * The layer's checks: which heads the f64 reference can afford, the
 * reference itself over them, and the comparisons of a GPU tensor with it.
 *
 * The ground truth is the naive formula (referenceNaive). Its cost grows with
 * h L (128 + 128) 512 multiply-adds for the per-head keys and values: at 128
 * heads and 4,096 tokens, 69 G. Within the budget every head is computed;
 * past it, with decoupled RoPE, every head is computed by the absorbed
 * formula in f64 (a thousandth of the cost at s_q 1), and the naive formula
 * is run on a spread of heads to show the two f64 results agree to rounding
 * (they are the same sum, reassociated). With coupled RoPE the two formulas
 * differ, so only the naive one over a sample of heads is used.
 */
import { spread } from '../mla/spread';
import { type CheckResult, compareToReference } from '../reference/check';
import { type CoreTensors, type HeadOutputs, naiveReferenceCost, referenceAbsorbed, referenceNaive } from './layer-reference';

/** Multiply-adds the layer's reference may spend by default (a few seconds in JS). */
export const LAYER_REFERENCE_BUDGET = 2 ** 32;

export interface LayerReference extends HeadOutputs {
  /** How the heads' outputs were computed. */
  readonly formula: 'naive' | 'absorbed, checked against naive';
  /** Heads the naive formula ran on. */
  readonly naiveHeads: readonly number[];
  /** max |absorbed - naive| / max |naive| over naiveHeads, when both ran (f64). */
  readonly formulasAgree?: number;
}

/** Multiply-adds of referenceAbsorbed over `heads` heads. */
export function absorbedReferenceCost(core: Pick<CoreTensors, 'dims' | 'sQ' | 'keys'>, heads: number): number {
  const { qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc } = core.dims;
  return heads * core.sQ * (dn * dc + core.keys * (2 * dc + dr) + dv * dc);
}

export function layerReference(core: CoreTensors, budget = LAYER_REFERENCE_BUDGET): LayerReference {
  const H = core.dims.heads;
  const perNaive = naiveReferenceCost(core, 1);
  if (perNaive * H <= budget) {
    const all = referenceNaive(core);
    return { ...all, formula: 'naive', naiveHeads: all.heads };
  }
  const naiveHeads = spread(H, Math.max(1, Math.floor(budget / 2 / perNaive)));
  const naive = referenceNaive(core, naiveHeads);
  if (core.rope === 'coupled' || absorbedReferenceCost(core, H) > budget / 2) return { ...naive, formula: 'naive', naiveHeads };
  const absorbed = referenceAbsorbed(core);
  const agree = headsDifference(absorbed.o, naive.o, core.dims.vHead, H, naiveHeads);
  return { ...absorbed, formula: 'absorbed, checked against naive', naiveHeads, formulasAgree: agree };
}

/** max |a - b| / max |b| over the given heads of two [sQ, heads, dv] tensors. */
export function headsDifference(a: ArrayLike<number>, b: ArrayLike<number>, dv: number, heads: number, which: readonly number[]): number {
  let diff = 0;
  let scale = 0;
  const rows = a.length / (heads * dv);
  for (let i = 0; i < rows; i++) {
    for (const h of which) {
      for (let c = 0; c < dv; c++) {
        const at = (i * heads + h) * dv + c;
        diff = Math.max(diff, Math.abs(a[at] - b[at]));
        scale = Math.max(scale, Math.abs(b[at]));
      }
    }
  }
  return scale > 0 ? diff / scale : diff;
}

/** A GPU tensor [sQ, heads, dv] against the reference's heads (out only: the layer has no lse). */
export function checkHeads(gpu: Float32Array, ref: HeadOutputs, sQ: number, heads: number, dv: number): CheckResult {
  const sampled = ref.heads.length < heads ? { heads: ref.heads } : {};
  return compareToReference({ out: gpu, lse: [] }, { out: ref.o, lse: new Float64Array(0), ...sampled }, { batch: 1, sQ, hQ: heads, dV: dv });
}

/** A GPU tensor against a plain f64 one of the same length. */
export function checkTensor(gpu: Float32Array, ref: Float64Array): CheckResult {
  return compareToReference({ out: gpu, lse: [] }, { out: ref, lse: new Float64Array(0) });
}
