/**
 * How much work one call is, counted as FlashMLA's benchmark counts it
 * (docs/design.md section 5), and what a measured time makes of it.
 *
 *   keys   = sum over requests of seqlen (dense) or topk (sparse), times s_q
 *   FLOPs  = 2 * keys * h_q * (d_qk + d_v)        (one multiply-add per score and per output value)
 *   bytes  = keys' cache records read once (the layout's real bytes per
 *            token) + q + out + lse (f32 here; FlashMLA's q and out are bf16)
 * FlashMLA counts MODEL1 at 576 B per token (it leaves out the 8 scale
 * bytes); this counts the real 584 and says so in `note`.
 */
import type { MlaShape } from '../mla/shape';
import type { KvLayout } from '../mla/kv-layout';

export interface Work {
  readonly flops: number;
  readonly bytes: number;
  readonly kvBytes: number;
  readonly keys: number;
  readonly bytesPerToken: number;
  readonly note?: string;
}

export function workOf(shape: MlaShape, layout: KvLayout): Work {
  const perRequest = shape.topk > 0 ? shape.seqlens.map(() => shape.topk) : shape.seqlens;
  const keys = perRequest.reduce((a, b) => a + b, 0) * shape.sQ;
  const rows = shape.batch * shape.sQ * shape.hQ;
  const flops = 2 * keys * shape.hQ * (shape.dQk + shape.dV);
  const kvBytes = keys * layout.bytesPerToken;
  const bytes = kvBytes + 4 * rows * (shape.dQk + shape.dV + 1);
  const note = layout.flashMlaBenchBytesPerToken !== layout.bytesPerToken
    ? `counts ${layout.bytesPerToken} B/token; FlashMLA's benchmark counts ${layout.flashMlaBenchBytesPerToken}`
    : undefined;
  return { flops, bytes, kvBytes, keys, bytesPerToken: layout.bytesPerToken, note };
}

export interface Roofline {
  /** Streaming copy bandwidth, GB/s (1e9 bytes). */
  readonly copyGBps: number;
  /** FMA throughput, GFLOP/s. */
  readonly fmaGflops: number;
}

export interface Throughput {
  readonly gbps: number;
  readonly gflops: number;
  /** Fastest time the roofline allows, ms. */
  readonly boundMs: number;
  /** 'memory' or 'compute': which ceiling bounds this work. */
  readonly boundBy: 'memory' | 'compute';
  /** boundMs / measured: 1 = at the ceiling. */
  readonly rooflineFraction: number;
  /** Faster than the device's own copy bandwidth allows: the measurement is not to be trusted. */
  readonly suspect: boolean;
}

export function throughput(work: Work, ms: number, roof: Roofline): Throughput {
  const s = ms / 1e3;
  const memMs = (work.bytes / (roof.copyGBps * 1e9)) * 1e3;
  const computeMs = (work.flops / (roof.fmaGflops * 1e9)) * 1e3;
  const boundMs = Math.max(memMs, computeMs);
  const gbps = work.bytes / s / 1e9;
  return {
    gbps, gflops: work.flops / s / 1e9, boundMs, boundBy: memMs >= computeMs ? 'memory' : 'compute',
    rooflineFraction: boundMs / ms, suspect: gbps > roof.copyGBps * 1.1,
  };
}
