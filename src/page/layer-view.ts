/**
 * The Layer view: where the latent cache comes from. The data flow of one
 * MLA layer with every tensor's shape, MHA mode and absorbed MQA mode side
 * by side; what each way costs from the shapes; absorption checked in f64
 * on the CPU (no WebGPU needed); then both ways run on this GPU, each stage
 * checked and timed, and time against L for a decode step and a prefill
 * chunk. MODEL1's up-projections are not published: the view says so and
 * does not offer it.
 */
import type { GpuContext } from '../gpu/device';
import { KERNEL_CHOICES, type KernelChoice } from '../kernels/versions';
import { KV_FORMATS, type KvFormat, kvLayout } from '../mla/kv-layout';
import { SHAPE_LIMITS } from '../mla/shape';
import { SeededRandom } from '../random/seeded-random';
import { failureText } from '../reference/check';
import { type FlagValues, intFlag, intList, oneOf } from '../run/run-options';
import { LAYER_CONFIGS, LAYER_CONFIG_NAMES, type LayerConfig, MODEL1_LAYER_NOTE, cacheWidth, layerConfig, layerSoftmaxScale, qkHead } from '../layer/layer-config';
import { COST_WAY_LABELS, COST_WAYS, perTokenCost, stepCost } from '../layer/layer-costs';
import { LAYER_MAX_KEYS, LAYER_MAX_QUERY_TOKENS, checkLayerSize, generateLayer } from '../layer/layer-inputs';
import { type CoreTensors, ROPE_MODES, type RopeMode, referenceAbsorbed, referenceNaive, rotateCachedLatent } from '../layer/layer-reference';
import { headsDifference } from '../layer/layer-check';
import { type LayerReport, runLayer } from '../layer/layer-run';
import { AGREEMENT_TOLERANCE, layerPasses, wayMs } from '../layer/layer-report';
import { sweepLayer } from '../layer/layer-sweep';
import { ChartView } from './charts';
import { escapeHtml, find, fmtNum } from './html';

interface LayerForm {
  readonly config: LayerConfig;
  readonly keys: number;
  readonly sQ: number;
  readonly kvFormat: KvFormat;
  readonly kernel: KernelChoice;
  readonly rope: RopeMode;
  readonly topk: number;
  readonly sweep: number[];
  readonly chunk: number;
}

const DEFAULTS = { config: 'small', seqlen: '256', 's-q': '1', kv: 'f32', kernel: 'flash', rope: 'decoupled', topk: '0', sweep: '64,256', chunk: '16' };
/** The page keeps the f64 reference to a fraction of a second: the absorbed formula for every head, the naive one on a sample. */
const PAGE_REFERENCE_BUDGET = 2 ** 27;
/** A warm-up and two samples a stage: a browser tab on a software adapter. */
const PAGE_TIMING = { warmup: 1, samples: 2 };

function readForm(form: HTMLFormElement): LayerForm {
  const v: FlagValues = Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, (form.elements.namedItem(k) as HTMLInputElement).value.trim()]));
  const config = layerConfig(String(v.config));
  const keys = intFlag('seqlen', v.seqlen, 1, LAYER_MAX_KEYS)!;
  const sQ = intFlag('s-q', v['s-q'], 1, LAYER_MAX_QUERY_TOKENS)!;
  checkLayerSize(keys, sQ);
  const sweep = intList('sweep', v.sweep)!;
  const chunk = intFlag('chunk', v.chunk, 1, LAYER_MAX_QUERY_TOKENS)!;
  sweep.forEach((L) => checkLayerSize(L, 1, { keys: '--sweep', sQ: '--chunk' }));
  return {
    config, keys, sQ, sweep, chunk,
    kvFormat: oneOf<KvFormat>('kv', v.kv, KV_FORMATS), kernel: oneOf<KernelChoice>('kernel', v.kernel, KERNEL_CHOICES),
    rope: oneOf<RopeMode>('rope', v.rope, ROPE_MODES), topk: intFlag('topk', v.topk, 0, SHAPE_LIMITS.maxTopk)!,
  };
}

