/**
 * Every version of the kernel ladder against the CPU reference, on the
 * dequantised cache it read: version x head shape (576, 512) x cache format
 * (f32, bf16, FP8) x s_q (1, 2 causal) x h_q (1, 16, 64, 128) x key source and
 * splits (dense unsplit, dense in 3 splits, sparse in 2 splits; v1 has no
 * splits), each over a batch of uneven requests whose seqlens cover 1, 63,
 * 64, 65, two key tiles, and more. Sparse rows carry FlashMLA's invalid
 * indices and one all-invalid row; MODEL1 runs with an attention sink at
 * most head counts. Unused cache slots hold NaN, so a read past a seqlen, a
 * page or an index shows up.
 *
 * The full matrix (h_q 1, 16, 64) runs everywhere but on SwiftShader, which
 * runs a covering subset (with h_q 128) (every value of every dimension at least once per version: its
 * compiles take seconds), and for v5, which no other adapter here runs,
 * every (head, format, key source) with s_q and h_q rotating;
 * MLA_TEST_MATRIX=full|cover overrides.
 */
import { describe, expect, it } from 'vitest';
import { broadBlocks } from './support/broad-blocks';
import { testGpu, testMatrix } from './support/gpu';
import { presetShape, type PresetName } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { runAttention } from '../src/run/run-attention';
import { formatCheck } from '../src/reference/check';
import type { KvFormat } from '../src/mla/kv-layout';
import { KERNEL_VERSIONS, missingFeature } from '../src/kernels/versions';

const gpu = await testGpu();

const PRESETS: PresetName[] = ['v32', 'model1'];
const FORMATS: KvFormat[] = ['f32', 'bf16', 'fp8'];
const QUERY_TOKENS = [1, 2];
const HEADS = [1, 16, 64, 128];
/** The full matrix's head counts: 128 (two blocks of 64) is in the covering subset, every version. */
const FULL_HEADS = [1, 16, 64];
const VARIANTS = [
  { keys: 'dense', splits: 1 },
  { keys: 'dense', splits: 3 },
  { keys: 'sparse', splits: 2 },
] as const;
const TOPK = 48;

interface Case { preset: PresetName; kvFormat: KvFormat; sQ: number; hQ: number; keys: 'dense' | 'sparse'; splits: number }

function cases(splits: boolean, wide = false): Case[] {
  const variants = splits ? VARIANTS : VARIANTS.filter((v) => v.splits === 1 || v.keys === 'sparse').map((v) => ({ ...v, splits: 1 }));
  const all = PRESETS.flatMap((preset) => FORMATS.flatMap((kvFormat) => QUERY_TOKENS.flatMap((sQ) => FULL_HEADS.flatMap((hQ) =>
    variants.map((v) => ({ preset, kvFormat, sQ, hQ, ...v }))))));
  if (!gpu || testMatrix(gpu) === 'full') return all;
  if (wide) {
    // Every (preset, format, variant), s_q and h_q rotating: for a version no other adapter here runs.
    return PRESETS.flatMap((preset, p) => FORMATS.flatMap((kvFormat, f) => variants.map((v, k) => {
      const n = (p * FORMATS.length + f) * variants.length + k; // 0..17
      return { preset, kvFormat, sQ: QUERY_TOKENS[n % QUERY_TOKENS.length], hQ: HEADS[Math.floor(n / 2) % HEADS.length], ...v };
    })));
  }
  // Covering subset: each (preset, format) once, with the variant, s_q and h_q rotating through their values.
  return PRESETS.flatMap((preset, p) => FORMATS.map((kvFormat, f) => {
    const n = p * FORMATS.length + f; // 0..5: every variant x s_q pair once, every h_q at least once
    const sQ = QUERY_TOKENS[Math.floor(n / variants.length) % QUERY_TOKENS.length];
    return { preset, kvFormat, sQ, hQ: HEADS[n % HEADS.length], ...variants[n % variants.length] };
  }));
}

// A version this device cannot run (v5 without subgroups: llvmpipe) is skipped here; SwiftShader runs it.
describe.skipIf(!gpu).each(KERNEL_VERSIONS.map((v) => [`${v.id} ${v.name}`, v] as const))('%s', (_, version) => {
  if (gpu && missingFeature(version, gpu.limits)) {
    it.skip(`${missingFeature(version, gpu.limits)}`, () => {});
    return;
  }
  // v5 runs only where there are subgroups (SwiftShader, of the adapters here): a wider subset there.
  const list = cases(version.name !== 'naive', version.needs === 'subgroups');
  it.each(list)('$preset $kvFormat, s_q $sQ, h_q $hQ, $keys, splits $splits', async ({ preset, kvFormat, sQ, hQ, keys, splits }) => {
    const sparse = keys === 'sparse';
    const shape = presetShape(preset, {
      seqlens: [Math.max(1, sQ), 63, 64, 65, 129], sQ, hQ, topk: sparse ? TOPK : 0, attentionSink: preset === 'model1' && hQ !== 16,
    });
    const inputs = generateInputs(shape, { seed: 1000 + hQ * 7 + sQ, invalidIndexFraction: sparse ? 0.2 : 0, allInvalidRows: sparse ? [1] : [] });
    const run = await runAttention(gpu!, inputs, { kernel: version.name, ...broadBlocks(version.name), kvFormat, splits });
    expect(run.version.name).toBe(version.name);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
    expect(run.plan.splits).toBe(splits);
  });
});
