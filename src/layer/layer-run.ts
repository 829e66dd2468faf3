/**
 * One MLA layer on the GPU, computed both ways, each stage checked.
 *
 *   front (seeded layer only)
 *     cache rows   x wkv_a^T -> kv_norm on the latent, RoPE on k_pe -> [L, 576]
 *     query        x_q wq_a^T -> q_norm -> wq_b^T -> RoPE on q_pe   -> [s_q, h, 192]
 *   the cache      the rows, in the run's format (f32, bf16, FP8), as the ladder reads them
 *   MHA mode, per block of heads that fits a binding:
 *     K = c W_UK^T, V = c W_UV^T (per head, [L, 128] each), S = q_nope K^T + q_pe k_pe^T,
 *     P = softmax(scale S) (causal), o = P V
 *   MQA mode:
 *     q_lat = W_UK^T q_nope (per head), [q_lat ; q_pe] (576) -> the ladder's kernel over
 *     the shared cache -> out_lat (512) -> o = W_UV out_lat
 *   out            y = wo o, for each way
 *
 * The two ways read the same cache values: MHA mode decompresses the rows
 * the ladder reads (dequantised), so they compute the same sums in other
 * orders. With coupled RoPE (rope: 'coupled') the cache holds R_t c and the
 * absorbed query is rotated too; MHA mode rotates its decompressed keys.
 */
import type { GpuContext } from '../gpu/device';
import { withErrorScopes } from '../gpu/error-scopes';
import { type CallPass, type KernelPass, encodePasses } from '../kernels/kernel-plan';
import type { KernelChoice } from '../kernels/versions';
import { type KvFormat, type KvLayout, kvLayout } from '../mla/kv-layout';
import { dequantizeKvCache, dequantizeSlots, quantizeKvCache } from '../mla/kv-quant';
import type { MlaInputs } from '../mla/inputs';
import { type MlaShape, SHAPE_LIMITS } from '../mla/shape';
import { causalTokenBatch, needsTokenBatch, tokenBatchShape } from '../mla/token-batch';
import { SeededRandom } from '../random/seeded-random';
import { type CheckResult, compareToReference } from '../reference/check';
import { referenceOnCache } from '../reference/reference-chunked';
import { type TimingOptions, timeWork } from '../timing/timer';
import { GpuRunError, prepareAttention } from '../run/runner';
import { cacheWidth, layerSoftmaxScale, qkHead } from './layer-config';
import { type BufferOwner, bufferOwner } from '../gpu/buffer-owner';
import { uploadBlocked } from './layer-buffers';
import { type LayerReference, checkHeads, checkTensor, layerReference } from './layer-check';
import { spread } from '../mla/spread';
import { gemmPass, linearPasses, rowPass } from './layer-kernels';
import type { LayerInput } from './layer-inputs';
import { type CoreDims, type CoreTensors, type RopeMode, referenceCacheRows, referenceAbsorbed, referenceNaive, referenceOutput, referenceQueries, rotateCachedLatent } from './layer-reference';
import { ropeTable } from './rope';
import { wUK, wUV } from './layer-weights';

export interface LayerRunConfig {
  /** The ladder's kernel for MQA mode. */
  readonly kernel: KernelChoice;
  readonly kvFormat: KvFormat;
  readonly rope?: RopeMode;
  /** Sparse: each query token attends `topk` of the keys it may see, drawn with `seed` (0: dense, causal). */
  readonly topk?: number;
  readonly seed?: number;
  /** Multiply-adds the f64 reference may spend (layer-check.ts). */
  readonly referenceBudget?: number;
  /** Time every stage (a few samples each). Default false. */
  readonly time?: boolean;
  readonly timing?: TimingOptions;
  /** Called as each step starts, for a progress line. */
  readonly onStep?: (step: string) => void;
}

export type StageWay = 'front' | 'mha' | 'mqa' | 'out';

export interface StageTime {
  readonly stage: string;
  readonly way: StageWay;
  readonly ms: number;
  readonly dispatches: number;
}

export interface WayResult {
  /** [s_q, h, v_head] */
  readonly o: Float32Array;
  /** o against the f64 naive formula on the same cache values. */
  readonly check: CheckResult;
  /** o against the naive formula on the rows before the cache's format rounded them (bf16, FP8 only). */
  readonly formatError?: CheckResult;
  /** [s_q, dim], the layer's output (seeded layer only). */
  readonly y?: Float32Array;
  /** y against wo times the reference's o (every head computed) or times this way's own o (a sample). */
  readonly yCheck?: CheckResult;
}

