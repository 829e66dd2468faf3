/**
 * The two FlashMLA calls the Run view's "your tensors" mode makes from .npy
 * files, each through the command line's own loading, checks and run:
 *   decode   flash_mla_with_kvcache   (`mla-sandbox run --q ... --kv-cache ...`; a cache of h_kv > 1 heads: GQA, run/gqa-run.ts)
 *   prefill  flash_mla_sparse_fwd     (`mla-sandbox prefill --q ... --kv-cache ... --indices ...`)
 * A call names its files, the fields of its form, and how it runs: the files
 * read, the run on this GPU, checked against the f64 reference in a worker,
 * the report's lines and the returns as .npy arrays in FlashMLA's shapes.
 */
import type { GpuContext } from '../gpu/device';
import { describeReport } from '../run/report';
import { type FlagValues, SHAPE_FLAG_DEFAULTS, configFromFlags, intFlag, numberFlag } from '../run/run-options';
import { measureAttention } from '../run/run-attention';
import type { NpyArray } from '../run/npy';
import type { ReferenceRunner } from '../run/run-attention';
import { TENSOR_FILES, type TensorKey, inputsFromArrays } from '../run/load-inputs';
import { checkInputValues } from '../run/input-scan';
import { dequantizeKvCache } from '../mla/kv-quant';
import { KV_FORMATS, kvLayout } from '../mla/kv-layout';
import { KERNEL_CHOICES } from '../kernels/versions';
import { type CheckResult, failureText } from '../reference/check';
import { PREFILL_FILES, PREFILL_REQUIRED, type PrefillArrays, prefillFromArrays } from '../prefill/prefill-files';
import { CHECKED_TOKENS, runPrefill } from '../prefill/prefill-run';
import { describePrefill } from '../prefill/prefill-report';
import type { Field } from './flag-form';
import type { RunSteps } from './run-control';
import { gqaReferenceInWorker, referenceInWorker } from './cpu-worker';
import { gqaFromArrays, kvHeadsOfFile } from '../run/load-gqa';
import { describeGqaReport, measureGqa } from '../run/gqa-run';
import type { MlaShape } from '../mla/shape';

export type FilesCallName = 'decode' | 'prefill';
export const FILES_CALL_NAMES: readonly FilesCallName[] = ['decode', 'prefill'];

/** The returns a run offers as downloads. */
export type ReturnName = 'out' | 'lse' | 'max-logits';
export const RETURN_NAMES: readonly ReturnName[] = ['out', 'lse', 'max-logits'];

/** A file picked or dropped: its array and its name. */
export interface ChosenArray {
  readonly array: NpyArray;
  readonly name: string;
}

export interface FilesRunResult {
  readonly lines: readonly string[];
  readonly pass: boolean;
  readonly status: string;
  readonly returns: Partial<Record<ReturnName, NpyArray>>;
}

export interface FilesCall {
  /** FlashMLA's function. */
  readonly flashmla: string;
  /** The command line that makes the same call. */
  readonly command: string;
  readonly files: readonly { readonly flag: string; readonly what: string }[];
  readonly required: readonly string[];
  readonly fields: readonly Field[];
  readonly defaults: FlagValues;
  readonly returns: readonly ReturnName[];
  readonly run: (files: ReadonlyMap<string, ChosenArray>, values: FlagValues, ctx: () => Promise<GpuContext>, steps: RunSteps) => Promise<FilesRunResult>;
}

const KERNEL_FIELDS: Field[] = [
  { name: 'kv', label: 'KV cache', choices: KV_FORMATS, hint: 'the format the cache runs in (a float32 file is quantised to it)' },
  { name: 'kernel', label: 'Kernel', choices: KERNEL_CHOICES },
];

/** The f64 reference in a worker, its progress on the status line. */
function workerReference(steps: RunSteps, then: string): ReferenceRunner {
  return (inputs, bytes, layout) => referenceInWorker(inputs, bytes, layout, steps.percent('Checking against the f64 CPU reference (in a worker)'), steps.signal)
    .finally(() => steps.say(then));
}

function verdict(check: CheckResult): { pass: boolean; status: string } {
  return { pass: check.pass, status: check.pass ? 'PASS: matches the CPU reference' : `FAIL: ${failureText(check)}` };
}

/** The decode call's returns in FlashMLA's shapes: out [b, s_q, h_q, d_v], lse [b, h_q, s_q]. */
function decodeReturns(shape: MlaShape, output: { out: Float32Array; lse: Float32Array }): Partial<Record<ReturnName, NpyArray>> {
  return {
    out: { dtype: 'float32', shape: [shape.batch, shape.sQ, shape.hQ, shape.dV], data: output.out },
    lse: { dtype: 'float32', shape: [shape.batch, shape.hQ, shape.sQ], data: output.lse },
  };
}

