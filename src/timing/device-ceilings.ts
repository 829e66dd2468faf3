/**
 * What a tuned kernel is measured against: the device's copy bandwidth and
 * FMA rate (the roofline) and the best plain matmul form (the yardstick of a
 * GEMM-shaped kernel), measured in the same process as the tune, because a
 * software adapter's speed moves between runs.
 */
import type { GpuContext } from '../gpu/device';
import { type RooflineMeasurement, measureRoofline } from './roofline';
import { type PlainMatmul, type PlainMatmulForm, measurePlainMatmul } from './plain-matmul';
import type { TimingOptions } from './timer';

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

/** The fastest plain matmul form's block. */
export function bestMatmulForm(y: PlainMatmul): PlainMatmulForm {
  return y.forms.reduce((a, f) => (f.gflops > a.gflops ? f : a));
}

export async function measureDeviceCeilings(ctx: GpuContext, timing: TimingOptions = {}): Promise<MeasuredCeilings> {
  const roof = await measureRoofline(ctx, timing);
  const yardstick = await measurePlainMatmul(ctx, roof, timing);
  const yardstickGflops = bestMatmulForm(yardstick).gflops;
  return { ceilings: { copyGBps: roof.copyGBps, fmaGflops: roof.fmaGflops, yardstickGflops }, roof, yardstick };
}
