/**
 * An exercise and its result in words, the same in the command line and
 * the page: the statement, the starter file, and the verdict with the
 * failing case, its first wrong element and the diagnosis.
 */
import { SHADER_FILES } from '../gpu/shader-source';
import { type Exercise, runBy } from './exercises';
import type { ExerciseResult } from './check-exercise';
import { casePasses } from './diagnose';
import { replaceRegion } from './regions';

/** The learner's starting file: the shipped file with the region's code replaced by the starter lines. */
export function starterFile(exercise: Exercise): string {
  return replaceRegion(SHADER_FILES[exercise.file], exercise.region, exercise.file, exercise.starter);
}

/** The statement, what is in scope, and the first `hints` hints. */
export function describeExercise(exercise: Exercise, hints = 0): string[] {
  const shown = Math.min(hints, exercise.hints.length);
  return [
    `exercise ${exercise.id}: ${exercise.title}`,
    `file     ${exercise.file}, between the markers "---- exercise ${exercise.region}: write from here" and "to here" (run by ${runBy(exercise)})`,
    '',
    ...exercise.statement.split('\n'),
    '',
    'in scope:',
    ...exercise.given.map((g) => `  - ${g}`),
    '',
    `cases:   ${exercise.cases.length}: ${exercise.cases.map((c) => c.name).join('; ')}`,
    ...exercise.hints.slice(0, shown).map((h, k) => `hint ${k + 1}:  ${h}`),
    shown < exercise.hints.length ? `hints:   ${shown} of ${exercise.hints.length} shown (--hints ${shown + 1} for the next)` : `hints:   all ${exercise.hints.length} shown`,
  ];
}

/** The verdict; a compile error in the learner's file is shown at `yourFile`:line:column. */
export function describeResult(exercise: Exercise, r: ExerciseResult, yourFile: string): string[] {
  if (r.compileErrors.length > 0) {
    return [
      `exercise ${r.exercise}: does not compile`,
      ...r.compileErrors.filter((m) => m.type === 'error').map((m) => `  ${m.file === exercise.file ? yourFile : m.file}:${m.line}:${m.column}: ${m.message}`),
    ];
  }
  return [
    `exercise ${r.exercise}: ${r.pass ? 'PASS' : 'FAIL'}, ${r.cases.filter(casePasses).length} of ${r.cases.length} cases pass`,
    ...r.cases.map((c) => `  ${casePasses(c) ? 'pass' : 'FAIL'}  ${c.name}`),
    ...(r.failure ? [`failure  ${r.failure}`] : []),
    ...r.diagnosis.map((d) => `why      ${d.message}`),
  ];
}
