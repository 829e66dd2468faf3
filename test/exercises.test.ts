/** The exercises without a GPU: regions, starter files, the table, and the diagnosis from made-up comparisons. */
import { describe, expect, it } from 'vitest';
import { SHADER_FILES } from '../src/gpu/shader-source';
import { EXERCISES, exerciseById } from '../src/exercises/exercises';
import { beginMarker, endMarker, findRegion, replaceRegion } from '../src/exercises/regions';
import { describeExercise, starterFile } from '../src/exercises/exercise-report';
import { type CaseOutcome, compareTensor, diagnose } from '../src/exercises/diagnose';
import { DECODE_CASES, caseShape, caseTags, isTopkCase } from '../src/exercises/exercise-cases';

describe('exercise regions', () => {
  it('every exercise\'s region is marked once in its shipped file, and the starter file keeps everything else', () => {
    for (const e of EXERCISES) {
      const shipped = SHADER_FILES[e.file];
      const region = findRegion(shipped, e.region, e.file);
      expect(region.body.trim().length, `exercise ${e.id}: the region holds the solution`).toBeGreaterThan(40);
      const starter = starterFile(e);
      expect(starter).not.toBe(shipped);
      expect(findRegion(starter, e.region, 'starter').body.split('\n').map((l) => l.trim())).toEqual(e.starter.split('\n').map((l) => l.trim()));
      // Outside the region the starter is the shipped file, line for line.
      const outside = (src: string) => { const r = findRegion(src, e.region, 'x'); const l = src.split('\n'); return [...l.slice(0, r.beginLine), ...l.slice(r.endLine - 1)]; };
      expect(outside(starter)).toEqual(outside(shipped));
      // Putting the solution back gives the shipped file.
      expect(replaceRegion(starter, e.region, 'starter', region.body.split('\n').map((l) => l.trimStart()).join('\n')).replace(/^\s+/gm, '')).toBe(shipped.replace(/^\s+/gm, ''));
    }
  });

  it('a file without its markers, or with them twice, is refused by name', () => {
    const e = exerciseById(1);
    const src = starterFile(e);
    expect(() => findRegion(src.replace(beginMarker(e.region), ''), e.region, 'my.wgsl')).toThrow(/^my\.wgsl must hold the marker lines .*found 0 and 1/);
    expect(() => findRegion(src + '\n' + endMarker(e.region), e.region, 'my.wgsl')).toThrow(/found 1 and 2/);
  });

  it('exercises are numbered in order, each with a statement, hints and cases', () => {
    expect(EXERCISES.map((e) => e.id)).toEqual(EXERCISES.map((_, k) => k + 1));
    for (const e of EXERCISES) {
      expect(e.hints.length).toBeGreaterThanOrEqual(3);
      expect(e.cases.length).toBeGreaterThanOrEqual(5);
      for (const c of e.cases) if (!isTopkCase(c)) expect(() => caseShape(c)).not.toThrow();
    }
    expect(() => exerciseById(0)).toThrow(`exercise 0 is not allowed: exercise must be a number from 1 to ${EXERCISES.length}`);
    const shown = describeExercise(exerciseById(2), 1);
    expect(shown.filter((l) => l.startsWith('hint '))).toHaveLength(1);
    expect(shown.at(-1)).toBe('hints:   1 of 3 shown (--hints 2 for the next)');
  });

  it('the tags a case\'s shape implies: rows past one tile, a value narrower than the key, several query tokens', () => {
    const [small, ragged, model1] = DECODE_CASES;
    expect(caseTags(small, 0)).toEqual(['narrow-value']);
    expect(caseTags(ragged, 64)).toEqual(['several-requests', 'multi-tile', 'narrow-value', 'query-tokens']);
    expect(caseTags(model1, 0)).toEqual(['fp8', 'sink', 'model1']); // MODEL1: d_v = d_qk
  });
});

