/**
 * Sparse attention end to end, in one submit: the lightning indexer scores
 * every cached token (indexer-run.ts), top-k keeps the best k of each query
 * token as FlashMLA indices (topk.ts), and the ladder's sparse decode attends
 * only those (run/runner.ts, the indices never leaving the GPU). Each stage
 * is checked: the indexer against its f64 reference (a spread of tokens on a
 * long cache), top-k against the CPU's top-k of the same scores, the decode
 * against the reference on the chosen indices. Beside it, optionally, the
 * dense decode of the same cache: its own check, the sparse output's error
 * against it (none when k >= L), and the time of each. With MODEL1's extra
 * cache, top-k fills the first k columns of a combined index buffer whose
 * other columns already hold the extra indices, and the decode attends both
 * caches in one softmax (mla/extra-cache.ts).
 */
import { spread } from '../mla/spread';
import type { GpuContext } from '../gpu/device';
import { bufferOwner } from '../gpu/buffer-owner';
import { withErrorScopes } from '../gpu/error-scopes';
import { type CallPass, encodePasses } from '../kernels/kernel-plan';
import { type MlaInputs, generateInputs } from '../mla/inputs';
import { kvLayout } from '../mla/kv-layout';
import { type ExtraSource, combineSources } from '../mla/extra-cache';
import { dequantizeKvCache, quantizeSlots } from '../mla/kv-quant';
import { referenceTwoSources } from '../reference/reference-two-sources';
import { slotOf } from '../mla/paged-cache';
import { type IndexCounts, countIndices } from '../mla/index-counts';
import { SeededRandom } from '../random/seeded-random';
import { type MlaShape, softmaxScaleOf, validateShape } from '../mla/shape';
import { type CheckResult, compareToReference } from '../reference/check';
import { referenceOnCache } from '../reference/reference-chunked';
import { type TimingOptions, timeWork } from '../timing/timer';
import type { ReferenceRunner } from '../run/run-attention';
import { GpuRunError, type RunConfig, prepareAttention, submitChecked } from '../run/runner';
import { type IndexerInputs, generateIndexerInputs } from './indexer-inputs';
import { indexerReferenceAt } from './indexer-reference';
import { prepareIndexer } from './indexer-run';
import { type TopkCheck, checkTopk, topkPass } from './topk';

export interface SparseCase {
  /** The dense call: batch 1, causal, L cached tokens. */
  readonly dense: MlaInputs;
  readonly indexer: IndexerInputs;
  /** Tokens planted relevant in both caches (visible to every query token). */
  readonly planted: readonly number[];
  /** MODEL1's second KV source, attended in the same softmax as the chosen keys. */
  readonly extra?: ExtraSource;
}

export interface SparseCaseOptions {
  readonly seed?: number;
  /** Relevant tokens to plant. */
  readonly plant?: number;
  /** Generate the attention cache straight into this layout's format (a long cache). */
  readonly kvFormat?: string;
  readonly straightIntoFormat?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
  /** Your own indexer inputs (their L and s_q must be the shape's); default: generated. */
  readonly indexer?: IndexerInputs;
  /** An extra cache of `seqlen` tokens with `topk` random indices per query token, `topkLength` of them used per request. */
  readonly extra?: { readonly seqlen: number; readonly topk: number; readonly topkLength?: number };
}

/**
 * The logit (score times the softmax scale) a planted key gives the mean
 * query head: a drawn key's logit is about N(0, 1), so e^12 (160,000 times a
 * typical key's weight) makes a few planted tokens matter without swamping a
 * long cache. Far larger, one token's weight would exceed the rest by more
 * than f32 can add to it (e^17 against 2^-24): a kernel's running sum would
 * drop the other keys' weights, and the dense decode would fail its check
 * for a reason that is f32's, not the kernel's.
 */
const PLANT_LOGIT = 12;

/**
 * The attention cache and the indexer's inputs for one request. A planted
 * token's latent key points along the mean of every query head, long enough
 * that the mean head's logit on it is PLANT_LOGIT, so every head attends it;
 * its indexer key is set along the indexer's queries (indexer-inputs.ts).
 */
