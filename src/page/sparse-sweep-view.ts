/**
 * Compare, second part: dense against sparse over growing contexts, as
 * `mla-sandbox sparse --sweep` runs it. At each length the same cache is
 * decoded densely and through indexer -> top-k -> sparse decode, every stage
 * checked, then timed once; the chart draws each stage's time against L and
 * the text names the crossover, where the indexer overtakes the sparse decode
 * it feeds. Cases are generated, and the dense decode checked, in workers.
 */
import type { GpuContext } from '../gpu/device';
import { type FlagValues, PAGE_MEMORY_BUDGET, intList, oneOf } from '../run/run-options';
import { PRESET_NAMES } from '../mla/shape';
import { KV_FORMATS } from '../mla/kv-layout';
import { SPARSE_DEFAULTS, checkSparseFits, sparseRequestFromFlags } from '../indexer/sparse-options';
import { SPARSE_SWEEP_HEAD, type SparseSweepRow, crossoverSentence, sparseSweepCells, sweepSparse } from '../indexer/sparse-sweep';
import { escapeHtml, find } from './html';
import { type Field, fieldsHtml, readFields } from './flag-form';
import { ChartView, type Series } from './charts';
import { wireSection } from './section-run';
import { referenceInWorker, sparseCaseInWorker } from './cpu-worker';

const DEFAULTS: FlagValues = { ...SPARSE_DEFAULTS, 'h-q': '16', sweep: '4096,16384,65536' };

const FIELDS: Field[] = [
  { name: 'preset', label: 'Head', choices: PRESET_NAMES },
  { name: 'kv', label: 'KV cache', choices: KV_FORMATS },
  { name: 'h-q', label: 'Query heads h_q' },
  { name: 'topk', label: 'Top-k' },
  { name: 'sweep', label: 'Cached tokens L (each a point)', hint: 'comma-separated, e.g. 4096,65536,1048576' },
];

const STAGES: readonly { label: string; y: (r: SparseSweepRow) => number | undefined; dashed?: boolean }[] = [
  { label: 'dense decode', y: (r) => r.denseMs },
  { label: 'sparse pipeline (all three, one submit)', y: (r) => r.pipelineMs },
  { label: 'indexer', y: (r) => r.indexerMs, dashed: true },
  { label: 'top-k', y: (r) => r.topkMs, dashed: true },
  { label: 'sparse decode', y: (r) => r.sparseMs, dashed: true },
];

