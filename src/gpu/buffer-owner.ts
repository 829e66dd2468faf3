/**
 * Buffers allocated through one owner, which frees them all: storage (filled
 * or zero, 16-byte padded), uniforms, textures, and reading a buffer back as f32. The
 * runner and the layer allocate through it.
 */
import type { GpuContext } from './device';
import { type KernelTextureFormat, type TextureSize, rgba32Texture } from './textures';

/** Allocates the passes' uniforms and frees them with the rest of a run's buffers. */
export interface PassOwner {
  readonly ctx: GpuContext;
  uniform(label: string, data: ArrayBuffer): GPUBuffer;
}

export interface BufferOwner extends PassOwner {
  /** A storage buffer of `bytes` (rounded up to 16), filled with `data` when given, else zero. */
  storage(label: string, bytes: number, data?: ArrayBufferView): GPUBuffer;
  /** A 2D texture (rgba32Texture; rgba32float unless told), written by a compute pass (rgba32float only) or a copy and read by textureLoad. */
  texture(label: string, size: TextureSize, format?: KernelTextureFormat): GPUTexture;
  /** Copy a buffer's first `bytes` back to the host as f32. */
  read(buffer: GPUBuffer, bytes: number): Promise<Float32Array>;
  destroy(): void;
}

export function bufferOwner(ctx: GpuContext): BufferOwner {
  const { device } = ctx;
  const owned: (GPUBuffer | GPUTexture)[] = [];
  const padded = (bytes: number) => Math.max(16, Math.ceil(bytes / 16) * 16);
  return {
    ctx,
    storage(label, bytes, data) {
      const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
      if (padded(bytes) > limit) throw new Error(`${label}: ${bytes} bytes is over one storage binding on this device (${limit}): it must be cut into blocks`);
      const buffer = device.createBuffer({
        label, size: padded(bytes), mappedAtCreation: data !== undefined,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      if (data) {
        new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        buffer.unmap();
      }
      owned.push(buffer);
      return buffer;
    },
    texture(label, size, format = 'rgba32float') {
      const written = format === 'rgba32float' ? GPUTextureUsage.STORAGE_BINDING : 0;
      const texture = rgba32Texture(device, label, size, GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | written, format);
      owned.push(texture);
      return texture;
    },
    uniform(label, data) {
      const buffer = device.createBuffer({ label, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buffer, 0, data);
      owned.push(buffer);
      return buffer;
    },
    async read(buffer, bytes) {
      const staging = device.createBuffer({ label: `read ${buffer.label}`, size: padded(bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      try {
        const encoder = device.createCommandEncoder({ label: `read ${buffer.label}` });
        encoder.copyBufferToBuffer(buffer, 0, staging, 0, padded(bytes));
        device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const out = new Float32Array(staging.getMappedRange().slice(0, bytes));
        staging.unmap();
        return out;
      } finally {
        staging.destroy();
      }
    },
    destroy() {
      owned.splice(0).forEach((b) => b.destroy());
    },
  };
}
