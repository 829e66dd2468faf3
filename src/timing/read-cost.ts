/**
 * What one vec4 read costs on this device, in multiply-adds: the figure that
 * says how much work a kernel must do per value it reads before the FMA
 * ceiling is in reach (docs/kernels.md, "What a read costs").
 *
 * roofline.wgsl's readCost makes READ_STEPS reads per thread, each feeding
 * one multiply-add; time per read x the FMA ceiling's rate of vec4
 * multiply-adds = the multiply-adds one read (with its own) costs. A kernel
 * doing r multiply-adds per read can reach at most about r / (r + cost) of
 * the FMA ceiling.
 */
import type { GpuContext } from '../gpu/device';
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { SHADER_FILES } from '../gpu/shader-source';
import { bindGroup } from '../gpu/bindings';
import { rgba32Texture } from '../gpu/textures';
import { type TimingOptions, timeWork } from './timer';
import { WG, fitSize, ownedBuffers, singlePass } from './roofline';
import type { Roofline } from './work';

/** Where readCost reads from (its READ_FROM override: the index in this list). */
export const READ_SOURCES = ['workgroup', 'storage', 'uniform', 'texture'] as const;
export type ReadSource = (typeof READ_SOURCES)[number];
/** Reads per thread (a multiple of 4: the shader's four chains). */
export const READ_STEPS = 256;
/** The window readCost reads, in vec4. */
const READ_WINDOW = shaderConstant(SHADER_FILES['roofline.wgsl'], 'READ_WINDOW');
/** Texels a row of the window as a texture (readTexture). */
export const READ_TEXTURE_WIDTH = shaderConstant(SHADER_FILES['roofline.wgsl'], 'READ_TEXTURE_WIDTH');

/** The window as an rgba32float texture, READ_TEXTURE_WIDTH texels a row (`usage`: TEXTURE_BINDING and what the caller adds). */
export function readTexture(device: GPUDevice, usage: GPUTextureUsageFlags = GPUTextureUsage.TEXTURE_BINDING): GPUTexture {
  return rgba32Texture(device, 'read texture', { width: READ_TEXTURE_WIDTH, height: READ_WINDOW / READ_TEXTURE_WIDTH }, usage);
}

/** Vec4 multiply-adds in registers that take as long as one vec4 read, by source. */
export type ReadCost = Readonly<Record<ReadSource, number>>;

export function readPipeline(device: GPUDevice, from: ReadSource): Promise<GPUComputePipeline> {
  return getPipeline(device, { kernel: 'roofline', files: ['roofline.wgsl'], entryPoint: 'readCost', constants: { READ_FROM: READ_SOURCES.indexOf(from), READ_STEPS } });
}

/** Every source, timed against `roof`'s FMA ceiling, measured in the same session. */
export async function measureReadCost(ctx: GpuContext, roof: Roofline, options: TimingOptions = {}): Promise<ReadCost> {
  const cost: Partial<Record<ReadSource, number>> = {};
  const { device, limits } = ctx;
  const vec4FmasPerMs = (roof.fmaGflops * 1e9) / 8 / 1e3;
  for (const from of READ_SOURCES) {
    const pipeline = await readPipeline(device, from);
    const { buffer, release } = ownedBuffers(device);
    const texture = readTexture(device);
    // One window, bound as the storage buffer and the uniform buffer, and the texture (the module declares all three).
    const work = (groups: number) => {
      const window = buffer('read window', 16 * READ_WINDOW, GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM);
      return singlePass(`read ${from}`, pipeline, bindGroup(device, pipeline, `read ${from}`, {
        src: window, readWindow: window, readTexture: texture.createView(), dst: buffer('read out', 16 * groups * WG),
      }), groups);
    };
    try {
      const groups = await fitSize(ctx, 4, limits.maxComputeWorkgroupsPerDimension, work, release);
      const t = await timeWork(ctx, work(groups), options);
      cost[from] = (t.medianMs / (groups * WG * READ_STEPS)) * vec4FmasPerMs;
    } finally {
      release();
      texture.destroy();
    }
  }
  return cost as ReadCost;
}
