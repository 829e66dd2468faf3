/**
 * The page: six views behind tabs (Run, Compare, Ladder, Memory, Learn, Kernel source), the
 * view named in the URL's hash. The device is opened once and shared; a lost
 * device is reopened on the next run. Without WebGPU a notice says what is
 * missing and how to get it, and Learn still works (it runs on the CPU).
 */
import { openBrowserDevice } from '../gpu/browser-device';
import { describeAdapter, type GpuContext } from '../gpu/device';
import { find } from './html';
import { mountRunView } from './run-view';
import { mountCompareView } from './compare-view';
import { mountLadderView } from './ladder-view';
import { mountLearnView } from './learn-view';
import { mountSourceView } from './source-view';
import { mountMemoryView } from './memory-view';

type ViewName = 'run' | 'compare' | 'ladder' | 'memory' | 'learn' | 'source';
const VIEWS: Record<ViewName, { title: string; mount: (root: HTMLElement, getDevice: () => Promise<GpuContext>) => void }> = {
  run: { title: 'Run', mount: (root, getDevice) => void mountRunView(root, getDevice).run() },
  compare: { title: 'Compare', mount: mountCompareView },
  ladder: { title: 'Ladder', mount: mountLadderView },
  memory: { title: 'Memory', mount: mountMemoryView },
  learn: { title: 'Learn', mount: mountLearnView },
  source: { title: 'Kernel source', mount: mountSourceView },
};

const app = find(document, '#app');
let device: Promise<GpuContext> | undefined;

function getDevice(): Promise<GpuContext> {
  device ??= openBrowserDevice().then((ctx) => {
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
  let notice = document.getElementById('no-webgpu');
  if (!notice) {
    notice = document.createElement('div');
    notice.id = 'no-webgpu';
    notice.className = 'notice';
    app.before(notice);
  }
  notice.innerHTML = '<strong>WebGPU is not available.</strong> <span></span><br>Run, Compare, Ladder and Kernel source need it; <a href="#learn">Learn</a> and <a href="#memory">Memory</a> work without it (they run on the CPU).';
  notice.querySelector('span')!.textContent = message;
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
