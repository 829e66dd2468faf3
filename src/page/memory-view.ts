/**
 * The Memory view: the KV-memory calculator (src/memory/kv-memory.ts, the
 * same as `mla-sandbox memory`) with editable fields, its table, the FP8
 * claim set against the layouts, and bytes against context on log axes, one
 * line per scheme, with this adapter's maxBufferSize and 24 GB / 80 GB GPUs
 * as horizontal lines. It needs no GPU; the adapter's line is added when a
 * device is open.
 */
import type { GpuContext } from '../gpu/device';
import { DEFAULT_MEMORY, ELEMENT_BYTES, GPU_MEMORY_MARKS, MAX_CONTEXT, type MemoryRow, type MemorySpec, fp8Claims, memoryRows, memorySpecFromFlags } from '../memory/kv-memory';
import { fmtBytes } from '../mla/shape';
import { ChartView, type Series } from './charts';
import { escapeHtml, find } from './html';

const FIELDS = [
  ['contexts', 'Contexts (tokens)', DEFAULT_MEMORY.contexts.join(',')],
  ['layers', 'Layers', String(DEFAULT_MEMORY.layers)],
  ['heads', 'MHA heads', String(DEFAULT_MEMORY.mha.heads)],
  ['groups', 'GQA groups', String(DEFAULT_MEMORY.mha.groups)],
  ['d-k', 'd_k', String(DEFAULT_MEMORY.mha.dK)],
  ['d-v', 'd_v', String(DEFAULT_MEMORY.mha.dV)],
] as const;

function readSpec(form: HTMLFormElement): MemorySpec {
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
  return memorySpecFromFlags(Object.fromEntries([...FIELDS.map(([name]) => name), 'element'].map((name) => [name, value(name)])));
}

/** Powers of two from 1K to 16M tokens: the chart's x values. */
const CHART_CONTEXTS = Array.from({ length: Math.log2(MAX_CONTEXT) - 9 }, (_, k) => 2 ** (10 + k));

function chartSeries(rows: readonly MemoryRow[], layers: number, maxBufferSize?: number): Series[] {
  const flat = (label: string, bytes: number): Series => ({
    label, dashed: true, points: [{ x: CHART_CONTEXTS[0], y: bytes }, { x: CHART_CONTEXTS[CHART_CONTEXTS.length - 1], y: bytes }],
  });
  return [
    ...rows.map((r) => ({ label: r.name, points: CHART_CONTEXTS.map((c) => ({ x: c, y: r.bytesPerTokenPerLayer * layers * c })) })),
    ...GPU_MEMORY_MARKS.map((m) => flat(m.label, m.bytes)),
    ...(maxBufferSize ? [flat(`this adapter's maxBufferSize (${fmtBytes(maxBufferSize)})`, maxBufferSize)] : []),
  ];
}

export function mountMemoryView(view: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  view.innerHTML = `<div id="memory-root"><h2>KV cache memory</h2>
    <p class="lead">What one token of context costs per layer, and the whole cache for a context and a layer count: multi-head, grouped-query and multi-query attention against MLA's cache layouts (the bytes of the layouts the kernels read).</p>
    <form id="memory-form" class="fields">
      ${FIELDS.map(([name, label, value]) => `<label><span>${label}</span><input name="${name}" value="${value}"></label>`).join('')}
      <label><span>MHA/GQA element</span><select name="element">${Object.keys(ELEMENT_BYTES).map((e) => `<option${e === DEFAULT_MEMORY.mha.element ? ' selected' : ''}>${e}</option>`).join('')}</select></label>
      <div class="buttons"><button type="submit" id="memory-update">Update</button></div>
    </form>
    <p id="memory-status"></p>
    <ul id="memory-claims"></ul>
    <div id="memory-table"></div>
    <figure class="chart"><canvas id="memory-chart"></canvas></figure></div>`;
  const root = find(view, '#memory-root');
  const form = find<HTMLFormElement>(root, '#memory-form');
  const status = find(root, '#memory-status');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#memory-chart'));
  let maxBufferSize: number | undefined;

  function update(): void {
    let spec: MemorySpec;
    let rows: MemoryRow[];
    try {
      spec = readSpec(form);
      rows = memoryRows(spec);
    } catch (e) {
      status.textContent = (e as Error).message;
      status.className = 'fail';
      root.dataset.state = 'error';
      return;
    }
    status.textContent = '';
    status.className = '';
    root.dataset.state = 'done';
    find(root, '#memory-claims').innerHTML = fp8Claims().map((c) => `<li>"An FP8 KV cache halves memory": ${c.preset === 'v32' ? 'V3.2' : 'MODEL1'} bf16 ${c.bf16} B &rarr; FP8 ${c.fp8} B a token per layer, ${(100 * c.saved).toFixed(0)} % less.</li>`).join('');
    find(root, '#memory-table').innerHTML = `<table><thead><tr><th>scheme</th><th>bytes / token / layer</th><th>made of</th>${spec.contexts.map((c) => `<th>${c} tokens</th>`).join('')}</tr></thead><tbody>`
      + rows.map((r) => `<tr><td>${escapeHtml(r.name)}</td><td>${r.bytesPerTokenPerLayer}</td><td>${escapeHtml(r.formula)}</td>${r.totals.map((t) => `<td>${fmtBytes(t)}</td>`).join('')}</tr>`).join('')
      + '</tbody></table>';
    chart.lines(`KV cache of ${spec.layers} layers against context`, chartSeries(rows, spec.layers, maxBufferSize), { title: 'context (tokens)', log: true }, { title: 'bytes', log: true });
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); update(); });
  update();
  // The adapter's largest buffer, once a device is open (the view works without one).
  getDevice().then((ctx) => { maxBufferSize = ctx.limits.maxBufferSize; if (root.dataset.state === 'done') update(); }, () => undefined);
}
