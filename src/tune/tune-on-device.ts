/**
 * A tune as both faces run it: the device's ceilings and the plain-matmul
 * yardstick measured first, the search, and the yardstick's best form timed
 * again in the final rounds beside the finalists, so that "the pick reaches
 * N % of a plain matmul" compares two times taken under the same drift of
 * the machine's speed (a software adapter's moves 10-15 % between minutes).
 */
import type { GpuContext } from '../gpu/device';
import type { MlaInputs } from '../mla/inputs';
import type { KvFormat } from '../mla/kv-layout';
import { type DeviceCeilings, type MeasuredCeilings, bestMatmulForm, measureDeviceCeilings } from '../timing/device-ceilings';
import { plainMatmulWork } from '../timing/plain-matmul';
import { type TuneOptions, type TuneResult, tune } from './tuner';

export interface DeviceTune {
  readonly result: TuneResult;
  /** The ceilings, the yardstick as re-timed in the final rounds. */
  readonly ceilings: DeviceCeilings;
  /** As first measured. */
  readonly measured: MeasuredCeilings;
}

export async function tuneOnDevice(ctx: GpuContext, inputs: MlaInputs, kvFormat: KvFormat, options: Omit<TuneOptions, 'yardstick'>): Promise<DeviceTune> {
  const measured = await measureDeviceCeilings(ctx, { signal: options.signal });
  const yardstick = await plainMatmulWork(ctx, bestMatmulForm(measured.yardstick));
  try {
    const result = await tune(ctx, inputs, kvFormat, { ...options, yardstick });
    return { result, ceilings: { ...measured.ceilings, yardstickGflops: result.yardstickGflops ?? measured.ceilings.yardstickGflops }, measured };
  } finally {
    yardstick.release();
  }
}
