/**
 * Run, your own tensors: .npy files in FlashMLA's shapes, picked or dropped,
 * under the command line's names (q, kv-cache, cache-seqlens, block-table,
 * indices, topk-length, attn-sink) and through the same loading and checks
 * (run/load-inputs.ts, run/input-scan.ts); the call runs on this GPU, is
 * checked against the f64 reference (in a worker) and timed, and out and
 * lse download as .npy.
 */
import type { GpuContext } from '../gpu/device';
import { describeReport } from '../run/report';
import { type FlagValues, SHAPE_FLAG_DEFAULTS, configFromFlags } from '../run/run-options';
import { measureAttention } from '../run/run-attention';
import { type NpyArray, encodeNpy, parseNpy } from '../run/npy';
import { TENSOR_FILES, type TensorKey, inputsFromArrays } from '../run/load-inputs';
import { checkInputValues } from '../run/input-scan';
import { dequantizeKvCache } from '../mla/kv-quant';
import { KV_FORMATS, kvLayout } from '../mla/kv-layout';
import { KERNEL_CHOICES } from '../kernels/versions';
import { failureText } from '../reference/check';
import { downloadFile, escapeHtml, find } from './html';
import { type Field, fieldsHtml, readFields } from './flag-form';
import { modeLinks } from './run-modes';
import { wireRun } from './run-control';
import { referenceInWorker } from './cpu-worker';

/** FlashMLA's argument names for the files, where they differ from the flags. */
const FLASHMLA_NAMES: Readonly<Record<string, string>> = {
  'k-cache': 'kv-cache', 'indices-in-kvcache': 'indices', 'extra-k-cache': 'extra-kv-cache', 'extra-indices-in-kvcache': 'extra-indices',
};

const FIELDS: Field[] = [
  { name: 'kv', label: 'KV cache', choices: KV_FORMATS, hint: 'the format the cache runs in (a float32 file is quantised to it)' },
  { name: 'kernel', label: 'Kernel', choices: KERNEL_CHOICES },
  { name: 'splits', label: 'KV splits', hint: 'auto or a number' },
];
const DEFAULTS: FlagValues = { ...SHAPE_FLAG_DEFAULTS, kv: 'fp8', kernel: 'flash', splits: 'auto' };

/** The flag a file's name gives it (q.npy, kv-cache.npy, k_cache.npy, attn_sink.npy, ...), or undefined. */
export function flagOfFileName(name: string): string | undefined {
  const base = name.replace(/\.npy$/i, '').toLowerCase().replace(/_/g, '-');
  const flag = FLASHMLA_NAMES[base] ?? base;
  return TENSOR_FILES.some((f) => f.flag === flag) ? flag : undefined;
}

async function readNpyFile(file: File): Promise<NpyArray> {
  return parseNpy(new Uint8Array(await file.arrayBuffer()), file.name);
}