const shape = (...dims: (number | string)[]) => `[${dims.join(', ')}]`;
const box = (name: string, dims: string, note = '') => `<div class="flow-box"><code>${escapeHtml(name)}</code> <span class="dims">${escapeHtml(dims)}</span>${note ? `<div class="hint">${escapeHtml(note)}</div>` : ''}</div>`;
const arrow = (what: string) => `<div class="flow-arrow">↓ ${escapeHtml(what)}</div>`;

/** The data flow, each tensor with its shape for this configuration, L and s_q. */
function flowHtml(f: LayerForm): string {
  const c = f.config;
  const L = f.keys;
  const width = cacheWidth(c);
  const record = kvLayout(f.kvFormat, { dQk: width, dNope: c.kvLoraRank, dRope: c.qkRope }, 64).bytesPerToken;
  const shared = [
    box('x', shape(L, c.dim), `hidden states of L = ${L} tokens; the last s_q = ${f.sQ} are the queries`),
    arrow('wkv_a (the one down-projection of keys and values)'), box('[c ; k_pe]', shape(L, width)),
    arrow(`kv_norm on c (${c.kvLoraRank}), RoPE on k_pe (${c.qkRope})${f.rope === 'coupled' ? '; coupled: RoPE on c too' : ''}`),
    box('latent cache', shape(L, width), `${record} B a token in ${f.kvFormat}, shared by all ${c.heads} heads: why the row is ${width} wide`),
    box('q', shape(f.sQ, c.heads, qkHead(c)), `x_q -> wq_a [${c.qLoraRank}] -> q_norm -> wq_b -> [q_nope ${c.qkNope} ; q_pe ${c.qkRope}], RoPE on q_pe`),
  ];
  const mha = [
    arrow(`decompress every cached token, every step: c W_UK^T, c W_UV^T (wkv_b ${shape(c.heads * (c.qkNope + c.vHead), c.kvLoraRank)})`),
    box('K, V', `${shape(c.heads, L, c.qkNope)} each`, `+ the shared k_pe: per-head keys of ${qkHead(c)}`),
    arrow(`S = q K^T per head, softmax (scale ${layerSoftmaxScale(c).toFixed(6)})`), box('P', shape(c.heads, f.sQ, L)),
    arrow('P V'), box('o', shape(f.sQ, c.heads, c.vHead)),
  ];
  const mqa = [
    arrow('absorb W_UK into the query: q_lat = W_UK^T q_nope'), box('[q_lat ; q_pe]', shape(f.sQ, c.heads, width), 'every head now asks the shared cache directly'),
    arrow(`the ladder's kernel over the latent cache (d_qk ${width}, d_v ${c.kvLoraRank})`), box('out_lat', shape(f.sQ, c.heads, c.kvLoraRank)),
    arrow('W_UV out_lat'), box('o', shape(f.sQ, c.heads, c.vHead)),
  ];
  return `<div class="flow-shared">${shared.join('')}</div>
    <div class="flow-ways"><div><h4>MHA mode (prefill in vLLM and SGLang)</h4>${mha.join('')}</div><div><h4>MQA mode, absorbed (decode)</h4>${mqa.join('')}</div></div>
    <div class="flow-shared">${arrow(`wo ${shape(c.dim, c.heads * c.vHead)}`)}${box('y', shape(f.sQ, c.dim), 'the layer\'s output, the same both ways')}</div>`;
}

function fmtBig(x: number): string {
  return x >= 1e9 ? `${fmtNum(x / 1e9)} G` : x >= 1e6 ? `${fmtNum(x / 1e6)} M` : x >= 1e3 ? `${fmtNum(x / 1e3)} K` : fmtNum(x);
}

