/**
 * The Ladder view's Tune section: the CLI's `bench --tune` on this GPU. The
 * tuner checks each candidate against the f64 reference (in a worker) before
 * timing it, then shows the pick beside the plain-matmul yardstick measured
 * in the same run, the finalists, and every candidate as a heat map over two
 * knobs the visitor picks. The pick goes into this browser's device profile
 * (localStorage), which the Run view's kernel "flash" then uses; the profile
 * can be exported, and forgotten.
 */
import type { GpuContext } from '../gpu/device';
import { describeAdapter } from '../gpu/device';
import { PRESET_NAMES, type PresetName, presetShape } from '../mla/shape';
import { KV_FORMATS, type KvFormat } from '../mla/kv-layout';
import { PAGE_MEMORY_BUDGET, intFlag, oneOf } from '../run/run-options';
import type { DeviceCeilings } from '../timing/device-ceilings';
import { DEFAULT_PRUNED_BUDGET_SECONDS, type TuneResult, budgetFromFlag, checkTuneFits } from '../tune/tuner';
import { tuneOnDevice } from '../tune/tune-on-device';
import { FULL_SPACE, SPACE_FLAGS, TUNING_AXES, type TuningAxis, spaceFromLists } from '../tune/tuning-space';
import { AXIS_TITLES, heatGrid } from '../tune/heat-map';
import { FINALIST_HEAD, budgetNote, finalistCells, pickSentence, timeSplit } from '../tune/tune-report';
import { type DeviceProfile, emptyProfile, entryOf, withEntry } from '../tune/profile';
import { fmtRate } from '../run/report';
import { ChartView } from './charts';
import { downloadFile, escapeHtml, find } from './html';
import { wireRun } from './run-control';
import { generateInWorker, referenceInWorker } from './cpu-worker';
import { forgetStoredProfile, loadStoredProfile, profileKey, saveStoredProfile } from './profile-store';

/** The page's default shape: small enough for a software adapter in a browser. */
const PAGE_TUNE = { preset: 'v32', kv: 'fp8', hQ: 64, seqlen: 1024 } as const;

/** What the Tune section tells the rest of the Ladder view. */
export interface TunePanelHooks {
  /** The stored profile changed (a tune, or Forget): undefined when there is none. */
  readonly onProfile: (profile: DeviceProfile | undefined) => void;
}

const select = (name: string, values: readonly string[], on: string, label = (v: string) => v) =>
  `<select name="${name}">${values.map((v) => `<option value="${v}"${v === on ? ' selected' : ''}>${escapeHtml(label(v))}</option>`).join('')}</select>`;