export interface LayerReport {
  readonly dims: CoreDims;
  readonly keys: number;
  readonly sQ: number;
  readonly kvFormat: KvFormat;
  readonly layout: string;
  readonly rope: RopeMode;
  readonly softmaxScale: number;
  /** 0: dense; else the keys each query token attends. */
  readonly topk: number;
  readonly front?: { readonly cache: CheckResult; readonly query: CheckResult; readonly tokens: readonly number[]; readonly queryTokens: readonly number[] };
  readonly reference: Omit<LayerReference, 'o'>;
  /** What y was checked against. */
  readonly yAgainst?: 'wo times the reference' | 'wo times the way\'s own o';
  readonly mha: WayResult & { readonly headsPerBlock: number };
  readonly mqa: WayResult & {
    readonly ladder: CheckResult;
    readonly kernel: string;
    /** Coupled RoPE: o against the absorbed formula in f64 on the same cache; it passes where the naive check fails. */
    readonly absorbedFormula?: CheckResult;
  };
  /** max |o_mha - o_mqa| over max |ref|, every head. */
  readonly agreement: number;
  readonly stages: readonly StageTime[];
}

interface Stage {
  readonly stage: string;
  readonly way: StageWay;
  readonly passes: CallPass[];
}

const PAGE = 64;

/** Rows [count, width] f32 through a cache format and back: what a kernel reading that format sees. */
export function throughFormat(rows: Float32Array, count: number, layout: KvLayout): Float32Array {
  const width = layout.dQk;
  const pages = Math.ceil(count / layout.pageBlockSize);
  const padded = new Float32Array(pages * layout.pageBlockSize * width);
  padded.set(rows.subarray(0, count * width));
  if (layout.kind === 'f32') return padded.subarray(0, count * width);
  return dequantizeKvCache(quantizeKvCache(padded, layout), layout).subarray(0, count * width);
}

function f32Table(d: number, core: Pick<CoreTensors, 'yarn' | 'keys'>): Float32Array {
  return Float32Array.from(ropeTable(d, core.yarn, core.keys));
}

async function submit(ctx: GpuContext, label: string, passes: readonly CallPass[]): Promise<void> {
  const { device } = ctx;
  await withErrorScopes(device, () => {
    const encoder = device.createCommandEncoder({ label });
    encodePasses(passes, encoder);
    device.queue.submit([encoder.finish()]);
  }, (message) => new GpuRunError(label, 'dispatch failed', message));
}

interface Front {
  readonly core: CoreTensors;
  readonly q: GPUBuffer;
  readonly stages: Stage[];
  readonly check: NonNullable<LayerReport['front']>;
}

