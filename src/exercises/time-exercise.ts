/**
 * After a pass: the learner's kernel timed against the shipped one on the
 * same case (the exercise's largest), both checked, and its GFLOP/s against
 * the plain-matmul yardstick measured in the same process.
 */
import type { GpuContext } from '../gpu/device';
import { measureAttention } from '../run/run-attention';
import type { TimingOptions } from '../timing/timer';
import { measureDeviceCeilings } from '../timing/device-ceilings';
import { type ExerciseCase, caseInputs, caseShape } from './exercise-cases';
import type { Exercise } from './exercises';
import { exerciseRunConfig } from './check-exercise';

export interface ExerciseTiming {
  /** The case timed. */
  readonly caseName: string;
  readonly yoursMs: number;
  readonly shippedMs: number;
  readonly yoursGflops: number;
  /** The best plain matmul form's GFLOP/s, measured in this process. */
  readonly yardstickGflops: number;
}

/** The case with the most work (keys times heads): the one a time says most about. */
export function timingCase(exercise: Exercise): ExerciseCase {
  const work = (c: ExerciseCase) => { const s = caseShape(c); return s.seqlens.reduce((a, b) => a + b, 0) * s.hQ * s.sQ; };
  return exercise.cases.reduce((a, c) => (work(c) > work(a) ? c : a));
}

export async function timeExercise(ctx: GpuContext, exercise: Exercise, source: string, timing: TimingOptions = { samples: 5, warmup: 1 }): Promise<ExerciseTiming> {
  const c = timingCase(exercise);
  const inputs = caseInputs(c);
  const { ceilings } = await measureDeviceCeilings(ctx, timing);
  const yours = await measureAttention(ctx, inputs, exerciseRunConfig(exercise, c, source), { timing });
  const shipped = await measureAttention(ctx, inputs, exerciseRunConfig(exercise, c), { timing });
  if (!yours.check.pass || !shipped.check.pass) throw new Error(`exercise ${exercise.id}: the timing run of case "${c.name}" failed its check: ${yours.check.failure ?? shipped.check.failure}`);
  return {
    caseName: c.name, yoursMs: yours.timing!.medianMs, shippedMs: shipped.timing!.medianMs,
    yoursGflops: yours.throughput!.gflops, yardstickGflops: ceilings.yardstickGflops,
  };
}

export function describeTiming(t: ExerciseTiming): string[] {
  return [
    `time     yours ${t.yoursMs.toFixed(2)} ms, the shipped kernel ${t.shippedMs.toFixed(2)} ms (${(t.yoursMs / t.shippedMs).toFixed(2)}x its time), case "${t.caseName}"`,
    `speed    ${t.yoursGflops.toFixed(2)} GFLOP/s, ${((100 * t.yoursGflops) / t.yardstickGflops).toFixed(0)} % of a plain matmul on this device (${t.yardstickGflops.toFixed(1)} GFLOP/s, measured now)`,
  ];
}