export function mountTunePanel(host: HTMLElement, getDevice: () => Promise<GpuContext>, hooks: TunePanelHooks): void {
  const spaceFields = TUNING_AXES.map((axis) => `<label><span>${escapeHtml(AXIS_TITLES[axis])}</span>`
    + `<input name="${SPACE_FLAGS[axis]}" placeholder="${FULL_SPACE[axis].join(',')}" title="a comma-separated list; empty: all of ${FULL_SPACE[axis].join(', ')}"></label>`).join('');
  host.innerHTML = `<div id="tune-root"><h2>Tune for this GPU</h2>
    <p class="lead">The tiled kernel (v4) has knobs: its register blocks, how many heads share a workgroup, the tile's length, and whether keys are read from a tile in workgroup memory (in f32, or in bf16 where that is exact), from a tile in a storage buffer, from the cache, or from the whole cache decoded once into a texture, and whether the score step reads the queries from a storage buffer or from a texture. The matmuls kernel (v6), which does the two products as plain matrix products through a score matrix in memory, has its two register blocks. Which version and which setting is fastest differs from GPU to GPU. The tuner searches them for one shape on <em>this</em> GPU: each candidate is checked against the CPU reference, then timed; the fastest few are timed again together. The pick is kept in this browser and the Run view's kernel <code>flash</code> uses it.</p>
    <form id="tune-form" class="fields">
      <label><span>Head</span>${select('preset', PRESET_NAMES, PAGE_TUNE.preset)}</label>
      <label><span>KV cache</span>${select('kv', KV_FORMATS, PAGE_TUNE.kv)}</label>
      <label><span>Query heads h_q</span><input name="h-q" value="${PAGE_TUNE.hQ}"></label>
      <label><span>Keys (seqlen)</span><input name="seqlen" value="${PAGE_TUNE.seqlen}"></label>
      <label><span>Search</span>${select('search', ['pruned', 'exhaustive'], 'pruned', (v) => (v === 'pruned' ? 'pruned (walk the knobs)' : 'exhaustive (time all)'))}</label>
      <label><span>Budget (s)</span><input name="budget" placeholder="${DEFAULT_PRUNED_BUDGET_SECONDS} (pruned)" title="seconds of search after which no new candidate starts (the default and each version's start are always timed; the fastest few are timed again); empty: ${DEFAULT_PRUNED_BUDGET_SECONDS} for the pruned search, none for the exhaustive one; none: no budget"></label>
      ${spaceFields}
      <div class="buttons"><button type="submit" id="tune-start">Tune</button><button type="button" id="tune-cancel" disabled>Cancel</button></div>
    </form>
    <p id="tune-status"></p>
    <p id="tune-pick"></p>
    <div id="tune-finalists"></div>
    <div class="fields"><label><span>Heat map across</span>${select('tune-x', TUNING_AXES, 'scoreBlock', (a) => AXIS_TITLES[a as TuningAxis])}</label>
      <label><span>and down</span>${select('tune-y', TUNING_AXES, 'outBlock', (a) => AXIS_TITLES[a as TuningAxis])}</label></div>
    <figure class="chart"><canvas id="tune-heatmap"></canvas></figure>
    <p class="hint">Each cell: the fastest candidate with those two values (the other knobs free), in GFLOP/s; grey: not timed (the pruned search skips most of the space), or a knob the version does not have (v6's candidates are only in the maps of the kernel and its two blocks).</p>
    <p id="tune-profile" class="hint"></p>
    <div class="buttons"><button type="button" id="tune-export" disabled>Export this GPU's profile</button><button type="button" id="tune-forget" disabled>Forget it</button></div>
  </div>`;
  const root = find(host, '#tune-root');
  const form = find<HTMLFormElement>(root, '#tune-form');
  const status = find(root, '#tune-status');
  const xAxis = find<HTMLSelectElement>(root, 'select[name="tune-x"]');
  const yAxis = find<HTMLSelectElement>(root, 'select[name="tune-y"]');
  const heat = new ChartView(find<HTMLCanvasElement>(root, '#tune-heatmap'));
  const exportButton = find<HTMLButtonElement>(root, '#tune-export');
  const forgetButton = find<HTMLButtonElement>(root, '#tune-forget');
  let last: { result: TuneResult; ceilings: DeviceCeilings } | undefined;
  let adapter: string | undefined;

  function drawHeatMap(): void {
    if (!last) return;
    const x = xAxis.value as TuningAxis;
    let y = yAxis.value as TuningAxis;
    if (x === y) y = yAxis.value = TUNING_AXES.find((a) => a !== x)!;
    const { result } = last;
    const grid = heatGrid(result.evaluations.filter((e) => e.pass), x, y, FULL_SPACE);
    const gflops = grid.ms.map((row) => row.map((ms) => result.flops / (ms / 1e3) / 1e9));
    heat.heatmap(`GFLOP/s of every candidate timed (${result.timed}), by ${AXIS_TITLES[x]} and ${AXIS_TITLES[y]}`, gflops,
      AXIS_TITLES[x], AXIS_TITLES[y], false, (v) => `${fmtRate(v)} GFLOP/s`, { x: grid.xLabels, y: grid.yLabels });
  }
  xAxis.addEventListener('change', drawHeatMap);
  yAxis.addEventListener('change', drawHeatMap);

  function showProfile(profile: DeviceProfile | undefined): void {
    exportButton.disabled = !profile;
    // Forget also clears a stored profile that no longer reads.
    forgetButton.disabled = !adapter || localStorage.getItem(profileKey(adapter)) === null;
    find(root, '#tune-profile').textContent = profile
      ? `This browser's profile for ${profile.adapter} (localStorage ${profileKey(profile.adapter)}): ${profile.entries.length} shape class${profile.entries.length === 1 ? '' : 'es'} tuned.`
      : 'No profile for this GPU in this browser yet.';
    hooks.onProfile(profile);
  }

  /** The stored profile; one that no longer reads is named in the status and left for Forget to clear. */
  function readStored(name: string): DeviceProfile | undefined {
    try {
      return loadStoredProfile(name);
    } catch (e) {
      status.textContent = (e as Error).message;
      status.className = 'fail';
      return undefined;
    }
  }

  void getDevice().then((ctx) => {
    adapter = describeAdapter(ctx.adapter);
    showProfile(readStored(adapter));
  }, () => undefined);

  exportButton.addEventListener('click', () => {
    const profile = adapter ? readStored(adapter) : undefined;
    if (profile) downloadFile('mla-sandbox-profile.json', `${JSON.stringify(profile, null, 2)}\n`, 'application/json');
  });
  forgetButton.addEventListener('click', () => {
    if (!adapter) return;
    forgetStoredProfile(adapter);
    showProfile(undefined);
  });

  wireRun({ root, form, status, cancel: find<HTMLButtonElement>(root, '#tune-cancel') }, async ({ signal, say, percent }) => {
    const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value;
    const preset = oneOf<PresetName>('preset', field('preset'), PRESET_NAMES);
    const kvFormat = oneOf<KvFormat>('kv', field('kv'), KV_FORMATS);
    const hQ = intFlag('h-q', field('h-q'), 1, 1024)!;
    const seqlen = intFlag('seqlen', field('seqlen'), 1, 1 << 20)!;
    const space = spaceFromLists(Object.fromEntries(TUNING_AXES.map((a) => [SPACE_FLAGS[a], field(SPACE_FLAGS[a])])));
    const search = field('search') === 'exhaustive' ? 'exhaustive' : 'pruned';
    const budgetSeconds = budgetFromFlag(field('budget'), search);
    const shape = presetShape(preset, { hQ, seqlens: [seqlen] });
    const ctx = await getDevice();
    checkTuneFits(shape, kvFormat, ctx.limits, PAGE_MEMORY_BUDGET);
    adapter = describeAdapter(ctx.adapter);
    const before = readStored(adapter);
    const inputs = await generateInWorker({ shape, options: { seed: 0 } }, percent('Generating the inputs'), signal);
    say('Measuring this GPU\'s ceilings and the plain-matmul yardstick...');
    const { result, ceilings } = await tuneOnDevice(ctx, inputs, kvFormat, {
      space, search, budgetSeconds, signal,
      reference: (i, bytes, layout) => referenceInWorker(i, bytes, layout, percent('The f64 reference (in a worker)'), signal),
      onProgress: (p) => say(`${p.phase === 'search' ? `Timed ${p.timed}` : 'Final rounds'}: ${p.name}${p.ms !== undefined ? ` ${p.ms.toFixed(2)} ms` : ''}; fastest so far ${p.bestName ?? '-'}${p.bestMs !== undefined ? ` ${p.bestMs.toFixed(2)} ms` : ''}`),
    });
    last = { result, ceilings };
    const profile = withEntry(before ?? emptyProfile(adapter, { ...ctx.limits }), entryOf(shape, kvFormat, result, ceilings));
    saveStoredProfile(profile);
    showProfile(profile);
    find(root, '#tune-pick').textContent = `Pick: ${pickSentence(result, ceilings)}`;
    find(root, '#tune-finalists').innerHTML = `<table><thead><tr>${FINALIST_HEAD.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`
      + finalistCells(result, ceilings).map((cells) => `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
    drawHeatMap();
    const failed = result.evaluations.filter((e) => !e.pass);
    return failed.length
      ? { pass: false, status: `${failed.length} candidate(s) FAILED the check: ${failed.map((e) => `${e.name}: ${e.failure}`).join('; ')}` }
      : { pass: true, status: `Done: ${result.timed} of ${result.fitting} fitting configurations checked and timed (${result.search}) in ${result.seconds.toFixed(0)} s (${timeSplit(result)})${budgetNote(result)}; all match the CPU reference.` };
  });
}
