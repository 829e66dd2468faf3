/**
 * A call past one binding, cut by request. q [b, s_q, h_q, d_qk], out, lse,
 * max_logits, the indices and the block table are each one storage binding;
 * past the device's binding limit (FlashMLA's b 321, s_q 3, h_q 128 needs a
 * 284 MiB q), the requests run in groups, each group a call of its own over
 * the one cache (uploaded once, as a prompt's chunks share it), and their
 * outputs laid side by side: every per-request tensor is request-major, so
 * group g's part starts at its first request. Only a request too large alone
 * is refused, naming its buffer and the limit.
 */
import type { DeviceLimits, GpuContext } from '../gpu/device';
import { bufferOwner } from '../gpu/buffer-owner';
import type { MlaInputs } from '../mla/inputs';
import type { MlaShape } from '../mla/shape';
import { quantizeKvCache } from '../mla/kv-quant';
import { type AttentionOutput, type PlannedCall, type PreparedAttention, type RunConfig, type UploadBytes, planCall, prepareAttention, uploadCache } from './runner';
import { BufferOverLimit } from './run-size';

export interface RequestGroups {
  /** Requests a group (the last may have fewer). */
  readonly size: number;
  readonly count: number;
  /** The plan of a full group. */
  readonly planned: PlannedCall;
  /** The buffer that was over the binding with every request in one call (count > 1). */
  readonly overBuffer?: string;
}

/** A shape of `size` requests each as long as the call's longest: what a group's plan must fit. */
function worstGroup(shape: MlaShape, size: number): MlaShape {
  const longest = Math.max(...shape.seqlens);
  return { ...shape, batch: size, seqlens: new Array<number>(size).fill(longest) };
}

/**
 * The fewest groups of requests whose buffers each fit one binding: the
 * whole call when it fits; else halving the group until a group of the
 * longest requests plans. Throws what planCall throws for one request.
 */
export function planRequestGroups(shape: MlaShape, numBlocks: number, tableWidth: number, config: RunConfig, limits: DeviceLimits): RequestGroups {
  let overBuffer: string | undefined;
  let size = shape.batch;
  for (;;) {
    try {
      const planned = planCall(size === shape.batch ? shape : worstGroup(shape, size), numBlocks, tableWidth, config, limits);
      return { size, count: Math.ceil(shape.batch / size), planned, overBuffer };
    } catch (e) {
      if (!(e instanceof BufferOverLimit) || size === 1) throw e;
      overBuffer ??= e.buffer;
      size = Math.ceil(size / 2);
    }
  }
}

/** Requests first .. first + count - 1 of a call, over the same cache. */
export function requestGroup(inputs: MlaInputs, first: number, count: number): MlaInputs {
  const { shape, cache } = inputs;
  const qRow = shape.sQ * shape.hQ * shape.dQk;
  const width = cache.maxBlocksPerSeq;
  const indexRow = shape.sQ * shape.topk;
  return {
    ...inputs,
    shape: { ...shape, batch: count, seqlens: shape.seqlens.slice(first, first + count) },
    q: inputs.q.subarray(first * qRow, (first + count) * qRow),
    cache: { ...cache, blockTable: cache.blockTable.subarray(first * width, (first + count) * width), seqlens: cache.seqlens.subarray(first, first + count) },
    indices: inputs.indices?.subarray(first * indexRow, (first + count) * indexRow),
  };
}

/** What a check-and-time run needs of a prepared call: one call's, or a call's groups' together. */
export type RunnableCall = Pick<PreparedAttention, 'version' | 'plan' | 'layout' | 'upload' | 'cacheBytes' | 'passes' | 'encode' | 'read' | 'destroy'>;

/**
 * The call in `groups`: the cache uploaded once, each group prepared over
 * it; encoded one after another (one submit, passes numbered on for the
 * timer), read back into the whole call's out, lse and max_logits.
 */
export async function prepareInGroups(ctx: GpuContext, inputs: MlaInputs, config: RunConfig, groups: RequestGroups): Promise<RunnableCall> {
  const { shape } = inputs;
  const layout = groups.planned.layout;
  if (inputs.cacheLayout && inputs.cacheLayout.name !== layout.name) throw new Error(`the inputs' cache is already in the ${inputs.cacheLayout.name} layout; this run asks for ${layout.name}`);
  const cacheBytes = inputs.cacheBytes ?? quantizeKvCache(inputs.kvRows, layout, { scaleRounding: config.scaleRounding });
  const shared = bufferOwner(ctx);
  const prepared: PreparedAttention[] = [];
  try {
    const kv = await uploadCache(ctx, shared, groups.planned, cacheBytes);
    for (let g = 0; g < groups.count; g++) {
      const first = g * groups.size;
      prepared.push(await prepareAttention(ctx, { ...requestGroup(inputs, first, Math.min(groups.size, shape.batch - first)), cacheBytes, cacheLayout: layout }, config, { kv }));
    }
  } catch (e) {
    prepared.forEach((p) => p.destroy());
    shared.destroy();
    throw e;
  }
  const sum = (f: (u: UploadBytes) => number) => prepared.reduce((a, p) => a + f(p.upload), 0);
  const first = prepared[0];
  return {
    version: first.version, plan: first.plan, layout, cacheBytes,
    upload: { ...first.upload, kv: cacheBytes.byteLength, q: sum((u) => u.q), keyList: sum((u) => u.keyList), blockTable: sum((u) => u.blockTable) },
    passes: prepared.flatMap((p) => p.passes),
    encode(encoder, timestampWrites) {
      let offset = 0;
      for (const p of prepared) {
        const at = offset;
        p.encode(encoder, timestampWrites && ((pass) => timestampWrites(at + pass)));
        offset += p.passes.length;
      }
    },
    async read() {
      const rows = shape.batch * shape.sQ * shape.hQ;
      const whole: AttentionOutput = { out: new Float32Array(rows * shape.dV), lse: new Float32Array(rows), maxLogits: new Float32Array(rows) };
      let row = 0;
      for (const p of prepared) {
        const got = await p.read();
        whole.out.set(got.out, row * shape.dV);
        whole.lse.set(got.lse, row);
        whole.maxLogits.set(got.maxLogits, row);
        row += got.lse.length;
      }
      return whole;
    },
    destroy() {
      prepared.forEach((p) => p.destroy());
      shared.destroy();
    },
  };
}
