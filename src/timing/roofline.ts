/**
 * Measure the device's own ceilings (shaders/roofline.wgsl): streaming copy
 * bandwidth and FMA throughput, plus the fixed cost of one empty dispatch.
 * Measured once per device and cached, so every kernel result of a session
 * is set against the same figures.
 */
import type { GpuContext } from '../gpu/device';
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { bindGroup } from '../gpu/bindings';
import { SHADER_FILES } from '../gpu/shader-source';
import { type TimedWork, type TimingOptions, type TimingResult, timeWork } from './timer';
import type { Roofline } from './work';

export const WG = shaderConstant(SHADER_FILES['roofline.wgsl'], 'WG');

export interface RooflineMeasurement extends Roofline {
  readonly copyBytes: number;
  readonly copy: TimingResult;
  /** The fastest FMA form (the ceiling) and its chain count. */
  readonly fma: TimingResult;
  readonly fmaChains: FmaChains;
  /** Every form timed, for the record: the ceiling is the largest. */
  readonly fmaForms: readonly { chains: FmaChains; gflops: number }[];
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

export function singlePass(label: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup | undefined, groups: number): TimedWork {
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
export async function fitSize(ctx: GpuContext, start: number, most: number, work: (size: number) => TimedWork, cleanup: () => void): Promise<number> {
  let size = start;
  for (;;) {
    const probe = await timeWork(ctx, work(size), { method: 'wall-clock', warmup: 0, samples: 1, iterations: 1 });
    cleanup();
    if (probe.medianMs >= MIN_DISPATCH_MS || size * 4 > most) return size;
    size *= 4;
  }
}

export function ownedBuffers(device: GPUDevice) {
  const owned: GPUBuffer[] = [];
  return {
    buffer(label: string, size: number, usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE): GPUBuffer {
      const b = device.createBuffer({ label, size, usage });
      owned.push(b);
      return b;
    },
    release(): void { owned.splice(0).forEach((b) => b.destroy()); },
  };
}

/** The chain counts fmaChain is timed with (its FMA_CHAINS override); the ceiling is the fastest. */
export const FMA_CHAIN_FORMS = [4, 8] as const;
export type FmaChains = (typeof FMA_CHAIN_FORMS)[number];
/** Steps per chain per thread (a multiple of the shader's FMA_UNROLL). */
export const FMA_STEPS = 256;

export interface FmaMeasurement {
  readonly chains: FmaChains;
  readonly fma: TimingResult;
  readonly fmaGflops: number;
}

/** fmaChain with `chains` chains, the overrides the host and the test share. */
export function fmaPipeline(device: GPUDevice, chains: FmaChains): Promise<GPUComputePipeline> {
  return getPipeline(device, { kernel: 'roofline', files: ['roofline.wgsl'], entryPoint: 'fmaChain', constants: { FMA_STEPS, FMA_CHAINS: chains } });
}

/**
 * One form of the FMA ceiling: `fmaChain` of roofline.wgsl with `chains`
 * chains, sized until a dispatch lasts MIN_DISPATCH_MS.
 * FLOPs per thread: FMA_STEPS x chains vec4 multiply-adds.
 */
export async function measureFma(ctx: GpuContext, chains: FmaChains, options: TimingOptions = {}): Promise<FmaMeasurement> {
  const { device, limits } = ctx;
  const fmaP = await fmaPipeline(device, chains);
  const { buffer, release } = ownedBuffers(device);
  const fmaWork = (groups: number) => singlePass('fma', fmaP, bindGroup(device, fmaP, 'fma', { dst: buffer('fma out', 16 * groups * WG) }), groups);
  try {
    const groups = await fitSize(ctx, 4, limits.maxComputeWorkgroupsPerDimension, fmaWork, release);
    const fma = await timeWork(ctx, fmaWork(groups), options);
    const flops = groups * WG * FMA_STEPS * chains * 4 * 2;
    return { chains, fma, fmaGflops: flops / (fma.medianMs / 1e3) / 1e9 };
  } finally {
    release();
  }
}

/** Every form in FMA_CHAIN_FORMS, in one run; the first of the fastest is the ceiling. */
export async function measureFmaForms(ctx: GpuContext, options: TimingOptions = {}): Promise<{ best: FmaMeasurement; forms: FmaMeasurement[] }> {
  const forms: FmaMeasurement[] = [];
  for (const chains of FMA_CHAIN_FORMS) forms.push(await measureFma(ctx, chains, options));
  const best = forms.reduce((a, b) => (b.fmaGflops > a.fmaGflops ? b : a));
  return { best, forms };
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
    const { best: { fma, fmaGflops, chains: fmaChains }, forms } = await measureFmaForms(ctx, options);
    const emptyDispatch = await timeWork(ctx, singlePass('empty dispatch', emptyP, undefined, 1), options);
    return {
      copyBytes,
      copyGBps: (2 * copyBytes) / (copy.medianMs / 1e3) / 1e9,
      fmaGflops, fmaChains, fmaForms: forms.map((f) => ({ chains: f.chains, gflops: f.fmaGflops })), copy, fma, emptyDispatch,
    };
  } finally {
    release();
  }
}
