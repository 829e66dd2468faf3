/**
 * Check a learner's file for one exercise on the GPU: the file replaces the
 * shipped one (the other files stay as shipped), every case of the exercise
 * runs and is compared with the f64 reference, and the comparison is
 * diagnosed (diagnose.ts). A compile error comes back at the learner's line
 * and column, in the learner's text.
 */
import type { GpuContext } from '../gpu/device';
import { ShaderCompileError, type ShaderMessage } from '../gpu/pipelines';
import { encodePasses } from '../kernels/kernel-plan';
import { maxKeysPerRow } from '../kernels/attention-spec';
import { DEFAULT_BLOCKS } from '../kernels/register-blocks';
import { dequantizeKvCache } from '../mla/kv-quant';
import type { MlaInputs } from '../mla/inputs';
import { referenceScores } from '../reference/reference-scores';
import { referenceOnCache } from '../reference/reference-chunked';
import { type PreparedAttention, type RunConfig, prepareAttention, submitChecked } from '../run/runner';
import { type ExerciseCase, caseInputs, caseShape, caseTags, isTopkCase } from './exercise-cases';
import { runTopkCase } from './check-topk';
import type { Exercise } from './exercises';
import { type CaseOutcome, type Diagnosis, type TensorComparison, casePasses, compareTensor, diagnose, formatWrong } from './diagnose';
import { findRegion } from './regions';

export interface ExerciseResult {
  readonly exercise: number;
  readonly pass: boolean;
  /** The compile errors, at the learner's file's lines (empty when it compiled). */
  readonly compileErrors: readonly ShaderMessage[];
  readonly cases: readonly CaseOutcome[];
  /** The first failing case and its first wrong element, in words. */
  readonly failure?: string;
  readonly diagnosis: readonly Diagnosis[];
}

export interface CheckOptions {
  /** Called before each case runs. */
  readonly onCase?: (done: number, total: number, name: string) => void;
  readonly signal?: AbortSignal;
}

/** The run an exercise makes of a case: its version, its splits, the learner's file in place of the shipped one. */
export function exerciseRunConfig(exercise: Exercise, c: ExerciseCase, source?: string): RunConfig {
  const { kernel } = exercise;
  if (kernel === 'topk') throw new Error(`exercise ${exercise.id} runs the top-k pass, not an attention call`);
  // v4's blocks are pinned (the GPU's default unless the case sets its own), so an exercise's cases, and what a mistake breaks, are the same on every device.
  const blocks = kernel === 'tiled' ? { scoreBlock: DEFAULT_BLOCKS.gpu.score, outBlock: DEFAULT_BLOCKS.gpu.out } : {};
  return {
    ...blocks, ...c.plan, kernel, kvFormat: c.kvFormat, splits: exercise.splits,
    shaderEdits: source === undefined ? undefined : { [exercise.file]: source },
  };
}

async function runCase(ctx: GpuContext, exercise: Exercise, c: ExerciseCase, inputs: MlaInputs, source: string): Promise<CaseOutcome> {
  const shape = caseShape(c);
  const prepared: PreparedAttention = await prepareAttention(ctx, inputs, exerciseRunConfig(exercise, c, source));
  try {
    const tags = caseTags(c, prepared.plan.tileN);
    const { batch, sQ, hQ, dV } = shape;
    let tensors: TensorComparison[];
    if (exercise.checks === 'scores') {
      // Only the first pass: afterwards the softmax pass overwrites the scores with probabilities.
      const encoder = ctx.device.createCommandEncoder({ label: `exercise ${exercise.id}: scores` });
      encodePasses(prepared.passes.slice(0, 1), encoder);
      ctx.device.queue.submit([encoder.finish()]);
      const maxKeys = Math.max(1, maxKeysPerRow(shape));
      const got = await prepared.readScratch(0);
      const kvRows = dequantizeKvCache(prepared.cacheBytes, prepared.layout);
      const expected = referenceScores({ ...inputs, kvRows }, maxKeys);
      tensors = [compareTensor('scores', got, expected, { names: ['b', 'i', 'h', 'k'], sizes: [batch, sQ, hQ, maxKeys] })];
    } else {
      await submitChecked(ctx, prepared);
      const output = await prepared.read();
      const ref = referenceOnCache(inputs, prepared.cacheBytes, prepared.layout);
      tensors = [
        compareTensor('out', output.out, ref.out, { names: ['b', 'i', 'h', 'c'], sizes: [batch, sQ, hQ, dV] }),
        compareTensor('lse', output.lse, ref.lse, { names: ['b', 'h', 'i'], sizes: [batch, hQ, sQ] }),
      ];
    }
    return { name: c.name, tags, tensors, requestKeys: shape.topk > 0 ? shape.seqlens.map(() => shape.topk) : shape.seqlens };
  } finally {
    prepared.destroy();
  }
}

/** Check `source`, the learner's whole file, against every case of `exercise`. */
export async function checkExercise(ctx: GpuContext, exercise: Exercise, source: string, options: CheckOptions = {}): Promise<ExerciseResult> {
  findRegion(source, exercise.region, 'your file'); // the markers must still be there
  const cases: CaseOutcome[] = [];
  for (const [k, c] of exercise.cases.entries()) {
    options.signal?.throwIfAborted();
    options.onCase?.(k, exercise.cases.length, c.name);
    try {
      cases.push(isTopkCase(c) ? await runTopkCase(ctx, c, source) : await runCase(ctx, exercise, c, caseInputs(c), source));
    } catch (e) {
      if (e instanceof ShaderCompileError) {
        const mine = e.messages.filter((m) => m.file === exercise.file);
        return { exercise: exercise.id, pass: false, compileErrors: mine.length > 0 ? mine : e.messages, cases: [], diagnosis: [], failure: e.message };
      }
      throw e;
    }
  }
  const failing = cases.find((c) => !casePasses(c));
  const firstWrong = failing?.tensors.find((t) => !t.pass)?.firstWrong;
  return {
    exercise: exercise.id, pass: failing === undefined, compileErrors: [], cases, diagnosis: diagnose(cases),
    failure: failing && firstWrong ? `case "${failing.name}": first wrong element ${formatWrong(firstWrong)}` : undefined,
  };
}