export function mountFilesRunView(view: HTMLElement, getDevice: () => Promise<GpuContext>): { run: () => Promise<void> } {
  const rows = TENSOR_FILES.map((f) => `<label class="file-field"><span><code>--${f.flag}</code> ${escapeHtml(f.what)}</span>`
    + `<input type="file" accept=".npy" data-flag="${f.flag}" id="file-${f.flag}"><small class="chosen" id="chosen-${f.flag}"></small></label>`).join('');
  view.innerHTML = `<div id="files-root">${modeLinks('files')}<h2>Your own tensors</h2>`
    + '<p class="lead">The call <code>mla-sandbox run --q ... --kv-cache ...</code> makes, on this GPU: .npy files in FlashMLA\'s shapes, checked as the command line checks them, '
    + 'run, checked against the f64 CPU reference and timed. A sparse call (indices) needs no cache seqlens or block table. Nothing leaves this browser.</p>'
    + `<div id="files-drop" class="drop">Drop .npy files here, each named after its field (q.npy, kv-cache.npy or k_cache.npy, cache_seqlens.npy, indices.npy, attn_sink.npy, ...), or pick them below.</div>`
    + `<form id="files-form"><div class="file-fields">${rows}</div><div class="fields">${fieldsHtml(FIELDS, DEFAULTS)}</div>`
    + '<div class="buttons"><button type="submit" id="files-run">Run</button><button type="button" id="files-cancel" disabled>Cancel</button>'
    + '<button type="button" id="files-out" disabled>Download out.npy</button><button type="button" id="files-lse" disabled>Download lse.npy</button></div></form>'
    + '<p id="files-status"></p><pre id="files-result"></pre></div>';
  const root = find(view, '#files-root');
  const form = find<HTMLFormElement>(root, '#files-form');
  const status = find(root, '#files-status');
  const result = find(root, '#files-result');
  const chosen = new Map<string, File>();
  let outputs: { out: Uint8Array<ArrayBuffer>; lse: Uint8Array<ArrayBuffer> } | undefined;

  function choose(flag: string, file: File | undefined): void {
    if (file) chosen.set(flag, file);
    else chosen.delete(flag);
    find(root, `#chosen-${flag}`).textContent = file ? `${file.name}, ${file.size} bytes` : '';
  }
  for (const input of root.querySelectorAll<HTMLInputElement>('input[type=file]')) {
    input.addEventListener('change', () => choose(input.dataset.flag!, input.files?.[0]));
  }
  const drop = find(root, '#files-drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const unknown: string[] = [];
    for (const file of e.dataTransfer?.files ?? []) {
      const flag = flagOfFileName(file.name);
      if (flag) choose(flag, file);
      else unknown.push(file.name);
    }
    status.className = unknown.length > 0 ? 'fail' : '';
    status.textContent = unknown.length > 0
      ? `Not taken: ${unknown.join(', ')}: a file must be named after its field (${TENSOR_FILES.map((f) => `${f.flag}.npy`).join(', ')}; _ for - is fine)`
      : `Taken: ${[...chosen.keys()].join(', ')}.`;
  });
  const download = (name: 'out' | 'lse') => () => { if (outputs) downloadFile(`${name}.npy`, outputs[name], 'application/octet-stream'); };
  find(root, '#files-out').addEventListener('click', download('out'));
  find(root, '#files-lse').addEventListener('click', download('lse'));

  return wireRun({ root, form, status, cancel: find<HTMLButtonElement>(root, '#files-cancel') }, async ({ signal, say, percent }) => {
    result.textContent = '';
    outputs = undefined;
    for (const id of ['#files-out', '#files-lse']) find<HTMLButtonElement>(root, id).disabled = true;
    const values = readFields(form, FIELDS, DEFAULTS);
    const config = configFromFlags(values);
    for (const f of ['q', 'kv-cache']) if (!chosen.has(f)) throw new Error(`--${f}: no file chosen (${TENSOR_FILES.find((t) => t.flag === f)!.what})`);
    say('Reading the files...');
    const arrays: Partial<Record<TensorKey, NpyArray>> = {};
    const names: Partial<Record<TensorKey, string>> = {};
    for (const f of TENSOR_FILES) {
      const file = chosen.get(f.flag);
      if (!file) continue;
      arrays[f.key] = await readNpyFile(file);
      names[f.key] = file.name;
    }
    const inputs = inputsFromArrays({ ...arrays, q: arrays.q!, kvCache: arrays.kvCache!, names }, { kvFormat: config.kvFormat });
    const layout = kvLayout(config.kvFormat, inputs.shape, inputs.shape.pageBlockSize);
    checkInputValues(inputs, inputs.cacheBytes ? dequantizeKvCache(inputs.cacheBytes, layout) : inputs.kvRows, { q: names.q!, kvCache: names.kvCache!, sink: names.attnSink });
    const ctx = await getDevice();
    say('Compiling and running on the GPU...');
    const timing = { samples: 5, warmup: 1 };
    const report = await measureAttention(ctx, inputs, config, {
      quantizationError: true, timing, signal,
      reference: (i, bytes, l) => referenceInWorker(i, bytes, l, percent('Checking against the f64 CPU reference (in a worker)'), signal).finally(() => say('Timing...')),
    });
    const { shape } = inputs;
    outputs = {
      out: encodeNpy({ dtype: 'float32', shape: [shape.batch, shape.sQ, shape.hQ, shape.dV], data: report.output.out }) as Uint8Array<ArrayBuffer>,
      lse: encodeNpy({ dtype: 'float32', shape: [shape.batch, shape.hQ, shape.sQ], data: report.output.lse }) as Uint8Array<ArrayBuffer>,
    };
    for (const id of ['#files-out', '#files-lse']) find<HTMLButtonElement>(root, id).disabled = false;
    result.textContent = [`files    ${TENSOR_FILES.filter((f) => chosen.has(f.flag)).map((f) => `--${f.flag} ${chosen.get(f.flag)!.name}`).join('  ')}`, ...describeReport(shape, report)].join('\n');
    return { pass: report.check.pass, status: report.check.pass ? 'PASS: matches the CPU reference' : `FAIL: ${failureText(report.check)}` };
  });
}
