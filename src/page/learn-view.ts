/**
 * Learn: what an MLA decode kernel does, step by step, on a small case
 * computed by the core on the CPU (so it works without WebGPU): the score
 * matrix, softmax, the online softmax tile by tile, the split-KV merge by
 * lse, why a shared latent lets one tile serve every head, and an FP8
 * explorer with the quantisation error of a generated cache, and which keys
 * sparse attention's indexer keeps (learn-indexer.ts). With WebGPU the
 * same case can be run on version 3 (shared-latent, whose exact rescale the
 * trace follows) and compared with the trace.
 */
import type { GpuContext } from '../gpu/device';
import { PRESET_NAMES, type PresetName, softmaxScaleOf } from '../mla/shape';
import { KV_FORMATS, type KvFormat } from '../mla/kv-layout';
import { runAttention } from '../run/run-attention';
import { formatCheck } from '../reference/check';
import { intFlag, oneOf } from '../run/run-options';
import { type LearnCase, learnCase, softmaxRow } from '../learn/learn-case';
import { onlineSoftmaxTrace } from '../learn/online-softmax';
import { mergeByLse, splitPartials } from '../learn/split-merge';
import { latentTraffic, planWithoutDevice } from '../learn/shared-latent';
import { explainFp8 } from '../learn/fp8-explorer';
import { quantHistogram } from '../learn/quant-histogram';
import { ChartView } from './charts';
import { INDEXER_STEP, showIndexerStep } from './learn-indexer';
import { escapeHtml, find, fmtNum } from './html';

interface LearnOptions {
  preset: PresetName;
  kvFormat: KvFormat;
  hQ: number;
  seqlen: number;
  head: number;
  tileN: number;
  splits: number;
  seed: number;
}

