/**
 * Compare, fourth part: MLA beside GQA at equal cache bytes, as
 * `mla-sandbox bench --gqa` runs it (bench/gqa-compare.ts). One budget of
 * values per cached token, held as MLA's one shared head or as h_kv heads of
 * a fraction of it; every point checked against the reference on the call as
 * given (in a worker), then timed. A bar chart of time and a table with the
 * FLOPs each byte read carries.
 */
import type { GpuContext } from '../gpu/device';
import { type FlagValues, intFlag, intList, oneOf } from '../run/run-options';
import { PRESET_NAMES, type PresetName } from '../mla/shape';
import type { KvFormat } from '../mla/kv-layout';
import { GQA_FORMATS, GQA_KV_HEADS, GQA_TABLE_HEAD, type GqaCompareSpec, type GqaPoint, checkGqaCompare, compareGqa, gqaTableCells } from '../bench/gqa-compare';
import { fmtMs } from '../run/report';
import { escapeHtml, find } from './html';
import { type Field, fieldsHtml, readFields } from './flag-form';
import { ChartView } from './charts';
import { wireSection } from './section-run';
import { gqaReferenceInWorker } from './cpu-worker';

const DEFAULTS: FlagValues = { preset: 'v32', kv: 'bf16', 'h-q': '16', seqlen: '2048', 'kv-heads': GQA_KV_HEADS.join(',') };

const FIELDS: Field[] = [
  { name: 'preset', label: 'Cache budget (values a token)', choices: PRESET_NAMES, hint: 'v32: 576 values a token, MODEL1: 512' },
  { name: 'kv', label: 'KV cache', choices: GQA_FORMATS },
  { name: 'h-q', label: 'Query heads h_q' },
  { name: 'seqlen', label: 'Cached tokens' },
  { name: 'kv-heads', label: 'KV heads h_kv (1 = MLA)', hint: 'comma-separated; each must divide h_q' },
];

function tableHtml(points: readonly GqaPoint[]): string {
  const body = points.map((p) => `<tr class="${p.pass ? '' : 'failed'}" title="${escapeHtml(p.check)}">${gqaTableCells(p, fmtMs).map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`);
  return `<table class="rows"><thead><tr>${GQA_TABLE_HEAD.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

export function mountGqaCompare(parent: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  parent.insertAdjacentHTML('beforeend', `<section id="gqa-root"><h2>MLA beside GQA at equal cache bytes</h2>
    <p class="lead">The same bytes a cached token, held as MLA's one shared head (every query head reads all of it) or split into h_kv heads
    (each read by h_q / h_kv query heads, as FlashMLA's dense decode takes GQA: a head's value is the first part of its key).
    The bytes read are equal; the multiply-adds a byte carries fall as h_kv grows. What a model gains from each head seeing the whole latent is its quality, not shown here.</p>
    <form id="gqa-form" class="fields">${fieldsHtml(FIELDS, DEFAULTS)}
    <div class="buttons"><button type="submit" id="gqa-start">Run MLA beside GQA</button><button type="button" id="gqa-cancel" disabled>Cancel</button></div></form>
    <div class="progress-row"><progress id="gqa-progress" value="0" max="1"></progress><span id="gqa-status">Not run yet.</span></div>
    <figure class="chart small"><canvas id="chart-gqa"></canvas></figure><div id="gqa-table"></div></section>`);
  const root = find(parent, '#gqa-root');
  const form = find<HTMLFormElement>(root, '#gqa-form');
  const progress = find<HTMLProgressElement>(root, '#gqa-progress');
  const status = find(root, '#gqa-status');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#chart-gqa'));

  function draw(points: readonly GqaPoint[]): void {
    const labels = points.map((p) => (p.hKv === 1 ? 'MLA (1)' : `GQA ${p.hKv}`));
    chart.bars('Time per call at equal cache bytes', labels, [{ label: 'time (ms)', values: points.map((p) => p.ms) }], { title: 'time (ms)' }, 'KV heads');
    find(root, '#gqa-table').innerHTML = points.length ? tableHtml(points) : '';
  }

  const points: GqaPoint[] = [];
  wireSection({ root, form, status, start: find<HTMLButtonElement>(root, '#gqa-start'), cancel: find<HTMLButtonElement>(root, '#gqa-cancel') }, {
    cancelReason: 'MLA beside GQA was cancelled',
    cancelled: () => `Cancelled after ${points.length} points.`,
    body: async (signal) => {
      const v = Object.fromEntries(Object.entries(readFields(form, FIELDS, DEFAULTS)).map(([k, x]) => [k, x ?? DEFAULTS[k]])) as FlagValues;
      const spec: GqaCompareSpec = {
        preset: oneOf<PresetName>('preset', v.preset, PRESET_NAMES), kvFormat: oneOf<KvFormat>('kv', v.kv, GQA_FORMATS),
        hQ: intFlag('h-q', v['h-q'], 1, 1024)!, seqlen: intFlag('seqlen', v.seqlen, 1, 1 << 17)!, kvHeads: intList('kv-heads', v['kv-heads']) ?? [],
        signal, onProgress: (step) => { status.textContent = step; },
        reference: (call, rows) => gqaReferenceInWorker(call, rows, () => {}, signal),
      };
      checkGqaCompare(spec); // a bad field leaves the last run's points drawn
      points.length = 0;
      draw(points);
      const ctx = await getDevice();
      progress.max = spec.kvHeads.length;
      progress.value = 0;
      await compareGqa(ctx, spec, (p, done) => { points.push(p); progress.value = done; draw(points); });
      const failed = points.filter((p) => !p.pass).length;
      const mla = points.find((p) => p.hKv === 1);
      const fastest = points.reduce((a, b) => (b.ms < a.ms ? b : a));
      return `Done: ${points.length} points, ${failed ? `${failed} FAILED a check` : 'each matches the CPU'}; fastest ${fastest.hKv === 1 ? 'MLA' : `GQA ${fastest.hKv}`}${mla && fastest !== mla ? ` (${(mla.ms / fastest.ms).toFixed(2)}x MLA's speed)` : ''}.`;
    },
  });
  draw(points);
}