export function generateSparseCase(shape: MlaShape, options: SparseCaseOptions = {}): SparseCase {
  validateShape(shape);
  if (shape.batch !== 1 || shape.topk !== 0) throw new Error('the sparse pipeline takes one dense request (batch 1, no topk): the indexer chooses the keys');
  const L = shape.seqlens[0];
  const seed = options.seed ?? 0;
  const layout = options.straightIntoFormat ? kvLayout(options.kvFormat ?? 'fp8', shape, shape.pageBlockSize) : undefined;
  const dense = generateInputs(shape, { seed, cacheLayout: layout, onProgress: options.onProgress });
  const count = options.plant ?? 0;
  const visibleToAll = L - shape.sQ + 1;
  if (!Number.isInteger(count) || count < 0 || count > visibleToAll) throw new Error(`plant = ${count} is not allowed: plant must be an integer from 0 to ${visibleToAll} (the tokens every query token sees)`);
  const planted = new SeededRandom(seed + 2).permutation(visibleToAll).slice(0, count).sort((a, b) => a - b);
  if (planted.length > 0) {
    const d = shape.dQk;
    const row = new Float32Array(d);
    const heads = shape.sQ * shape.hQ; // every head of every query token (batch 1)
    for (let r = 0; r < heads; r++) for (let c = 0; c < d; c++) row[c] += dense.q[r * d + c] / heads;
    // The mean head m scores (m . k) * scale = |m| |k| scale on a key k along m.
    const norm = Math.hypot(...row);
    for (let c = 0; c < d; c++) row[c] *= PLANT_LOGIT / (softmaxScaleOf(shape) * norm * norm);
    for (const t of planted) {
      const slot = slotOf(dense.cache, shape.pageBlockSize, 0, t);
      if (dense.cacheBytes && dense.cacheLayout) quantizeSlots(row, slot, dense.cacheBytes, dense.cacheLayout);
      else dense.kvRows.set(row, slot * d);
    }
  }
  if (options.indexer && (options.indexer.keys !== L || options.indexer.sQ !== shape.sQ)) {
    throw new Error(`the indexer's inputs have L ${options.indexer.keys} and s_q ${options.indexer.sQ}; the cache has ${L} and ${shape.sQ}`);
  }
  if (options.indexer && planted.length > 0) throw new Error('planted tokens are for generated indexer inputs: your own keys decide what is relevant');
  let extra: ExtraSource | undefined;
  if (options.extra) {
    if (layout) throw new Error('the extra cache is combined as f32 rows: a cache generated straight into its format (a long one) cannot take it');
    const e = options.extra;
    const inputs = generateInputs({ ...shape, seqlens: [e.seqlen], topk: e.topk, causal: false }, { seed: seed + 3, invalidIndexFraction: 0 });
    extra = { kvRows: inputs.kvRows, numBlocks: inputs.cache.numBlocks, indices: inputs.indices!, topk: e.topk, topkLength: e.topkLength === undefined ? undefined : Int32Array.of(e.topkLength) };
  }
  return { dense, indexer: options.indexer ?? generateIndexerInputs(L, shape.sQ, { seed: seed + 1, planted }), planted, extra };
}

export interface SparseRunConfig extends RunConfig {
  readonly topk: number;
  /** Run the dense decode of the same cache beside it (default true). */
  readonly compareDense?: boolean;
  readonly time?: boolean;
  readonly timing?: TimingOptions;
  /** Multiply-adds the f64 references may spend (sampled heads past it). */
  readonly referenceBudget?: number;
  /** Tokens the indexer's check compares (spread over the cache, planted ones included). */
  readonly indexerCheckTokens?: number;
  readonly onStep?: (step: string) => void;
  /** Called once with what the pipeline computed (for files): its arrays are not part of the report. */
  readonly onTensors?: (t: SparseTensors) => void;
  /** The dense decode's f64 reference (default: the chunked reference, here; the page runs it in a worker). */
  readonly denseReference?: ReferenceRunner;
  /** Stops the run between its steps with an AbortError. */
  readonly signal?: AbortSignal;
}

/** What the pipeline computed, read back. */
export interface SparseTensors {
  /** [s_q, L] the indexer's scores. */
  readonly scores: Float32Array;
  /** [s_q, topk] the chosen keys as FlashMLA's indices (block * page + offset; -1 past a short row). */
  readonly indices: Int32Array;
  /** [1, s_q, h_q, d_v], [1, h_q, s_q], [1, s_q, h_q]: the sparse decode's results. */
  readonly out: Float32Array;
  readonly lse: Float32Array;
  readonly maxLogits: Float32Array;
}

