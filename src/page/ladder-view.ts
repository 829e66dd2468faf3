/**
 * Ladder: every kernel version on the same shapes (the CLI's `bench
 * --ladder`), each point checked against the CPU reference before it is
 * timed, shown as a table (speed-up over v1, fraction of the FMA ceiling and
 * of copy bandwidth) and on a roofline chart: arithmetic intensity against
 * GFLOP/s, the device's two ceilings as lines, each version a point.
 */
import type { GpuContext } from '../gpu/device';
import { type SweepRow, type SweepSpec, runSweep, sweepPoints } from '../bench/sweep';
import { LADDER_SWEEP, LADDER_TABLE_HEAD, type LadderRow, ladderRows, ladderTableCells } from '../bench/ladder';
import { PRESET_NAMES, type PresetName } from '../shape';
import { KV_FORMATS, type KvFormat } from '../kv-layout';
import { intFlag, intList } from '../run-options';
import { measureRoofline } from '../timing/roofline';
import type { Roofline } from '../timing/work';
import { ChartView } from './charts';
import { checkboxes, escapeHtml, find, presetLabel } from './html';

/** The page's default: small enough for a software adapter in a browser (8 points). */
const PAGE_LADDER: SweepSpec = { ...LADDER_SWEEP, formats: ['fp8'], seqlens: [1024], heads: [64], timing: { warmup: 1, samples: 3, minSampleMs: 10 } };

function readSpec(form: HTMLFormElement): SweepSpec {
  const checked = (name: string, field: string) => {
    const vs = [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
    if (!vs.length) throw new Error(`${field}: tick at least one`);
    return vs;
  };
  const text = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
  const list = (name: string) => {
    const vs = intList(name, text(name)) ?? [];
    if (vs.some((v) => v < 1)) throw new Error(`--${name} "${text(name)}" is not allowed: --${name} must be a comma-separated list of integers >= 1`);
    return vs;
  };
  return {
    ...PAGE_LADDER,
    presets: checked('preset', 'Head') as PresetName[],
    formats: checked('kv', 'KV cache') as KvFormat[],
    seqlens: list('seqlens'),
    heads: list('heads'),
    timing: { ...PAGE_LADDER.timing, samples: intFlag('samples', text('samples'), 1, 100) },
  };
}

/** One point per row on the roofline: label "v4 tiled 576 fp8 h_q 64 @ 1024". */
export function rooflinePoints(rows: readonly LadderRow[]): { label: string; x: number; y: number }[] {
  return rows.map((r) => ({ label: `${r.version} ${r.dQk} ${r.kvFormat} h_q ${r.hQ} @ ${r.seqlen}`, x: r.intensity, y: r.gflops }));
}

export function mountLadderView(view: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  const s = PAGE_LADDER;
  view.innerHTML = `<div id="ladder-root"><h2>The kernel ladder</h2>
    <p class="lead">Every version of the kernel on the same shapes: each point is checked against the CPU reference, then timed, then set against version 1 and against this GPU's own ceilings (measured in the same run).</p>
    <form id="ladder-form" class="fields">
      <fieldset><legend>Head</legend>${checkboxes('preset', PRESET_NAMES, s.presets, presetLabel)}</fieldset>
      <fieldset><legend>KV cache</legend>${checkboxes('kv', KV_FORMATS, s.formats)}</fieldset>
      <label><span>Seqlens (keys per request)</span><input name="seqlens" value="${s.seqlens.join(',')}"></label>
      <label><span>Query heads h_q</span><input name="heads" value="${s.heads.join(',')}"></label>
      <label><span>Timed samples per point</span><input name="samples" value="${s.timing.samples}"></label>
      <div class="buttons"><button type="submit" id="ladder-start">Run the ladder</button><button type="button" id="ladder-cancel" disabled>Cancel</button></div>
    </form>
    <div class="progress-row"><progress id="ladder-progress" value="0" max="1"></progress><span id="ladder-status">Not run yet.</span></div>
    <figure class="chart"><canvas id="ladder-roofline"></canvas></figure>
    <div id="ladder-table"></div></div>`;
  const root = find(view, '#ladder-root');
  const form = find<HTMLFormElement>(root, '#ladder-form');
  const progress = find<HTMLProgressElement>(root, '#ladder-progress');
  const status = find(root, '#ladder-status');
  const start = find<HTMLButtonElement>(root, '#ladder-start');
  const cancel = find<HTMLButtonElement>(root, '#ladder-cancel');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#ladder-roofline'));
  let controller: AbortController | undefined;

  function draw(rows: readonly SweepRow[], roof: Roofline): void {
    const ladder = ladderRows(rows, roof);
    chart.roofline('Roofline: each version a point', roof, rooflinePoints(ladder));
    find(root, '#ladder-table').innerHTML = `<table><thead><tr>${LADDER_TABLE_HEAD.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`
      + ladder.map((r) => `<tr class="${r.pass ? '' : 'fail'}">${ladderTableCells(r).map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')
      + '</tbody></table>';
  }

  async function run(): Promise<void> {
    let spec: SweepSpec;
    try { spec = readSpec(form); } catch (e) { status.textContent = (e as Error).message; root.dataset.state = 'error'; return; }
    const rows: SweepRow[] = [];
    controller = new AbortController();
    start.disabled = true;
    cancel.disabled = false;
    root.dataset.state = 'running';
    const total = sweepPoints(spec).length;
    progress.max = total;
    progress.value = 0;
    try {
      const ctx = await getDevice();
      status.textContent = 'Measuring this GPU\'s ceilings (copy bandwidth, FMA rate)...';
      const roof = await measureRoofline(ctx);
      draw(rows, roof);
      await runSweep(ctx, spec, (p) => {
        progress.value = p.done;
        if (p.row) { rows.push(p.row); draw(rows, roof); }
        status.textContent = `${p.done} / ${total} points${p.row ? '' : `: running ${p.point.kernel} on ${p.point.preset} ${p.point.kvFormat}, seqlen ${p.point.seqlen}, h_q ${p.point.hQ}`}`;
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
    }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); void run(); });
  cancel.addEventListener('click', () => { controller?.abort(); status.textContent += ' (cancelling after this point...)'; });
}
