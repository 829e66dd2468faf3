/** WebGPU in the browser: navigator.gpu, the visitor's own GPU. */
import { type GpuContext, NoAdapterError, openDeviceOnAdapter, requestAdapter } from './device';

export async function openBrowserDevice(): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new NoAdapterError('this browser has no WebGPU (navigator.gpu is missing): use a current Chrome, Edge or Safari 26+, or Firefox 141+ on Windows; on Linux Chrome may need chrome://flags/#enable-unsafe-webgpu');
  }
  const adapter = await requestAdapter(gpu);
  if (!adapter) {
    throw new NoAdapterError('navigator.gpu found no adapter: the GPU may be blocklisted or hardware acceleration turned off (see chrome://gpu)');
  }
  return openDeviceOnAdapter(adapter, { source: 'navigator.gpu', cpuThreads: navigator.hardwareConcurrency });
}
