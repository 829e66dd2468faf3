/**
 * Measure the device's own ceilings (shaders/roofline.wgsl): streaming copy
 * bandwidth and FMA throughput, plus the fixed cost of one empty dispatch.
 * Measured once per device and cached, so every kernel result of a session
 * is set against the same figures.
 */
import type { GpuContext } from '../gpu/device';
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { bindGroup } from '../kernels/kernel-plan';
import { SHADER_FILES } from '../gpu/shader-source';
import { type TimedWork, type TimingOptions, type TimingResult, timeWork } from './timer';
import type { Roofline } from './work';

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

function ownedBuffers(device: GPUDevice) {
  const owned: GPUBuffer[] = [];
  return {
    buffer(label: string, size: number): GPUBuffer {
      const b = device.createBuffer({ label, size, usage: GPUBufferUsage.STORAGE });
      owned.push(b);
      return b;
    },
    release(): void { owned.splice(0).forEach((b) => b.destroy()); },
  };
}

/**
 * The FMA ceiling: `fmaChain` of roofline.wgsl (or of `source`, another form
 * of the same kernel, as the tests use to check that the form does not
 * change the figure), sized until a dispatch lasts MIN_DISPATCH_MS.
 * FLOPs per thread: FMA_STEPS x FMA_CHAINS vec4 multiply-adds, FMA_CHAINS
 * read from the source.
 */
export async function measureFma(ctx: GpuContext, options: TimingOptions = {}, source?: string): Promise<{ fma: TimingResult; fmaGflops: number }> {
  const { device, limits } = ctx;
  const code = source ?? SHADER_FILES['roofline.wgsl'];
  const chains = shaderConstant(code, 'FMA_CHAINS');
  const fmaP = await getPipeline(device, {
    kernel: 'roofline', files: ['roofline.wgsl'], entryPoint: 'fmaChain', constants: { FMA_STEPS },
    edits: source ? { 'roofline.wgsl': source } : undefined,
  });
  const { buffer, release } = ownedBuffers(device);
  const fmaWork = (groups: number) => singlePass('fma', fmaP, bindGroup(device, fmaP, 'fma', { dst: buffer('fma out', 16 * groups * WG) }), groups);
  try {
    const groups = await fitSize(ctx, 4, limits.maxComputeWorkgroupsPerDimension, fmaWork, release);
    const fma = await timeWork(ctx, fmaWork(groups), options);
    const flops = groups * WG * FMA_STEPS * chains * 4 * 2;
    return { fma, fmaGflops: flops / (fma.medianMs / 1e3) / 1e9 };
  } finally {
    release();
  }
}

async function measure(ctx: GpuContext, options: TimingOptions): Promise<RooflineMeasurement> {
  const { device, limits } = ctx;
  const spec = (entryPoint: string) => getPipeline(device, { kernel: 'roofline', files: ['roofline.wgsl'], entryPoint, constants: {} });
  const [copyP, emptyP] = await Promise.all([spec('copyStream'), spec('empty')]);
  const { buffer, release } = ownedBuffers(device);
  const copyGroups = Math.min(1024, limits.maxComputeWorkgroupsPerDimension);
  // Copy: 4 MiB up to 512 MiB (a real GPU's caches must be far smaller than the copy).
  const copyWork = (bytes: number) => singlePass('copy', copyP, bindGroup(device, copyP, 'copy', { src: buffer('copy src', bytes), dst: buffer('copy dst', bytes) }), copyGroups);
  try {
    const maxCopy = Math.min(512 << 20, Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / 16) * 16);
    const copyBytes = await fitSize(ctx, Math.min(4 << 20, maxCopy), maxCopy, copyWork, release);
    const copy = await timeWork(ctx, copyWork(copyBytes), options);
    release();
    const { fma, fmaGflops } = await measureFma(ctx, options);
    const emptyDispatch = await timeWork(ctx, singlePass('empty dispatch', emptyP, undefined, 1), options);
    return {
      copyBytes,
      copyGBps: (2 * copyBytes) / (copy.medianMs / 1e3) / 1e9,
      fmaGflops, copy, fma, emptyDispatch,
    };
  } finally {
    release();
  }
}
