/**
 * The exercises on the GPU: each shipped file (the solution) passes every
 * case; typical wrong attempts (test/support/exercise-attempts.ts: the
 * solution with one mistake made) fail with the case, the first wrong element and the right diagnosis;
 * a compile error is shown at the learner's line and column. SwiftShader
 * runs the solutions, one wrong attempt per exercise and the compile error;
 * llvmpipe runs every attempt and the starter files (test/support/gpu.ts).
 */
import { describe, expect, it } from 'vitest';
import { testGpu, testMatrix } from './support/gpu';
import { SHADER_FILES } from '../src/gpu/shader-source';
import { EXERCISES, exerciseById } from '../src/exercises/exercises';
import { checkExercise, exerciseRunConfig } from '../src/exercises/check-exercise';
import { type ExerciseCase, caseInputs } from '../src/exercises/exercise-cases';
import { liveStandIns } from '../src/gpu/bindings';
import { prepareAttention } from '../src/run/runner';
import { describeResult, starterFile } from '../src/exercises/exercise-report';
import { type WrongAttempt, WRONG_ATTEMPTS } from './support/exercise-attempts';
import { findRegion, replaceRegion } from '../src/exercises/regions';

const gpu = await testGpu();

/** The learner's file for an attempt: the shipped file with the attempt's mistake made in the region. */
function attemptFile(a: WrongAttempt): string {
  const e = exerciseById(a.exercise);
  let body = findRegion(SHADER_FILES[e.file], e.region, e.file).body;
  for (const [from, to] of a.edits) {
    expect(body, `${a.name}: the mistake must land in the region`).toContain(from);
    body = body.replace(from, to);
  }
  return replaceRegion(SHADER_FILES[e.file], e.region, e.file, body.split('\n').map((l) => l.trimStart()).join('\n'));
}

describe.skipIf(!gpu)('exercises on the GPU', () => {
  const full = gpu ? testMatrix(gpu) === 'full' : false;

  it.each(EXERCISES)('exercise $id ($region): the shipped file passes every case', async (e) => {
    const r = await checkExercise(gpu!, e, SHADER_FILES[e.file]);
    expect(r.pass, describeResult(e, r, e.file).join('\n')).toBe(true);
    expect(r.cases).toHaveLength(e.cases.length);
    expect(r.diagnosis).toEqual([]);
  });

  it.each(WRONG_ATTEMPTS.filter((a) => full || a.cover))('exercise $exercise, $name ($mistake): fails, located, diagnosed "$kind"', async (a) => {
    const { exercise, kind } = a;
    const e = exerciseById(exercise);
    const r = await checkExercise(gpu!, e, attemptFile(a));
    const said = describeResult(e, r, 'mine.wgsl').join('\n');
    expect(r.pass, said).toBe(false);
    expect(r.compileErrors, said).toEqual([]);
    expect(r.failure, said).toMatch(/^case ".+": first wrong element ((scores|out|lse)\[[a-z] \d+(, [a-z] \d+)*\]: expected \S+, got \S+|indices\[i \d+\]: .+)$/);
    expect(r.diagnosis.map((d) => d.kind), said).toContain(kind);
  });

  it.skipIf(!full).each(EXERCISES)('exercise $id: the starter file compiles, and fails until the region is written', async (e) => {
    const r = await checkExercise(gpu!, e, starterFile(e));
    expect(r.compileErrors).toEqual([]);
    expect(r.pass).toBe(false);
    expect(r.failure).toMatch(/^case ".+": first wrong element/);
  });

  it.skipIf(!full).each(EXERCISES)('exercise $id: a compile error in $file is shown at its line in the learner\'s file', async (e) => {
    const region = findRegion(SHADER_FILES[e.file], e.region, e.file);
    const mine = replaceRegion(SHADER_FILES[e.file], e.region, e.file, `const oops: u32 = notDeclaredAnywhere;\n${region.body}`);
    const r = await checkExercise(gpu!, e, mine);
    expect(r.pass).toBe(false);
    expect(r.compileErrors[0]).toMatchObject({ file: e.file, line: region.beginLine + 1 });
    expect(describeResult(e, r, 'mine.wgsl')[1]).toMatch(new RegExp(`^  mine\\.wgsl:${region.beginLine + 1}:\\d+: .*notDeclaredAnywhere`));
  });

  it('an edited run\'s stand-in buffers (declared bindings the host does not bind) are destroyed with the run', async () => {
    const e = exerciseById(2);
    const c = e.cases[0] as ExerciseCase;
    const before = liveStandIns();
    const prepared = await prepareAttention(gpu!, caseInputs(c), exerciseRunConfig(e, c, attemptFile(WRONG_ATTEMPTS.find((a) => a.exercise === 2)!)));
    expect(liveStandIns(), 'v1 edited: its passes bind some of the declared buffers only').toBeGreaterThan(before);
    prepared.destroy();
    expect(liveStandIns()).toBe(before);
  });

  it('a compile error is shown at the line and column of the learner\'s file, in its text', async () => {
    const e = exerciseById(1);
    const mine = starterFile(e).replace('s = 0.0;', 's = scoreOfKey;');
    const line = mine.split('\n').findIndex((l) => l.includes('s = scoreOfKey;')) + 1;
    expect(findRegion(mine, e.region, 'mine').beginLine).toBeLessThan(line);
    const r = await checkExercise(gpu!, e, mine);
    expect(r.pass).toBe(false);
    const said = describeResult(e, r, 'mine.wgsl');
    expect(said[0]).toBe('exercise 1: does not compile');
    expect(said[1]).toMatch(new RegExp(`^  mine\\.wgsl:${line}:\\d+: .*scoreOfKey`));
    expect(r.compileErrors[0]).toMatchObject({ file: e.file, line });
  });
});
