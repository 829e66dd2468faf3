/**
 * The claims table: the computed answers against hand values, every verdict
 * one of the four, measured rows marked pending until measured, and the
 * README's table generated from the same rows.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheBytes, claimRows, claimsMarkdown } from '../src/claims/claims';
import type { MeasuredFacts } from '../src/claims/measure';

const VERDICTS = ['holds', 'partly', 'wrong', 'not measurable here'];

describe('the article\'s claims', () => {
  const rows = claimRows();

  it('lists all nine, each with a verdict, how it was obtained and where to see more', () => {
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of rows) {
      expect(VERDICTS).toContain(r.verdict);
      expect(r.answer.length).toBeGreaterThan(20);
      expect(r.see).toBeTruthy();
    }
  });

  it('computes the hand values: 43 % and 28 % for V3.2 FP8, 37,354,471,424 B for 1M MODEL1 FP8 tokens over 61 layers', () => {
    const byId = (id: number) => rows.find((r) => r.id === id)!;
    expect(Math.round(100 * Number(byId(3).numbers.savedVsBf16))).toBe(43); // 1 - 656 / 1152
    expect(Math.round(100 * Number(byId(4).numbers.fp8OfF32))).toBe(28); // 656 / 2304
    expect(cacheBytes('model1', 'fp8', 1 << 20)).toBe(37_354_471_424); // 584 x 61 x 2^20
    expect(byId(6).numbers.model1Fp8At1M).toBe(37_354_471_424);
    // A 1M-token prompt, per layer: dense 2 x 128 x (576 + 512) a pair over 2^20 (2^20 + 1) / 2 pairs;
    // DSA: the indexer's 2 x 64 x 128 a pair over the same pairs, plus 2048 keys a token (fewer for the first 2047).
    const pairs = 2 ** 20 * (2 ** 20 + 1) / 2;
    expect(byId(6).numbers.promptDenseFlopsAt1M).toBe(2 * 128 * 1088 * pairs);
    expect(byId(6).numbers.promptDsaFlopsAt1M).toBe(16384 * pairs + 2 * 128 * 1088 * (2048 * 2049 / 2 + (2 ** 20 - 2048) * 2048));
    expect(byId(2).numbers.flopRatio).toBeCloseTo(1024 / 1088, 12);
    expect(byId(2).numbers.byteRatioFp8).toBeCloseTo(584 / 656, 12);
    expect(byId(1).verdict).toBe('wrong'); // 512 + 64, not 448 + 128
    expect(byId(3).verdict).toBe('partly'); // 43 % against bf16, 72 % against f32
    expect(byId(7).verdict).toBe('wrong');
    expect(byId(9).verdict).toBe('not measurable here');
  });

  it('marks the measured rows pending until they are measured, and fills them after', () => {
    expect(rows.filter((r) => r.pending).map((r) => r.id)).toEqual([2, 4, 5, 6]);
    const measured: MeasuredFacts = {
      model1Ratio: { memoryBound: 0.9, memoryBoundHeads: 8, computeBound: 0.95, computeBoundHeads: 64 },
      fp8Speedup: { memoryBound: 1.4, memoryBoundHeads: 8, computeBound: 1.1, computeBoundHeads: 64 },
      fp8Accuracy: { maxRelErr: 0.02, cosineDiff: 1e-4 },
      formatTimes: { f32: 3, bf16: 2, fp8: 1.5, heads: 8 },
      longest: { tokens: 262144, preset: 'model1', heads: 16, ms: 1234, pass: true },
      runs: [],
    };
    const after = claimRows(measured, { adapter: 'a GPU', software: false, features: ['shader-f16'] });
    expect(after.filter((r) => r.pending)).toEqual([]);
    expect(after[4].verdict).toBe('holds'); // 1.4x on a hardware adapter
    expect(claimRows(measured, { adapter: 'llvmpipe', software: true, features: [] })[4].verdict).toBe('not measurable here');
    expect(after[5].answer).toContain('decoded 262,144 tokens');
  });

  it('the README\'s table is generated from these rows', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain(claimsMarkdown(rows));
  });
});
