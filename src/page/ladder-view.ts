/**
 * Ladder: every kernel version on the same shapes (the CLI's `bench
 * --ladder`), each point checked against the CPU reference before it is
 * timed, shown as a table (speed-up over v1, fraction of the FMA ceiling and
 * of copy bandwidth) and on a roofline chart: arithmetic intensity against
 * GFLOP/s, the device's two ceilings as lines, each version a point.
 */
import type { GpuContext } from '../gpu/device';
import type { SweepRow, SweepSpec } from '../bench/sweep';
import { LADDER_SWEEP, LADDER_TABLE_HEAD, type LadderRow, ladderRows, ladderTableCells } from '../bench/ladder';
import { measureRoofline } from '../timing/roofline';
import { measureReadCost } from '../timing/read-cost';
import { measurePlainMatmul } from '../timing/plain-matmul';
import { plainMatmulSentence, readCostSentence } from '../run/report';
import type { Roofline } from '../timing/work';
import { ChartView } from './charts';
import { escapeHtml, find } from './html';
import { readSweepForm, sweepFields, wireSweep } from './sweep-form';

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
      <div class="buttons"><button type="submit" id="ladder-start">Run the ladder</button><button type="button" id="ladder-cancel" disabled>Cancel</button></div>
    </form>
    <div class="progress-row"><progress id="ladder-progress" value="0" max="1"></progress><span id="ladder-status">Not run yet.</span></div>
    <figure class="chart"><canvas id="ladder-roofline"></canvas></figure>
    <p id="ladder-read-cost" class="hint"></p>
    <p id="ladder-plain-matmul" class="hint"></p>
    <div id="ladder-table"></div></div>`;
  const root = find(view, '#ladder-root');
  const form = find<HTMLFormElement>(root, '#ladder-form');
  const progress = find<HTMLProgressElement>(root, '#ladder-progress');
  const status = find(root, '#ladder-status');
  const start = find<HTMLButtonElement>(root, '#ladder-start');
  const cancel = find<HTMLButtonElement>(root, '#ladder-cancel');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#ladder-roofline'));

  let roof: Roofline | undefined;

  function draw(rows: readonly SweepRow[]): void {
    if (!roof) return;
    const ladder = ladderRows(rows, roof);
    chart.roofline('Roofline: each version a point', roof, rooflinePoints(ladder));
    find(root, '#ladder-table').innerHTML = `<table><thead><tr>${LADDER_TABLE_HEAD.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`
      + ladder.map((r) => `<tr class="${r.pass ? '' : 'fail'}">${ladderTableCells(r).map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')
      + '</tbody></table>';
  }

  wireSweep({ root, form, progress, status, start, cancel }, getDevice, {
    spec: () => readSweepForm(form, PAGE_LADDER),
    prepare: async (ctx) => {
      status.textContent = 'Measuring this GPU\'s ceilings (copy bandwidth, FMA rate, what a read costs, a plain matrix multiply)...';
      const measured = await measureRoofline(ctx);
      roof = measured;
      find(root, '#ladder-read-cost').textContent = `What a read costs on this GPU: ${readCostSentence(await measureReadCost(ctx, measured))}`;
      const matmul = await measurePlainMatmul(ctx, measured, { warmup: 1, samples: 3 });
      find(root, '#ladder-plain-matmul').textContent = `A plain matrix multiply on this GPU: ${plainMatmulSentence(matmul)}`;
    },
    onRows: draw,
  });
}
