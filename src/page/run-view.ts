/**
 * Run: a form for the shape and the kernel, kept in the URL (a link
 * reproduces a run), and the result: check, time, throughput, roofline
 * fraction, adapter. Options are parsed by the same code as the CLI's flags.
 */
import type { GpuContext } from '../gpu/device';
import { describeDevice, describeReport } from '../run/report';
import { SHAPE_FLAGS, type FlagValues, PAGE_MEMORY_BUDGET, configFromFlags, generationFromFlags, intFlag, shapeFromFlags } from '../run/run-options';
import { measureAttention } from '../run/run-attention';
import { PRESET_NAMES } from '../mla/shape';
import { KV_FORMATS } from '../mla/kv-layout';
import { KERNEL_CHOICES } from '../kernels/versions';
import { failureText } from '../reference/check';
import { escapeHtml, find, setQuery } from './html';
import { ChartView } from './charts';
import { generateInWorker, referenceInWorker } from './cpu-worker';

/** The page opens on this: the CLI's flag defaults (V3.2, FP8 cache, flash kernel) and a small shape. */
const DEFAULTS: FlagValues = {
  ...Object.fromEntries(Object.entries(SHAPE_FLAGS).flatMap(([k, f]) => ('default' in f ? [[k, f.default]] : []))),
  'h-q': '16', 's-q': '1', seqlens: '512,300',
};

interface Field {
  readonly name: string;
  readonly label: string;
  readonly choices?: readonly string[];
  readonly checkbox?: boolean;
  readonly hint?: string;
}

const FIELDS: Field[] = [
  { name: 'preset', label: 'Head', choices: PRESET_NAMES, hint: 'v32: d_qk 576 = 512 latent + 64 rope, d_v 512; model1: 512 = 448 + 64, value = whole key' },
  { name: 'kv', label: 'KV cache', choices: KV_FORMATS },
  { name: 'kernel', label: 'Kernel', choices: KERNEL_CHOICES, hint: 'flash: the best version for this GPU; topk > 0 makes any version sparse' },
  { name: 'h-q', label: 'Query heads h_q' },
  { name: 's-q', label: 'Query tokens s_q' },
  { name: 'seqlens', label: 'Seqlens (per request)', hint: 'comma-separated, e.g. 512,300' },
  { name: 'page-block-size', label: 'Page size' },
  { name: 'topk', label: 'topk (sparse)' },
  { name: 'splits', label: 'KV splits', hint: 'auto or a number' },
  { name: 'seed', label: 'Seed' },
  { name: 'no-causal', label: 'Non-causal', checkbox: true },
  { name: 'sink', label: 'Attention sink', checkbox: true },
];

export function valuesFromUrl(search: string): FlagValues {
  const params = new URLSearchParams(search);
  const values: FlagValues = { ...DEFAULTS };
  for (const name of Object.keys(SHAPE_FLAGS)) {
    const v = params.get(name);
    if (v === null) continue;
    values[name] = SHAPE_FLAGS[name as keyof typeof SHAPE_FLAGS].type === 'boolean' ? v !== '0' && v !== 'false' : v;
  }
  return values;
}

function queryFromValues(values: FlagValues): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === false || v === '' || DEFAULTS[k] === v) continue;
    params.set(k, v === true ? '1' : String(v));
  }
  return params.toString();
}

function formHtml(values: FlagValues): string {
  const field = (f: Field) => {
    const v = values[f.name];
    const input = f.checkbox
      ? `<input type="checkbox" name="${f.name}"${v ? ' checked' : ''}>`
      : f.choices
        // A value from the URL that is not a choice stays selected, so the run refuses it by name instead of running another.
        ? `<select name="${f.name}">${[...f.choices, ...(typeof v === 'string' && !f.choices.includes(v) ? [v] : [])]
          .map((c) => `<option${c === v ? ' selected' : ''}>${escapeHtml(c)}</option>`).join('')}</select>`
        : `<input name="${f.name}" value="${escapeHtml(String(v ?? ''))}" placeholder="${f.name === 'topk' ? '0 (dense)' : f.name === 'page-block-size' ? '64' : ''}">`;
    return `<label title="${escapeHtml(f.hint ?? '')}"><span>${f.label}</span>${input}</label>`;
  };
  return `<form id="run-form">${FIELDS.map(field).join('')}<div class="buttons"><button type="submit" id="run-button">Run</button>`
    + '<button type="button" id="run-cancel" disabled>Cancel</button></div></form>';
}