/** The head whose running max grows most often over the tiles: the best one to watch rescaling. */
function liveliestHead(c: LearnCase, tileN: number): number {
  const growths = c.scores.map((s) => onlineSoftmaxTrace(s, c.value, 1, tileN).steps.filter((st, i) => i > 0 && st.maxAfter > st.maxBefore).length);
  return growths.indexOf(Math.max(...growths));
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const vec = (xs: readonly number[]) => `[${xs.map((x) => fmtNum(x, 3)).join(', ')}, ...]`;

function controlsHtml(o: LearnOptions): string {
  const select = (name: string, all: readonly string[], v: string) => `<select name="${name}">${all.map((c) => `<option${c === v ? ' selected' : ''}>${c}</option>`).join('')}</select>`;
  const input = (name: string, v: number) => `<input name="${name}" value="${v}" size="5">`;
  return `<form id="learn-form" class="fields">
    <label><span>Head</span>${select('preset', PRESET_NAMES, o.preset)}</label>
    <label><span>KV cache</span>${select('kv', KV_FORMATS, o.kvFormat)}</label>
    <label><span>Query heads h_q (1-32)</span>${input('h-q', o.hQ)}</label>
    <label><span>Keys (1-256)</span>${input('seqlen', o.seqlen)}</label>
    <label><span>Head to follow</span>${input('head', o.head)}</label>
    <label><span>Keys per tile</span>${input('tile-n', o.tileN)}</label>
    <label><span>KV splits</span>${input('splits', o.splits)}</label>
    <label><span>Seed</span>${input('seed', o.seed)}</label>
    <div class="buttons"><button type="submit">Show</button></div>
  </form><p id="learn-error" class="fail"></p>`;
}

function readOptions(form: HTMLFormElement): LearnOptions {
  const v = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
  const hQ = intFlag('h-q', v('h-q'), 1, 32)!;
  const seqlen = intFlag('seqlen', v('seqlen'), 1, 256)!;
  return {
    preset: oneOf('preset', v('preset'), PRESET_NAMES), kvFormat: oneOf('kv', v('kv'), KV_FORMATS), hQ, seqlen,
    head: intFlag('head', v('head'), 0, hQ - 1)!, tileN: intFlag('tile-n', v('tile-n'), 1, 256)!,
    splits: intFlag('splits', v('splits'), 1, 16)!, seed: intFlag('seed', v('seed'), 0, 0xffffffff)!,
  };
}

const SECTIONS = `
<section class="learn-step"><h3>1. Scores: every head against every key</h3>
  <p>Each query head h dots its query (d_qk values) with each key: <code>s[h,t] = scale * q[h] . k[t]</code>, scale = 1/sqrt(d_qk) = <span id="learn-scale"></span>.
  In MLA every head reads the <em>same</em> key rows: the latent cache is shared.</p>
  <figure class="chart heat"><canvas id="learn-scores"></canvas></figure></section>
<section class="learn-step"><h3>2. Softmax: scores become weights</h3>
  <p>Per head, <code>p[t] = exp(s[t] - lse)</code> with <code>lse = log(sum exp(s))</code>; the output is <code>out = sum p[t] v[t]</code>, v = the first d_v dims of the key.</p>
  <figure class="chart heat"><canvas id="learn-softmax"></canvas></figure></section>
<section class="learn-step"><h3>3. Online softmax, tile by tile (versions 2 to 4)</h3>
  <p>The kernel never holds a whole row of scores. It walks the keys in tiles, keeping a running max m, a running sum l and an accumulator acc.
  When a tile raises the max, the old l and acc are multiplied by <code>exp(m_old - m_new)</code>, so every term stays relative to the current max. At the end <code>out = acc / l</code> and <code>lse = m + log l</code>.</p>
  <label class="stepper">Tile <input type="range" id="learn-tile" min="0" value="0"> <span id="learn-tile-label"></span></label>
  <figure class="chart"><canvas id="learn-online"></canvas></figure>
  <div id="learn-online-table"></div><p id="learn-online-check"></p></section>
<section class="learn-step"><h3>4. Split-KV: partial results merged by their lse</h3>
  <p>With few heads and long rows, the keys are cut into splits that run in parallel. Each split returns its own normalised output o_s and log-sum-exp lse_s; the combine kernel merges them with
  <code>lse = log sum exp(lse_s)</code> and weights <code>w_s = exp(lse_s - lse)</code>: <code>out = sum w_s o_s</code>. Nothing else is needed.</p>
  <div id="learn-split-table"></div><p id="learn-split-check"></p></section>
<section class="learn-step"><h3>5. Why a shared latent lets one KV tile serve every head</h3>
  <p>A KV tile loaded once is scored against every head of the workgroup, so the bytes read per head fall with the heads that share it.
  Heads per workgroup are those of version 3 (shared-latent), from its planner at WebGPU's default limits.</p>
  <div id="learn-latent-table"></div><figure class="chart small"><canvas id="learn-latent"></canvas></figure></section>
<section class="learn-step"><h3>6. FP8 explorer</h3>
  <p>Type a number: the encoder rounds it to the nearest FP8 code (ties to even; beyond the largest finite value it saturates). In the cache every latent value is first divided by its tile's scale, so amax lands on 448 (E4M3).</p>
  <form id="fp8-form" class="fields"><label><span>Value</span><input id="fp8-value" value="0.3"></label>
  <label><span>Format</span><select id="fp8-format"><option value="e4m3">E4M3 (1-4-3, bias 7)</option><option value="e5m2">E5M2 (1-5-2, bias 15)</option></select></label></form>
  <div id="fp8-out"></div>
  <h4>Quantisation error of this case's cache</h4>
  <p id="learn-hist-note"></p><figure class="chart small"><canvas id="learn-hist"></canvas></figure></section>
<section class="learn-step"><h3>7. The same case on the GPU</h3>
  <p>Runs version 3 (shared-latent) with this case's tile size and splits and compares the followed head's output with the trace above.</p>
  <button type="button" id="learn-gpu">Run on the GPU</button><pre id="learn-gpu-out"></pre></section>
${INDEXER_STEP}`;

export function mountLearnView(view: HTMLElement, getDevice?: () => Promise<GpuContext>): void {
  const initial: LearnOptions = { preset: 'v32', kvFormat: 'fp8', hQ: 8, seqlen: 40, head: 0, tileN: planWithoutDevice('v32', 'fp8', 8).plan.tileN, splits: 3, seed: 0 };
  /** The case depends on the head shape, format, h_q, keys and seed only; head, tile and splits reuse it. */
  const cases = new Map<string, LearnCase>();
  const caseOf = (o: LearnOptions) => {
    const key = JSON.stringify([o.preset, o.kvFormat, o.hQ, o.seqlen, o.seed]);
    let c = cases.get(key);
    if (!c) { c = learnCase(o); cases.clear(); cases.set(key, c); }
    return c;
  };
  initial.head = liveliestHead(caseOf(initial), initial.tileN);
  view.innerHTML = `<div id="learn-root"><h2>Learn: inside an MLA decode kernel</h2>
    <p class="lead">One request, one query token, a few heads and keys, computed on the CPU by the project's reference code (f64). Change the case and press Show.</p>
    ${controlsHtml(initial)}${SECTIONS}</div>`;
  const root = find(view, '#learn-root');
  const form = find<HTMLFormElement>(root, '#learn-form');
  const charts = {
    scores: new ChartView(find<HTMLCanvasElement>(root, '#learn-scores')),
    softmax: new ChartView(find<HTMLCanvasElement>(root, '#learn-softmax')),
    online: new ChartView(find<HTMLCanvasElement>(root, '#learn-online')),
    latent: new ChartView(find<HTMLCanvasElement>(root, '#learn-latent')),
    hist: new ChartView(find<HTMLCanvasElement>(root, '#learn-hist')),
  };
  const tileInput = find<HTMLInputElement>(root, '#learn-tile');
  let current: { o: LearnOptions; c: LearnCase } | undefined;

  function showTile(): void {
    if (!current) return;
    const { o, c } = current;
    const scores = c.scores[o.head];
    const trace = onlineSoftmaxTrace(scores, c.value, c.shape.dV, o.tileN);
    const k = Math.min(Number(tileInput.value), trace.steps.length - 1);
    const step = trace.steps[k];
    find(root, '#learn-tile-label').textContent = `${k + 1} of ${trace.steps.length}: keys ${step.start}-${step.end - 1}`;
    const seen = trace.steps.slice(0, k + 1);
    charts.online.lines(`Head ${o.head}: scores and the running max after each tile (tiles of ${o.tileN} keys)`, [
      { label: 'score s[t] (keys seen so far)', points: scores.slice(0, step.end).map((y, x) => ({ x, y })) },
      { label: 'running max m', points: seen.flatMap((s) => [{ x: s.start, y: s.maxAfter }, { x: s.end - 1, y: s.maxAfter }]) },
      { label: 'scores not reached yet', dashed: true, points: scores.slice(step.end).map((y, x) => ({ x: x + step.end, y })) },
    ], { title: 'key t' }, { title: 'score' });
    const rows = trace.steps.map((s, i) => `<tr${i === k ? ' class="current"' : ''}><td>${i + 1}</td><td>${s.start}-${s.end - 1}</td><td>${fmtNum(s.tileMax)}</td>`
      + `<td>${i === 0 ? 'none yet' : fmtNum(s.maxBefore)} &rarr; ${fmtNum(s.maxAfter)}</td>`
      + `<td>${i === 0 ? '- (nothing to rescale)' : fmtNum(s.rescale) + (s.maxAfter > s.maxBefore ? ' (max grew)' : '')}</td>`
      + `<td>${fmtNum(s.sumAfter)}</td><td><code>${vec(s.accHead.slice(0, 3))}</code></td><td><code>${vec(s.outHead.slice(0, 3))}</code></td></tr>`).join('');
    find(root, '#learn-online-table').innerHTML = `<table><thead><tr><th>tile</th><th>keys</th><th>tile max</th><th>running max m</th><th>rescale exp(m_old - m_new)</th>`
      + `<th>running sum l</th><th>acc (first dims)</th><th>acc / l so far</th></tr></thead><tbody>${rows}</tbody></table>`;
    const ref = c.reference;
    const refOut = ref.out.subarray(o.head * c.shape.dV, (o.head + 1) * c.shape.dV);
    find(root, '#learn-online-check').innerHTML = `After the last tile: lse = ${fmtNum(trace.lse, 8)} (reference ${fmtNum(ref.lse[o.head], 8)}); `
      + `max |out - reference out| = <b>${maxDiff(trace.out, refOut).toExponential(1)}</b> over ${c.shape.dV} values.`;
  }

  function showFp8(): void {
    const out = find(root, '#fp8-out');
    try {
      const raw = find<HTMLInputElement>(root, '#fp8-value').value.trim();
      const e = explainFp8(find<HTMLSelectElement>(root, '#fp8-format').value as 'e4m3' | 'e5m2', raw === '' ? NaN : Number(raw));
      out.innerHTML = `<div class="bits"><span class="bit-sign" title="sign">${e.bits.sign}</span><span class="bit-exp" title="exponent">${e.bits.exponent}</span><span class="bit-man" title="mantissa">${e.bits.mantissa}</span>`
        + `<span class="bit-legend">sign | exponent | mantissa &nbsp; code 0x${e.code.toString(16).padStart(2, '0')}</span></div>`
        + `<p><code>${escapeHtml(e.formula)}</code> = <b id="fp8-decoded">${e.decoded}</b>; error ${fmtNum(e.absError)} (${fmtNum(100 * e.relError, 3)}% of the input)`
        + `${Math.abs(e.input) > e.format.max ? `; saturated: the largest finite ${e.format.name.toUpperCase()} value is ${e.format.max}` : ''}.</p>`;
    } catch (err) {
      out.innerHTML = `<p class="fail">${escapeHtml((err as Error).message)}</p>`;
    }
  }

  function show(): void {
    const error = find(root, '#learn-error');
    let o: LearnOptions;
    try { o = readOptions(form); error.textContent = ''; } catch (e) { error.textContent = (e as Error).message; return; }
    const c = caseOf(o);
    current = { o, c };
    const { shape } = c;
    find(root, '#learn-scale').textContent = `${fmtNum(softmaxScaleOf(shape))} (d_qk = ${shape.dQk})`;
    charts.scores.heatmap(`Scores s[h, t] (${shape.dQk}-dim heads, ${c.layout.name} cache)`, c.scores, 'key t', 'head h', true, (v) => fmtNum(v));
    charts.softmax.heatmap('Softmax weights p[h, t] (each row sums to 1)', c.scores.map(softmaxRow), 'key t', 'head h', false, (v) => fmtNum(v));

    const steps = Math.ceil(o.seqlen / o.tileN);
    tileInput.max = String(steps - 1);
    tileInput.value = String(Math.min(Number(tileInput.value), steps - 1));
    showTile();

    const scores = c.scores[o.head];
    const merged = mergeByLse(splitPartials(scores, c.value, shape.dV, o.splits));
    const refOut = c.reference.out.subarray(o.head * shape.dV, (o.head + 1) * shape.dV);
    find(root, '#learn-split-table').innerHTML = `<table><thead><tr><th>split s</th><th>keys</th><th>lse_s</th><th>weight w_s</th><th>o_s (first dims)</th></tr></thead><tbody>`
      + merged.parts.map((p, s) => `<tr><td>${s}</td><td>${p.end > p.start ? `${p.start}-${p.end - 1}` : 'none'}</td><td>${fmtNum(p.lse)}</td><td>${fmtNum(merged.weights[s])}</td>`
        + `<td><code>${vec(Array.from(p.out.subarray(0, 3)))}</code></td></tr>`).join('')
      + `<tr class="total"><td>merged</td><td>0-${o.seqlen - 1}</td><td>${fmtNum(merged.lse)}</td><td>${fmtNum(merged.weights.reduce((a, b) => a + b, 0))}</td>`
      + `<td><code>${vec(Array.from(merged.out.subarray(0, 3)))}</code></td></tr></tbody></table>`;
    find(root, '#learn-split-check').innerHTML = `Merged lse ${fmtNum(merged.lse, 8)} vs reference ${fmtNum(c.reference.lse[o.head], 8)}; max |merged out - reference out| = <b>${maxDiff(merged.out, refOut).toExponential(1)}</b>.`;

    const traffic = latentTraffic(PRESET_NAMES, o.hQ).filter((t) => t.kvFormat === o.kvFormat);
    find(root, '#learn-latent-table').innerHTML = `<table><thead><tr><th>head</th><th>cache</th><th>B/token</th><th>naive: each head reads it</th><th>v3 shared-latent: H heads share</th><th>all ${o.hQ} heads share</th><th>no latent (per-head K,V)</th></tr></thead><tbody>`
      + traffic.map((t) => `<tr><td>${t.dQk}</td><td>${t.kvFormat}</td><td>${t.bytesPerToken}</td><td>${fmtNum(t.naivePerHead)} B</td><td>${fmtNum(t.flashPerHead)} B (H = ${t.headsPerWorkgroup})</td>`
        + `<td>${fmtNum(t.allHeadsPerHead)} B</td><td>${t.perHeadKvPerHead} B</td></tr>`).join('') + '</tbody></table>';
    charts.latent.bars(`Bytes read per head per token (${o.kvFormat} cache, h_q ${o.hQ})`, ['naive', 'v3 shared-latent (H heads share)', `all ${o.hQ} heads share`, 'no latent: per-head K,V (bf16)'],
      traffic.map((t) => ({ label: `${t.dQk} (${t.preset})`, values: [t.naivePerHead, t.flashPerHead, t.allHeadsPerHead, t.perHeadKvPerHead] })), { title: 'bytes per head per token', log: true });

    const h = quantHistogram(c.inputs.kvRows, c.kvSeen, c.inputs.cache.usedSlots, c.layout);
    find(root, '#learn-hist-note').textContent = c.layout.kind === 'f32'
      ? 'An f32 cache keeps every value as generated: no quantisation error. Pick bf16 or fp8 above.'
      : `${h.values} values of ${h.dims}: ${fmtNum((100 * h.exact) / h.values, 3)}% exact, RMS relative error ${fmtNum(100 * h.rmsRel, 3)}%, max ${fmtNum(100 * h.maxRel, 3)}%; `
        + `half an ulp is ${fmtNum(100 * h.bound, 3)}%; ${h.beyond} values (subnormal after scaling) err more and are not in the bars.`;
    const centres = h.edges.slice(0, -1).map((e, k) => `${fmtNum(100 * (e + h.edges[k + 1]) / 2, 2)}%`);
    charts.hist.bars(`Relative error (decoded - original) / |original|, ${c.layout.name} cache`, centres, [{ label: 'values', values: h.counts }], { title: 'number of values' }, 'relative error');
    root.dataset.ready = 'true';
  }

  async function runOnGpu(): Promise<void> {
    const out = find(root, '#learn-gpu-out');
    if (!current || !getDevice) return;
    const { o, c } = current;
    out.textContent = 'Running...';
    try {
      const ctx = await getDevice();
      const r = await runAttention(ctx, c.inputs, { kernel: 'shared-latent', kvFormat: o.kvFormat, tileN: o.tileN, splits: o.splits });
      const gpuRow = r.output.out.subarray(o.head * c.shape.dV, (o.head + 1) * c.shape.dV);
      const trace = onlineSoftmaxTrace(c.scores[o.head], c.value, c.shape.dV, o.tileN);
      out.textContent = `${formatCheck(r.check)}\n`
        + `plan: tile ${r.plan.tileN} keys, ${r.plan.splits} splits\n`
        + `head ${o.head}: max |GPU out - trace out| = ${maxDiff(gpuRow, trace.out).toExponential(2)} (the GPU computes in f32)`;
    } catch (e) {
      out.textContent = (e as Error).message;
    }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); show(); });
  tileInput.addEventListener('input', showTile);
  find(root, '#fp8-form').addEventListener('input', showFp8);
  find(root, '#fp8-form').addEventListener('submit', (e) => e.preventDefault());
  find(root, '#learn-gpu').addEventListener('click', () => void runOnGpu());
  show();
  showFp8();
  showIndexerStep(root);
}
