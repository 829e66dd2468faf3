/** What a kernel hands the runner: a list of dispatches, each its own compute pass. */

export const KERNEL_NAMES = ['naive', 'flash', 'sparse'] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

export interface KernelPass {
  /** e.g. "flash-decode", "combine", "naive:scores" */
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

/** Device buffers of one attention call; `binding` numbers follow the shaders. */
export interface AttentionBuffers {
  readonly kv: GPUBuffer;        // binding 0
  readonly q: GPUBuffer;         // binding 1
  readonly out: GPUBuffer;       // binding 2
  readonly lse: GPUBuffer;       // binding 3
  readonly sink: GPUBuffer;      // binding 4
  readonly keyList: GPUBuffer;   // binding 5: seqlens (dense) or indices (sparse)
  readonly blockTable: GPUBuffer; // binding 6 (dense only)
  readonly params: GPUBuffer;    // binding 8: the per-call uniform
}

/** A bind group for `pipeline` from (binding -> buffer) pairs. */
export function bindGroup(device: GPUDevice, pipeline: GPUComputePipeline, label: string, entries: [number, GPUBuffer][]): GPUBindGroup {
  return device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: entries.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
  });
}

/** Bindings of the key source (dense or sparse) and the per-call params. */
export function keySourceBindings(sparse: boolean, b: AttentionBuffers): [number, GPUBuffer][] {
  return sparse ? [[5, b.keyList], [8, b.params]] : [[5, b.keyList], [6, b.blockTable], [8, b.params]];
}