export interface StageMs {
  readonly indexer: number;
  readonly topk: number;
  readonly sparse: number;
  /** The three together, one submit. */
  readonly pipeline: number;
  readonly dense?: number;
}

export interface SparseReport {
  readonly keys: number;
  readonly sQ: number;
  readonly hQ: number;
  readonly topk: number;
  /** MODEL1's extra cache: its indices per query token and tokens. */
  readonly extra?: { readonly topk: number; readonly tokens: number };
  readonly layout: string;
  readonly kernel: string;
  readonly indexer: { readonly check: CheckResult; readonly tokens: number };
  readonly topkCheck: TopkCheck;
  /** What top-k wrote: indices attended, -1 padding (k > L), out of range (none, unless top-k is wrong). */
  readonly indices: IndexCounts;
  /** Planted tokens chosen, over all query tokens and planted tokens. */
  readonly recall?: { readonly planted: number; readonly found: number; readonly of: number };
  /** The sparse decode against the reference on the chosen indices. */
  readonly sparse: CheckResult;
  readonly dense?: {
    readonly check: CheckResult;
    /** The sparse output against the dense decode's reference: what sparsity changes (nothing when k >= L); none with an extra cache, which the dense decode does not read. */
    readonly sparseError?: CheckResult;
  };
  readonly ms?: StageMs;
}

const DEFAULT_CHECK_TOKENS = 4096;
const DEFAULT_BUDGET = 2 ** 32;