function tableHtml(rows: readonly SparseSweepRow[]): string {
  const body = rows.map((r) => `<tr class="${r.pass ? '' : 'failed'}">${sparseSweepCells(r).map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`);
  return `<table class="rows"><thead><tr>${SPARSE_SWEEP_HEAD.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

/** Mount the section in `parent`; returns a setter the long-context button uses to fill in its lengths. */
export function mountSparseSweep(parent: HTMLElement, getDevice: () => Promise<GpuContext>): { setLengths: (lengths: readonly number[]) => void } {
  parent.insertAdjacentHTML('beforeend', `<section id="sparse-sweep-root"><h2>Dense against sparse: indexer + top-k + sparse decode</h2>
    <p class="lead">At each length the same cache is decoded densely and through the lightning indexer, top-k and the sparse decode; every stage is checked, then timed once.
    The dense time grows with L; the sparse decode's stays flat (it reads top-k keys); the indexer's grows with L at a seventeenth of the dense decode's FLOPs (at 128 heads).</p>
    <form id="sparse-sweep-form" class="fields">${fieldsHtml(FIELDS, DEFAULTS)}
    <div class="buttons"><button type="submit" id="sparse-sweep-start">Run dense against sparse</button><button type="button" id="sparse-sweep-cancel" disabled>Cancel</button></div></form>
    <div class="progress-row"><progress id="sparse-sweep-progress" value="0" max="1"></progress><span id="sparse-sweep-status">Not run yet.</span></div>
    <figure class="chart"><canvas id="chart-sparse-stages"></canvas></figure>
    <p id="sparse-crossover"></p><div id="sparse-sweep-table"></div></section>`);
  const root = find(parent, '#sparse-sweep-root');
  const form = find<HTMLFormElement>(root, '#sparse-sweep-form');
  const progress = find<HTMLProgressElement>(root, '#sparse-sweep-progress');
  const status = find(root, '#sparse-sweep-status');
  const start = find<HTMLButtonElement>(root, '#sparse-sweep-start');
  const cancel = find<HTMLButtonElement>(root, '#sparse-sweep-cancel');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#chart-sparse-stages'));

  function draw(rows: readonly SparseSweepRow[]): void {
    const series: Series[] = STAGES.map((s) => ({
      label: s.label, dashed: s.dashed,
      points: rows.flatMap((r) => { const y = s.y(r); return y === undefined ? [] : [{ x: r.keys, y }]; }),
    })).filter((s) => s.points.length > 0);
    chart.lines('Time per call against the context: dense against each sparse stage', series, { title: 'cached tokens L', log: true }, { title: 'time (ms)', log: true });
    find(root, '#sparse-sweep-table').innerHTML = rows.length ? tableHtml(rows) : '';
    find(root, '#sparse-crossover').textContent = rows.length === 0 ? '' : crossoverSentence(rows);
  }

  const rows: SparseSweepRow[] = [];
  wireSection({ root, form, status, start, cancel }, {
    cancelReason: 'the sweep was cancelled',
    cancelled: () => `Cancelled after ${rows.length} lengths.`,
    body: async (signal) => {
      rows.length = 0;
      draw(rows);
      const skipped: string[] = [];
      const values = Object.fromEntries(Object.entries(readFields(form, FIELDS, DEFAULTS)).map(([k, v]) => [k, v ?? DEFAULTS[k]]));
      const asked = intList('sweep', values.sweep) ?? [];
      if (asked.length === 0) throw new Error('--sweep: give at least one length');
      const requests = asked.map((L) => sparseRequestFromFlags({ ...values, seqlens: String(L) }));
      const { config, topk } = requests[0];
      const ctx = await getDevice();
      const lengths = requests.filter((r) => {
        try { checkSparseFits(r.shape, r.config, ctx.limits, PAGE_MEMORY_BUDGET); return true; } catch (e) { skipped.push(`L ${r.shape.seqlens[0]}: ${(e as Error).message}`); return false; }
      }).map((r) => r.shape.seqlens[0]);
      progress.max = lengths.length;
      progress.value = 0;
      const percent = (keys: number, what: string) => (done: number, all: number) => { status.textContent = `L ${keys}: ${what} ${Math.floor((100 * done) / all)}%`; };
      await sweepSparse(ctx, {
        preset: oneOf('preset', values.preset, PRESET_NAMES), hQ: requests[0].shape.hQ, sQ: 1, kvFormat: config.kvFormat, kernel: config.kernel, topk, seed: requests[0].seed, lengths,
      }, (row, done) => { rows.push(row); progress.value = done; draw(rows); }, {
        generate: (shape, options) => sparseCaseInWorker({ shape, options }, percent(shape.seqlens[0], 'generating the cache and the indexer\'s inputs'), signal),
        denseReference: (inputs, bytes, layout) => referenceInWorker(inputs, bytes, layout, percent(inputs.shape.seqlens[0], 'checking the dense decode (f64, in a worker)'), signal),
        signal, onStep: (keys, step) => { status.textContent = `L ${keys}: ${step}`; },
      });
      const failed = rows.filter((r) => !r.pass).length;
      return `Done: ${rows.length} lengths, ${failed ? `${failed} FAILED a check` : 'every stage matches the CPU'}.${skipped.map((k) => ` (skipped ${k}.)`).join('')}`;
    },
  });
  draw([]);
  return {
    setLengths: (lengths) => { (form.elements.namedItem('sweep') as HTMLInputElement).value = lengths.join(','); },
  };
}
