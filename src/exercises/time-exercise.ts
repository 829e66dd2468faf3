/**
 * After a pass: the learner's kernel timed against the shipped one on the
 * same case (the exercise's largest), both checked, and its GFLOP/s against
 * the plain-matmul yardstick measured in the same process. The top-k
 * exercise's pass does no multiply-adds: its time only, against the shipped
 * pass's.
 */
import type { GpuContext } from '../gpu/device';
import { measureAttention } from '../run/run-attention';
import type { TimingOptions } from '../timing/timer';
import { measureDeviceCeilings } from '../timing/device-ceilings';
import { type AnyCase, caseInputs, caseShape, isTopkCase } from './exercise-cases';
import { timeTopk } from './check-topk';
import type { Exercise } from './exercises';
import { exerciseRunConfig } from './check-exercise';

export interface ExerciseTiming {
  /** The case timed. */
  readonly caseName: string;
  readonly yoursMs: number;
  readonly shippedMs: number;
  /** GFLOP/s, and the best plain matmul form's measured in this process (absent for top-k, which does no multiply-adds). */
  readonly speed?: { readonly yoursGflops: number; readonly yardstickGflops: number };
}

/** The case with the most work (keys times heads, or scores read): the one a time says most about. */
export function timingCase(exercise: Exercise): AnyCase {
  const work = (c: AnyCase) => {
    if (isTopkCase(c)) return c.keys * c.sQ;
    const s = caseShape(c);
    return s.seqlens.reduce((a, b) => a + b, 0) * s.hQ * s.sQ;
  };
  return exercise.cases.reduce((a, c) => (work(c) > work(a) ? c : a));
}

export async function timeExercise(ctx: GpuContext, exercise: Exercise, source: string, timing: TimingOptions = { samples: 5, warmup: 1 }): Promise<ExerciseTiming> {
  const c = timingCase(exercise);
  if (isTopkCase(c)) return { caseName: c.name, ...(await timeTopk(ctx, c, source, timing)) };
  const inputs = caseInputs(c);
  const { ceilings } = await measureDeviceCeilings(ctx, timing);
  const yours = await measureAttention(ctx, inputs, exerciseRunConfig(exercise, c, source), { timing });
  const shipped = await measureAttention(ctx, inputs, exerciseRunConfig(exercise, c), { timing });
  if (!yours.check.pass || !shipped.check.pass) throw new Error(`exercise ${exercise.id}: the timing run of case "${c.name}" failed its check: ${yours.check.failure ?? shipped.check.failure}`);
  return {
    caseName: c.name, yoursMs: yours.timing!.medianMs, shippedMs: shipped.timing!.medianMs,
    speed: { yoursGflops: yours.throughput!.gflops, yardstickGflops: ceilings.yardstickGflops },
  };
}

export function describeTiming(t: ExerciseTiming): string[] {
  return [
    `time     yours ${t.yoursMs.toFixed(2)} ms, the shipped kernel ${t.shippedMs.toFixed(2)} ms (${(t.yoursMs / t.shippedMs).toFixed(2)}x its time), case "${t.caseName}"`,
    t.speed
      ? `speed    ${t.speed.yoursGflops.toFixed(2)} GFLOP/s, ${((100 * t.speed.yoursGflops) / t.speed.yardstickGflops).toFixed(0)} % of a plain matmul on this device (${t.speed.yardstickGflops.toFixed(1)} GFLOP/s, measured now)`
      : 'speed    no GFLOP/s: this pass selects and does no multiply-adds, so a matmul yardstick says nothing of it',
  ];
}
