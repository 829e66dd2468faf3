/**
 * Compare: the 576-vs-512 and f32 / bf16 / FP8 sweep of `src/bench` run in
 * the browser, with a progress bar and a cancel button. Charts are redrawn
 * after every point: time and GB/s against seqlen (one line per
 * configuration), bytes per token per format, and the quantisation error
 * against the f32 cache. Results export as JSON and CSV (the CLI's CSV).
 * Below it, dense against sparse (sparse-sweep-view.ts): indexer, top-k and
 * sparse decode timed against the dense decode as the context grows; and
 * what a prompt costs (prompt-cost-view.ts): dense against DSA over a whole
 * prompt, measured and modelled to a million tokens; and MLA beside GQA at
 * equal cache bytes (gqa-compare-view.ts).
 */
import type { GpuContext } from '../gpu/device';
import { describeAdapter } from '../gpu/device';
import { DEFAULT_SWEEP, LONG_CONTEXT_SWEEP, type SweepRow, type SweepSpec } from '../bench/sweep';
import { SWEEP_TABLE_HEAD, sweepCsv, sweepRatioLines, sweepTableCells } from '../bench/report';
import { PRESET_NAMES, presetShape } from '../mla/shape';
import { KV_FORMATS, kvLayout } from '../mla/kv-layout';
import type { KernelChoice } from '../kernels/versions';
import { ChartView, type Series } from './charts';
import { downloadFile, escapeHtml, find, presetLabel } from './html';
import { fillSweepForm, readSweepForm, sweepFields, wireSweep } from './sweep-form';
import { mountSparseSweep } from './sparse-sweep-view';
import { mountPromptCost } from './prompt-cost-view';
import { mountGqaCompare } from './gqa-compare-view';

const SWEEP_KERNELS: readonly KernelChoice[] = ['flash', 'naive'];

function formHtml(): string {
  return `<form id="compare-form" class="fields">
    ${sweepFields(DEFAULT_SWEEP, SWEEP_KERNELS)}
    <div class="buttons"><button type="submit" id="compare-start">Run sweep</button><button type="button" id="compare-cancel" disabled>Cancel</button>
    <button type="button" id="compare-long" title="4K to 1M keys, both heads, FP8 and bf16, flash, h_q 16, one sample: caches past one binding are sharded; a point over the page's memory is skipped">Long-context sweep</button></div>
  </form>`;
}

const configLabel = (r: SweepRow) => `${r.dQk} ${r.kvFormat} ${r.kernel} h_q ${r.hQ}`;

/** One line per configuration, x = seqlen. */
function seriesOf(rows: readonly SweepRow[], y: (r: SweepRow) => number): Series[] {
  const groups = new Map<string, SweepRow[]>();
  for (const r of rows) groups.set(configLabel(r), [...(groups.get(configLabel(r)) ?? []), r]);
  return [...groups].map(([label, rs]) => ({
    label, dashed: rs[0].kernel === 'naive', points: rs.map((r) => ({ x: r.seqlen, y: y(r) })).sort((a, b) => a.x - b.x),
  }));
}

