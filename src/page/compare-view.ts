/**
 * Compare: the 576-vs-512 and f32 / bf16 / FP8 sweep of `src/bench` run in
 * the browser, with a progress bar and a cancel button. Charts are redrawn
 * after every point: time and GB/s against seqlen (one line per
 * configuration), bytes per token per format, and the quantisation error
 * against the f32 cache. Results export as JSON and CSV (the CLI's CSV).
 */
import type { GpuContext } from '../gpu/device';
import { describeAdapter } from '../gpu/device';
import { DEFAULT_SWEEP, type SweepRow, type SweepSpec, runSweep, sweepPoints } from '../bench/sweep';
import { SWEEP_TABLE_HEAD, sweepCsv, sweepRatioLines, sweepTableCells } from '../bench/report';
import { PRESET_NAMES, type PresetName, presetShape } from '../shape';
import { KV_FORMATS, type KvFormat, kvLayout } from '../kv-layout';
import type { KernelChoice } from '../kernels/versions';
import { intFlag, intList } from '../run-options';
import { ChartView, type Series } from './charts';
import { checkboxes, downloadText, escapeHtml, find, presetLabel } from './html';

const SWEEP_KERNELS: readonly KernelChoice[] = ['flash', 'naive'];



function formHtml(): string {
  const s = DEFAULT_SWEEP;
  return `<form id="compare-form" class="fields">
    <fieldset><legend>Head</legend>${checkboxes('preset', PRESET_NAMES, s.presets, presetLabel)}</fieldset>
    <fieldset><legend>KV cache</legend>${checkboxes('kv', KV_FORMATS, s.formats)}</fieldset>
    <fieldset><legend>Kernel</legend>${checkboxes('kernel', SWEEP_KERNELS, s.kernels)}</fieldset>
    <label><span>Seqlens (keys per request)</span><input name="seqlens" value="${s.seqlens.join(',')}"></label>
    <label><span>Query heads h_q</span><input name="heads" value="${s.heads.join(',')}"></label>
    <label><span>Timed samples per point</span><input name="samples" value="${s.timing.samples}"></label>
    <div class="buttons"><button type="submit" id="compare-start">Run sweep</button><button type="button" id="compare-cancel" disabled>Cancel</button></div>
  </form>`;
}

function readSpec(form: HTMLFormElement): SweepSpec {
  const checked = (name: string, field: string) => {
    const vs = [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
    if (!vs.length) throw new Error(`${field}: tick at least one`);
    return vs;
  };
  const text = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
  const positive = (name: string) => {
    const vs = intList(name, text(name)) ?? [];
    if (vs.some((v) => v < 1)) throw new Error(`--${name} "${text(name)}" is not allowed: --${name} must be a comma-separated list of integers >= 1`);
    return vs;
  };
  return {
    ...DEFAULT_SWEEP,
    presets: checked('preset', 'Head') as PresetName[],
    formats: checked('kv', 'KV cache') as KvFormat[],
    kernels: checked('kernel', 'Kernel') as KernelChoice[],
    seqlens: positive('seqlens'),
    heads: positive('heads'),
    timing: { ...DEFAULT_SWEEP.timing, samples: intFlag('samples', text('samples'), 1, 100) },
  };
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
    <p class="lead">Runs every combination below: each point is checked against the CPU reference, then timed. Solid lines: flash kernel; dashed: naive.</p>
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
  let adapter = '';
  let controller: AbortController | undefined;

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

  async function run(): Promise<void> {
    let s: SweepSpec;
    try { s = readSpec(form); } catch (e) { status.textContent = (e as Error).message; root.dataset.state = 'error'; return; }
    spec = s;
    rows = [];
    draw();
    controller = new AbortController();
    start.disabled = true;
    cancel.disabled = false;
    root.dataset.state = 'running';
    const total = sweepPoints(s).length;
    progress.max = total;
    progress.value = 0;
    try {
      const ctx = await getDevice();
      adapter = describeAdapter(ctx.adapter);
      await runSweep(ctx, s, (p) => {
        progress.value = p.done;
        if (p.row) { rows.push(p.row); draw(); }
        status.textContent = `${p.done} / ${total} points${p.row ? '' : `: running ${p.point.preset} ${p.point.kvFormat} ${p.point.kernel}, seqlen ${p.point.seqlen}, h_q ${p.point.hQ}`}`;
      }, controller.signal);
      const failed = rows.filter((r) => !r.pass).length;
      status.textContent = `Done: ${rows.length} points, ${failed ? `${failed} FAILED the check` : 'all match the CPU reference'}.`;
      root.dataset.state = 'done';
    } catch (e) {
      const cancelled = (e as Error).name === 'AbortError';
      status.textContent = cancelled ? `Cancelled after ${rows.length} of ${total} points.` : `Error: ${(e as Error).message}`;
      root.dataset.state = cancelled ? 'cancelled' : 'error';
    } finally {
      root.dataset.rows = String(rows.length);
      start.disabled = false;
      cancel.disabled = true;
      for (const b of exports) b.disabled = rows.length === 0;
    }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); void run(); });
  cancel.addEventListener('click', () => { controller?.abort(); status.textContent += ' (cancelling after this point...)'; });
  exports[0].addEventListener('click', () => downloadText('mla-sandbox-sweep.json',
    JSON.stringify({ adapter, date: new Date().toISOString(), spec, rows }, null, 2) + '\n', 'application/json'));
  exports[1].addEventListener('click', () => downloadText('mla-sandbox-sweep.csv', sweepCsv(rows), 'text/csv'));
  drawBytes();
  draw();
}
