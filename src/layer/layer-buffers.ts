/**
 * The layer's matrices on the device, cut into blocks of rows when one would pass the device's
 * storage binding (128 MiB on llvmpipe): V3's wo is 470 MB, wq_b 151 MB, the
 * hidden states of 4096 tokens 117 MB. A product with a blocked weight runs
 * once per block, each writing its own columns of the result; one with
 * blocked rows of A, once per block of rows.
 */
import type { GpuContext } from '../gpu/device';
import type { BufferOwner } from '../gpu/buffer-owner';

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
export function uploadBlocked(buffers: BufferOwner, label: string, data: Float32Array, rows: number, cols: number, maxRows = rowsPerBinding(buffers.ctx, cols)): BlockedMatrix {
  if (data.length !== rows * cols) throw new Error(`${label}: ${data.length} values, expected ${rows} x ${cols}`);
  const blocks: { buffer: GPUBuffer; firstRow: number; rows: number }[] = [];
  for (let first = 0; first < rows; first += maxRows) {
    const count = Math.min(maxRows, rows - first);
    const name = rows > maxRows ? `${label} rows ${first}..${first + count - 1}` : label;
    blocks.push({ buffer: buffers.storage(name, 4 * count * cols, data.subarray(first * cols, (first + count) * cols)), firstRow: first, rows: count });
  }
  return { rows, cols, blocks };
}