function rowsTable(rows: readonly SweepRow[]): string {
  const body = rows.map((r) => `<tr class="${r.pass ? '' : 'failed'}">${sweepTableCells(r).map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`);
  return `<table class="rows"><thead><tr>${SWEEP_TABLE_HEAD.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

function ratiosHtml(rows: readonly SweepRow[]): string {
  const items = sweepRatioLines(rows);
  return items.length ? `<h3>Ratios</h3><p class="hint">Geometric means over matching points; below 1 means the first is faster. Measured on this adapter in this run.</p><ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>` : '';
}

export function mountCompareView(view: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  view.innerHTML = `<div id="compare-root"><h2>Compare head shapes and cache formats</h2>
    <p class="lead">Runs every combination below: each point is checked against the CPU reference, then timed. Solid lines: flash (the best kernel version for this GPU); dashed: naive (v1).</p>
    ${formHtml()}
    <div class="progress-row"><progress id="compare-progress" value="0" max="1"></progress><span id="compare-status">Not run yet.</span></div>
    <div class="charts">
      <figure class="chart"><canvas id="chart-time"></canvas></figure>
      <figure class="chart"><canvas id="chart-gbps"></canvas></figure>
      <figure class="chart small"><canvas id="chart-bytes"></canvas></figure>
      <figure class="chart small"><canvas id="chart-quant"></canvas></figure>
    </div>
    <div class="buttons"><button type="button" id="export-json" disabled>Export JSON</button><button type="button" id="export-csv" disabled>Export CSV</button></div>
    <div id="compare-ratios"></div><div id="compare-table"></div></div>`;
  const root = find(view, '#compare-root');
  const form = find<HTMLFormElement>(root, '#compare-form');
  const progress = find<HTMLProgressElement>(root, '#compare-progress');
  const status = find(root, '#compare-status');
  const cancel = find<HTMLButtonElement>(root, '#compare-cancel');
  const start = find<HTMLButtonElement>(root, '#compare-start');
  const exports = [find<HTMLButtonElement>(root, '#export-json'), find<HTMLButtonElement>(root, '#export-csv')];
  const charts = {
    time: new ChartView(find<HTMLCanvasElement>(root, '#chart-time')),
    gbps: new ChartView(find<HTMLCanvasElement>(root, '#chart-gbps')),
    bytes: new ChartView(find<HTMLCanvasElement>(root, '#chart-bytes')),
    quant: new ChartView(find<HTMLCanvasElement>(root, '#chart-quant')),
  };
  let rows: SweepRow[] = [];
  let spec: SweepSpec | undefined;
  const sparse = mountSparseSweep(root, getDevice);
  mountPromptCost(root, getDevice);
  mountGqaCompare(root, getDevice);
  // The sweep the form started from: its timing (the long-context one takes one sample, no warm-up).
  let base = DEFAULT_SWEEP;
  find<HTMLButtonElement>(root, '#compare-long').addEventListener('click', () => {
    base = LONG_CONTEXT_SWEEP;
    fillSweepForm(form, base);
    sparse.setLengths(LONG_CONTEXT_SWEEP.seqlens);
    status.textContent = 'Long-context sweep set, here and in dense against sparse below: press Run sweep, or Run dense against sparse (a million-token point takes minutes on a software adapter).';
  });
  let adapter = '';

  function draw(): void {
    charts.time.lines('Time per call (median) vs seqlen', seriesOf(rows, (r) => r.medianMs), { title: 'seqlen (keys)', log: true }, { title: 'time (ms)', log: true });
    charts.gbps.lines('Bandwidth (bytes moved / time) vs seqlen', seriesOf(rows, (r) => r.gbps), { title: 'seqlen (keys)', log: true }, { title: 'GB/s' });
    // The format's error is a property of the cache, not of the kernel: one line per head, format and h_q.
    const oneKernel = rows.filter((r) => r.kvFormat !== 'f32' && r.kernel === rows[0].kernel);
    const quantSeries = seriesOf(oneKernel, (r) => r.quantRelErr).map((s) => ({ ...s, label: s.label.replace(` ${rows[0].kernel}`, ''), dashed: false }));
    charts.quant.lines('Cache format error: max |out - out(f32 cache)| / max |out|', quantSeries, { title: 'seqlen (keys)', log: true }, { title: 'relative error', log: true });
    find(root, '#compare-table').innerHTML = rows.length ? rowsTable(rows) : '';
    find(root, '#compare-ratios').innerHTML = ratiosHtml(rows);
  }

  /** Bytes per token of each format and head: a property of the layouts, drawn before anything runs. */
  function drawBytes(): void {
    charts.bytes.bars('KV cache bytes per token', KV_FORMATS, PRESET_NAMES.map((p) => {
      const shape = presetShape(p, { seqlens: [64] });
      return { label: `${presetLabel(p)}`, values: KV_FORMATS.map((f) => kvLayout(f, shape, shape.pageBlockSize).bytesPerToken) };
    }), { title: 'bytes per token' }, 'KV cache format');
  }

  wireSweep({ root, form, progress, status, start, cancel }, getDevice, {
    spec: () => { spec = readSweepForm(form, base); return spec; },
    prepare: async (ctx) => { adapter = describeAdapter(ctx.adapter); },
    onRows: (r) => { rows = [...r]; draw(); },
    onEnd: () => { for (const b of exports) b.disabled = rows.length === 0; },
  });
  exports[0].addEventListener('click', () => downloadFile('mla-sandbox-sweep.json',
    JSON.stringify({ adapter, date: new Date().toISOString(), spec, rows }, null, 2) + '\n', 'application/json'));
  exports[1].addEventListener('click', () => downloadFile('mla-sandbox-sweep.csv', sweepCsv(rows), 'text/csv'));
  drawBytes();
  draw();
}
