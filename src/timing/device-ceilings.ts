/**
 * What a tuned kernel is measured against: the device's copy bandwidth and
 * FMA rate (the roofline) and the best plain matmul form (the yardstick of a
 * GEMM-shaped kernel), measured in the same process as the tune, because a
 * software adapter's speed moves between runs.
 */
import type { GpuContext } from '../gpu/device';
import { type RooflineMeasurement, measureRoofline } from './roofline';
import { LADDER_SCORE_STEP, MATMUL_FORMS, type MatmulForm, type PlainMatmul, type PlainMatmulForm, measurePlainMatmul } from './plain-matmul';
import { type TimingOptions, summarize } from './timer';

export interface DeviceCeilings {
  readonly copyGBps: number;
  readonly fmaGflops: number;
  /** The best plain matmul form (timing/plain-matmul.ts). */
  readonly yardstickGflops: number;
}

export interface MeasuredCeilings {
  readonly ceilings: DeviceCeilings;
  readonly roof: RooflineMeasurement;
  readonly yardstick: PlainMatmul;
}

/** The fastest plain matmul form. */
export function bestMatmulForm(y: PlainMatmul): PlainMatmulForm {
  return y.forms.reduce((a, f) => (f.gflops > a.gflops ? f : a));
}

/** The roofline and the yardstick, the best of `forms` (every form of the plain matmul unless narrowed: `--matmul-blocks`). */
export async function measureDeviceCeilings(ctx: GpuContext, timing: TimingOptions = {}, forms: readonly MatmulForm[] = MATMUL_FORMS): Promise<MeasuredCeilings> {
  const roof = await measureRoofline(ctx, timing);
  const yardstick = await measurePlainMatmul(ctx, roof, timing, LADDER_SCORE_STEP, forms);
  const yardstickGflops = bestMatmulForm(yardstick).gflops;
  return { ceilings: { copyGBps: roof.copyGBps, fmaGflops: roof.fmaGflops, yardstickGflops }, roof, yardstick };
}

/**
 * The yardstick timed again (its best form's GFLOP/s), e.g. beside each point
 * of a ladder (SweepRunOptions.yardstick). Only the best form is timed: the
 * one `best` names (measureDeviceCeilings found it), or else the one the
 * first call finds by timing every form. A probe between the points of a
 * sweep then costs one product's timing, not every form's.
 */
export function yardstickTimer(ctx: GpuContext, roof: RooflineMeasurement, timing: TimingOptions = {}, best?: MatmulForm): () => Promise<number> {
  let form = best;
  return async () => {
    const fastest = bestMatmulForm(await measurePlainMatmul(ctx, roof, timing, LADDER_SCORE_STEP, form === undefined ? MATMUL_FORMS : [form]));
    form ??= fastest;
    return fastest.gflops;
  };
}

/** A report's line on the yardstick timed beside each point: its median and range, or undefined when no row has one. */
export function describeYardstickBeside(values: readonly (number | undefined)[]): string | undefined {
  const v = values.filter((x): x is number => x !== undefined);
  if (!v.length) return undefined;
  const { median, min } = summarize(v);
  return `yardstick beside each point: the best plain matmul timed again right after every point, ${median.toFixed(1)} GFLOP/s median (${min.toFixed(1)}-${Math.max(...v).toFixed(1)}); each point's % of yardstick divides by its own`;
}