async function runFront(b: BufferOwner, input: Extract<LayerInput, { kind: 'generated' }>, rope: RopeMode, onStep: (s: string) => void): Promise<Front> {
  const { weights: w, hidden, keys, sQ } = input;
  const c = w.config;
  const width = cacheWidth(c);
  const head = qkHead(c);
  onStep('upload weights and hidden states');
  const x = uploadBlocked(b, 'x', hidden, keys, c.dim);
  const xq = b.storage('x (query tokens)', 4 * sQ * c.dim, hidden.subarray((keys - sQ) * c.dim));
  const wkvA = uploadBlocked(b, 'wkv_a', w.wkv_a, width, c.dim);
  const wqA = uploadBlocked(b, 'wq_a', w.wq_a, c.qLoraRank, c.dim);
  const wqB = uploadBlocked(b, 'wq_b', w.wq_b, c.heads * head, c.qLoraRank);
  const kvNorm = b.storage('kv_norm', 4 * c.kvLoraRank, w.kv_norm);
  const qNorm = b.storage('q_norm', 4 * c.qLoraRank, w.q_norm);
  const rope64 = b.storage('RoPE table (rope part)', 4 * keys * c.qkRope, f32Table(c.qkRope, { yarn: c.yarn, keys }));
  const rows = b.storage('cache rows', 4 * keys * width);
  const cachePasses: KernelPass[] = [];
  for (const block of x.blocks) {
    cachePasses.push(...await linearPasses(b, `wkv_a (tokens ${block.firstRow}..)`, block.rows, { buffer: block.buffer, row: c.dim }, wkvA, { buffer: rows, offset: block.firstRow * width, row: width }));
  }
  cachePasses.push(await rowPass(b, { label: 'kv_norm', entry: 'rmsNorm', rows: keys, width: c.kvLoraRank, out: { buffer: rows, stride: width }, weight: kvNorm, eps: c.normEps }));
  cachePasses.push(await rowPass(b, { label: 'RoPE k_pe', entry: 'ropeInPlace', rows: keys, width: c.qkRope, out: { buffer: rows, offset: c.kvLoraRank, stride: width }, table: rope64, posFirst: 0, rowsPerPos: 1 }));
  const qa = b.storage('query latent', 4 * sQ * c.qLoraRank);
  const q = b.storage('q', 4 * sQ * c.heads * head);
  const queryPasses = [
    ...await linearPasses(b, 'wq_a', sQ, { buffer: xq, row: c.dim }, wqA, { buffer: qa, row: c.qLoraRank }),
    await rowPass(b, { label: 'q_norm', entry: 'rmsNorm', rows: sQ, width: c.qLoraRank, out: { buffer: qa, stride: c.qLoraRank }, weight: qNorm, eps: c.normEps }),
    ...await linearPasses(b, 'wq_b', sQ, { buffer: qa, row: c.qLoraRank }, wqB, { buffer: q, row: c.heads * head }),
    await rowPass(b, { label: 'RoPE q_pe', entry: 'ropeInPlace', rows: sQ * c.heads, width: c.qkRope, out: { buffer: q, offset: c.qkNope, stride: head }, table: rope64, posFirst: keys - sQ, rowsPerPos: c.heads }),
  ];
  onStep('front: cache rows and queries');
  await submit(b.ctx, 'layer front', [...cachePasses, ...queryPasses]);
  const latentRows = await b.read(rows, 4 * keys * width);
  const qHost = await b.read(q, 4 * sQ * c.heads * head);
  onStep('check the front');
  const tokens = spread(keys, 8);
  const queryTokens = spread(sQ, 4).map((i) => keys - sQ + i);
  const gpuRows = new Float32Array(tokens.length * width);
  tokens.forEach((t, k) => gpuRows.set(latentRows.subarray(t * width, (t + 1) * width), k * width));
  const gpuQ = new Float32Array(queryTokens.length * c.heads * head);
  queryTokens.forEach((t, k) => gpuQ.set(qHost.subarray((t - keys + sQ) * c.heads * head, (t - keys + sQ + 1) * c.heads * head), k * c.heads * head));
  const check = {
    cache: checkTensor(gpuRows, referenceCacheRows(w, hidden, tokens)),
    query: checkTensor(gpuQ, referenceQueries(w, hidden, queryTokens)),
    tokens, queryTokens,
  };
  const core: CoreTensors = {
    dims: c, sQ, keys, q: qHost, latentRows, wUK: wUK(c, w.wkv_b), wUV: wUV(c, w.wkv_b),
    softmaxScale: layerSoftmaxScale(c), rope, yarn: c.yarn,
  };
  return {
    core, q, check,
    stages: [{ stage: 'cache rows: wkv_a, kv_norm, RoPE', way: 'front', passes: cachePasses }, { stage: 'query: wq_a, q_norm, wq_b, RoPE', way: 'front', passes: queryPasses }],
  };
}

/**
 * Sparse keys: query token i (position L - s_q + i) attends `topk` of the
 * positions 0..L - s_q + i, drawn at random (all of them when there are fewer).
 */
export function chooseKeys(keys: number, sQ: number, topk: number, seed: number): number[][] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: sQ }, (_, i) => {
    const visible = keys - sQ + i + 1;
    return rng.permutation(visible).slice(0, Math.min(topk, visible)).sort((x, y) => x - y);
  });
}

/** FlashMLA's indices [1, s_q, topk] for the chosen keys (slot = position: the layer's pages are in order), -1 padded. */
function indicesOf(keySets: readonly (readonly number[])[], topk: number): Int32Array {
  const out = new Int32Array(keySets.length * topk).fill(-1);
  keySets.forEach((set, i) => out.set(set, i * topk));
  return out;
}

