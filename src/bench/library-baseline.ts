/**
 * The same decode written with a general library instead of a kernel made
 * for the job: TensorFlow.js's WebGPU backend on the same device
 * (`mla-sandbox bench --tfjs`). For one request (batch 1, s_q 1):
 *
 *   S = Q K^T * scale      matMul + mul      [h_q, seqlen]
 *   lse = logSumExp(S)     the same as the kernels return
 *   O = softmax(S) V       softmax + matMul  [h_q, d_v]
 *
 * with K the request's keys gathered from the pages once (dequantised to
 * f32: a library cannot read FP8 records) and V = the first d_v columns of K,
 * sliced once: both outside the timed region, which favours the library.
 * Its output is checked against the same CPU reference as the kernels before
 * it is timed. Timing is wall clock per call, up to the results being read
 * back, and the kernels are timed the same way (wall clock, one call a
 * sample) for the comparison.
 *
 * TensorFlow.js is an optional (dev) dependency, loaded only here.
 */
import type { GpuContext } from '../gpu/device';
import type { MlaInputs } from '../mla/inputs';
import { slotOf } from '../mla/paged-cache';
import { type PresetName, presetShape, softmaxScaleOf } from '../mla/shape';
import type { KvFormat } from '../mla/kv-layout';
import { type CheckResult, compareToReference } from '../reference/check';
import { type AttentionResult, referenceAttention } from '../reference/reference';
import { generateInputs } from '../mla/inputs';
import { measureAttention } from '../run/run-attention';
import { fmtMs } from '../run/report';
import type { SweepSpec } from './sweep';
import { type TimingResult, summarize } from '../timing/timer';

export const TFJS_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'] as const;

export interface LibraryRun {
  readonly check: CheckResult;
  readonly timing: TimingResult;
}

type Tf = typeof import('@tensorflow/tfjs-core');

async function loadTfjs(ctx: GpuContext): Promise<Tf> {
  // The backend registers itself (and refuses to start) only where
  // navigator.gpu exists, which Node lacks; it is given the device opened
  // here, so the object only has to exist.
  const g = globalThis as { navigator?: { gpu?: unknown } };
  g.navigator ??= {};
  g.navigator.gpu ??= {};
  let tf: Tf;
  let webgpu: typeof import('@tensorflow/tfjs-backend-webgpu');
  try {
    tf = await import('@tensorflow/tfjs-core');
    webgpu = await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(`--tfjs needs TensorFlow.js: npm install ${TFJS_PACKAGES.join(' ')} (${(e as Error).message})`);
  }
  // The backend's kernels are registered under the name "webgpu": replace its
  // factory (which would open a device of its own) with one on this device.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new webgpu.WebGPUBackend(ctx.device), 10);
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not start its WebGPU backend on this device');
  return tf;
}

/** Request 0's keys, [seqlen, d_qk], in order, from the paged cache. */
function gatherKeys(inputs: MlaInputs): Float32Array {
  const { shape, cache, kvRows } = inputs;
  const n = cache.seqlens[0];
  const keys = new Float32Array(n * shape.dQk);
  for (let t = 0; t < n; t++) {
    const slot = slotOf(cache, shape.pageBlockSize, 0, t);
    keys.set(kvRows.subarray(slot * shape.dQk, (slot + 1) * shape.dQk), t * shape.dQk);
  }
  return keys;
}

/**
 * The decode with TensorFlow.js on `ctx`'s device: checked against
 * `reference`, then timed (`warmup` calls, then `samples` calls).
 */
export async function tfjsDecode(
  ctx: GpuContext, inputs: MlaInputs, reference: AttentionResult, timing: { warmup: number; samples: number },
): Promise<LibraryRun> {
  const { shape } = inputs;
  if (shape.batch !== 1 || shape.sQ !== 1 || shape.topk > 0 || shape.attentionSink) {
    throw new Error('--tfjs compares one dense request (batch 1, s_q 1, no topk, no sink)');
  }
  const tf = await loadTfjs(ctx);
  const n = inputs.cache.seqlens[0];
  const q = tf.tensor2d(inputs.q, [shape.hQ, shape.dQk]);
  const k = tf.tensor2d(gatherKeys(inputs), [n, shape.dQk]);
  const v = tf.slice(k, [0, 0], [n, shape.dV]);
  const scale = softmaxScaleOf(shape);
  const decode = () => tf.tidy(() => {
    const s = tf.mul(tf.matMul(q, k, false, true), scale);
    return [tf.matMul(tf.softmax(s), v), tf.logSumExp(s, 1)] as const;
  });
  const call = async () => {
    const [out, lse] = decode();
    const values = await Promise.all([out.data(), lse.data()]);
    out.dispose();
    lse.dispose();
    return values;
  };
  try {
    const [out, lse] = await call();
    const check = compareToReference({ out, lse }, reference, shape);
    const samplesMs: number[] = [];
    for (let k = 0; k < timing.warmup + timing.samples; k++) {
      const t0 = performance.now();
      await call();
      if (k >= timing.warmup) samplesMs.push(performance.now() - t0);
    }
    const { median, min, p90 } = summarize(samplesMs);
    return {
      check,
      timing: { label: 'tfjs decode', method: 'wall-clock', medianMs: median, minMs: min, p90Ms: p90, samplesMs, iterations: 1, passes: [], notes: [] },
    };
  } finally {
    q.dispose();
    k.dispose();
    v.dispose();
  }
}

