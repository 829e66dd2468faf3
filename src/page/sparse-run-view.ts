/**
 * Run, sparse mode (pipeline=sparse in the URL): sparse attention end to end
 * on one request, as `mla-sandbox sparse` runs it. The lightning indexer
 * scores every cached token, top-k keeps the best k, the ladder's sparse
 * decode attends those; each stage is checked, the dense decode of the same
 * cache beside it, and each stage's time drawn. The cache and the indexer's
 * inputs are generated in a worker, and so is the dense decode's f64
 * reference, so the page answers (and Cancel works) throughout.
 */
import type { GpuContext } from '../gpu/device';
import { describeDevice } from '../run/report';
import { type FlagValues, PAGE_MEMORY_BUDGET } from '../run/run-options';
import { PRESET_NAMES } from '../mla/shape';
import { KV_FORMATS } from '../mla/kv-layout';
import { KERNEL_CHOICES } from '../kernels/versions';
import { SPARSE_DEFAULTS, SPARSE_FLAGS, checkSparseFits, sparseRequestFromFlags } from '../indexer/sparse-options';
import { runSparsePipeline } from '../indexer/sparse-pipeline';
import { describeSparse, sparsePasses } from '../indexer/sparse-report';
import { find, setQuery } from './html';
import { type Field, fieldsHtml, queryFromValues, readFields, valuesFromUrl } from './flag-form';
import { modeLinks, modeQuery } from './run-modes';
import { wireRun } from './run-control';
import { ChartView } from './charts';
import { referenceInWorker, sparseCaseInWorker } from './cpu-worker';

/** The CLI's defaults, on a smaller request (a software adapter takes seconds per 100K tokens). */
const DEFAULTS: FlagValues = { ...SPARSE_DEFAULTS, 'h-q': '16', seqlens: '16384', plant: '4' };

/** Past this many cached tokens each stage is timed once, without a warm-up. */
const ONE_SAMPLE_PAST = 65536;

const FIELDS: Field[] = [
  { name: 'preset', label: 'Head', choices: PRESET_NAMES },
  { name: 'kv', label: 'KV cache', choices: KV_FORMATS },
  { name: 'kernel', label: 'Decode kernel', choices: KERNEL_CHOICES, hint: 'the ladder version that attends the chosen keys (flash: the best for this GPU)' },
  { name: 'h-q', label: 'Query heads h_q' },
  { name: 's-q', label: 'Query tokens s_q', hint: 'the last s_q of the L tokens, causal' },
  { name: 'seqlens', label: 'Cached tokens L', hint: 'one request' },
  { name: 'topk', label: 'Top-k', hint: 'keys kept per query token (2048 in V3.2)' },
  { name: 'plant', label: 'Planted tokens', hint: 'tokens made relevant in both caches: the indexer should find them (recall)' },
  { name: 'seed', label: 'Seed' },
  { name: 'no-dense', label: 'Skip the dense decode', checkbox: true },
];

/** Blank fields take the view's defaults (what a reload of the URL, which leaves them out, shows). */
function withDefaults(values: FlagValues): FlagValues {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v ?? DEFAULTS[k]]));
}

export function mountSparseRunView(view: HTMLElement, getDevice: () => Promise<GpuContext>): { run: () => Promise<void> } {
  const initial = valuesFromUrl(location.search, SPARSE_FLAGS, DEFAULTS);
  view.innerHTML = `<div id="sparse-root">${modeLinks('sparse')}<h2>Sparse attention end to end</h2>`
    + `<p class="lead">The lightning indexer scores every cached token (64 heads of 128, FP8), top-k keeps the best k of each query token as FlashMLA indices, `
    + `and the sparse decode attends only those, all in one submit. Each stage is checked against the f64 CPU reference, then timed; `
    + `the dense decode of the same cache runs beside it. Same options as <code>mla-sandbox sparse</code>.</p>`
    + `<form id="sparse-form" class="fields">${fieldsHtml(FIELDS, initial)}<div class="buttons"><button type="submit" id="sparse-button">Run</button>`
    + '<button type="button" id="sparse-cancel" disabled>Cancel</button></div></form><p id="sparse-status"></p><pre id="sparse-result"></pre>'
    + '<figure class="chart" hidden><canvas id="sparse-stages"></canvas></figure><details><summary>Device</summary><pre id="sparse-device"></pre></details></div>';
  const root = find(view, '#sparse-root');
  const form = find<HTMLFormElement>(root, '#sparse-form');
  const status = find(root, '#sparse-status');
  const result = find(root, '#sparse-result');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#sparse-stages'));
  const cancel = find<HTMLButtonElement>(root, '#sparse-cancel');
  return wireRun({ root, form, status, cancel }, async ({ signal, say, percent }) => {
    const values = readFields(form, FIELDS, DEFAULTS);
    setQuery(queryFromValues(values, DEFAULTS, modeQuery('sparse')));
    result.textContent = '';
    const { shape, config, topk, plant, seed, compareDense, straightIntoFormat } = sparseRequestFromFlags(withDefaults(values));
    const ctx = await getDevice();
    checkSparseFits(shape, config, ctx.limits, PAGE_MEMORY_BUDGET);
    find(root, '#sparse-device').textContent = describeDevice(ctx).join('\n');
    const sc = await sparseCaseInWorker({ shape, options: { seed, plant, kvFormat: config.kvFormat, straightIntoFormat } },
      percent('Generating the cache and the indexer\'s inputs (in a worker)'), signal);
    const long = shape.seqlens[0] > ONE_SAMPLE_PAST;
    const report = await runSparsePipeline(ctx, sc, {
      ...config, topk, compareDense, time: true, timing: long ? { warmup: 0, samples: 1 } : { warmup: 1, samples: 3 },
      onStep: (s) => say(`${s[0].toUpperCase()}${s.slice(1)}...`), signal,
      denseReference: (i, bytes, layout) => referenceInWorker(i, bytes, layout, percent('Checking the dense decode against the f64 CPU reference (in a worker)'), signal),
    });
    result.textContent = [...describeSparse(report), `timing   ${long ? 'one sample each (past 64K tokens)' : 'median of 3 after a warm-up'}; ratios within this run only`].join('\n');
    const ms = report.ms;
    if (ms) {
      chart.canvas.parentElement!.hidden = false;
      const stages: [string, number | undefined][] = [['indexer', ms.indexer], ['top-k', ms.topk], ['sparse decode', ms.sparse], ['all three, one submit', ms.pipeline], ['dense decode', ms.dense]];
      const shown = stages.filter((s): s is [string, number] => s[1] !== undefined);
      chart.bars(`Time per stage, L ${report.keys}, top-${report.topk}, h_q ${report.hQ}`, shown.map((s) => s[0]), [{ label: 'median ms', values: shown.map((s) => s[1]) }], { title: 'time (ms)', log: true });
    }
    const pass = sparsePasses(report);
    return { pass, status: pass ? 'PASS: every stage matches the CPU' : 'FAIL: see the stages below' };
  });
}
