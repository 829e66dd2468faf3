/**
 * The page: opens the visitor's GPU and runs the shape in the URL (by
 * default V3.2, FP8 cache, flash kernel) at once. Without WebGPU it says what
 * is missing and how to get it. A lost device is reopened on the next run.
 */
import { openBrowserDevice } from '../gpu/browser-device';
import { describeAdapter, type GpuContext } from '../gpu/device';
import { mountRunView } from './run-view';

const app = document.getElementById('app')!;
let device: Promise<GpuContext> | undefined;

function getDevice(): Promise<GpuContext> {
  device ??= openBrowserDevice().then((ctx) => {
    document.getElementById('adapter')!.textContent = describeAdapter(ctx.adapter);
    void ctx.lost.then(() => { device = undefined; }); // reopen on the next run
    return ctx;
  });
  device.catch(() => { device = undefined; });
  return device;
}

async function main(): Promise<void> {
  app.innerHTML = '<p>Adapter: <code id="adapter">opening...</code></p><div id="run-root"></div>';
  try {
    await getDevice();
  } catch (e) {
    app.insertAdjacentHTML('afterbegin', `<p class="notice" id="no-webgpu"></p>`);
    document.getElementById('no-webgpu')!.textContent = `WebGPU is not available: ${(e as Error).message}`;
    document.getElementById('adapter')!.textContent = 'none';
    return;
  }
  const view = mountRunView(document.getElementById('run-root')!, getDevice);
  await view.run();
}

void main();
