/**
 * Measure the device's own ceilings (shaders/roofline.wgsl): streaming copy
 * bandwidth and FMA throughput, plus the fixed cost of one empty dispatch.
 * Measured once per device and cached, so every kernel result of a session
 * is set against the same figures.
 */
import type { GpuContext } from '../gpu/device';
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { SHADER_FILES } from '../gpu/shader-source';
import { type TimedWork, type TimingOptions, type TimingResult, timeWork } from './timer';
import type { Roofline } from './work';

const FMA_CHAINS = shaderConstant(SHADER_FILES['roofline.wgsl'], 'FMA_CHAINS');
const WG = shaderConstant(SHADER_FILES['roofline.wgsl'], 'WG');
const FMA_STEPS = 256;

export interface RooflineMeasurement extends Roofline {
  readonly copyBytes: number;
  readonly copy: TimingResult;
  readonly fma: TimingResult;
  /** Fixed cost of one dispatch (an empty kernel). */
  readonly emptyDispatch: TimingResult;
}

const cache = new WeakMap<GPUDevice, Promise<RooflineMeasurement>>();

export function measureRoofline(ctx: GpuContext, options: TimingOptions = {}): Promise<RooflineMeasurement> {
  let m = cache.get(ctx.device);
  if (!m) {
    m = measure(ctx, options);
    cache.set(ctx.device, m);
    m.catch(() => cache.delete(ctx.device));
  }
  return m;
}

function singlePass(label: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup | undefined, groups: number): TimedWork {
  return {
    label, passLabels: [label],
    encode(encoder, timestampWrites) {
      const pass = encoder.beginComputePass({ label, timestampWrites: timestampWrites?.(0) });
      pass.setPipeline(pipeline);
      if (bindGroup) pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(groups);
      pass.end();
    },
  };
}

/** One dispatch should last at least this long, so launch cost and caches do not dominate. */
const MIN_DISPATCH_MS = 20;

/**
 * Grow a problem size by 4x from `start` until one dispatch lasts
 * MIN_DISPATCH_MS (wall clock) or `most` is reached; returns the size.
 */
async function fitSize(ctx: GpuContext, start: number, most: number, work: (size: number) => TimedWork, cleanup: () => void): Promise<number> {
  let size = start;
  for (;;) {
    const probe = await timeWork(ctx, work(size), { method: 'wall-clock', warmup: 0, samples: 1, iterations: 1 });
    cleanup();
    if (probe.medianMs >= MIN_DISPATCH_MS || size * 4 > most) return size;
    size *= 4;
  }
}

async function measure(ctx: GpuContext, options: TimingOptions): Promise<RooflineMeasurement> {
  const { device, limits } = ctx;
  const spec = (entryPoint: string) => getPipeline(device, {
    kernel: 'roofline', files: ['roofline.wgsl'], entryPoint, constants: entryPoint === 'fmaChain' ? { FMA_STEPS } : {},
  });
  const [copyP, fmaP, emptyP] = await Promise.all([spec('copyStream'), spec('fmaChain'), spec('empty')]);
  const usage = GPUBufferUsage.STORAGE;
  const owned: GPUBuffer[] = [];
  const buffer = (label: string, size: number) => {
    const b = device.createBuffer({ label, size, usage });
    owned.push(b);
    return b;
  };
  const release = () => { owned.splice(0).forEach((b) => b.destroy()); };
  const bind = (p: GPUComputePipeline, entries: [number, GPUBuffer][]) => device.createBindGroup({
    layout: p.getBindGroupLayout(0), entries: entries.map(([binding, b]) => ({ binding, resource: { buffer: b } })),
  });
  const copyGroups = Math.min(1024, limits.maxComputeWorkgroupsPerDimension);
  // Copy: 4 MiB up to 512 MiB (a real GPU's caches must be far smaller than the copy).
  const copyWork = (bytes: number) => singlePass('copy', copyP, bind(copyP, [[0, buffer('copy src', bytes)], [1, buffer('copy dst', bytes)]]), copyGroups);
  const fmaWork = (groups: number) => singlePass('fma', fmaP, bind(fmaP, [[1, buffer('fma out', 16 * groups * WG)]]), groups);
  try {
    const maxCopy = Math.min(512 << 20, Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / 16) * 16);
    const copyBytes = await fitSize(ctx, Math.min(4 << 20, maxCopy), maxCopy, copyWork, release);
    const copy = await timeWork(ctx, copyWork(copyBytes), options);
    release();
    const fmaGroups = await fitSize(ctx, 4, limits.maxComputeWorkgroupsPerDimension, fmaWork, release);
    const fma = await timeWork(ctx, fmaWork(fmaGroups), options);
    release();
    const emptyDispatch = await timeWork(ctx, singlePass('empty dispatch', emptyP, undefined, 1), options);
    const fmaFlops = fmaGroups * WG * FMA_STEPS * FMA_CHAINS * 4 * 2;
    return {
      copyBytes,
      copyGBps: (2 * copyBytes) / (copy.medianMs / 1e3) / 1e9,
      fmaGflops: fmaFlops / (fma.medianMs / 1e3) / 1e9,
      copy, fma, emptyDispatch,
    };
  } finally {
    release();
  }
}
