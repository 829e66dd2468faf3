/**
 * The page: nine views behind tabs (Run, Compare, Ladder, Layer, Claims,
 * Memory, Learn, Exercises, Kernel source), the view named in the URL's hash. The device is opened once and shared; a lost
 * device is reopened on the next run. Every submit is watched (gpu-watch.ts):
 * work the GPU has not finished after a while is reported in a notice, and
 * new GPU runs are refused until it finishes. Without WebGPU a notice says
 * what is missing and how to get it, and Learn, Memory and Layer's CPU part still work.
 */
import { openBrowserDevice } from '../gpu/browser-device';
import { describeAdapter, type GpuContext } from '../gpu/device';
import { find } from './html';
import { mountRunView } from './run-view';
import { mountCompareView } from './compare-view';
import { mountLadderView } from './ladder-view';
import { mountLearnView } from './learn-view';
import { mountSourceView } from './source-view';
import { mountExercisesView } from './exercises-view';
import { mountMemoryView } from './memory-view';
import { mountLayerView } from './layer-view';
import { mountClaimsView } from './claims-view';
import { GpuStalledError, GpuWatch, stallMessage } from './gpu-watch';

type ViewName = 'run' | 'compare' | 'ladder' | 'layer' | 'claims' | 'memory' | 'learn' | 'exercises' | 'source';
const VIEWS: Record<ViewName, { title: string; mount: (root: HTMLElement, getDevice: () => Promise<GpuContext>) => void }> = {
  run: { title: 'Run', mount: (root, getDevice) => void mountRunView(root, getDevice).run() },
  compare: { title: 'Compare', mount: mountCompareView },
  ladder: { title: 'Ladder', mount: mountLadderView },
  layer: { title: 'Layer', mount: mountLayerView },
  claims: { title: 'Claims', mount: mountClaimsView },
  memory: { title: 'Memory', mount: mountMemoryView },
  learn: { title: 'Learn', mount: mountLearnView },
  exercises: { title: 'Exercises', mount: mountExercisesView },
  source: { title: 'Kernel source', mount: mountSourceView },
};

const app = find(document, '#app');
let device: Promise<GpuContext> | undefined;
const gpuWatch = new GpuWatch((waitedMs) => {
  if (waitedMs === undefined) removeNotice('gpu-stalled');
  else showNotice('gpu-stalled', '<strong>The GPU is not answering.</strong> <span></span>', stallMessage(waitedMs));
});

function getDevice(): Promise<GpuContext> {
  const waited = gpuWatch.stalledFor();
  if (waited !== undefined) return Promise.reject(new GpuStalledError(waited));
  device ??= openBrowserDevice().then((ctx) => {
    gpuWatch.watch(ctx.device.queue);
    find(document, '#adapter').textContent = describeAdapter(ctx.adapter);
    void ctx.lost.then((info) => { // reopen on the next run
      device = undefined;
      find(document, '#adapter').textContent = `device lost (${info.reason}${info.message ? `: ${info.message}` : ''}); it is reopened on the next run`;
    });
    return ctx;
  });
  device.catch((e: Error) => {
    device = undefined;
    showNoWebGpu(e.message);
  });
  return device;
}

function showNoWebGpu(message: string): void {
  find(document, '#adapter').textContent = 'none';
  showNotice('no-webgpu', '<strong>WebGPU is not available.</strong> <span></span><br>Run, Compare, Ladder, Exercises and Kernel source need it; <a href="#learn">Learn</a> and <a href="#memory">Memory</a> work without it (they run on the CPU), and so does <a href="#layer">Layer</a>\'s data flow, costs and CPU check.', message);
}

/** A notice above the views: `html` with `text` put in its span. */
function showNotice(id: string, html: string, text: string): void {
  let notice = document.getElementById(id);
  if (!notice) {
    notice = document.createElement('div');
    notice.id = id;
    notice.className = 'notice';
    notice.innerHTML = html;
    app.before(notice);
  }
  notice.querySelector('span')!.textContent = text;
}

function removeNotice(id: string): void {
  document.getElementById(id)?.remove();
}

const mounted = new Set<ViewName>();

function viewFromHash(): ViewName {
  const name = location.hash.slice(1);
  return name in VIEWS ? (name as ViewName) : 'run';
}

function show(name: ViewName): void {
  for (const k of Object.keys(VIEWS)) {
    find(app, `#view-${k}`).hidden = k !== name;
    find(document, `#tabs a[data-view="${k}"]`).setAttribute('aria-current', k === name ? 'page' : 'false');
  }
  if (!mounted.has(name)) {
    mounted.add(name);
    VIEWS[name].mount(find(app, `#view-${name}`), getDevice);
  }
}

function main(): void {
  const tabs = Object.entries(VIEWS).map(([k, v]) => `<a href="#${k}" data-view="${k}">${v.title}</a>`).join('');
  app.innerHTML = `<nav id="tabs">${tabs}<span class="adapter">Adapter: <code id="adapter">opening...</code></span></nav>`
    + Object.keys(VIEWS).map((k) => `<section id="view-${k}" hidden></section>`).join('');
  void getDevice().catch(() => undefined);
  window.addEventListener('hashchange', () => show(viewFromHash()));
  show(viewFromHash());
}

main();