const decode: FilesCall = {
  flashmla: 'flash_mla_with_kvcache',
  command: 'mla-sandbox run',
  files: TENSOR_FILES,
  required: ['q', 'kv-cache'],
  fields: [...KERNEL_FIELDS, { name: 'splits', label: 'KV splits', hint: 'auto or a number' }],
  defaults: { ...SHAPE_FLAG_DEFAULTS, kv: 'fp8', kernel: 'flash', splits: 'auto' },
  returns: ['out', 'lse'],
  async run(files, values, getDevice, steps) {
    const config = configFromFlags(values);
    const arrays: Partial<Record<TensorKey, NpyArray>> = {};
    const names: Partial<Record<TensorKey, string>> = {};
    for (const f of TENSOR_FILES) {
      const chosen = files.get(f.flag);
      if (chosen) { arrays[f.key] = chosen.array; names[f.key] = chosen.name; }
    }
    const tensors = { ...arrays, q: arrays.q!, kvCache: arrays.kvCache!, names };
    if (kvHeadsOfFile(tensors.kvCache) > 1) {
      // Several KV heads: a dense GQA call, run as its MQA form, checked on the call as given (mla/gqa.ts).
      const call = gqaFromArrays(tensors, { kvFormat: config.kvFormat });
      const ctx = await getDevice();
      steps.say('Compiling and running on the GPU...');
      const report = await measureGqa(ctx, call, config, {
        quantizationError: true, timing: { samples: 5, warmup: 1 }, signal: steps.signal,
        reference: (c, rows) => gqaReferenceInWorker(c, rows, () => {}, steps.signal).finally(() => steps.say('Timing...')),
      });
      return { lines: describeGqaReport(call, report), ...verdict(report.check), returns: decodeReturns(call.shape, report.output) };
    }
    const inputs = inputsFromArrays(tensors, { kvFormat: config.kvFormat });
    const layout = kvLayout(config.kvFormat, inputs.shape, inputs.shape.pageBlockSize);
    checkInputValues(inputs, inputs.cacheBytes ? dequantizeKvCache(inputs.cacheBytes, layout) : inputs.kvRows, { q: names.q!, kvCache: names.kvCache!, sink: names.attnSink });
    const ctx = await getDevice();
    steps.say('Compiling and running on the GPU...');
    const report = await measureAttention(ctx, inputs, config, {
      quantizationError: true, timing: { samples: 5, warmup: 1 }, signal: steps.signal, reference: workerReference(steps, 'Timing...'),
    });
    return { lines: describeReport(inputs.shape, report), ...verdict(report.check), returns: decodeReturns(inputs.shape, report.output) };
  },
};

const prefill: FilesCall = {
  flashmla: 'flash_mla_sparse_fwd',
  command: 'mla-sandbox prefill',
  files: PREFILL_FILES,
  required: PREFILL_REQUIRED,
  fields: [
    ...KERNEL_FIELDS,
    { name: 'd-v', label: 'd_v', placeholder: 'the preset\'s (512)', hint: 'FlashMLA\'s d_v: the value dims, the first of the key\'s' },
    { name: 'softmax-scale', label: 'Softmax scale', placeholder: '1/sqrt(d_qk)', hint: 'FlashMLA\'s sm_scale' },
    { name: 'check-tokens', label: 'Tokens checked', hint: 'query tokens checked against the f64 reference (a number, spread over the prompt, or all)' },
    { name: 'no-time', label: 'Check only (no timing)', checkbox: true },
  ],
  defaults: { kv: 'bf16', kernel: 'flash', splits: 'auto', 'scale-rounding': 'pow2', 'check-tokens': String(CHECKED_TOKENS) },
  returns: ['out', 'lse', 'max-logits'],
  async run(files, values, getDevice, steps) {
    const config = configFromFlags(values);
    const array = (flag: string) => files.get(flag)?.array;
    const names = Object.fromEntries(PREFILL_FILES.flatMap((f) => (files.has(f.flag) ? [[f.key, files.get(f.flag)!.name]] : []))) as PrefillArrays['names'];
    const checkTokens = values['check-tokens'] === 'all' ? 'all' : intFlag('check-tokens', values['check-tokens'] ?? String(CHECKED_TOKENS), 1);
    const call = prefillFromArrays({
      q: array('q')!, kvCache: array('kv-cache')!, indices: array('indices')!, attnSink: array('attn-sink'), topkLength: array('topk-length'), names,
    }, { kvFormat: config.kvFormat, dV: intFlag('d-v', values['d-v'], 4, 1024), softmaxScale: numberFlag('softmax-scale', values['softmax-scale']) });
    const ctx = await getDevice();
    steps.say('Compiling and running on the GPU...');
    const report = await runPrefill(ctx, call, config, {
      checkTokens, time: values['no-time'] !== true, signal: steps.signal, onProgress: steps.say,
      reference: workerReference(steps, 'Checked.'),
    });
    const { sQ, hQ } = call;
    return {
      lines: describePrefill(call, report), ...verdict(report.check),
      returns: {
        out: { dtype: 'float32', shape: [sQ, hQ, call.dims.dV], data: report.output.out },
        lse: { dtype: 'float32', shape: [sQ, hQ], data: report.output.lse },
        'max-logits': { dtype: 'float32', shape: [sQ, hQ], data: report.output.maxLogits },
      },
    };
  },
};

export const FILES_CALLS: Readonly<Record<FilesCallName, FilesCall>> = { decode, prefill };
