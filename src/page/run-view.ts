/**
 * Run: a form for the shape and the kernel, kept in the URL (a link
 * reproduces a run), and the result: check, time, throughput, roofline
 * fraction, adapter. Options are parsed by the same code as the CLI's flags.
 * With pipeline=sparse in the URL the view runs the sparse pipeline instead
 * (sparse-run-view.ts), with pipeline=files your own tensors (files-run-view.ts).
 */
import { type GpuContext, describeAdapter } from '../gpu/device';
import { tunedRunConfig } from '../tune/profile';
import { loadStoredProfile, storedProfileWhere } from './profile-store';
import { describeDevice, describeReport } from '../run/report';
import { SHAPE_FLAGS, SHAPE_FLAG_DEFAULTS, type FlagValues, PAGE_MEMORY_BUDGET, configFromFlags, generationFromFlags, shapeFromFlags, timingFlags } from '../run/run-options';
import { measureAttention } from '../run/run-attention';
import { PRESET_NAMES, maxBlocksPerSeq } from '../mla/shape';
import { planRefusal } from '../run/runner';
import { generatedPages } from '../run/run-size';
import { KV_FORMATS } from '../mla/kv-layout';
import { KERNEL_CHOICES } from '../kernels/versions';
import { failureText } from '../reference/check';
import { escapeHtml, find, setQuery } from './html';
import { type Field, fieldsHtml, queryFromValues, readFields, valuesFromUrl } from './flag-form';
import { mountSparseRunView } from './sparse-run-view';
import { mountFilesRunView } from './files-run-view';
import { type RunMode, modeLinks, runModeOf } from './run-modes';
import { wireRun } from './run-control';
import { ChartView } from './charts';
import { generateInWorker, referenceInWorker } from './cpu-worker';

/** The page opens on this: the CLI's flag defaults (V3.2, FP8 cache, flash kernel) and a small shape. */
const DEFAULTS: FlagValues = {
  ...SHAPE_FLAG_DEFAULTS,
  'h-q': '16', 's-q': '1', seqlens: '512,300',
};

const FIELDS: Field[] = [
  { name: 'preset', label: 'Head', choices: PRESET_NAMES, hint: 'v32: d_qk 576 = 512 latent + 64 rope, d_v 512; model1: 512 = 448 + 64, value = whole key' },
  { name: 'kv', label: 'KV cache', choices: KV_FORMATS },
  { name: 'kernel', label: 'Kernel', choices: KERNEL_CHOICES, hint: 'flash: the best version for this GPU; topk > 0 makes any version sparse' },
  { name: 'h-q', label: 'Query heads h_q' },
  { name: 's-q', label: 'Query tokens s_q' },
  { name: 'seqlens', label: 'Seqlens (per request)', hint: 'comma-separated, e.g. 512,300' },
  { name: 'page-block-size', label: 'Page size', placeholder: '64' },
  { name: 'topk', label: 'topk (sparse)', placeholder: '0 (dense)' },
  { name: 'splits', label: 'KV splits', hint: 'auto or a number' },
  { name: 'seed', label: 'Seed' },
  { name: 'no-causal', label: 'Non-causal', checkbox: true },
  { name: 'sink', label: 'Attention sink', checkbox: true },
];

/** The kernel run's flag values in a URL's query (the Kernel source view runs the same shape). */
export function runValuesFromUrl(search: string): FlagValues {
  return valuesFromUrl(search, SHAPE_FLAGS, DEFAULTS);
}

/** The kernel run, or (with pipeline=sparse in the URL) the sparse pipeline. */
export function mountRunView(view: HTMLElement, getDevice: () => Promise<GpuContext>): { run: () => Promise<void> } {
  let mode: RunMode;
  try {
    mode = runModeOf(location.search);
  } catch (e) {
    // An unknown mode is named and nothing runs; the links lead to the two that exist.
    view.innerHTML = `<div id="run-root" data-check="error">${modeLinks()}<h2>Run</h2><p id="status" class="fail">${escapeHtml((e as Error).message)}</p></div>`;
    return { run: async () => {} };
  }
  if (mode === 'files') return mountFilesRunView(view, getDevice);
  return mode === 'sparse' ? mountSparseRunView(view, getDevice) : mountKernelRun(view, getDevice);
}

