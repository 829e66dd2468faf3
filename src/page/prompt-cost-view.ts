/**
 * Compare, third part: what a prompt costs, as `mla-sandbox prompt-cost`
 * runs it (src/prompt/). At each length one prompt runs densely (causal, the
 * absorbed way over the latent) and through the indexer, top-k and the
 * sparse prefill, each way checked on sampled query tokens, then timed; the
 * model fitted to the measured stages carries both curves to a million
 * tokens. Measured points are drawn as points on solid lines, the model as
 * dashed lines; the text gives the fit's error and the crossover.
 */
import type { GpuContext } from '../gpu/device';
import { type FlagValues, PAGE_MEMORY_BUDGET, configFromFlags, intFlag, intList, oneOf } from '../run/run-options';
import { HEAD_PRESETS, PRESET_NAMES, type PresetName } from '../mla/shape';
import { KV_FORMATS } from '../mla/kv-layout';
import { checkPrefillMemory } from '../prefill/prefill-call';
import { type PromptCostPoint, measurePromptCost, modelPromptCost, validateLengths } from '../prompt/prompt-cost';
import { predictDense, predictDsa } from '../prompt/cost-model';
import { describePromptCrossover, describeFit, modelLengths } from '../prompt/prompt-cost-report';
import { fmtMs } from '../run/report';
import { escapeHtml, find } from './html';
import { type Field, fieldsHtml, readFields } from './flag-form';
import { ChartView, type Series } from './charts';
import { wireSection } from './section-run';

const DEFAULTS: FlagValues = { preset: 'model1', kv: 'bf16', 'h-q': '16', topk: '256', lengths: '256,512,1024' };

const FIELDS: Field[] = [
  { name: 'preset', label: 'Head', choices: PRESET_NAMES },
  { name: 'kv', label: 'KV cache', choices: KV_FORMATS },
  { name: 'h-q', label: 'Query heads h_q' },
  { name: 'topk', label: 'Top-k' },
  { name: 'lengths', label: 'Prompt lengths L (each a point)', hint: 'comma-separated; DeepSeek\'s top-k is 2048: past it DSA reads top-k keys a token' },
];

