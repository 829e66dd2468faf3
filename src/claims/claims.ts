/**
 * The article's claims about DeepSeek's next model (the 512-dim "MODEL1"
 * head, an FP8 KV cache, a million-token context), one row each, with the
 * sandbox's answer. Every number comes from the project's own tables (head
 * presets, cache layouts, the memory calculator) or from runs on this device
 * (measure.ts); every verdict is derived from those numbers here, never typed
 * in. A row says how its answer was obtained and where to see the detail.
 */
import { HEAD_PRESETS, type PresetName, fmtBytes, presetShape } from '../mla/shape';
import { type KvFormat, kvLayout } from '../mla/kv-layout';
import type { MeasuredFacts } from './measure';
import { promptFlops } from '../prompt/cost-model';

export type Verdict = 'holds' | 'partly' | 'wrong' | 'not measurable here';
export type Source = 'computed from the layout table' | 'measured on this device' | 'not measurable here';

export interface ClaimRow {
  readonly id: number;
  /** The article's words. */
  readonly claim: string;
  readonly verdict: Verdict;
  readonly answer: string;
  readonly how: Source;
  /** Why a part cannot be measured here, where one cannot. */
  readonly why?: string;
  /** The numbers behind the answer. */
  readonly numbers: Readonly<Record<string, number | string | boolean>>;
  /** The view or command that shows the detail. */
  readonly see: string;
  /** A measured row whose measurement has not run yet. */
  readonly pending?: boolean;
}

/** What the device offers that claim 8 is about. */
export interface DeviceFacts {
  readonly adapter: string;
  readonly software: boolean;
  readonly features: readonly string[];
}

const LAYERS = 61;
const pct = (x: number, digits = 0) => `${(100 * x).toFixed(digits)} %`;

function bytesPerToken(preset: PresetName, format: KvFormat): number {
  return kvLayout(format, presetShape(preset), 64).bytesPerToken;
}

/** Bytes of a cache of `tokens` tokens over `layers` layers. */
export function cacheBytes(preset: PresetName, format: KvFormat, tokens: number, layers = LAYERS): number {
  return bytesPerToken(preset, format) * layers * tokens;
}

/** FLOPs per key per head of the decode: 2 (d_qk + d_v). */
function flopsPerKey(preset: PresetName): number {
  const p = HEAD_PRESETS[preset];
  return 2 * (p.dQk + p.dV);
}