/** MHA mode's mask [s_q, L]: 1 where query token i attends key t. */
function keyMask(keySets: readonly (readonly number[])[], keys: number): Uint32Array {
  const mask = new Uint32Array(keySets.length * keys);
  keySets.forEach((set, i) => set.forEach((t) => { mask[i * keys + t] = 1; }));
  return mask;
}

/**
 * The ladder's call over the layer's cache: the absorbed queries, L keys,
 * causal (or sparse over `topk` chosen keys). Up to 128 query tokens are one
 * request (batch 1, the kernels' causal mask); a longer chunk is a batch of
 * one-token requests over the same pages (mla/token-batch.ts), with the same
 * memory for q and out.
 */
function ladderInputs(core: CoreTensors, cacheRows: Float32Array, topk: number): MlaInputs {
  const { heads, kvLoraRank: dc, qkRope: dr } = core.dims;
  const width = dc + dr;
  const numBlocks = Math.ceil(core.keys / PAGE);
  const dims = { dQk: width, dNope: dc, dRope: dr, dV: dc };
  const kvRows = new Float32Array(numBlocks * PAGE * width).fill(Number.NaN); // slots past L: NaN, as the generator leaves them
  kvRows.set(cacheRows.subarray(0, core.keys * width));
  const q = new Float32Array(core.sQ * heads * width);
  const indices = core.keySets ? indicesOf(core.keySets, topk) : undefined;
  if (needsTokenBatch(core.sQ)) {
    const batch = causalTokenBatch(Array.from({ length: core.sQ }, (_, i) => core.keys - core.sQ + i), PAGE, numBlocks);
    const shape = { ...tokenBatchShape(dims, heads, batch, PAGE, core.softmaxScale), topk };
    return { shape, q, kvRows, cache: batch.cache, indices };
  }
  const shape: MlaShape = {
    ...dims, hQ: heads, sQ: core.sQ, batch: 1, seqlens: [core.keys], pageBlockSize: PAGE,
    topk, causal: topk === 0, softmaxScale: core.softmaxScale, attentionSink: false,
  };
  const usedSlots = new Uint8Array(numBlocks * PAGE);
  usedSlots.fill(1, 0, core.keys);
  return {
    shape, q, kvRows, indices,
    cache: { numBlocks, maxBlocksPerSeq: numBlocks, blockTable: Int32Array.from({ length: numBlocks }, (_, k) => k), seqlens: Int32Array.of(core.keys), poisonBlock: -1, usedSlots },
  };
}

/** Heads per MHA block: K and V of a block, [L4, hb, 128] each, and its scores [hb, s_q, L4] fit one binding. */
function headsPerBlock(ctx: GpuContext, core: CoreTensors, keysPadded: number): number {
  const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const { heads, qkNope, vHead } = core.dims;
  const hb = Math.min(heads, Math.floor(limit / (4 * keysPadded * Math.max(qkNope, vHead))), Math.floor(limit / (4 * core.sQ * keysPadded)));
  if (hb < 1) throw new Error(`MHA mode: one head's keys or scores over ${core.keys} tokens do not fit one storage binding (${limit} bytes)`);
  return hb;
}

