/**
 * Set up one MLA decode call on the GPU.
 *
 *   prepareAttention  quantise the cache into the chosen layout, upload,
 *                     compile (cached per specialisation) and plan the dispatches
 *   encode / read     record the dispatches (one compute pass each, so they can
 *                     be timed one by one), read back out and lse
 * (run-attention.ts runs it once, checks it against the reference, and times it.)
 *
 * A call that would not fit the device's limits is refused before anything is
 * allocated, naming the limit and what it needed; any validation or
 * out-of-memory error the device raises is turned into an error naming the kernel.
 */
import { checkDeviceBuffers, deviceBuffers } from './run-size';
import { validateShape } from './shape';
import { type KvFormat, type KvLayout, type ScaleRounding, KV_FORMATS, kvLayout } from './kv-layout';
import { dequantizeKvCache, quantizeKvCache } from './kv-quant';
import type { MlaInputs } from './inputs';
import type { GpuContext } from './gpu/device';
import type { ShaderEdits } from './gpu/shader-source';
import { withErrorScopes } from './gpu/error-scopes';
import type { AttentionBuffers, KernelPass, KernelPlan, PlanOptions } from './kernels/kernel-plan';
import { type AttentionSpec, callParams, makeAttentionSpec } from './kernels/attention-spec';
import { packParams } from './kernels/call-params';
import { type KernelChoice, type KernelVersion, resolveKernel } from './kernels/versions';

export interface RunConfig extends PlanOptions {
  /** A version's name or id (versions.ts), or "flash": the best version for the device. */
  readonly kernel: KernelChoice;
  readonly kvFormat: KvFormat;
  readonly scaleRounding?: ScaleRounding;
  /** Replacement WGSL for some shader files (the page's editor). */
  readonly shaderEdits?: ShaderEdits;
}

/** Bytes the runner uploads, per buffer. */
export interface UploadBytes {
  readonly kv: number;
  readonly q: number;
  readonly keyList: number;
  readonly blockTable: number;
  readonly sink: number;
}

export interface PreparedAttention {
  readonly spec: AttentionSpec;
  readonly layout: KvLayout;
  /** The version that runs (for "flash", the one chosen) and its plan. */
  readonly version: KernelVersion;
  readonly plan: KernelPlan;
  readonly passes: readonly KernelPass[];
  readonly upload: UploadBytes;
  /** The dequantised cache rows: exactly what the kernel reads. */
  readonly kvSeen: Float32Array;
  /** Record the dispatches, one compute pass each. */
  encode(encoder: GPUCommandEncoder, timestampWrites?: (pass: number) => GPUComputePassTimestampWrites | undefined): void;
  /** Copy out and lse back to the CPU (call after the encoded work was submitted). */
  read(): Promise<{ out: Float32Array; lse: Float32Array }>;
  destroy(): void;
}

/** A GPU error raised while running a kernel. */
export class GpuRunError extends Error {
  constructor(kernel: string, what: string, cause: string) {
    super(`kernel ${kernel}: ${what}: ${cause}`);
    this.name = 'GpuRunError';
  }
}

function checkConfig(config: RunConfig): void {
  if (!(KV_FORMATS as readonly string[]).includes(config.kvFormat)) {
    throw new Error(`kv format ${JSON.stringify(config.kvFormat)} is not allowed: kv format must be one of ${KV_FORMATS.join(', ')}`);
  }
}

