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
import { type MlaShape, validateShape } from '../mla/shape';
import { type KvFormat, type KvLayout, type ScaleRounding, KV_FORMATS, kvLayout } from '../mla/kv-layout';
import { decodesToBf16, quantizeKvCache } from '../mla/kv-quant';
import type { MlaInputs } from '../mla/inputs';
import type { DeviceLimits, GpuContext } from '../gpu/device';
import type { ShaderEdits } from '../gpu/shader-source';
import { withErrorScopes } from '../gpu/error-scopes';
import { type BufferOwner, bufferOwner } from '../gpu/buffer-owner';
import { releaseStandIns } from '../gpu/bindings';
import { type AttentionBuffers, type CallPass, type KernelPlan, type PlanOptions, PlanDoesNotFit, encodePasses, isDispatch, queryTextureSize } from '../kernels/kernel-plan';
import { type AttentionSpec, callParams, makeAttentionSpec } from '../kernels/attention-spec';
import { packParams } from '../kernels/call-params';
import { type KernelChoice, type KernelVersion, checkStorageBuffers, resolveKernel } from '../kernels/versions';
import { planKvShards } from '../kernels/kv-shards';

export interface RunConfig extends PlanOptions {
  /** A version's name or id (versions.ts), or "flash": the best version for the device. */
  readonly kernel: KernelChoice;
  readonly kvFormat: KvFormat;
  readonly scaleRounding?: ScaleRounding;
  /** Replacement WGSL for some shader files (the page's editor). */
  readonly shaderEdits?: ShaderEdits;
  /**
   * Largest cache shard in bytes, below the device's binding limit: a cache
   * larger than this is split across several buffers (kernels/kv-shards.ts).
   * Lets tests and demos exercise sharding on small caches.
   */
  readonly shardBytes?: number;
  /**
   * Whether an FP8 cache's scales are all powers of two, so that every value
   * of it is a bf16 value (AttentionSpec.valuesInBf16): set by
   * prepareAttention, which reads the scales, not by hand; before that a
   * plan takes them to be.
   */
  readonly fp8InBf16?: boolean;
}

/** Bytes the runner uploads, per buffer. */
export interface UploadBytes {
  readonly kv: number;
  /** Bytes of each shard the cache was cut into (one entry: one buffer). */
  readonly kvShards: readonly number[];
  /** What capped the shards' size (kernels/kv-shards.ts), when there are several. */
  readonly kvShardLimit?: string;
  readonly q: number;
  readonly keyList: number;
  readonly blockTable: number;
  readonly sink: number;
}

/** Give back the stand-in buffers of the passes' bind groups (bindings.ts). */
function releaseAll(passes: readonly CallPass[]): void {
  passes.filter(isDispatch).forEach((p) => releaseStandIns(p.bindGroup));
}

export interface PreparedAttention {
  readonly spec: AttentionSpec;
  readonly layout: KvLayout;
  /** The version that runs (for "flash", the one chosen) and its plan. */
  readonly version: KernelVersion;
  readonly plan: KernelPlan;
  readonly passes: readonly CallPass[];
  readonly upload: UploadBytes;
  /** The cache's bytes in its layout: exactly what the kernel reads (the reference decodes them). */
  readonly cacheBytes: Uint8Array;
  /** The buffer the kernel writes out into, [b, s_q, h_q, d_v] f32: a later pass may read it on the GPU. */
  readonly outBuffer: GPUBuffer;
  /** Record the dispatches, one compute pass each. */
  encode(encoder: GPUCommandEncoder, timestampWrites?: (pass: number) => GPUComputePassTimestampWrites | undefined): void;
  /** Copy out, lse and max_logits back to the CPU (call after the encoded work was submitted). */
  read(): Promise<AttentionOutput>;
  /** Copy scratch buffer k of the plan (plan.scratch[k], e.g. v1's score matrix) back as f32. */
  readScratch(k: number): Promise<Float32Array>;
  destroy(): void;
}

