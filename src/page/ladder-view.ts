/**
 * Ladder: every kernel version on the same shapes (the CLI's `bench
 * --ladder`), each point checked against the CPU reference before it is
 * timed, shown as a table (speed-up over v1, fraction of the FMA ceiling, of
 * the plain-matmul yardstick and of copy bandwidth) and on a roofline chart:
 * arithmetic intensity against GFLOP/s, the device's two ceilings as lines,
 * each version a point. The results export as JSON. Below it, the Tune
 * section (tune-panel.ts) and this GPU beside others (devices-panel.ts).
 */
import type { GpuContext } from '../gpu/device';
import type { SweepRow, SweepSpec } from '../bench/sweep';
import { LADDER_SWEEP, LADDER_TABLE_HEAD, type LadderRow, ladderRows, ladderTableCells } from '../bench/ladder';
import { measureReadCost } from '../timing/read-cost';
import { type MeasuredCeilings, bestMatmulForm, describeYardstickBeside, measureDeviceCeilings, yardstickTimer } from '../timing/device-ceilings';
import { describeAdapter } from '../gpu/device';
import { plainMatmulSentence, readCostSentence } from '../run/report';
import { ladderResults, resultsOfLadder, resultsOfProfile } from '../tune/device-results';
import { ChartView } from './charts';
import { downloadFile, escapeHtml, find } from './html';
import { readSweepForm, sweepFields, wireSweep } from './sweep-form';
import { mountTunePanel } from './tune-panel';
import { mountDevicesPanel } from './devices-panel';

/** The page's default: small enough for a software adapter in a browser (8 points). */
const PAGE_LADDER: SweepSpec = { ...LADDER_SWEEP, formats: ['fp8'], seqlens: [1024], heads: [64], timing: { warmup: 1, samples: 3, minSampleMs: 10 } };

/** One point per row on the roofline: label "v4 tiled 576 fp8 h_q 64 @ 1024". */
export function rooflinePoints(rows: readonly LadderRow[]): { label: string; x: number; y: number }[] {
  return rows.map((r) => ({ label: `${r.version} ${r.dQk} ${r.kvFormat} h_q ${r.hQ} @ ${r.seqlen}`, x: r.intensity, y: r.gflops }));
}

export function mountLadderView(view: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  view.innerHTML = `<div id="ladder-root"><h2>The kernel ladder</h2>
    <p class="lead">Every version of the kernel on the same shapes: each point is checked against the CPU reference, then timed, then set against version 1 and against this GPU's own ceilings (measured in the same run).</p>
    <form id="ladder-form" class="fields">
      ${sweepFields(PAGE_LADDER)}
      <div class="buttons"><button type="submit" id="ladder-start">Run the ladder</button><button type="button" id="ladder-cancel" disabled>Cancel</button><button type="button" id="ladder-export" disabled>Export the results</button></div>
    </form>
    <div class="progress-row"><progress id="ladder-progress" value="0" max="1"></progress><span id="ladder-status">Not run yet.</span></div>
    <figure class="chart"><canvas id="ladder-roofline"></canvas></figure>
    <p id="ladder-read-cost" class="hint"></p>
    <p id="ladder-plain-matmul" class="hint"></p>
    <p id="ladder-yardstick-beside" class="hint"></p>
    <div id="ladder-table"></div></div><section id="tune-section"></section><section id="devices-section"></section>`;
  const root = find(view, '#ladder-root');
  const form = find<HTMLFormElement>(root, '#ladder-form');
  const progress = find<HTMLProgressElement>(root, '#ladder-progress');
  const status = find(root, '#ladder-status');
  const start = find<HTMLButtonElement>(root, '#ladder-start');
  const cancel = find<HTMLButtonElement>(root, '#ladder-cancel');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#ladder-roofline'));

  const exportButton = find<HTMLButtonElement>(root, '#ladder-export');
  const devices = mountDevicesPanel(find(view, '#devices-section'));
  mountTunePanel(find(view, '#tune-section'), getDevice, {
    onProfile: (profile) => devices.setOwn('profile', profile?.entries.length ? resultsOfProfile(profile, 'this browser\'s profile') : undefined),
  });

  let measured: (MeasuredCeilings & { adapter: string }) | undefined;
  let ladder: LadderRow[] = [];

  function draw(rows: readonly SweepRow[]): void {
    if (!measured) return;
    const { roof, ceilings, adapter } = measured;
    ladder = ladderRows(rows, roof, ceilings.yardstickGflops);
    exportButton.disabled = !ladder.length;
    devices.setOwn('ladder', ladder.some((r) => r.pass) ? resultsOfLadder(ladderResults(adapter, ceilings, ladder), 'this page\'s ladder') : undefined);
    chart.roofline('Roofline: each version a point', roof, rooflinePoints(ladder));
    find(root, '#ladder-yardstick-beside').textContent = describeYardstickBeside(rows.map((r) => r.yardstickGflops)) ?? '';
    find(root, '#ladder-table').innerHTML = `<table><thead><tr>${LADDER_TABLE_HEAD.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`
      + ladder.map((r) => `<tr class="${r.pass ? '' : 'fail'}">${ladderTableCells(r).map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')
      + '</tbody></table>';
  }

  wireSweep({ root, form, progress, status, start, cancel }, getDevice, {
    spec: () => readSweepForm(form, PAGE_LADDER),
    prepare: async (ctx) => {
      status.textContent = 'Measuring this GPU\'s ceilings (copy bandwidth, FMA rate, what a read costs, a plain matrix multiply)...';
      measured = { ...await measureDeviceCeilings(ctx, { warmup: 1, samples: 3 }), adapter: describeAdapter(ctx.adapter) };
      find(root, '#ladder-read-cost').textContent = `What a read costs on this GPU: ${readCostSentence(await measureReadCost(ctx, measured.roof))}`;
      find(root, '#ladder-plain-matmul').textContent = `A plain matrix multiply on this GPU: ${plainMatmulSentence(measured.yardstick)}`;
    },
    yardstick: (ctx) => measured && yardstickTimer(ctx, measured.roof, { warmup: 1, samples: 3 }, bestMatmulForm(measured.yardstick)),
    onRows: draw,
  });
  exportButton.addEventListener('click', () => {
    if (measured) downloadFile('mla-sandbox-ladder.json', `${JSON.stringify(ladderResults(measured.adapter, measured.ceilings, ladder), null, 2)}\n`, 'application/json');
  });
}
