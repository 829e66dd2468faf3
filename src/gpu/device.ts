/**
 * Open a WebGPU device for the kernels from any GPU object (the browser's
 * navigator.gpu or Dawn's in Node): ask for the adapter's own maxima of the
 * limits the kernels need and for the optional features they can use, and
 * report what was granted. Nothing here knows which face called it.
 */

import { probeLoopLimit } from './loop-limit';

/** Limits the kernels depend on; each is requested at the adapter's maximum. */
export const REQUESTED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxTextureDimension2D',
] as const;
export type RequestedLimit = (typeof REQUESTED_LIMITS)[number];

/**
 * What the kernels' planners know of a device: those limits, and the range of
 * subgroup sizes it may run a kernel with (both 0 without the `subgroups`
 * feature).
 */
export interface DeviceLimits extends Readonly<Record<RequestedLimit, number>> {
  readonly subgroupMinSize: number;
  readonly subgroupMaxSize: number;
  /**
   * Loop iterations one shader invocation may run before the device stops its
   * loops silently (Mesa llvmpipe: 65535), found by a probe when the device
   * is opened (gpu/loop-limit.ts); 0 when the probe found no limit.
   */
  readonly maxLoopIterations: number;
  /**
   * On a software adapter, one that runs the kernels on this computer's CPU
   * (SwiftShader, Mesa llvmpipe; isSoftwareAdapter), the CPU threads it
   * spreads workgroups over, as the face that opened the device reports them;
   * 0 on a GPU. Split-KV sizes its auto split by it (kernels/split-kv.ts).
   */
  readonly cpuThreads: number;
  /**
   * The longest output block (values of the output row one thread holds,
   * shaders/tiled_blocks.wgsl's OUT_VALUES) this device's shader compiler is
   * known to take: MAX_OUT_VALUES_LLVMPIPE on Mesa llvmpipe (its 32 x 64
   * block compiles in seconds and runs fastest there), MAX_OUT_VALUES on
   * every other device (SwiftShader's compiler ran out of memory on both
   * 64-value blocks: killed at 24 GB on 32 x 64, the test worker's on 8 x 64;
   * a GPU thread's registers hold far fewer). docs/tuning.md, "Keys from a
   * texture".
   */
  readonly maxOutValues: number;
}

/** maxOutValues on most devices. */
export const MAX_OUT_VALUES = 32;
/** maxOutValues on Mesa llvmpipe. */
export const MAX_OUT_VALUES_LLVMPIPE = 64;

/** The WebGPU spec's default values of those limits: what every adapter offers (used to plan without a device). */
export const WEBGPU_DEFAULT_LIMITS: DeviceLimits = {
  subgroupMinSize: 0,
  subgroupMaxSize: 0,
  maxLoopIterations: 0,
  cpuThreads: 0,
  maxOutValues: MAX_OUT_VALUES,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 8,
  maxTextureDimension2D: 8192,
};

export const OPTIONAL_FEATURES = ['timestamp-query', 'shader-f16', 'subgroups'] as const;

export interface AdapterDescription {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** 'core' or 'compatibility' */
  readonly featureLevel: string;
  /** How it was found, e.g. "SwiftShader (Vulkan, software)" or "navigator.gpu". */
  readonly source: string;
}

export interface GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly features: readonly string[];
  readonly limits: DeviceLimits;
  /** Resolves when the device is lost (with the reason), for a page to recover. */
  readonly lost: Promise<GPUDeviceLostInfo>;
  /** Why the device was lost, once it has been; undefined while it lives. */
  lostInfo(): GPUDeviceLostInfo | undefined;
}

/** The device went away during a run (driver reset, GPU removed, destroyed): open a new one. */
export class DeviceLostError extends Error {
  constructor(info: GPUDeviceLostInfo) {
    super(`the GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''}) during the run: run again to open a new device`);
    this.name = 'DeviceLostError';
  }
}

export interface OpenDeviceOptions {
  readonly featureLevel?: 'core' | 'compatibility';
  readonly powerPreference?: GPUPowerPreference;
  readonly source?: string;
  /** This computer's CPU threads (navigator.hardwareConcurrency, os.availableParallelism()): cpuThreads on a software adapter. */
  readonly cpuThreads?: number;
}

/** What an adapter says of itself, as far as telling a software adapter goes. */
export type AdapterIdentity = Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'> & { readonly isFallbackAdapter?: boolean };

/**
 * Whether the adapter runs on the CPU: the browser's fallback adapter, or a
 * software rasteriser known by name (SwiftShader, Mesa's llvmpipe, lavapipe
 * and softpipe, Windows' WARP, "Microsoft Basic Render Driver").
 */
export function isSoftwareAdapter(info: AdapterIdentity): boolean {
  if (info.isFallbackAdapter) return true;
  return /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|basic render/i.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/** Whether the adapter is Mesa's llvmpipe (the OpenGL ES driver the tests run as the second adapter). */
export function isLlvmpipe(info: AdapterIdentity): boolean {
  return /llvmpipe/i.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

export class NoAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoAdapterError';
  }
}

export async function requestAdapter(gpu: GPU, options: OpenDeviceOptions = {}): Promise<GPUAdapter | null> {
  const request: GPURequestAdapterOptions & { featureLevel?: string } = { powerPreference: options.powerPreference ?? 'high-performance' };
  if (options.featureLevel) request.featureLevel = options.featureLevel;
  return gpu.requestAdapter(request);
}

export async function openDeviceOnAdapter(adapter: GPUAdapter, options: OpenDeviceOptions = {}): Promise<GpuContext> {
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'mla-sandbox' });
  const info = adapter.info;
  const subgroups = device.features.has('subgroups');
  const limits: { -readonly [K in keyof DeviceLimits]: number } = {
    ...WEBGPU_DEFAULT_LIMITS,
    subgroupMinSize: subgroups ? info.subgroupMinSize ?? 0 : 0,
    subgroupMaxSize: subgroups ? info.subgroupMaxSize ?? 0 : 0,
    maxLoopIterations: await probeLoopLimit(device),
    cpuThreads: isSoftwareAdapter(info) ? options.cpuThreads ?? 0 : 0,
    maxOutValues: isLlvmpipe(info) ? MAX_OUT_VALUES_LLVMPIPE : MAX_OUT_VALUES,
  };
  for (const name of REQUESTED_LIMITS) limits[name] = device.limits[name];
  const featureLevel = adapter.features.has('core-features-and-limits') ? 'core' : 'compatibility';
  let lostInfo: GPUDeviceLostInfo | undefined;
  void device.lost.then((i) => { lostInfo = i; });
  return {
    device,
    adapter: {
      vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      featureLevel, source: options.source ?? 'navigator.gpu',
    },
    features: [...device.features].sort(),
    limits,
    lost: device.lost,
    lostInfo: () => lostInfo,
  };
}

/** "SwiftShader driver 5.0.0 (google swiftshader), core" */
export function describeAdapter(a: AdapterDescription): string {
  const who = [a.vendor, a.architecture].filter(Boolean).join(' ');
  const name = a.description || a.device;
  const label = name ? `${name}${who ? ` (${who})` : ''}` : who || 'unnamed adapter';
  return `${label}, ${a.featureLevel} feature level, via ${a.source}`;
}