function costsHtml(f: LayerForm): string {
  const c = f.config;
  const record = kvLayout(f.kvFormat, { dQk: cacheWidth(c), dNope: c.kvLoraRank, dRope: c.qkRope }, 64).bytesPerToken;
  const rows = COST_WAYS.map((w) => {
    const per = perTokenCost(w, c, 2, w === 'mha-materialised' ? 0 : 1152);
    const step = stepCost(w, c, f.keys, f.sQ, 2, record, f.topk);
    return `<tr><td>${escapeHtml(COST_WAY_LABELS[w])}</td><td>${(per.flops / c.heads).toLocaleString('en-US')} h</td><td>${fmtNum(per.cacheBytes)}</td><td>${fmtBig(step.flops)}</td><td>${fmtBig(step.cacheBytes)}</td><td>${fmtBig(step.weightBytes)}</td></tr>`;
  });
  return `<table><thead><tr><th>way</th><th>FLOPs per context token (per query token)</th><th>cache B per context token (bf16)</th><th>FLOPs this step</th><th>cache B this step (${escapeHtml(f.kvFormat)})</th><th>W_UK, W_UV B (bf16)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Absorption in f64 on the CPU, 4 heads over 48 tokens: exact with decoupled RoPE, broken with coupled. */
function cpuAbsorption(): { decoupled: number; coupled: number } {
  const rng = new SeededRandom(7);
  const { qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc, yarn } = LAYER_CONFIGS.small;
  const heads = 4;
  const fill = (n: number, s = 1) => Float32Array.from({ length: n }, () => s * rng.normal());
  const core: CoreTensors = {
    dims: { heads, qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc }, sQ: 2, keys: 48,
    q: fill(2 * heads * (dn + dr)), latentRows: fill(48 * (dc + dr)), wUK: fill(heads * dn * dc, dc ** -0.5), wUV: fill(heads * dv * dc, dc ** -0.5),
    softmaxScale: layerSoftmaxScale(LAYER_CONFIGS.small), rope: 'decoupled', yarn,
  };
  const all = [0, 1, 2, 3];
  const coupled = { ...core, rope: 'coupled' as const };
  return {
    decoupled: headsDifference(referenceAbsorbed(core).o, referenceNaive(core).o, dv, heads, all),
    coupled: headsDifference(referenceAbsorbed({ ...coupled, latentRows: rotateCachedLatent(coupled) }).o, referenceNaive(coupled).o, dv, heads, all),
  };
}

const verdict = (pass: boolean, detail: string) => `<td class="${pass ? '' : 'fail'}">${pass ? 'pass' : 'FAIL'}</td><td>${escapeHtml(detail)}</td>`;

function resultHtml(r: LayerReport): string {
  const rel = (x: { maxRelErr: number; cosineDiff: number }) => `max err ${x.maxRelErr.toExponential(2)} of max |ref|, cosine difference ${x.cosineDiff.toExponential(2)}`;
  const rows: string[] = [];
  if (r.front) {
    rows.push(`<tr><td>cache rows (tokens ${r.front.tokens.join(', ')})</td>${verdict(r.front.cache.pass, rel(r.front.cache))}</tr>`);
    rows.push(`<tr><td>queries (tokens ${r.front.queryTokens.join(', ')})</td>${verdict(r.front.query.pass, rel(r.front.query))}</tr>`);
  }
  rows.push(`<tr><td>MHA mode: o</td>${verdict(r.mha.check.pass, rel(r.mha.check))}</tr>`);
  rows.push(`<tr><td>MQA mode: the ladder's call (${escapeHtml(r.mqa.kernel)})</td>${verdict(r.mqa.ladder.pass, rel(r.mqa.ladder))}</tr>`);
  const coupled = r.rope === 'coupled';
  rows.push(`<tr><td>MQA mode: o${coupled ? ' (coupled RoPE: expected to fail)' : ''}</td>${verdict(r.mqa.check.pass, r.mqa.check.pass ? rel(r.mqa.check) : failureText(r.mqa.check))}</tr>`);
  if (r.mqa.absorbedFormula) rows.push(`<tr><td>MQA mode: o against the absorbed formula in f64</td>${verdict(r.mqa.absorbedFormula.pass, rel(r.mqa.absorbedFormula))}</tr>`);
  rows.push(`<tr><td>MHA against MQA</td>${verdict(coupled || r.agreement <= AGREEMENT_TOLERANCE, `max |o_MHA - o_MQA| = ${r.agreement.toExponential(2)} of max |ref|`)}</tr>`);
  if (r.mha.yCheck && r.mqa.yCheck) {
    rows.push(`<tr><td>y = wo o, both ways</td>${verdict(r.mha.yCheck.pass && r.mqa.yCheck.pass, `${rel(r.mha.yCheck)} (against ${r.yAgainst})`)}</tr>`);
  }
  if (r.mha.formatError) rows.push(`<tr><td>${escapeHtml(r.kvFormat)}'s own error</td><td>shown</td><td>o against the rows before rounding: ${escapeHtml(rel(r.mha.formatError))}</td></tr>`);
  const ref = r.reference.formula === 'naive'
    ? `the naive formula over ${r.reference.heads.length === r.dims.heads ? 'every head' : `heads ${r.reference.heads.join(', ')}`}`
    : `every head by the absorbed formula, the naive one on heads ${r.reference.naiveHeads.join(', ')} (agreeing to ${r.reference.formulasAgree?.toExponential(1)})`;
  const times = r.stages.map((s) => `<tr><td>${s.way}</td><td>${escapeHtml(s.stage)}</td><td>${fmtNum(s.ms)}</td><td>${s.dispatches}</td></tr>`).join('');
  const mha = wayMs(r, 'mha');
  const mqa = wayMs(r, 'mqa');
  const winner = mha !== undefined && mqa !== undefined
    ? `MHA mode ${fmtNum(mha)} ms, MQA mode ${fmtNum(mqa)} ms: ${mha < mqa ? `MHA mode is ${fmtNum(mqa / mha, 3)}x faster` : `MQA mode is ${fmtNum(mha / mqa, 3)}x faster`} here.` : '';
  return `<p>Reference (f64): ${escapeHtml(ref)}.</p>
    <table><thead><tr><th>check</th><th>verdict</th><th>detail</th></tr></thead><tbody>${rows.join('')}</tbody></table>
    ${coupled ? '<p class="hint">Coupled RoPE: the cache holds R_t c. The absorbed query would need W_UK R_t, which changes with every key t, so no one q_lat serves all keys (DeepSeek-V2, section 2.1.3): MLA keeps RoPE on a separate 64-dim part instead.</p>' : ''}
    <table><thead><tr><th>way</th><th>stage</th><th>ms</th><th>dispatches</th></tr></thead><tbody>${times}</tbody></table>
    <p id="layer-winner">${escapeHtml(winner)}</p>`;
}