/** The form's values over `base` (the URL's values of flags the form has no field for, e.g. d-qk). */
function readForm(form: HTMLFormElement, base: FlagValues): FlagValues {
  const values: FlagValues = { ...DEFAULTS, ...base };
  for (const f of FIELDS) {
    const el = form.elements.namedItem(f.name) as HTMLInputElement | HTMLSelectElement;
    values[f.name] = f.checkbox ? (el as HTMLInputElement).checked : el.value.trim() || undefined;
  }
  return values;
}

export function mountRunView(view: HTMLElement, getDevice: () => Promise<GpuContext>): { run: () => Promise<void> } {
  const initial = valuesFromUrl(location.search);
  // Flags the URL may set that have no field here (d-qk, softmax-scale, ...): kept, not dropped.
  const urlOnly = Object.fromEntries(Object.entries(initial).filter(([k, v]) => !FIELDS.some((f) => f.name === k) && v !== DEFAULTS[k]));
  view.innerHTML = `<div id="run-root"><h2>Run one kernel</h2>`
    + `<p class="lead">Pick a shape, KV cache format and kernel. Each run is checked against the CPU reference (f64), then timed.</p>`
    + `${formHtml(initial)}<p id="status"></p><pre id="result"></pre>`
    + '<figure class="chart" hidden><canvas id="run-roofline"></canvas></figure><details><summary>Device</summary><pre id="device"></pre></details></div>';
  const root = find(view, '#run-root');
  const form = find<HTMLFormElement>(root, '#run-form');
  const status = find(root, '#status');
  const result = find(root, '#result');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#run-roofline'));
  const cancel = find<HTMLButtonElement>(root, '#run-cancel');
  let running: AbortController | undefined;
  const say = (text: string) => { status.textContent = text; };
  cancel.addEventListener('click', () => {
    if (!running) return;
    running.abort(new DOMException('the run was cancelled', 'AbortError'));
    say('Cancelling: the CPU work stops now, a GPU dispatch already submitted runs to its end...');
  });
  const percent = (what: string) => (done: number, total: number) => say(`${what}: ${Math.floor((100 * done) / total)}%`);

  async function run(): Promise<void> {
    if (running) return;
    const controller = new AbortController();
    const { signal } = controller;
    running = controller;
    cancel.disabled = false;
    const values = readForm(form, urlOnly);
    setQuery(queryFromValues(values));
    result.textContent = '';
    status.className = '';
    delete root.dataset.check;
    root.dataset.running = '1';
    try {
      const config = configFromFlags(values);
      const timing = { samples: intFlag('samples', values.samples, 1, 1000) ?? 5, warmup: intFlag('warmup', values.warmup, 0, 1000) ?? 1 };
      shapeFromFlags(values); // a bad field is refused before the device is asked for
      const ctx = await getDevice();
      const request = generationFromFlags(values, ctx.limits, PAGE_MEMORY_BUDGET);
      find(root, '#device').textContent = describeDevice(ctx).join('\n');
      // The CPU's share (inputs, reference) runs in a worker: the page answers, and Cancel works, throughout.
      const inputs = await generateInWorker(request, percent('Generating the inputs'), signal);
      say('Compiling and running on the GPU...');
      const report = await measureAttention(ctx, inputs, config, {
        quantizationError: true, timing, signal,
        reference: (i, bytes, layout) => referenceInWorker(i, bytes, layout, percent('Checking against the f64 CPU reference (in a worker)'), signal)
          .finally(() => say('Timing...')),
      });
      status.textContent = report.check.pass ? 'PASS: matches the CPU reference' : `FAIL: ${failureText(report.check)}`;
      status.className = report.check.pass ? 'pass' : 'fail';
      result.textContent = describeReport(inputs.shape, report).join('\n');
      if (report.roofline && report.throughput) {
        // This run on the same roofline chart as the Ladder view's versions.
        chart.canvas.parentElement!.hidden = false;
        chart.roofline('This run on the roofline', report.roofline, [{
          label: `${report.version.id} ${report.version.name} ${inputs.shape.dQk} ${report.layout.name} h_q ${inputs.shape.hQ}`,
          x: report.work.flops / report.work.bytes, y: report.throughput.gflops,
        }]);
      }
      root.dataset.check = report.check.pass ? 'pass' : 'fail';
    } catch (e) {
      const aborted = signal.aborted;
      status.textContent = aborted ? 'Cancelled: the run was stopped; nothing was checked or timed.' : (e as Error).message;
      status.className = aborted ? '' : 'fail';
      root.dataset.check = aborted ? 'cancelled' : 'error';
    } finally {
      running = undefined;
      cancel.disabled = true;
      delete root.dataset.running;
    }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); void run(); });
  return { run };
}