function mountKernelRun(view: HTMLElement, getDevice: () => Promise<GpuContext>): { run: () => Promise<void> } {
  const initial = runValuesFromUrl(location.search);
  // Flags the URL may set that have no field here (d-qk, softmax-scale, ...): kept, not dropped.
  const urlOnly = Object.fromEntries(Object.entries(initial).filter(([k, v]) => !FIELDS.some((f) => f.name === k) && v !== DEFAULTS[k]));
  view.innerHTML = `<div id="run-root">${modeLinks('kernel')}<h2>Run one kernel</h2>`
    + `<p class="lead">Pick a shape, KV cache format and kernel. Each run is checked against the CPU reference (f64), then timed.</p>`
    + `<form id="run-form">${fieldsHtml(FIELDS, initial)}<div class="buttons"><button type="submit" id="run-button">Run</button>`
    + '<button type="button" id="run-cancel" disabled>Cancel</button></div></form><p id="status"></p><pre id="result"></pre>'
    + '<figure class="chart" hidden><canvas id="run-roofline"></canvas></figure><details><summary>Device</summary><pre id="device"></pre></details></div>';
  const root = find(view, '#run-root');
  const form = find<HTMLFormElement>(root, '#run-form');
  const status = find(root, '#status');
  const result = find(root, '#result');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#run-roofline'));
  const cancel = find<HTMLButtonElement>(root, '#run-cancel');
  return wireRun({ root, form, status, cancel }, async ({ signal, say, percent }) => {
    const values = readFields(form, FIELDS, { ...DEFAULTS, ...urlOnly });
    setQuery(queryFromValues(values, DEFAULTS));
    result.textContent = '';
    const config = configFromFlags(values);
    const asked = timingFlags(values);
    const timing = { samples: asked.samples ?? 5, warmup: asked.warmup ?? 1 };
    const shape = shapeFromFlags(values); // a bad field is refused before the device is asked for
    const ctx = await getDevice();
    // Kernel flash with no option set by hand runs this browser's tuned pick (the Ladder view's Tune section).
    const adapter = describeAdapter(ctx.adapter);
    // A pick that does not fit this call's generated cache on this device gives way to the default.
    const refusal = (c: typeof config) => planRefusal(shape, generatedPages(shape), maxBlocksPerSeq(shape), c, ctx.limits);
    const tuning = tunedRunConfig(config, () => loadStoredProfile(adapter), storedProfileWhere(adapter), adapter, shape, refusal);
    const request = generationFromFlags(values, ctx.limits, PAGE_MEMORY_BUDGET);
    find(root, '#device').textContent = describeDevice(ctx).join('\n');
    // The CPU's share (inputs, reference) runs in a worker: the page answers, and Cancel works, throughout.
    const inputs = await generateInWorker(request, percent('Generating the inputs'), signal);
    say('Compiling and running on the GPU...');
    const report = await measureAttention(ctx, inputs, tuning.config, {
      quantizationError: true, timing, signal,
      reference: (i, bytes, layout) => referenceInWorker(i, bytes, layout, percent('Checking against the f64 CPU reference (in a worker)'), signal)
        .finally(() => say('Timing...')),
    });
    result.textContent = [`tuning   ${tuning.source.line}`, ...describeReport(inputs.shape, report)].join('\n');
    if (report.roofline && report.throughput) {
      // This run on the same roofline chart as the Ladder view's versions.
      chart.canvas.parentElement!.hidden = false;
      chart.roofline('This run on the roofline', report.roofline, [{
        label: `${report.version.id} ${report.version.name} ${inputs.shape.dQk} ${report.layout.name} h_q ${inputs.shape.hQ}`,
        x: report.work.flops / report.work.bytes, y: report.throughput.gflops,
      }]);
    }
    return { pass: report.check.pass, status: report.check.pass ? 'PASS: matches the CPU reference' : `FAIL: ${failureText(report.check)}` };
  });
}
