/** The KV-memory calculator against figures computed by hand. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MEMORY, fp8Claims, memoryMarkdown, memoryRows, tokensIn } from '../src/memory/kv-memory';

const rows = memoryRows(DEFAULT_MEMORY);
const row = (name: string) => {
  const r = rows.find((x) => x.name === name);
  if (!r) throw new Error(`no row ${name}`);
  return r;
};

describe('KV-memory calculator', () => {
  it('MLA bytes per token come from the layout table: 2304 / 1152 / 656 (V3.2), 1024 / 584 (MODEL1)', () => {
    expect(['MLA V3.2 f32', 'MLA V3.2 bf16', 'MLA V3.2 fp8', 'MLA MODEL1 bf16', 'MLA MODEL1 fp8'].map((n) => row(n).bytesPerTokenPerLayer))
      .toEqual([2304, 1152, 656, 1024, 584]);
  });

  it('totals are bytes per token x layers x context: V3.2 FP8 at 1M tokens and 61 layers is 656 x 61 x 2^20', () => {
    expect(DEFAULT_MEMORY.contexts).toEqual([4096, 131072, 1048576]);
    expect(row('MLA V3.2 fp8').totals[2]).toBe(656 * 61 * 2 ** 20);
    // sparse configurations carry the indexer's key cache too: 132 B a token a layer
    expect(row('MLA V3.2 fp8 + indexer').bytesPerTokenPerLayer).toBe(656 + 132);
    expect(row('MLA MODEL1 fp8 + indexer').bytesPerTokenPerLayer).toBe(584 + 132);
    expect(row('MLA MODEL1 fp8').totals[0]).toBe(584 * 61 * 4096);
  });

  it('MHA, GQA and MQA by the DeepSeek-V2 paper\'s count: 2 n_h d_h l elements', () => {
    // 128 heads of 128, bf16: 2 x 128 x 128 x 2 B per layer
    expect(row('MHA 128 heads bf16').bytesPerTokenPerLayer).toBe(2 * 128 * 128 * 2);
    expect(row('GQA 8 groups bf16').bytesPerTokenPerLayer).toBe(2 * 8 * 128 * 2);
    expect(row('MQA bf16').bytesPerTokenPerLayer).toBe(2 * 128 * 2);
    const int8 = memoryRows({ ...DEFAULT_MEMORY, contexts: [1000], layers: 2, mha: { heads: 32, groups: 4, dK: 192, dV: 128, element: 'int8' } });
    expect(int8[0].totals[0]).toBe(32 * (192 + 128) * 1 * 2 * 1000);
  });

  it('sets "FP8 halves the cache" against the numbers: 43 % less for both heads', () => {
    const claims = fp8Claims();
    expect(claims.map((c) => [c.bf16, c.fp8])).toEqual([[1152, 656], [1024, 584]]);
    for (const c of claims) expect(Math.round(100 * c.saved)).toBe(43);
    expect(memoryMarkdown(DEFAULT_MEMORY, rows)).toContain('V3.2 bf16 1152 B -> FP8 656 B a token per layer, 43 % less');
  });

  it('tokens that fit a memory size', () => {
    expect(tokensIn(80e9, row('MLA V3.2 fp8'), 61)).toBe(Math.floor(80e9 / (656 * 61)));
  });

  it('refuses what it cannot compute, naming the field', () => {
    expect(() => memoryRows({ ...DEFAULT_MEMORY, contexts: [0] })).toThrow('--contexts 0 is not allowed: --contexts must be an integer from 1 to 16777216');
    expect(() => memoryRows({ ...DEFAULT_MEMORY, contexts: [] })).toThrow('--contexts is empty');
    expect(() => memoryRows({ ...DEFAULT_MEMORY, mha: { ...DEFAULT_MEMORY.mha, groups: 200 } })).toThrow('--groups 200 is not allowed: --groups must be an integer from 1 to 128');
  });
});