export function claimRows(measured?: MeasuredFacts, device?: DeviceFacts): ClaimRow[] {
  const v32 = HEAD_PRESETS.v32;
  const m1 = HEAD_PRESETS.model1;
  const rows: ClaimRow[] = [];

  // 1. The 576 split.
  const claimed = { latent: 448, rope: 128 };
  const isV32 = v32.dNope === claimed.latent && v32.dRope === claimed.rope;
  const isModel1 = m1.dNope === claimed.latent && m1.dRope === claimed.rope;
  rows.push({
    id: 1, claim: 'V3.2\'s d_qk = 576 "includes 128-dim RoPE + 448-dim latent".',
    verdict: isV32 ? 'holds' : 'wrong', how: 'computed from the layout table', see: 'mla-sandbox info; the Run view\'s presets',
    answer: `V3.2's 576 is ${v32.dNope} latent + ${v32.dRope} RoPE (FlashMLA's V32 layout); ${m1.dNope} + ${m1.dRope} = ${m1.dQk} is MODEL1's split${isModel1 ? '' : ', and neither has a 128-dim RoPE part'}.`,
    numbers: { v32Latent: v32.dNope, v32Rope: v32.dRope, model1Latent: m1.dNope, model1Rope: m1.dRope },
  });

  // 2. 512 and alignment.
  const flopRatio = flopsPerKey('model1') / flopsPerKey('v32');
  const byteRatio = bytesPerToken('model1', 'fp8') / bytesPerToken('v32', 'fp8');
  const aligned = v32.dQk % 64 === 0;
  const t = measured?.model1Ratio;
  const less = flopRatio < 1 && byteRatio < 1;
  rows.push({
    id: 2, claim: 'MODEL1 moves to a "512-dim standardized setting"; "512 is a power of 2, better aligned with GPU compute units".',
    verdict: less && aligned ? 'partly' : less ? 'holds' : 'wrong', how: t ? 'measured on this device' : 'computed from the layout table', see: 'mla-sandbox bench (576 vs 512); the Compare view', pending: !t,
    answer: `512 does less work: ${pct(1 - flopRatio, 1)} fewer FLOPs (${flopsPerKey('model1')} / ${flopsPerKey('v32')} per key and head) and ${pct(1 - byteRatio, 1)} fewer FP8 cache bytes (${bytesPerToken('model1', 'fp8')} / ${bytesPerToken('v32', 'fp8')}). `
      + `But 576 = 9 x 64 ${aligned ? 'is already a multiple of 64' : 'is not a multiple of 64'}: tiles of 64 fit both, so alignment is not what 512 buys. `
      + (t ? `Measured here, MODEL1 / V3.2 time: ${t.memoryBound.toFixed(3)} at h_q ${t.memoryBoundHeads} (memory-bound), ${t.computeBound.toFixed(3)} at h_q ${t.computeBoundHeads} (compute-bound), against ${flopRatio.toFixed(3)} (FLOPs) and ${byteRatio.toFixed(3)} (bytes).` : 'The time ratio is measured on request.'),
    numbers: { flopRatio, byteRatioFp8: byteRatio, v32MultipleOf64: aligned, ...(t ? { timeRatioMemoryBound: t.memoryBound, timeRatioComputeBound: t.computeBound } : {}) },
  });

  // 3. FP8 saves 50 %+.
  const bf16 = bytesPerToken('v32', 'bf16');
  const fp8 = bytesPerToken('v32', 'fp8');
  const f32 = bytesPerToken('v32', 'f32');
  const savedVsBf16 = 1 - fp8 / bf16;
  const savedVsF32 = 1 - fp8 / f32;
  rows.push({
    id: 3, claim: 'The FP8 KV cache gives "50 %+ memory reduction".',
    verdict: savedVsBf16 >= 0.5 ? 'holds' : savedVsF32 >= 0.5 ? 'partly' : 'wrong', how: 'computed from the layout table', see: 'mla-sandbox memory; the Memory view',
    answer: `V3.2: ${fp8} B a token in FP8 against ${bf16} in bf16 is ${pct(savedVsBf16)} less (the FP8 layout keeps per-tile scales and the 64 RoPE values in bf16); against f32 (${f32} B) ${pct(savedVsF32)} less. MODEL1: ${bytesPerToken('model1', 'fp8')} against ${bytesPerToken('model1', 'bf16')}, ${pct(1 - bytesPerToken('model1', 'fp8') / bytesPerToken('model1', 'bf16'))} less.`,
    numbers: { v32Fp8: fp8, v32Bf16: bf16, v32F32: f32, savedVsBf16, savedVsF32 },
  });

  // 4. The precision table.
  const fp8OfF32 = fp8 / f32;
  const bf16OfF32 = bf16 / f32;
  const acc = measured?.fp8Accuracy;
  const fastest = measured?.formatTimes;
  const fp8Fastest = fastest ? fastest.fp8 <= Math.min(fastest.bf16, fastest.f32) : undefined;
  const memoryParts = [Math.abs(fp8OfF32 - 0.25) < 0.005, Math.abs(bf16OfF32 - 0.5) < 0.005];
  rows.push({
    id: 4, claim: 'FP8 uses 25 % of FP32\'s memory, is "fastest", "99 %" accuracy; bf16 and FP16 50 %, "99.8 %" / "99.5 %".',
    verdict: memoryParts.every(Boolean) ? 'holds' : memoryParts.some(Boolean) ? 'partly' : 'wrong', how: acc ? 'measured on this device' : 'computed from the layout table', see: 'mla-sandbox run --kv fp8 (its quantisation error); the Compare view', pending: !acc,
    why: 'FP16 is not a cache format of FlashMLA or of this sandbox; "accuracy" in percent is not defined by the article',
    answer: `Memory: FP8 is ${pct(fp8OfF32, 1)} of f32 (not 25 %: scales and the bf16 RoPE part), bf16 ${pct(bf16OfF32)}. `
      + (acc ? `The decode's output from an FP8 cache against the f32 cache's, on this device: relative error ${acc.maxRelErr.toExponential(2)} of max |out|, cosine similarity ${(1 - acc.cosineDiff).toFixed(6)}; if "99 %" meant a cosine of 0.99, FP8 is ${1 - acc.cosineDiff >= 0.99 ? 'within' : 'outside'} it, if it meant 1 % relative error per value, it is ${acc.maxRelErr <= 0.01 ? 'within' : 'outside'} it. ` : 'The FP8 output\'s error against f32 is measured on request. ')
      + (fastest ? `Fastest here: ${fp8Fastest ? 'FP8' : fastest.bf16 <= fastest.f32 ? 'bf16' : 'f32'} (f32 ${fastest.f32.toFixed(2)} ms, bf16 ${fastest.bf16.toFixed(2)}, FP8 ${fastest.fp8.toFixed(2)} at h_q ${fastest.heads}).` : ''),
    numbers: { fp8OfF32, bf16OfF32, ...(acc ? { fp8MaxRelErr: acc.maxRelErr, fp8Cosine: 1 - acc.cosineDiff } : {}), ...(fastest ? { fp8Ms: fastest.fp8, bf16Ms: fastest.bf16, f32Ms: fastest.f32 } : {}) },
  });

  // 5. 30-50 % speed-up.
  const sp = measured?.fp8Speedup;
  const speedVerdict: Verdict = !sp || device?.software !== false ? 'not measurable here' : sp.memoryBound >= 1.3 ? 'holds' : sp.memoryBound > 1 ? 'partly' : 'wrong';
  rows.push({
    id: 5, claim: '"30-50 % inference speedup" from the KV-cache changes and FP8.',
    verdict: speedVerdict, how: sp ? 'measured on this device' : 'not measurable here', see: 'mla-sandbox bench --kv bf16,fp8; the Compare view', pending: !sp,
    why: device?.software !== false ? 'a software adapter is a CPU: its FP8 decode pays for decoding bytes in code, not in a memory system, so its times say little about a GPU\'s' : undefined,
    answer: sp
      ? `FP8 against bf16 decode time on this device: ${sp.memoryBound.toFixed(2)}x at h_q ${sp.memoryBoundHeads} (memory-bound), ${sp.computeBound.toFixed(2)}x at h_q ${sp.computeBoundHeads} (compute-bound)${device?.software !== false ? '; the adapter is software, so no verdict' : ''}. The decode is one part of inference: the rest of the model is untouched by the cache format.`
      : 'Measured on request (FP8 against bf16, memory-bound and compute-bound).',
    numbers: sp ? { speedupMemoryBound: sp.memoryBound, speedupComputeBound: sp.computeBound } : {},
  });

  // 6. Context length.
  const k128 = 128 * 1024;
  const m = 1 << 20;
  const long = measured?.longest;
  // Reading a prompt of 1M tokens once: V3.2's head and 128 heads (V3's), top-2048.
  const prompt = promptFlops(m, 128, HEAD_PRESETS.v32, 2048);
  const dsa = prompt.indexer + prompt.sparse;
  const pflop = (f: number) => `${(f / 1e15).toFixed(f < 1e15 ? 2 : 1)} PFLOP`;
  rows.push({
    id: 6, claim: 'Context: V3 128K tokens; V4 "1M+ tokens".',
    verdict: 'not measurable here', how: long ? 'measured on this device' : 'computed from the layout table', see: 'mla-sandbox memory --contexts 131072,1048576; mla-sandbox run --seqlens 1048576; mla-sandbox prompt-cost (the Compare view)', pending: !long,
    why: 'a model\'s context length is a property of its training, not of a kernel; what the sandbox can show is what the cache costs and that a decode over it runs',
    answer: `Cache over ${LAYERS} layers: V3.2 FP8 at 128K tokens ${fmtBytes(cacheBytes('v32', 'fp8', k128))}, at 1M ${fmtBytes(cacheBytes('v32', 'fp8', m))}; MODEL1 FP8 at 1M ${fmtBytes(cacheBytes('model1', 'fp8', m))} (${cacheBytes('model1', 'fp8', m).toLocaleString('en-US')} B). `
      + `Reading a 1M-token prompt once, per layer (V3.2's head, 128 heads, each token attending those before it): dense causal attention ${pflop(prompt.dense)}; `
      + `DeepSeek's sparse attention ${pflop(dsa)} (the indexer's ${pflop(prompt.indexer)} at 64 heads of 128, FP8, plus top-2048 attention's ${pflop(prompt.sparse)}), ${(prompt.dense / dsa).toFixed(0)}x fewer: `
      + 'a million-token prompt is affordable because the attention reads top-k keys, and the indexer\'s L^2 is what remains. '
      + (long ? `This device decoded ${long.tokens.toLocaleString('en-US')} tokens (${long.preset}, FP8, h_q ${long.heads}) in ${long.ms.toFixed(1)} ms, checked: ${long.pass ? 'pass' : 'FAIL'}.` : 'The longest decode on this device runs on request.'),
    numbers: { promptDenseFlopsAt1M: prompt.dense, promptDsaFlopsAt1M: dsa, v32Fp8At128K: cacheBytes('v32', 'fp8', k128), v32Fp8At1M: cacheBytes('v32', 'fp8', m), model1Fp8At1M: cacheBytes('model1', 'fp8', m), ...(long ? { longestTokens: long.tokens, longestMs: long.ms } : {}) },
  });

  // 7. 80 GB -> 32 GB.
  const ctx = k128;
  const saved = cacheBytes('v32', 'bf16', ctx) - cacheBytes('v32', 'fp8', ctx);
  const gap = 48e9;
  rows.push({
    id: 7, claim: '"Models requiring 80 GB VRAM now run on 32 GB".',
    verdict: saved >= gap ? 'partly' : 'wrong', how: 'computed from the layout table', see: 'the Memory view',
    answer: `The FP8 cache saves ${fmtBytes(saved)} per sequence of 128K tokens over ${LAYERS} layers (bf16 ${fmtBytes(cacheBytes('v32', 'bf16', ctx))} -> FP8 ${fmtBytes(cacheBytes('v32', 'fp8', ctx))}): ${pct(saved / gap)} of the 48 GB the claim needs, at one sequence. The rest would have to come from the weights, which the cache format does not touch.`,
    numbers: { savedPerSequenceAt128K: saved, claimedGap: gap },
  });

  // 8. Mixed precision.
  const f16 = device?.features.includes('shader-f16');
  const fp8Stored = kvLayout('fp8', presetShape('v32'), 64).kind === 'fp8';
  rows.push({
    id: 8, claim: 'Matrix operations in bf16, the KV cache in FP8 ("mixed precision").',
    verdict: fp8Stored ? 'holds' : 'wrong', how: device ? 'measured on this device' : 'computed from the layout table', see: 'the Kernel source view (kv_cache.wgsl, fp8.wgsl)',
    answer: `That is FlashMLA's FP8 path: the cache is stored in FP8 and dequantised for bf16 matrix multiplies. WebGPU has no bf16 arithmetic${device ? `; this device ${f16 ? 'has' : 'does not have'} shader-f16` : ' (shader-f16 where a device has it)'}. The sandbox keeps bf16 and FP8 as storage formats, decodes them in the shader and computes in f32.`,
    numbers: device ? { shaderF16: Boolean(f16) } : {},
  });

  // 9. Engram.
  rows.push({
    id: 9, claim: 'Engram: a memory-recall module of about 25 % of the model.',
    verdict: 'not measurable here', how: 'not measurable here', see: '-',
    why: 'a model component outside attention: a kernel sandbox has nothing of it to run or compute',
    answer: 'Out of scope: nothing in an attention kernel or its cache says anything about it.', numbers: {},
  });
  return rows;
}

/** The README's table: the rows computed without a device (measured ones say so). */
export function claimsMarkdown(rows: readonly ClaimRow[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return ['| # | the article says | verdict | the sandbox\'s answer |', '|---|---|---|---|',
    ...rows.map((r) => `| ${r.id} | ${cell(r.claim)} | ${r.verdict} | ${cell(r.answer)} |`)].join('\n');
}
