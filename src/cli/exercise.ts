/**
 * `mla-sandbox exercise`: the graded exercises (src/exercises) in the
 * command line.
 *
 *   exercise list [--json]
 *   exercise show N [--hints K] [--starter FILE]
 *   exercise check N --file my.wgsl [--time] [--json]
 *
 * check exits 0 when every case passes, 1 when one fails or the file does
 * not compile, 2 on bad input.
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import { EXERCISES, exerciseById } from '../exercises/exercises';
import { checkExercise } from '../exercises/check-exercise';
import { describeExercise, describeResult, starterFile } from '../exercises/exercise-report';
import { describeTiming, timeExercise } from '../exercises/time-exercise';
import { findRegion } from '../exercises/regions';
import { type FlagValues, intFlag } from '../run/run-options';
import { checkOutputPaths, writeOutput } from './output-paths';

export const EXERCISE_USAGE = `mla-sandbox exercise: write a piece of a kernel yourself, checked on this GPU against the f64 reference

  exercise list [--json]                           the exercises, in order
  exercise show N [--hints K] [--starter FILE]     the statement, what is in scope, K hints;
                                                   --starter writes the file to start from (never over an existing file)
  exercise check N --file my.wgsl [--time] [--json]
                                                   run your file on every case: the first wrong element and why;
                                                   --time: after a pass, your kernel against the shipped one and the yardstick
exit status of check: 0 every case passes, 1 a case fails or the file does not compile, 2 bad input`;

/** The largest learner's file read: a WGSL file of a kernel is a few KiB. */
const MAX_FILE_BYTES = 1 << 20;

function print(line = ''): void {
  process.stdout.write(line + '\n');
}

function exerciseArg(positionals: string[], sub: string): number {
  if (positionals.length !== 1) throw new Error(`exercise ${sub} takes one exercise number (1 to ${EXERCISES.length}), got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  const n = /^\d+$/.test(positionals[0]) ? Number(positionals[0]) : NaN;
  if (!(n >= 1 && n <= EXERCISES.length)) throw new Error(`exercise ${sub} ${JSON.stringify(positionals[0])} is not allowed: the exercise must be a number from 1 to ${EXERCISES.length} (mla-sandbox exercise list)`);
  return n;
}

function readLearnerFile(path: string): string {
  if (!existsSync(path)) throw new Error(`--file ${path}: no such file (write one with: mla-sandbox exercise show N --starter ${path})`);
  const st = statSync(path);
  if (!st.isFile()) throw new Error(`--file ${path} is not allowed: it is a folder or a device, not a file`);
  if (st.size > MAX_FILE_BYTES) throw new Error(`--file ${path} is not allowed: ${st.size} bytes, over the ${MAX_FILE_BYTES} a WGSL file may have here`);
  return readFileSync(path, 'utf8');
}

export async function runExerciseCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest, strict: true, allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false }, hints: { type: 'string' }, starter: { type: 'string' }, file: { type: 'string' },
      time: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
    },
  });
  const v = values as FlagValues;
  if (values.help || sub === undefined || sub === '--help' || sub === '-h') { print(EXERCISE_USAGE); return sub === undefined ? 2 : 0; }
  const only = (allowed: readonly string[]) => {
    for (const f of ['json', 'hints', 'starter', 'file', 'time']) {
      if (v[f] !== undefined && v[f] !== false && !allowed.includes(f)) throw new Error(`--${f} is not used by exercise ${sub} (it takes ${allowed.map((a) => `--${a}`).join(', ') || 'no flags'})`);
    }
  };
  switch (sub) {
    case 'list': {
      only(['json']);
      if (positionals.length > 0) throw new Error(`exercise list takes no exercise number, got ${positionals.join(' ')}`);
      if (values.json) print(JSON.stringify(EXERCISES.map(({ id, title, file, region, kernel }) => ({ id, title, file, region, kernel })), null, 2));
      else {
        const width = Math.max(...EXERCISES.map((e) => e.title.length));
        EXERCISES.forEach((e) => print(`${String(e.id).padStart(2)}. ${e.title.padEnd(width)}  ${e.file} (${e.region})`));
      }
      return 0;
    }
    case 'show': {
      only(['hints', 'starter']);
      const exercise = exerciseById(exerciseArg(positionals, sub));
      const hints = intFlag('hints', v.hints, 0, exercise.hints.length) ?? 0;
      if (typeof v.starter === 'string') {
        if (existsSync(v.starter)) throw new Error(`--starter ${v.starter} is not allowed: the file exists, and your work is never overwritten; name a new file`);
        checkOutputPaths([{ flag: 'starter', path: v.starter }], []);
        writeOutput('starter', v.starter, starterFile(exercise));
      }
      describeExercise(exercise, hints).forEach((l) => print(l));
      if (typeof v.starter === 'string') print(`starter  written to ${v.starter}: write between the markers, then mla-sandbox exercise check ${exercise.id} --file ${v.starter}`);
      return 0;
    }
    case 'check': {
      only(['file', 'time', 'json']);
      const exercise = exerciseById(exerciseArg(positionals, sub));
      if (typeof v.file !== 'string') throw new Error(`exercise check needs --file my.wgsl: your copy of ${exercise.file} (mla-sandbox exercise show ${exercise.id} --starter my.wgsl writes one)`);
      const source = readLearnerFile(v.file);
      findRegion(source, exercise.region, `--file ${v.file}`); // before the device is opened
      const ctx = await openNodeDevice();
      const result = await checkExercise(ctx, exercise, source, {
        onCase: (done, total, name) => { if (!v.json) process.stderr.write(`exercise ${exercise.id}: case ${done + 1} of ${total}: ${name}\n`); },
      });
      const timing = result.pass && v.time ? await timeExercise(ctx, exercise, source) : undefined;
      if (v.json) print(JSON.stringify({ adapter: describeAdapter(ctx.adapter), file: v.file, ...result, timing }, null, 2));
      else {
        print(`device   ${describeAdapter(ctx.adapter)}`);
        describeResult(exercise, result, v.file).forEach((l) => print(l));
        if (timing) describeTiming(timing).forEach((l) => print(l));
        else if (result.pass) print(`next     mla-sandbox exercise check ${exercise.id} --file ${v.file} --time: your kernel against the shipped one${exercise.id < EXERCISES.length ? `; then exercise ${exercise.id + 1}` : ''}`);
      }
      return result.pass ? 0 : 1;
    }
    default:
      throw new Error(`exercise ${JSON.stringify(sub)} is not allowed: exercise takes list, show N or check N --file F`);
  }
}