/** A comparison of `out` [b 2, i 1, h 2, c 3] whose got is `f(expected value, flat index)`. */
function outCase(name: string, tags: CaseOutcome['tags'], f: (e: number, k: number) => number, lseF: (e: number) => number = (e) => e): CaseOutcome {
  const dims = { names: ['b', 'i', 'h', 'c'], sizes: [2, 1, 2, 3] };
  const expected = Float64Array.from({ length: 12 }, (_, k) => 0.1 + 0.05 * k - 0.3 * (k % 3));
  const lse = Float64Array.from({ length: 4 }, (_, k) => 1.5 + k);
  return {
    name, tags,
    tensors: [
      compareTensor('out', Float32Array.from(expected, (e, k) => f(e, k)), expected, dims),
      compareTensor('lse', Float32Array.from(lse, lseF), lse, { names: ['b', 'h', 'i'], sizes: [2, 2, 1] }),
    ],
  };
}

const right = (e: number) => e;
const kinds = (cases: CaseOutcome[]) => diagnose(cases).map((d) => d.kind);

describe('the diagnosis, from the comparison alone', () => {
  it('nothing to say when every case passes; the first wrong element, with expected and got', () => {
    expect(diagnose([outCase('a', [], right)])).toEqual([]);
    const c = outCase('a', [], (e, k) => (k === 7 ? e + 1 : e));
    expect(c.tensors[0].firstWrong).toMatchObject({ at: [1, 0, 0, 1], expected: expect.closeTo(0.15, 6), got: expect.closeTo(1.15, 6) });
    expect(kinds([c])).toEqual(['one-request']);
  });

  it('one factor for every value: a scale', () => {
    const d = diagnose([outCase('a', [], (e) => e * 24), outCase('b', [], (e) => e * 24)]);
    expect(d[0]).toMatchObject({ kind: 'scale' });
    expect(d[0].message).toContain('the reference\'s times 24.00 (1 / 0.04167) in 2 cases');
  });

  it('a factor per row: not normalised', () => {
    expect(kinds([outCase('a', [], (e, k) => e * (1 + Math.floor(k / 3)))])).toContain('normalisation');
  });

  it('NaN where the reference has a number', () => {
    expect(kinds([outCase('a', [], (e, k) => (k === 2 ? NaN : e))])[0]).toBe('nan');
  });

  it('a tag every failing case has and no passing case has: large logits, rows past one tile', () => {
    const wrong = (e: number) => e + 0.5;
    expect(kinds([outCase('plain', [], right), outCase('big', ['large-logits'], wrong)])).toContain('large-logits');
    expect(kinds([outCase('one tile', [], right), outCase('long', ['multi-tile', 'several-requests'], wrong), outCase('long 2', ['multi-tile'], wrong)])).toContain('first-tile');
    // Two mistakes: two tags between them hold the failing cases, neither alone.
    const two = diagnose([outCase('plain', [], right), outCase('sink', ['sink'], wrong), outCase('empty', ['empty-row', 'skipped-keys'], wrong), outCase('skipped', ['skipped-keys'], right)]);
    expect(two.map((d) => d.kind).slice(0, 2)).toEqual(['empty-row', 'sink']);
    expect(two[1].message).toContain('(fails: "sink"; one of two mistakes');
    // Shared by a passing case too: not the reason.
    expect(kinds([outCase('long ok', ['multi-tile'], right), outCase('long', ['multi-tile'], wrong)])).not.toContain('first-tile');
  });

  it('only some requests wrong; only the lse wrong; and otherwise plain wrong values', () => {
    expect(kinds([outCase('a', [], (e, k) => (k >= 6 ? e + 1 : e))])).toContain('one-request');
    // Request 1 wrong, request 0 right: about which request it is unless request 0 is right because it is shorter.
    const secondWrong = outCase('a', [], (e, k) => (k >= 6 ? e + 1 : e));
    expect(kinds([{ ...secondWrong, requestKeys: [45, 2] }])).toContain('one-request');
    expect(kinds([{ ...secondWrong, requestKeys: [2, 45] }])).toEqual(['wrong-values']);
    expect(kinds([outCase('a', [], right, (e) => e + 2)])).toEqual(['lse-only']);
    expect(kinds([outCase('a', [], (e, k) => e + Math.sin(k) + 2)])).toEqual(['wrong-values']);
  });
});