export interface LibraryComparisonRow {
  readonly preset: PresetName;
  readonly kvFormat: KvFormat;
  readonly seqlen: number;
  readonly hQ: number;
  /** The kernel version that ran ("flash": the best for the device). */
  readonly version: string;
  readonly kernel: TimingResult;
  readonly kernelCheck: CheckResult;
  readonly library: TimingResult;
  readonly libraryCheck: CheckResult;
  /** library median / kernel median. */
  readonly speedup: number;
}

/** The sweep's shape axes (batch 1, the flash kernel only), and the samples each side is timed with. */
export interface LibraryComparisonSpec extends Pick<SweepSpec, 'presets' | 'formats' | 'seqlens' | 'heads' | 'seed'> {
  readonly warmup: number;
  readonly samples: number;
}

/** The shapes: both heads, f32 and FP8 cache, seqlen 4096, h_q 64. */
export const LIBRARY_COMPARISON: LibraryComparisonSpec = {
  presets: ['v32', 'model1'], formats: ['f32', 'fp8'], seqlens: [4096], heads: [64], warmup: 2, samples: 7, seed: 1,
};

/**
 * For each shape: TensorFlow.js once (on the f32 cache), then the flash
 * kernel on each cache format, each checked, all timed the same way
 * (wall clock, one call a sample).
 */
export async function compareWithLibrary(ctx: GpuContext, spec: LibraryComparisonSpec, onRow?: (row: LibraryComparisonRow) => void): Promise<LibraryComparisonRow[]> {
  const rows: LibraryComparisonRow[] = [];
  const timing = { warmup: spec.warmup, samples: spec.samples };
  for (const preset of spec.presets) for (const seqlen of spec.seqlens) for (const hQ of spec.heads) {
    const inputs = generateInputs(presetShape(preset, { seqlens: [seqlen], hQ }), { seed: spec.seed });
    const reference = referenceAttention(inputs);
    const library = await tfjsDecode(ctx, inputs, reference, timing);
    for (const kvFormat of spec.formats) {
      const r = await measureAttention(ctx, inputs, { kernel: 'flash', kvFormat }, {
        timing: { ...timing, iterations: 1, method: 'wall-clock' },
      });
      const row: LibraryComparisonRow = {
        preset, kvFormat, seqlen, hQ, version: `${r.version.id} ${r.version.name}`, kernel: r.timing!, kernelCheck: r.check,
        library: library.timing, libraryCheck: library.check, speedup: library.timing.medianMs / r.timing!.medianMs,
      };
      rows.push(row);
      onRow?.(row);
    }
  }
  return rows;
}

export function libraryComparisonMarkdown(rows: readonly LibraryComparisonRow[], header: readonly string[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const verdict = (c: CheckResult) => `${c.pass ? 'pass' : 'FAIL'} (${c.maxRelErr.toExponential(1)})`;
  return [
    '# mla-sandbox bench --tfjs', '', ...header.map((h) => `- ${h}`), '',
    line(['head', 'kv', 'seqlen', 'h_q', 'kernel', 'kernel time (median, min)', 'TF.js time (median, min)', 'TF.js / kernel', 'kernel check', 'TF.js check']),
    '|---|---|---:|---:|---|---:|---:|---:|---|---|',
    ...rows.map((r) => line([
      presetShape(r.preset).dQk.toString(), r.kvFormat, String(r.seqlen), String(r.hQ), r.version,
      `${fmtMs(r.kernel.medianMs)}, ${fmtMs(r.kernel.minMs)}`, `${fmtMs(r.library.medianMs)}, ${fmtMs(r.library.minMs)}`,
      `${r.speedup.toFixed(2)}x`, verdict(r.kernelCheck), verdict(r.libraryCheck),
    ])),
    '',
  ].join('\n');
}