/** What a call returns, as f32: out [b, s_q, h_q, d_v], lse [b, h_q, s_q], maxLogits [b, s_q, h_q]. */
export interface AttentionOutput {
  readonly out: Float32Array;
  readonly lse: Float32Array;
  readonly maxLogits: Float32Array;
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

/** A call planned against a device: the layout, how the cache is sharded, the version and its plan. */
export interface PlannedCall {
  readonly layout: KvLayout;
  readonly spec: AttentionSpec;
  readonly version: KernelVersion;
  readonly plan: KernelPlan;
}

/**
 * Plan a call of `shape` on a cache of `numBlocks` pages and a block table
 * `tableWidth` wide, and check every buffer, shard and binding against the
 * device's limits: all from sizes, before anything is generated or allocated.
 */
export function planCall(shape: MlaShape, numBlocks: number, tableWidth: number, config: RunConfig, limits: DeviceLimits): PlannedCall {
  validateShape(shape);
  checkConfig(config);
  const layout = kvLayout(config.kvFormat, shape, shape.pageBlockSize);
  const shards = planKvShards(layout, numBlocks, limits, config.shardBytes);
  const spec = makeAttentionSpec(shape, layout, numBlocks, config.shaderEdits, tableWidth, shards, config.fp8InBf16);
  const { version, plan } = resolveKernel(config.kernel, spec, limits, config);
  checkStorageBuffers(version, spec, plan, limits);
  checkDeviceBuffers([
    ...deviceBuffers(shape, tableWidth),
    ...plan.scratch.map((s): [string, number] => [s.label, s.bytes]),
  ], limits);
  return { layout, spec, version, plan };
}

/**
 * Why a call of this size would not fit the device with `config` (the
 * PlanDoesNotFit message of planCall), or undefined where it fits or fails
 * for another reason (a bad option or shape, which the run itself reports).
 */
export function planRefusal(shape: MlaShape, numBlocks: number, tableWidth: number, config: RunConfig, limits: DeviceLimits): string | undefined {
  try {
    planCall(shape, numBlocks, tableWidth, config, limits);
    return undefined;
  } catch (e) {
    return e instanceof PlanDoesNotFit ? e.message : undefined;
  }
}

/** Buffers a caller already holds on the device, used instead of uploading the inputs' copy. */
export interface DeviceInputs {
  /** q, [b, s_q, h_q, d_qk] f32, written by earlier passes (the layer's absorbed query). */
  readonly q?: GPUBuffer;
  /** Sparse indices, [b, s_q, topk] i32, written by earlier passes (the indexer's top-k). */
  readonly indices?: GPUBuffer;
  /**
   * The cache's shards, already uploaded (the inputs' cacheBytes, in the
   * plan's shards): a prompt's chunks of query tokens share one cache. Not
   * destroyed with the call.
   */
  readonly kv?: readonly GPUBuffer[];
}

/** The cache's shards uploaded once (owned by `alloc`), for every chunk's (or group's) dispatch to bind. */
export async function uploadCache(ctx: GpuContext, alloc: BufferOwner, planned: PlannedCall, cacheBytes: Uint8Array): Promise<GPUBuffer[]> {
  const { shards } = planned.spec;
  let first = 0;
  return withErrorScopes(ctx.device, async () => shards.bytes.map((bytes, k) => {
    const part = cacheBytes.subarray(first, first + bytes);
    first += bytes;
    return alloc.storage(shards.count > 1 ? `kv cache shard ${k}` : 'kv cache', bytes, part);
  }), (message) => new GpuRunError(planned.plan.kernel, 'uploading the cache failed', message));
}

/**
 * decodesToBf16 once per cache: a call in request groups, or a prompt's
 * chunks, prepare many calls over the same cache bytes (whose scales it reads).
 */
const bf16Caches = new WeakMap<Uint8Array, boolean>();
function cacheDecodesToBf16(bytes: Uint8Array, layout: KvLayout): boolean {
  let exact = bf16Caches.get(bytes);
  if (exact === undefined) bf16Caches.set(bytes, (exact = decodesToBf16(bytes, layout)));
  return exact;
}

export async function prepareAttention(ctx: GpuContext, inputs: MlaInputs, config: RunConfig, onDevice: DeviceInputs = {}): Promise<PreparedAttention> {
  const { shape } = inputs;
  const { device, limits } = ctx;
  const { layout, spec, version, plan } = planCall(shape, inputs.cache.numBlocks, inputs.cache.maxBlocksPerSeq, config, limits);
  const { shards } = spec;
  if (inputs.cacheLayout && inputs.cacheLayout.name !== layout.name) {
    throw new Error(`the inputs' cache is already in the ${inputs.cacheLayout.name} layout; this run asks for ${layout.name}`);
  }
  const cacheBytes = inputs.cacheBytes ?? quantizeKvCache(inputs.kvRows, layout, { scaleRounding: config.scaleRounding });
  if (cacheBytes.byteLength !== inputs.cache.numBlocks * layout.pageStride) {
    throw new Error(`kv cache has ${cacheBytes.byteLength} bytes, the ${layout.name} layout of ${inputs.cache.numBlocks} pages needs ${inputs.cache.numBlocks * layout.pageStride}`);
  }
  // Version 6 holds an FP8 cache in bf16 words where its scales are powers of two (matmuls-kernel.ts), as its plan took
  // them to be before they were read: planned again knowing.
  if (plan.kernel === 'matmuls' && layout.kind === 'fp8' && config.fp8InBf16 === undefined) {
    const exact = cacheDecodesToBf16(cacheBytes, layout);
    try {
      return await prepareAttention(ctx, { ...inputs, cacheBytes, cacheLayout: layout }, { ...config, fp8InBf16: exact }, onDevice);
    } catch (e) {
      if (exact || !(e instanceof PlanDoesNotFit)) throw e;
      throw new PlanDoesNotFit(`this cache's ${layout.name} scales are not all powers of two (--scale-rounding plain, or a cache made so), so kernel matmuls holds it as f32 quads, not bf16 words: ${e.message}`);
    }
  }
  if (config.fp8InBf16 && !cacheDecodesToBf16(cacheBytes, layout)) {
    throw new Error(`fp8InBf16 is not allowed for this cache: its ${layout.name} scales are not all powers of two, so its values are not all bf16 values`);
  }
  if (plan.keys === 'tile-bf16' && !cacheDecodesToBf16(cacheBytes, layout)) {
    // The default for FP8 (tiled-kernel.ts): a cache whose scales are not powers of two takes the f32 tile instead.
    if (config.keys === undefined) return prepareAttention(ctx, { ...inputs, cacheBytes, cacheLayout: layout }, { ...config, keys: 'tile' }, onDevice);
    throw new Error(`keys "tile-bf16" is not allowed for this cache: its ${layout.name} scales are not all powers of two (--scale-rounding plain, or a cache made so), `
      + 'so a key held in bf16 would be rounded; use keys tile or cache (--keys tile overrides a device profile\'s pick)');
  }
  const rows = shape.batch * shape.sQ * shape.hQ;
  if (onDevice.kv && onDevice.kv.length !== shards.count) throw new Error(`the cache given is in ${onDevice.kv.length} buffers, this call's plan cuts it into ${shards.count} shards`);
  if (onDevice.q && onDevice.q.size < inputs.q.byteLength) throw new Error(`the q buffer given has ${onDevice.q.size} bytes, the call's q needs ${inputs.q.byteLength}`);
  const keyList = shape.topk > 0 ? inputs.indices : inputs.cache.seqlens;
  if (!keyList && !(shape.topk > 0 && onDevice.indices)) throw new Error('indices are required when topk > 0');
  const indexBytes = 4 * shape.batch * shape.sQ * shape.topk;
  if (onDevice.indices && (shape.topk === 0 || onDevice.indices.size < indexBytes)) throw new Error(`the indices buffer given has ${onDevice.indices.size} bytes, the call's indices need ${indexBytes} (topk ${shape.topk})`);
  if (shape.attentionSink && !inputs.sink) throw new Error('attentionSink is on but the inputs have no sink values');

  const alloc = bufferOwner(ctx);
  const { storage, uniform } = alloc;
  const sink = inputs.sink ?? new Float32Array(1);
  let buffers: AttentionBuffers;
  let passes: CallPass[];
  let scratch: GPUBuffer[] = [];
  try {
    [buffers, passes] = await withErrorScopes(device, async () => {
      let first = 0;
      const kv = onDevice.kv ?? shards.bytes.map((bytes, k) => {
        const part = cacheBytes.subarray(first, first + bytes);
        first += bytes;
        return storage(shards.count > 1 ? `kv cache shard ${k}` : 'kv cache', bytes, part);
      });
      const b: AttentionBuffers = {
        kv,
        q: onDevice.q ?? storage('q', inputs.q.byteLength, inputs.q),
        out: storage('out', 4 * rows * shape.dV),
        lse: storage('lse', 4 * rows),
        maxLogits: storage('max_logits', 4 * rows),
        sink: storage('sink', sink.byteLength, sink),
        keyList: onDevice.indices ?? storage(shape.topk > 0 ? 'indices' : 'seqlens', keyList!.byteLength, keyList!),
        blockTable: storage('block table', inputs.cache.blockTable.byteLength, inputs.cache.blockTable),
        params: uniform('params', packParams(callParams(spec, plan.splits))),
        queryTexture: plan.queries === 'texture' ? alloc.texture('queries', queryTextureSize(shape)) : undefined,
        cacheTexture: plan.cacheTexture ? alloc.texture('decoded cache', plan.cacheTexture.size, plan.cacheTexture.format) : undefined,
        scratchTextures: plan.scratchTextures?.map((t) => alloc.texture(t.label, t.size)),
      };
      scratch = plan.scratch.map((s) => storage(s.label, s.bytes));
      return [b, await version.passes(device, spec, plan, b, scratch)] as const;
    }, (message) => new GpuRunError(plan.kernel, 'setting up buffers and pipelines failed', message));
  } catch (e) {
    alloc.destroy();
    throw e;
  }
  for (const p of passes.filter(isDispatch)) {
    if (p.workgroups.some((n) => n > limits.maxComputeWorkgroupsPerDimension)) {
      alloc.destroy();
      releaseAll(passes);
      throw new Error(`${p.label} needs a grid of ${p.workgroups.join(' x ')} workgroups, over this device's maxComputeWorkgroupsPerDimension of ${limits.maxComputeWorkgroupsPerDimension}`);
    }
  }

  const readBuffers = [
    device.createBuffer({ label: 'read out', size: buffers.out.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
    device.createBuffer({ label: 'read lse', size: buffers.lse.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
    device.createBuffer({ label: 'read max_logits', size: buffers.maxLogits.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
  ];

  return {
    spec, layout, version, plan, passes, cacheBytes, outBuffer: buffers.out,
    upload: {
      kv: onDevice.kv ? 0 : cacheBytes.byteLength, kvShards: shards.bytes, kvShardLimit: shards.count > 1 ? shards.limitName : undefined, q: inputs.q.byteLength, keyList: onDevice.indices ? 0 : keyList!.byteLength,
      blockTable: inputs.cache.blockTable.byteLength, sink: inputs.sink?.byteLength ?? 0,
    },
    encode(encoder, timestampWrites) {
      encodePasses(passes, encoder, timestampWrites);
    },
    async read() {
      const encoder = device.createCommandEncoder({ label: 'read back' });
      encoder.copyBufferToBuffer(buffers.out, 0, readBuffers[0], 0, buffers.out.size);
      encoder.copyBufferToBuffer(buffers.lse, 0, readBuffers[1], 0, buffers.lse.size);
      encoder.copyBufferToBuffer(buffers.maxLogits, 0, readBuffers[2], 0, buffers.maxLogits.size);
      device.queue.submit([encoder.finish()]);
      await Promise.all(readBuffers.map((b) => b.mapAsync(GPUMapMode.READ)));
      const out = new Float32Array(readBuffers[0].getMappedRange().slice(0, 4 * rows * shape.dV));
      const lse = new Float32Array(readBuffers[1].getMappedRange().slice(0, 4 * rows));
      const maxLogits = new Float32Array(readBuffers[2].getMappedRange().slice(0, 4 * rows));
      readBuffers.forEach((b) => b.unmap());
      return { out, lse, maxLogits };
    },
    async readScratch(k) {
      const source = scratch[k];
      if (!source) throw new Error(`the ${plan.kernel} plan has ${scratch.length} scratch buffers, not a buffer ${k}`);
      const staging = device.createBuffer({ label: `read ${plan.scratch[k].label}`, size: source.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      try {
        const encoder = device.createCommandEncoder({ label: 'read back scratch' });
        encoder.copyBufferToBuffer(source, 0, staging, 0, source.size);
        device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        return new Float32Array(staging.getMappedRange().slice(0, plan.scratch[k].bytes));
      } finally {
        staging.destroy();
      }
    },
    destroy() {
      alloc.destroy();
      readBuffers.forEach((b) => b.destroy());
      releaseAll(passes);
    },
  };
}

/** Submit the prepared dispatches once inside error scopes; throws GpuRunError on a device error. */
export async function submitChecked(ctx: GpuContext, prepared: Pick<PreparedAttention, 'plan' | 'encode'>): Promise<void> {
  const { device } = ctx;
  await withErrorScopes(device, () => {
    const encoder = device.createCommandEncoder({ label: prepared.plan.kernel });
    prepared.encode(encoder);
    device.queue.submit([encoder.finish()]);
  }, (message) => new GpuRunError(prepared.plan.kernel, 'dispatch failed', message));
}