export function mountLayerView(view: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  const field = (name: keyof typeof DEFAULTS, label: string) => `<label><span>${label}</span><input name="${name}" value="${DEFAULTS[name]}"></label>`;
  const select = (name: keyof typeof DEFAULTS, label: string, options: readonly string[], extra = '') => `<label><span>${label}</span><select name="${name}">${options.map((o) => `<option${o === DEFAULTS[name] ? ' selected' : ''}>${o}</option>`).join('')}${extra}</select></label>`;
  view.innerHTML = `<div id="layer-root"><h2>One MLA layer: where the latent comes from</h2>
    <p class="lead">The kernels read a cache 576 wide that every head shares. This is the layer that writes it, and the two ways to attend it: MHA mode decompresses the latent into per-head keys and values; absorbed MQA mode folds W_UK into the query and W_UV into the output, so the kernel attends the latent itself. Both run here, on the same cache, and are checked against an f64 reference of the naive formula and against each other.</p>
    <form id="layer-form" class="fields">
      ${select('config', 'Configuration', LAYER_CONFIG_NAMES, '<option disabled>model1 (not published)</option>')}
      ${field('seqlen', 'L (cached tokens)')}${field('s-q', 's_q (query tokens)')}
      ${select('kv', 'Cache format', KV_FORMATS)}${select('kernel', 'MQA kernel', KERNEL_CHOICES)}${select('rope', 'RoPE', ROPE_MODES)}
      ${field('topk', 'top-k (0: dense)')}${field('sweep', 'Sweep L')}${field('chunk', 'Prefill chunk (s_q)')}
      <div class="buttons"><button type="submit" id="layer-run">Run both ways</button><button type="button" id="layer-sweep">Time against L</button></div>
    </form>
    <p class="hint" id="layer-model1">${escapeHtml(MODEL1_LAYER_NOTE)}</p>
    <p id="layer-status">Not run yet: the flow, the costs and the CPU check below need no GPU.</p>
    <div id="layer-flow" class="flow"></div>
    <h3>What each way costs</h3><div id="layer-costs"></div>
    <h3>Absorption on the CPU (f64, 4 heads, 48 tokens)</h3><p id="layer-cpu"></p>
    <h3>On this GPU</h3><div id="layer-result"></div>
    <figure class="chart"><canvas id="layer-chart"></canvas></figure></div>`;
  const root = find(view, '#layer-root');
  const form = find<HTMLFormElement>(root, '#layer-form');
  const status = find(root, '#layer-status');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#layer-chart'));
  const buttons = [find<HTMLButtonElement>(root, '#layer-run'), find<HTMLButtonElement>(root, '#layer-sweep')];

  function drawStatic(): LayerForm | undefined {
    try {
      const f = readForm(form);
      find(root, '#layer-flow').innerHTML = flowHtml(f);
      find(root, '#layer-costs').innerHTML = costsHtml(f);
      return f;
    } catch (e) {
      root.dataset.state = 'error';
      status.textContent = (e as Error).message;
      return undefined;
    }
  }

  async function busy(what: (ctx: GpuContext, f: LayerForm) => Promise<void>): Promise<void> {
    const f = drawStatic();
    if (!f) return;
    buttons.forEach((b) => { b.disabled = true; });
    root.dataset.state = 'running';
    try {
      await what(await getDevice(), f);
      root.dataset.state = 'done';
    } catch (e) {
      root.dataset.state = 'error';
      status.textContent = (e as Error).message;
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  form.addEventListener('input', () => { if (drawStatic()) root.dataset.state = 'ready'; });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(async (ctx, f) => {
      status.textContent = `Seeding the ${f.config.name} layer's weights and ${f.keys} tokens...`;
      const input = generateLayer(f.config, f.keys, f.sQ, 0);
      const r = await runLayer(ctx, input, {
        kernel: f.kernel, kvFormat: f.kvFormat, rope: f.rope, topk: f.topk, seed: 0, time: true, timing: PAGE_TIMING, referenceBudget: PAGE_REFERENCE_BUDGET,
        onStep: (s) => { status.textContent = `Running: ${s}...`; },
      });
      find(root, '#layer-result').innerHTML = resultHtml(r);
      root.dataset.check = layerPasses(r) ? 'pass' : 'fail';
      status.textContent = layerPasses(r) ? 'Done: every check passes.' : 'Done: a check fails (see the table).';
    });
  });
  find(root, '#layer-sweep').addEventListener('click', () => {
    void busy(async (ctx, f) => {
      const points = await sweepLayer(ctx, f.config, f.sweep, [1, f.chunk], 0, { kernel: f.kernel, kvFormat: f.kvFormat, rope: f.rope, topk: f.topk, timing: PAGE_TIMING }, (p, done, total) => {
        status.textContent = `Time against L: ${done} of ${total} (L ${p.keys}, s_q ${p.sQ})...`;
      });
      const series = (sQ: number) => [
        { label: `MHA mode, s_q ${sQ}`, dashed: sQ !== 1, points: points.filter((p) => p.sQ === Math.min(sQ, p.keys)).map((p) => ({ x: p.keys, y: p.mhaMs })) },
        { label: `MQA mode, s_q ${sQ}`, dashed: sQ !== 1, points: points.filter((p) => p.sQ === Math.min(sQ, p.keys)).map((p) => ({ x: p.keys, y: p.mqaMs })) },
      ];
      chart.lines('Time against L, each way (ms, this device)', [...series(1), ...series(f.chunk)], { title: 'L (cached tokens)', log: true }, { title: 'ms', log: true });
      root.dataset.sweep = points.every((p) => p.pass) ? 'pass' : 'fail';
      status.textContent = `Time against L: ${points.length} points, ${points.every((p) => p.pass) ? 'every one checked and passing' : 'a check FAILED'}.`;
    });
  });

  drawStatic();
  const cpu = cpuAbsorption();
  find(root, '#layer-cpu').textContent = `Decoupled RoPE: the absorbed formula equals the naive one to ${cpu.decoupled.toExponential(1)} of max |o| (rounding). `
    + `Coupled RoPE (the whole key rotated before caching): they differ by ${fmtNum(cpu.coupled * 100, 3)} % of max |o|: absorption no longer holds.`;
  root.dataset.cpu = cpu.decoupled < 1e-12 && cpu.coupled > 1e-2 ? 'pass' : 'fail';
}