/** Buffer sizes are whole vec4s (the cache is read 16 bytes at a time). */
function padded(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

export async function prepareAttention(ctx: GpuContext, inputs: MlaInputs, config: RunConfig): Promise<PreparedAttention> {
  const { shape } = inputs;
  validateShape(shape);
  checkConfig(config);
  const { device, limits } = ctx;
  const layout = kvLayout(config.kvFormat, shape, shape.pageBlockSize);
  const spec = makeAttentionSpec(shape, layout, inputs.cache.numBlocks, config.shaderEdits, inputs.cache.maxBlocksPerSeq);
  const { version, plan } = resolveKernel(config.kernel, spec, limits, config);
  // Every buffer against the device's limits, before the cache is quantised.
  checkDeviceBuffers([
    ...deviceBuffers(shape, config.kvFormat, inputs.cache.numBlocks, inputs.cache.maxBlocksPerSeq),
    ...plan.scratch.map((s): [string, number] => [s.label, s.bytes]),
  ], limits);

  const cacheBytes = inputs.cacheBytes ?? quantizeKvCache(inputs.kvRows, layout, { scaleRounding: config.scaleRounding });
  if (cacheBytes.byteLength !== inputs.cache.numBlocks * layout.pageStride) {
    throw new Error(`kv cache has ${cacheBytes.byteLength} bytes, the ${layout.name} layout of ${inputs.cache.numBlocks} pages needs ${inputs.cache.numBlocks * layout.pageStride}`);
  }
  const kvSeen = dequantizeKvCache(cacheBytes, layout);
  const rows = shape.batch * shape.sQ * shape.hQ;
  const keyList = shape.topk > 0 ? inputs.indices : inputs.cache.seqlens;
  if (!keyList) throw new Error('indices are required when topk > 0');
  if (shape.attentionSink && !inputs.sink) throw new Error('attentionSink is on but the inputs have no sink values');

  const owned: GPUBuffer[] = [];
  const storage = (label: string, bytes: number, data?: ArrayBufferView): GPUBuffer => {
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
  };
  const uniform = (label: string, data: ArrayBuffer): GPUBuffer => {
    const buffer = device.createBuffer({ label, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, data);
    owned.push(buffer);
    return buffer;
  };
  const sink = inputs.sink ?? new Float32Array(1);
  let buffers: AttentionBuffers;
  let passes: KernelPass[];
  try {
    [buffers, passes] = await withErrorScopes(device, async () => {
      const b: AttentionBuffers = {
        kv: storage('kv cache', cacheBytes.byteLength, cacheBytes),
        q: storage('q', inputs.q.byteLength, inputs.q),
        out: storage('out', 4 * rows * shape.dV),
        lse: storage('lse', 4 * rows),
        sink: storage('sink', sink.byteLength, sink),
        keyList: storage(shape.topk > 0 ? 'indices' : 'seqlens', keyList.byteLength, keyList),
        blockTable: storage('block table', inputs.cache.blockTable.byteLength, inputs.cache.blockTable),
        params: uniform('params', packParams(callParams(spec, plan.splits))),
      };
      const scratch = plan.scratch.map((s) => storage(s.label, s.bytes));
      return [b, await version.passes(device, spec, plan, b, scratch)] as const;
    }, (message) => new GpuRunError(plan.kernel, 'setting up buffers and pipelines failed', message));
  } catch (e) {
    owned.forEach((b) => b.destroy());
    throw e;
  }
  for (const p of passes) {
    if (p.workgroups.some((n) => n > limits.maxComputeWorkgroupsPerDimension)) {
      owned.forEach((b) => b.destroy());
      throw new Error(`${p.label} needs a grid of ${p.workgroups.join(' x ')} workgroups, over this device's maxComputeWorkgroupsPerDimension of ${limits.maxComputeWorkgroupsPerDimension}`);
    }
  }

  const readBuffers = [
    device.createBuffer({ label: 'read out', size: buffers.out.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
    device.createBuffer({ label: 'read lse', size: buffers.lse.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
  ];
  owned.push(...readBuffers);

  return {
    spec, layout, version, plan, passes, kvSeen,
    upload: {
      kv: cacheBytes.byteLength, q: inputs.q.byteLength, keyList: keyList.byteLength,
      blockTable: inputs.cache.blockTable.byteLength, sink: inputs.sink?.byteLength ?? 0,
    },
    encode(encoder, timestampWrites) {
      passes.forEach((p, k) => {
        const pass = encoder.beginComputePass({ label: p.label, timestampWrites: timestampWrites?.(k) });
        pass.setPipeline(p.pipeline);
        pass.setBindGroup(0, p.bindGroup);
        pass.dispatchWorkgroups(...p.workgroups);
        pass.end();
      });
    },
    async read() {
      const encoder = device.createCommandEncoder({ label: 'read back' });
      encoder.copyBufferToBuffer(buffers.out, 0, readBuffers[0], 0, buffers.out.size);
      encoder.copyBufferToBuffer(buffers.lse, 0, readBuffers[1], 0, buffers.lse.size);
      device.queue.submit([encoder.finish()]);
      await Promise.all(readBuffers.map((b) => b.mapAsync(GPUMapMode.READ)));
      const out = new Float32Array(readBuffers[0].getMappedRange().slice(0, 4 * rows * shape.dV));
      const lse = new Float32Array(readBuffers[1].getMappedRange().slice(0, 4 * rows));
      readBuffers.forEach((b) => b.unmap());
      return { out, lse };
    },
    destroy() {
      owned.forEach((b) => b.destroy());
    },
  };
}

/** Submit the prepared dispatches once inside error scopes; throws GpuRunError on a device error. */
export async function submitChecked(ctx: GpuContext, prepared: PreparedAttention): Promise<void> {
  const { device } = ctx;
  await withErrorScopes(device, () => {
    const encoder = device.createCommandEncoder({ label: prepared.plan.kernel });
    prepared.encode(encoder);
    device.queue.submit([encoder.finish()]);
  }, (message) => new GpuRunError(prepared.plan.kernel, 'dispatch failed', message));
}