function tableHtml(points: readonly PromptCostPoint[]): string {
  const head = ['L', 'dense', 'indexer', 'top-k', 'sparse prefill', 'DSA (sum)', 'faster', 'checks'];
  const body = points.map((p) => {
    const cells = [String(p.keys), fmtMs(p.ms.dense), fmtMs(p.ms.indexer), fmtMs(p.ms.topk), fmtMs(p.ms.sparse), fmtMs(p.dsaMs),
      p.dsaMs < p.ms.dense ? `DSA ${(p.ms.dense / p.dsaMs).toFixed(2)}x` : `dense ${(p.dsaMs / p.ms.dense).toFixed(2)}x`, p.densePass && p.dsaPass ? 'pass' : 'FAIL'];
    return `<tr class="${p.densePass && p.dsaPass ? '' : 'failed'}">${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<table class="rows"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

export function mountPromptCost(parent: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  parent.insertAdjacentHTML('beforeend', `<section id="prompt-cost-root"><h2>What a prompt costs: dense against DeepSeek's sparse attention</h2>
    <p class="lead">A prompt is read once before any decode step, every token attending the tokens before it: dense attention grows as L<sup>2</sup>,
    DSA as L x top-k plus the indexer's L<sup>2</sup> at a fraction of the FLOPs. At each length one prompt runs both ways on the same q and cache,
    each checked on sampled tokens, then timed; a model (a time per attended pair and per token, each stage) fitted to the points carries both curves to 1M tokens (dashed).</p>
    <form id="prompt-cost-form" class="fields">${fieldsHtml(FIELDS, DEFAULTS)}
    <div class="buttons"><button type="submit" id="prompt-cost-start">Run prompt cost</button><button type="button" id="prompt-cost-cancel" disabled>Cancel</button></div></form>
    <div class="progress-row"><progress id="prompt-cost-progress" value="0" max="1"></progress><span id="prompt-cost-status">Not run yet.</span></div>
    <figure class="chart"><canvas id="chart-prompt-cost"></canvas></figure>
    <pre id="prompt-cost-model"></pre><div id="prompt-cost-table"></div></section>`);
  const root = find(parent, '#prompt-cost-root');
  const form = find<HTMLFormElement>(root, '#prompt-cost-form');
  const progress = find<HTMLProgressElement>(root, '#prompt-cost-progress');
  const status = find(root, '#prompt-cost-status');
  const start = find<HTMLButtonElement>(root, '#prompt-cost-start');
  const cancel = find<HTMLButtonElement>(root, '#prompt-cost-cancel');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#chart-prompt-cost'));

  function draw(points: readonly PromptCostPoint[], topk: number): void {
    const measured = (y: (p: PromptCostPoint) => number) => points.map((p) => ({ x: p.keys, y: y(p) }));
    const series: Series[] = [{ label: 'dense, measured', color: 0, points: measured((p) => p.ms.dense) }, { label: 'DSA, measured', color: 1, points: measured((p) => p.dsaMs) }];
    let text = '';
    if (points.length >= 2) {
      const m = modelPromptCost(points, topk);
      const lengths = modelLengths(points.map((p) => p.keys));
      series.push({ label: 'dense, modelled', dashed: true, color: 0, points: lengths.map((L) => ({ x: L, y: predictDense(m.model, L) })) });
      series.push({ label: 'DSA, modelled', dashed: true, color: 1, points: lengths.map((L) => ({ x: L, y: predictDsa(m.model, L) })) });
      const at1M = (f: typeof predictDense) => fmtMs(f(m.model, 1 << 20));
      text = [
        'model: t = a x pairs + b x tokens a stage, fitted to the measured times', ...describeFit(m.model),
        `fit error on the measured points: dense ${(100 * m.fitError.dense).toFixed(1)} %, DSA ${(100 * m.fitError.dsa).toFixed(1)} %`,
        describePromptCrossover({ ...m, points }),
        `at 1M tokens (modelled): dense ${at1M(predictDense)}, DSA ${at1M(predictDsa)} on this device`,
      ].join('\n');
    } else if (points.length === 1) text = 'The model needs two lengths or more.';
    chart.lines('A prompt of L tokens: dense against DSA (indexer + top-k + sparse prefill)', series, { title: 'prompt tokens L', log: true }, { title: 'time (ms)', log: true });
    find(root, '#prompt-cost-model').textContent = text;
    find(root, '#prompt-cost-table').innerHTML = points.length ? tableHtml(points) : '';
  }

  const points: PromptCostPoint[] = [];
  wireSection({ root, form, status, start, cancel }, {
    cancelReason: 'the prompt cost was cancelled',
    cancelled: () => `Cancelled after ${points.length} lengths.`,
    body: async (signal) => {
      points.length = 0;
      const v = Object.fromEntries(Object.entries(readFields(form, FIELDS, DEFAULTS)).map(([k, x]) => [k, x ?? DEFAULTS[k]])) as FlagValues;
      const dims = HEAD_PRESETS[oneOf<PresetName>('preset', v.preset, PRESET_NAMES)];
      const lengths = validateLengths(intList('lengths', v.lengths) ?? [], '--lengths');
      const hQ = intFlag('h-q', v['h-q'], 1, 1024)!;
      const topk = intFlag('topk', v.topk, 1, 1 << 16)!;
      const config = configFromFlags({ kv: v.kv, kernel: 'flash', splits: 'auto', 'scale-rounding': 'pow2' });
      const longest = lengths[lengths.length - 1];
      checkPrefillMemory({ dims, sQ: longest, hQ, topk, slots: longest }, PAGE_MEMORY_BUDGET.bytes, PAGE_MEMORY_BUDGET.where);
      draw(points, topk);
      const ctx = await getDevice();
      progress.max = lengths.length;
      progress.value = 0;
      const report = await measurePromptCost(ctx, {
        dims, lengths, hQ, topk, signal,
        onProgress: (step) => { status.textContent = step; },
        onPoint: (p, done) => { points.push(p); progress.value = done; draw(points, topk); },
      }, { dense: config, sparse: config });
      const failed = report.points.filter((p) => !(p.densePass && p.dsaPass)).length;
      return `Done: ${report.points.length} lengths, ${failed ? `${failed} FAILED a check` : 'both ways match the CPU at every length'}.`;
    },
  });
  draw([], 0);
}
