/**
 * The layer's device buffers: allocated through one owner that frees them
 * all, and matrices cut into blocks of rows when one would pass the device's
 * storage binding (128 MiB on llvmpipe): V3's wo is 470 MB, wq_b 151 MB, the
 * hidden states of 4096 tokens 117 MB. A product with a blocked weight runs
 * once per block, each writing its own columns of the result; one with
 * blocked rows of A, once per block of rows.
 */
import type { GpuContext } from '../gpu/device';

/** Allocates the passes' uniforms and frees them with the rest of a run's buffers. */
export interface PassOwner {
  readonly ctx: GpuContext;
  uniform(label: string, data: ArrayBuffer): GPUBuffer;
}

export interface DeviceBuffers extends PassOwner {
  /** A storage buffer of `bytes` (rounded up to 16), filled with `data` when given, else zero. */
  storage(label: string, bytes: number, data?: ArrayBufferView): GPUBuffer;
  /** Copy a buffer's first `bytes` back to the host as f32. */
  read(buffer: GPUBuffer, bytes: number): Promise<Float32Array>;
  destroy(): void;
}

export function deviceBuffers(ctx: GpuContext): DeviceBuffers {
  const { device } = ctx;
  const owned: GPUBuffer[] = [];
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

/** A matrix [rows, cols] f32 on the device, as blocks of whole rows. */
export interface BlockedMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly blocks: readonly { readonly buffer: GPUBuffer; readonly firstRow: number; readonly rows: number }[];
}

/** Most rows of `cols` f32 that one binding holds, a multiple of `multiple` rows. */
export function rowsPerBinding(ctx: GpuContext, cols: number, multiple = 8): number {
  const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const rows = Math.floor(limit / (4 * cols) / multiple) * multiple;
  if (rows < multiple) throw new Error(`a row of ${cols} f32 values is too wide for one storage binding on this device (${limit} bytes)`);
  return rows;
}

/** Upload [rows, cols] in blocks of at most `maxRows` rows (default: what one binding holds). */
export function uploadBlocked(buffers: DeviceBuffers, label: string, data: Float32Array, rows: number, cols: number, maxRows = rowsPerBinding(buffers.ctx, cols)): BlockedMatrix {
  if (data.length !== rows * cols) throw new Error(`${label}: ${data.length} values, expected ${rows} x ${cols}`);
  const blocks: { buffer: GPUBuffer; firstRow: number; rows: number }[] = [];
  for (let first = 0; first < rows; first += maxRows) {
    const count = Math.min(maxRows, rows - first);
    const name = rows > maxRows ? `${label} rows ${first}..${first + count - 1}` : label;
    blocks.push({ buffer: buffers.storage(name, 4 * count * cols, data.subarray(first * cols, (first + count) * cols)), firstRow: first, rows: count });
  }
  return { rows, cols, blocks };
}