export async function runSparsePipeline(ctx: GpuContext, c: SparseCase, config: SparseRunConfig): Promise<SparseReport> {
  const { dense, indexer } = c;
  const shape = dense.shape;
  const L = shape.seqlens[0];
  const { sQ } = shape;
  const k = config.topk;
  if (indexer.keys !== L || indexer.sQ !== sQ) throw new Error(`the indexer's inputs (${indexer.keys} tokens, s_q ${indexer.sQ}) do not match the cache (${L} tokens, s_q ${sQ})`);
  const step = (what: string) => {
    config.signal?.throwIfAborted();
    config.onStep?.(what);
  };
  const budget = config.referenceBudget ?? DEFAULT_BUDGET;
  const owner = bufferOwner(ctx);
  const sparseShape: MlaShape = validateShape({ ...shape, topk: k, causal: false });
  // With MODEL1's extra cache: one call over both caches (mla/extra-cache.ts), the extra indices
  // already in place after the first k columns of each row, which top-k fills.
  const combined = c.extra ? combineSources({ ...dense, shape: sparseShape, indices: new Int32Array(sQ * k).fill(-1) }, c.extra).inputs : undefined;
  const stride = combined?.shape.topk ?? k;
  const tableRow = dense.cache.blockTable.subarray(0, dense.cache.maxBlocksPerSeq);
  const slot = (t: number) => slotOf(dense.cache, shape.pageBlockSize, 0, t);
  try {
    step('indexer and top-k: buffers and pipelines');
    const idx = await prepareIndexer(ctx, indexer, { owner });
    const { pass: topk, indices } = await topkPass(owner, idx.scores, {
      keys: L, sQ, k, page: shape.pageBlockSize, blockTable: owner.storage('block table (top-k)', tableRow.byteLength, tableRow),
      into: combined ? { buffer: owner.storage('indices (top-k, then the extra cache\'s)', combined.indices!.byteLength, combined.indices), stride } : undefined,
    });
    const sparseInputs: MlaInputs = combined ? { ...combined, indices: undefined } : { ...dense, shape: sparseShape, indices: undefined };
    const sparse = await prepareAttention(ctx, sparseInputs, config, { indices });
    try {
      const all: CallPass[] = [...idx.passes, topk, ...sparse.passes];
      step('indexer -> top-k -> sparse decode');
      await withErrorScopes(ctx.device, () => {
        const encoder = ctx.device.createCommandEncoder({ label: 'sparse pipeline' });
        encodePasses(all, encoder);
        ctx.device.queue.submit([encoder.finish()]);
      }, (message) => new GpuRunError('sparse pipeline', 'dispatch failed', message));
      const scores = await idx.readScores();
      const written = new Int32Array((await owner.read(indices, 4 * sQ * stride)).buffer);
      const chosen = new Int32Array(sQ * k);
      for (let i = 0; i < sQ; i++) chosen.set(written.subarray(i * stride, i * stride + k), i * k);
      const out = await sparse.read();
      config.onTensors?.({ scores, indices: chosen, ...out });

      step('check the indexer, top-k and the sparse decode');
      const tokens = spread(L, Math.min(L, config.indexerCheckTokens ?? DEFAULT_CHECK_TOKENS), c.planted);
      const refScores = indexerReferenceAt(indexer, tokens);
      const gpuAt = new Float32Array(sQ * tokens.length);
      for (let i = 0; i < sQ; i++) tokens.forEach((t, at) => { gpuAt[i * tokens.length + at] = scores[i * L + t]; });
      const indexerCheck = compareToReference({ out: gpuAt, lse: [] }, { out: refScores, lse: new Float64Array(0) });
      const topkCheck = checkTopk(scores, L, sQ, k, chosen, slot);
      let recall: SparseReport['recall'];
      if (c.planted.length > 0) {
        let found = 0;
        for (let i = 0; i < sQ; i++) {
          const row = new Set(chosen.subarray(i * k, (i + 1) * k));
          found += c.planted.filter((t) => row.has(slot(t))).length;
        }
        recall = { planted: c.planted.length, found, of: c.planted.length * sQ };
      }
      let sparseCheck: CheckResult;
      if (c.extra && combined) {
        // Each cache through its own indices: the main one through the chosen tokens, the extra one through its own.
        const rows = dequantizeKvCache(sparse.cacheBytes, sparse.layout);
        const mainRows = dense.cache.numBlocks * shape.pageBlockSize * shape.dQk;
        const ref = referenceTwoSources(sparseShape, dense.q, { rows: rows.subarray(0, mainRows), indices: chosen, topk: k },
          { rows: rows.subarray(mainRows), indices: c.extra.indices, topk: c.extra.topk, topkLength: c.extra.topkLength });
        sparseCheck = compareToReference(out, ref, combined.shape);
      } else {
        const sparseRef = referenceOnCache({ shape: sparseShape, q: dense.q, cache: dense.cache, indices: chosen }, sparse.cacheBytes, sparse.layout, { budget });
        sparseCheck = compareToReference(out, sparseRef, sparseShape);
      }

      let ms: StageMs | undefined;
      const time = async (label: string, passes: readonly CallPass[]) => (await timeWork(ctx, {
        label, passLabels: passes.map((p) => p.label), encode: (e, tw) => encodePasses(passes, e, tw),
      }, { warmup: 1, samples: 3, iterations: 1, ...config.timing })).medianMs;
      if (config.time) {
        step('time each stage');
        ms = { indexer: await time('indexer', idx.passes), topk: await time('top-k', [topk]), sparse: await time('sparse decode', sparse.passes), pipeline: await time('sparse pipeline', all) };
      }
      sparse.destroy(); // its cache copy goes before the dense call uploads another (destroy is idempotent)

      let denseResult: SparseReport['dense'];
      if (config.compareDense !== false) {
        step(`dense decode of the same ${L} tokens`);
        const prepared = await prepareAttention(ctx, dense, config);
        try {
          await submitChecked(ctx, prepared);
          const denseOut = await prepared.read();
          if (ms) ms = { ...ms, dense: await time('dense decode', prepared.passes) };
          step('check the dense decode');
          const denseRef = config.denseReference
            ? await config.denseReference(dense, prepared.cacheBytes, prepared.layout)
            : referenceOnCache(dense, prepared.cacheBytes, prepared.layout, { budget });
          denseResult = {
            check: compareToReference(denseOut, denseRef, shape),
            sparseError: c.extra ? undefined : compareToReference({ out: out.out, lse: out.lse }, denseRef, shape),
          };
        } finally {
          prepared.destroy();
        }
      }
      return {
        keys: L, sQ, hQ: shape.hQ, topk: k, extra: c.extra ? { topk: c.extra.topk, tokens: c.extra.numBlocks * shape.pageBlockSize } : undefined, layout: sparse.layout.name, kernel: sparse.version.name,
        indexer: { check: indexerCheck, tokens: tokens.length }, topkCheck, indices: countIndices(chosen, dense.cache.numBlocks * shape.pageBlockSize), recall, sparse: sparseCheck, dense: denseResult, ms,
      };
    } finally {
      sparse.destroy();
    }
  } finally {
    owner.destroy();
  }
}
