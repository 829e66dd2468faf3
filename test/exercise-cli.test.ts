/**
 * `mla-sandbox exercise` as a learner uses it: list, show with a hint and the
 * starter file, check the starter (fails, located, diagnosed, exit 1), a
 * compile error (at the file's line, exit 1), the solution (exit 0, JSON,
 * and the time against the shipped kernel). Bad input: bad-inputs.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu } from './support/gpu';
import { cli } from './support/cli';
import { EXERCISES } from '../src/exercises/exercises';
import { SHADER_FILES } from '../src/gpu/shader-source';

const gpu = await testGpu();

describe.skipIf(!gpu)('mla-sandbox exercise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mla-exercise-'));
  const mine = join(dir, 'mine.wgsl');

  it('lists the exercises, shows one with a hint, and writes the starter file', async () => {
    const list = await cli(['exercise', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n')).toHaveLength(EXERCISES.length);
    expect(list.stdout).toMatch(/^ 1\. One head's score against one key +v1_naive\.wgsl \(scores\)$/m);
    const show = await cli(['exercise', 'show', '2', '--hints', '1', '--starter', mine]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('exercise 2: Softmax with the max subtracted, and the lse');
    expect(show.stdout).toMatch(/^hint 1: +Each thread walks/m);
    expect(show.stdout).not.toMatch(/^hint 2:/m);
    expect(show.stdout).toContain(`starter  written to ${mine}`);
    expect(readFileSync(mine, 'utf8')).toContain('// ---- exercise softmax: write from here ----');
  });

  it('checks the starter: exit 1, the failing case, its first wrong element and why', async () => {
    const r = await cli(['exercise', 'check', '2', '--file', mine]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^exercise 2: FAIL, \d of \d cases pass$/m);
    expect(r.stdout).toMatch(/^failure  case ".+": first wrong element (out|lse)\[b \d+, .+\]: expected \S+, got \S+$/m);
    expect(r.stdout).toMatch(/^why      /m);
    expect(r.stderr).toContain('exercise 2: case 1 of');
  });

  it('a compile error is shown at the line and column of the file given', async () => {
    const broken = readFileSync(mine, 'utf8').replace('// Turn this row', 'let x = undefinedName;\n// Turn this row');
    const line = broken.split('\n').findIndex((l) => l.includes('undefinedName')) + 1;
    const path = join(dir, 'broken.wgsl');
    writeFileSync(path, broken);
    const r = await cli(['exercise', 'check', '2', '--file', path]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('exercise 2: does not compile');
    expect(r.stdout).toMatch(new RegExp(`^  ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${line}:\\d+: .*undefinedName`, 'm'));
  });

  it('the solution passes (exit 0, JSON), and --time sets it against the shipped kernel and the yardstick', async () => {
    const path = join(dir, 'solution.wgsl');
    writeFileSync(path, SHADER_FILES['v1_naive.wgsl']);
    const json = await cli(['exercise', 'check', '3', '--file', path, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ exercise: 3, pass: true, diagnosis: [], compileErrors: [] });
    expect(report.cases).toHaveLength(EXERCISES[2].cases.length);
    const timed = await cli(['exercise', 'check', '3', '--file', path, '--time']);
    expect(timed.code, timed.stderr).toBe(0);
    expect(timed.stdout).toMatch(/^exercise 3: PASS, (\d+) of \1 cases pass$/m);
    expect(timed.stdout).toMatch(/^time     yours [\d.]+ ms, the shipped kernel [\d.]+ ms \([\d.]+x its time\), case "large: /m);
    expect(timed.stdout).toMatch(/^speed    [\d.]+ GFLOP\/s, \d+ % of a plain matmul on this device/m);
  });
});