export async function runLayer(ctx: GpuContext, input: LayerInput, config: LayerRunConfig): Promise<LayerReport> {
  const b = bufferOwner(ctx);
  const onStep = config.onStep ?? (() => {});
  const rope = config.rope ?? 'decoupled';
  try {
    const front = input.kind === 'generated' ? await runFront(b, input, rope, onStep) : undefined;
    const started = front?.core ?? { ...(input as Extract<LayerInput, { kind: 'tensors' }>).core, rope };
    const topk = config.topk ?? 0;
    if (!Number.isInteger(topk) || topk < 0 || topk > SHAPE_LIMITS.maxTopk) throw new Error(`topk = ${topk} is not allowed: topk must be an integer from 0 to ${SHAPE_LIMITS.maxTopk}`);
    const core: CoreTensors = topk > 0 ? { ...started, keySets: chooseKeys(started.keys, started.sQ, topk, config.seed ?? 0) } : started;
    const { heads: H, qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc } = core.dims;
    const { keys: L, sQ } = core;
    const width = dc + dr;
    const head = dn + dr;
    const keysPadded = Math.ceil(L / 4) * 4;
    const layout = kvLayout(config.kvFormat, { dQk: width, dNope: dc, dRope: dr }, PAGE);

    onStep(`the cache: ${L} rows in ${layout.name}`);
    // What MHA mode reads: the rows through the cache's format, unrotated.
    const mhaRows = throughFormat(core.latentRows, L, layout);
    const coupled = rope === 'coupled';
    // Coupled: "rotate the whole key before caching", c -> R_t c, which the absorbed query cannot undo.
    const ladderRows = coupled ? rotateCachedLatent(core) : core.latentRows;
    const q = front?.q ?? b.storage('q', 4 * core.q.length, core.q);
    const cacheBuf = b.storage('cache rows (as MHA reads them)', 4 * L * width, mhaRows);
    const ukBuf = b.storage('W_UK', 4 * core.wUK.length, core.wUK);
    const uvBuf = b.storage('W_UV', 4 * core.wUV.length, core.wUV);
    const mask = core.keySets ? b.storage('key mask (sparse)', 4 * sQ * L, keyMask(core.keySets, L)) : b.storage('no key mask', 16);

    // MHA mode.
    const hb = headsPerBlock(ctx, core, keysPadded);
    const kBuf = b.storage('K (a block of heads)', 4 * keysPadded * hb * dn);
    const vBuf = b.storage('V (a block of heads)', 4 * keysPadded * hb * dv);
    const sBuf = b.storage('scores (a block of heads)', 4 * hb * sQ * keysPadded);
    const oMha = b.storage('o (MHA)', 4 * sQ * H * dv);
    const t128 = coupled ? b.storage('RoPE table (k_nope)', 4 * L * dn, f32Table(dn, core)) : undefined;
    let qNope = { buffer: q, row: H * head, batch: head, perHead: head };
    const mhaPrep: KernelPass[] = [];
    if (coupled) {
      const qRot = b.storage('q_nope rotated', 4 * sQ * H * dn);
      mhaPrep.push(await rowPass(b, { label: 'RoPE q_nope', entry: 'ropeFrom', rows: sQ * H, width: dn, from: { buffer: q, stride: head }, out: { buffer: qRot, stride: dn }, table: t128, posFirst: L - sQ, rowsPerPos: H }));
      qNope = { buffer: qRot, row: H * dn, batch: dn, perHead: dn };
    }
    const mhaOrdered: KernelPass[] = [...mhaPrep];
    const byStage: Record<'decompress' | 'scores' | 'softmax' | 'pv', KernelPass[]> = { decompress: [], scores: [], softmax: [], pv: [] };
    for (let h0 = 0; h0 < H; h0 += hb) {
      const n = Math.min(hb, H - h0);
      const tag = hb < H ? ` (heads ${h0}..${h0 + n - 1})` : '';
      const decompress = [
        await gemmPass(b, { label: `K = c W_UK^T${tag}`, m: L, n: dn, k: dc, batches: n, a: { buffer: cacheBuf, row: width }, b: { buffer: ukBuf, offset: h0 * dn * dc, row: dc, batch: dn * dc }, c: { buffer: kBuf, row: hb * dn, batch: dn } }),
        await gemmPass(b, { label: `V = c W_UV^T${tag}`, m: L, n: dv, k: dc, batches: n, a: { buffer: cacheBuf, row: width }, b: { buffer: uvBuf, offset: h0 * dv * dc, row: dc, batch: dv * dc }, c: { buffer: vBuf, row: hb * dv, batch: dv } }),
      ];
      if (t128) decompress.push(await rowPass(b, { label: `RoPE K${tag}`, entry: 'ropeInPlace', rows: L * hb, width: dn, out: { buffer: kBuf, stride: dn }, table: t128, posFirst: 0, rowsPerPos: hb }));
      const scores = [
        await gemmPass(b, { label: `S = q_nope K^T${tag}`, m: sQ, n: L, k: dn, batches: n, a: { buffer: qNope.buffer, offset: h0 * qNope.perHead, row: qNope.row, batch: qNope.batch }, b: { buffer: kBuf, row: hb * dn, batch: dn }, c: { buffer: sBuf, row: keysPadded, batch: sQ * keysPadded } }),
        await gemmPass(b, { label: `S += q_pe k_pe^T${tag}`, m: sQ, n: L, k: dr, batches: n, a: { buffer: q, offset: h0 * head + dn, row: H * head, batch: head }, b: { buffer: cacheBuf, offset: dc, row: width }, c: { buffer: sBuf, row: keysPadded, batch: sQ * keysPadded }, accumulate: true }),
      ];
      const softmax = await rowPass(b, { label: `P = softmax(scale S)${tag}`, entry: 'softmaxRows', rows: n * sQ, width: L, out: { buffer: sBuf, stride: keysPadded }, queries: sQ, causal: !core.keySets, mask, masked: !!core.keySets, scale: core.softmaxScale });
      const pv = await gemmPass(b, { label: `o = P V${tag}`, m: sQ, n: dv, k: keysPadded, batches: n, a: { buffer: sBuf, row: keysPadded, batch: sQ * keysPadded }, b: { buffer: vBuf, row: hb * dv, batch: dv }, bKN: true, c: { buffer: oMha, offset: h0 * dv, row: H * dv, batch: dv } });
      mhaOrdered.push(...decompress, ...scores, softmax, pv);
      byStage.decompress.push(...decompress);
      byStage.scores.push(...scores);
      byStage.softmax.push(softmax);
      byStage.pv.push(pv);
    }
    onStep(`MHA mode: ${H} heads in blocks of ${hb}`);
    await submit(ctx, 'MHA mode', mhaOrdered);
    const oMhaHost = await b.read(oMha, 4 * sQ * H * dv);

    // MQA mode.
    const qMqa = b.storage('q for the ladder [q_lat ; q_pe]', 4 * sQ * H * width);
    const absorb: KernelPass[] = [
      await gemmPass(b, { label: 'q_lat = W_UK^T q_nope', m: sQ, n: dc, k: dn, batches: H, a: { buffer: q, row: H * head, batch: head }, b: { buffer: ukBuf, row: dc, batch: dn * dc }, bKN: true, c: { buffer: qMqa, row: H * width, batch: width } }),
      await rowPass(b, { label: 'q_pe beside q_lat', entry: 'copyFrom', rows: sQ * H, width: dr, from: { buffer: q, offset: dn, stride: head }, out: { buffer: qMqa, offset: dc, stride: width } }),
    ];
    if (coupled) {
      const t512 = b.storage('RoPE table (latent)', 4 * L * dc, f32Table(dc, core));
      absorb.push(await rowPass(b, { label: 'RoPE q_lat', entry: 'ropeInPlace', rows: sQ * H, width: dc, out: { buffer: qMqa, stride: width }, table: t512, posFirst: L - sQ, rowsPerPos: H }));
    }
    const ladderCall = ladderInputs(core, ladderRows, topk);
    const prepared = await prepareAttention(ctx, ladderCall, { kernel: config.kernel, kvFormat: config.kvFormat }, { q: qMqa });
    try {
      const oMqa = b.storage('o (MQA)', 4 * sQ * H * dv);
      const upV = [await gemmPass(b, { label: 'o = W_UV out_lat', m: sQ, n: dv, k: dc, batches: H, a: { buffer: prepared.outBuffer, row: H * dc, batch: dc }, b: { buffer: uvBuf, row: dc, batch: dv * dc }, c: { buffer: oMqa, row: H * dv, batch: dv } })];
      onStep(`MQA mode: absorb, ${prepared.version.name}, W_UV`);
      await submit(ctx, 'MQA mode', [...absorb, ...prepared.passes, ...upV]);
      const ladderOut = await prepared.read();
      const oMqaHost = await b.read(oMqa, 4 * sQ * H * dv);
      const qMqaHost = await b.read(qMqa, 4 * sQ * H * width);

      // Out: wo, for each way (seeded layer only).
      let outStages: Stage[] = [];
      let yMha: Float32Array | undefined;
      let yMqa: Float32Array | undefined;
      if (input.kind === 'generated') {
        const c = input.weights.config;
        const wo = uploadBlocked(b, 'wo', input.weights.wo, c.dim, H * dv);
        const yMhaBuf = b.storage('y (MHA)', 4 * sQ * c.dim);
        const yMqaBuf = b.storage('y (MQA)', 4 * sQ * c.dim);
        const woMha = await linearPasses(b, 'y = wo o (MHA)', sQ, { buffer: oMha, row: H * dv }, wo, { buffer: yMhaBuf, row: c.dim });
        const woMqa = await linearPasses(b, 'y = wo o (MQA)', sQ, { buffer: oMqa, row: H * dv }, wo, { buffer: yMqaBuf, row: c.dim });
        onStep('wo');
        await submit(ctx, 'wo', [...woMha, ...woMqa]);
        yMha = await b.read(yMhaBuf, 4 * sQ * c.dim);
        yMqa = await b.read(yMqaBuf, 4 * sQ * c.dim);
        outStages = [{ stage: 'wo', way: 'out', passes: woMha }];
      }

      onStep('reference (f64)');
      const ref = layerReference({ ...core, latentRows: mhaRows }, config.referenceBudget);
      const ladderRef = referenceOnCache({ shape: ladderCall.shape, q: qMqaHost, cache: ladderCall.cache, indices: ladderCall.indices }, prepared.cacheBytes, prepared.layout, { budget: config.referenceBudget });
      const formatRef = layout.kind === 'f32' ? undefined : referenceNaive(core, ref.naiveHeads);
      const all = ref.heads.length === H;
      const absorbedFormula = coupled
        ? referenceAbsorbed({ ...core, latentRows: dequantizeSlots(prepared.cacheBytes, prepared.layout, Array.from({ length: L }, (_, t) => t)) }, ref.naiveHeads)
        : undefined;
      const yRef = (o: ArrayLike<number>) => referenceOutput((input as Extract<LayerInput, { kind: 'generated' }>).weights.config, (input as Extract<LayerInput, { kind: 'generated' }>).weights.wo, o, sQ);
      const way = (o: Float32Array, y: Float32Array | undefined): WayResult => ({
        o, check: checkHeads(o, ref, sQ, H, dv),
        formatError: formatRef ? checkHeads(o, formatRef, sQ, H, dv) : undefined,
        y, yCheck: y ? checkTensor(y, yRef(all ? ref.o : o)) : undefined,
      });
      const { o: _o, ...refInfo } = ref;
      void _o;

      const stages: Stage[] = [
        ...(front?.stages ?? []),
        { stage: 'decompress: K = c W_UK^T, V = c W_UV^T', way: 'mha', passes: [...mhaPrep, ...byStage.decompress] },
        { stage: 'scores: q K^T', way: 'mha', passes: byStage.scores },
        { stage: 'softmax', way: 'mha', passes: byStage.softmax },
        { stage: 'P V', way: 'mha', passes: byStage.pv },
        { stage: 'absorb: W_UK^T q_nope', way: 'mqa', passes: absorb },
        { stage: `attention: ${prepared.version.name}`, way: 'mqa', passes: [...prepared.passes] },
        { stage: 'W_UV out_lat', way: 'mqa', passes: upV },
        ...outStages,
      ];
      const times: StageTime[] = [];
      if (config.time) {
        for (const s of stages) {
          onStep(`time ${s.stage}`);
          const t = await timeWork(ctx, { label: s.stage, passLabels: s.passes.map((p) => p.label), encode: (enc, tw) => encodePasses(s.passes, enc, tw) }, { warmup: 1, samples: 3, iterations: 1, ...config.timing });
          times.push({ stage: s.stage, way: s.way, ms: t.medianMs, dispatches: s.passes.length });
        }
      }
      return {
        dims: core.dims, keys: L, sQ, kvFormat: config.kvFormat, layout: layout.name, rope, softmaxScale: core.softmaxScale, topk,
        front: front?.check, reference: refInfo,
        yAgainst: input.kind === 'generated' ? (all ? 'wo times the reference' : 'wo times the way\'s own o') : undefined,
        mha: { ...way(oMhaHost, yMha), headsPerBlock: hb },
        mqa: { ...way(oMqaHost, yMqa), ladder: compareToReference(ladderOut, ladderRef, ladderCall.shape), kernel: prepared.version.name, absorbedFormula: absorbedFormula && checkHeads(oMqaHost, absorbedFormula, sQ, H, dv) },
        agreement: maxAbsDiff(oMhaHost, oMqaHost) / maxAbs(ref.o),
        stages: times,
      };
    } finally {
      prepared.destroy();
    }
  } finally {
    b.destroy();
  }
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}
