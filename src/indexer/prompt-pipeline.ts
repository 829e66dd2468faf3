/**
 * DeepSeek's sparse attention over a prompt (docs/prefill.md, "The indexer
 * over a prompt"): the last s_q of L tokens are query tokens, each seeing the
 * tokens up to its own (causal). Chunk by chunk of query tokens, in one
 * submit: the lightning indexer scores every visible token for each query
 * token of the chunk (indexer-run.ts; the chunk's keys end at its last
 * token), top-k keeps each query token's best k of the tokens it sees
 * (topk.ts, causal per row), and the sparse prefill attends them
 * (prefill/prefill-run.ts's chunk: one request per query token), the indices
 * never leaving the GPU. A sample of query tokens is checked at every stage:
 * the indexer's scores against f64 at a spread of tokens, top-k's choice
 * against the CPU's order of the same scores, the attention against the f64
 * reference on the chosen indices.
 */
import type { GpuContext } from '../gpu/device';
import { bufferOwner } from '../gpu/buffer-owner';
import { withErrorScopes } from '../gpu/error-scopes';
import { type CallPass, encodePasses } from '../kernels/kernel-plan';
import type { HeadPreset } from '../mla/shape';
import { type CheckResult, compareToReference } from '../reference/check';
import { type AttentionOutput, GpuRunError, type RunConfig, prepareAttention, uploadCache } from '../run/runner';
import { bindingLimit } from '../run/run-size';
import { type PrefillCall, chunkInputs, validatePrefill } from '../prefill/prefill-call';
import { generatePrefillCase } from '../prefill/prefill-inputs';
import { checkSampledTokens, planChunks, prefillCache } from '../prefill/prefill-run';
import { type IndexerInputs, generateIndexerInputs } from './indexer-inputs';
import { indexerReferenceAt } from './indexer-reference';
import { prepareIndexer } from './indexer-run';
import { type TopkCheck, checkTopk, topkPass } from './topk';
import { spread } from '../mla/spread';

export interface PromptCase {
  /** The attention call: q of the last s_q tokens, the flat cache of all L; its indices are what top-k writes. */
  readonly call: PrefillCall;
  /** The indexer's inputs: L keys, s_q query tokens (the last s_q of the L). */
  readonly indexer: IndexerInputs;
  /** Tokens in all (L). */
  readonly keys: number;
}

export interface PromptCaseOptions {
  readonly dims: Pick<HeadPreset, 'dQk' | 'dNope' | 'dRope' | 'dV'>;
  readonly keys: number;
  readonly sQ: number;
  readonly hQ: number;
  readonly topk: number;
  readonly seed?: number;
  readonly softmaxScale?: number;
  /** The flat cache's page size as the kernels see it (prefill-inputs.ts flatPage; it must divide keys). */
  readonly flatPage?: number;
}

export function generatePromptCase(o: PromptCaseOptions): PromptCase {
  if (!Number.isInteger(o.sQ) || o.sQ < 1 || o.sQ > o.keys) throw new Error(`s_q = ${o.sQ} is not allowed: a prompt's query tokens are the last s_q of its ${o.keys} tokens (1 to ${o.keys})`);
  const seed = o.seed ?? 0;
  const call = generatePrefillCase({ dims: o.dims, sQ: o.sQ, sKv: o.keys, hQ: o.hQ, topk: o.topk, seed, softmaxScale: o.softmaxScale, flatPage: o.flatPage });
  return { call: { ...call, indices: new Int32Array(o.sQ * o.topk).fill(-1) }, indexer: generateIndexerInputs(o.keys, o.sQ, { seed: seed + 1, prompt: true }), keys: o.keys };
}

export interface PromptOptions {
  /** Query tokens checked at every stage, spread over the prompt (default 8). */
  readonly checkTokens?: number;
  /** Tokens of a checked row whose indexer score is checked (default 512, spread). */
  readonly indexerCheckKeys?: number;
  readonly chunkTokens?: number;
  /** Time the pipeline and each stage (default true). */
  readonly time?: boolean;
  /** Read every chunk's indexer scores back into the report's `scores` (s_q x L floats on the host). */
  readonly keepScores?: boolean;
  readonly onProgress?: (step: string) => void;
}

export interface PromptStageMs {
  readonly indexer: number;
  readonly topk: number;
  readonly attention: number;
  /** The three in one submit. */
  readonly pipeline: number;
}

export interface PromptReport {
  readonly keys: number;
  readonly sQ: number;
  readonly hQ: number;
  readonly topk: number;
  readonly kernel: string;
  readonly layout: string;
  readonly chunks: number;
  readonly chunkTokens: number;
  readonly chunkLimit: string;
  readonly checkedTokens: readonly number[];
  /** The indexer's scores on the checked tokens' rows, at a spread of the tokens each sees. */
  readonly indexer: CheckResult;
  /** Top-k's choice on the checked rows. */
  readonly topkCheck: TopkCheck;
  /** The attention on the checked tokens, against the reference on the chosen indices. */
  readonly attention: CheckResult;
  /** [s_q, topk]: what top-k chose (flat cache slots = token positions; -1 past a short row). */
  readonly indices: Int32Array;
  readonly output: AttentionOutput;
  /** With keepScores: the indexer's scores [s_q, L]; token t's row is -inf past the tokens it sees (L - s_q + t + 1). */
  readonly scores?: Float32Array;
  /** The chunks' times summed, ms (wall clock of each submit). */
  readonly ms?: PromptStageMs;
}

/** The indexer's inputs of query tokens first .. first + n - 1, seeing keys 0 .. keysEnd - 1 (its last n are theirs). */
function indexerChunk(inp: IndexerInputs, first: number, n: number, keysEnd: number): IndexerInputs {
  const heads = inp.weights.length / inp.sQ;
  const qRow = inp.qCodes.length / inp.sQ;
  return {
    ...inp, keys: keysEnd, sQ: n,
    qCodes: inp.qCodes.subarray(first * qRow, (first + n) * qRow),
    qScales: inp.qScales.subarray(first * heads, (first + n) * heads),
    weights: inp.weights.subarray(first * heads, (first + n) * heads),
  };
}

/** Submit `passes` once and wait: wall-clock ms. */
async function runOnce(ctx: GpuContext, label: string, passes: readonly CallPass[]): Promise<number> {
  const t0 = performance.now();
  await withErrorScopes(ctx.device, async () => {
    const encoder = ctx.device.createCommandEncoder({ label });
    encodePasses(passes, encoder);
    ctx.device.queue.submit([encoder.finish()]);
    await ctx.device.queue.onSubmittedWorkDone();
  }, (message) => new GpuRunError(label, 'dispatch failed', message));
  return performance.now() - t0;
}

export async function runPromptPipeline(ctx: GpuContext, c: PromptCase, config: RunConfig, options: PromptOptions = {}): Promise<PromptReport> {
  const { call, indexer, keys: L } = c;
  validatePrefill(call);
  if (!call.flat || call.numBlocks * call.pageSize !== L) throw new Error('the prompt pipeline reads a flat cache of the prompt\'s tokens');
  if (indexer.keys !== L || indexer.sQ !== call.sQ) throw new Error(`the indexer's inputs (${indexer.keys} tokens, s_q ${indexer.sQ}) do not match the prompt (${L} tokens, s_q ${call.sQ})`);
  const say = options.onProgress ?? (() => {});
  const { sQ, hQ, topk } = call;
  const { dV } = call.dims;
  // A chunk's scores, [n, keys it sees], must fit one binding.
  const scoreRows = Math.max(1, Math.floor(bindingLimit(ctx.limits) / (4 * L)));
  const { rows, planned, limit } = planChunks(call, config, ctx, Math.min(scoreRows, options.chunkTokens ?? Infinity),
    options.chunkTokens !== undefined && options.chunkTokens < scoreRows ? 'the chunk size asked for' : `one binding of the indexer's scores (${scoreRows} rows of ${L})`);
  const { layout, cacheBytes } = prefillCache(call, config);
  const checked = spread(sQ, options.checkTokens ?? 8);
  const checkKeys = options.indexerCheckKeys ?? 512;

  const output: AttentionOutput = { out: new Float32Array(sQ * hQ * dV), lse: new Float32Array(sQ * hQ), maxLogits: new Float32Array(sQ * hQ) };
  const chosen = new Int32Array(sQ * topk);
  const allScores = options.keepScores ? new Float32Array(sQ * L).fill(-Infinity) : undefined;
  const indexerGpu: number[] = [];
  const indexerRef: number[] = [];
  const topkRows: { scores: Float32Array; row: Int32Array }[] = [];
  const ms = { indexer: 0, topk: 0, attention: 0, pipeline: 0 };
  const alloc = bufferOwner(ctx);
  const table = alloc.storage('block table (flat cache)', 4 * call.numBlocks, Int32Array.from({ length: call.numBlocks }, (_, p) => p));
  const chunks = Math.ceil(sQ / rows);
  let kernel = planned.version.name;
  try {
    const kv = await uploadCache(ctx, alloc, planned, cacheBytes);
    for (let j = 0; j < chunks; j++) {
      const first = j * rows;
      const n = Math.min(rows, sQ - first);
      const keysEnd = L - sQ + first + n; // the chunk's last query token sees every token up to its own
      say(`chunk ${j + 1}/${chunks}: query tokens ${L - sQ + first}..${keysEnd - 1} over their first ${keysEnd} tokens`);
      const owner = bufferOwner(ctx);
      try {
        const idx = await prepareIndexer(ctx, indexerChunk(indexer, first, n, keysEnd), { owner });
        const top = await topkPass(owner, idx.scores, { keys: keysEnd, sQ: n, k: topk, page: call.pageSize, blockTable: table });
        const attention = await prepareAttention(ctx, chunkInputs(call, first, n, cacheBytes, layout), config, { kv, indices: top.indices });
        try {
          kernel = attention.version.name;
          const all = [...idx.passes, top.pass, ...attention.passes];
          ms.pipeline += await runOnce(ctx, 'prompt pipeline', all);
          const got = await attention.read();
          output.out.set(got.out, first * hQ * dV);
          output.lse.set(got.lse, first * hQ);
          output.maxLogits.set(got.maxLogits, first * hQ);
          chosen.set(new Int32Array((await owner.read(top.indices, 4 * n * topk)).buffer), first * topk);
          const mine = checked.filter((t) => t >= first && t < first + n);
          const scores = mine.length > 0 || allScores ? await idx.readScores() : undefined;
          if (allScores && scores) {
            for (let i = 0; i < n; i++) allScores.set(scores.subarray(i * keysEnd, i * keysEnd + L - sQ + first + i + 1), (first + i) * L);
          }
          if (scores) {
            for (const t of mine) {
              const i = t - first;
              const visible = L - sQ + t + 1;
              const row = scores.subarray(i * keysEnd, i * keysEnd + visible);
              topkRows.push({ scores: row.slice(), row: chosen.slice(t * topk, (t + 1) * topk) });
              const at = spread(visible, checkKeys);
              const ref = indexerReferenceAt(indexerChunk(indexer, t, 1, visible), at);
              at.forEach((tok, k) => { indexerGpu.push(row[tok]); indexerRef.push(ref[k]); });
            }
          }
          if (options.time !== false) {
            ms.indexer += await runOnce(ctx, 'indexer', idx.passes);
            ms.topk += await runOnce(ctx, 'top-k', [top.pass]);
            ms.attention += await runOnce(ctx, 'sparse prefill', attention.passes);
          }
        } finally {
          attention.destroy();
        }
      } finally {
        owner.destroy();
      }
    }
  } finally {
    alloc.destroy();
  }

  say(`checking ${checked.length} query tokens: the indexer, top-k and the attention`);
  const indexerCheck = compareToReference({ out: indexerGpu, lse: [] }, { out: Float64Array.from(indexerRef), lse: new Float64Array(0) });
  // Each checked row alone: it sees its `visible` tokens, all of which are its keys (sQ 1).
  const rowChecks = topkRows.map(({ scores, row }) => checkTopk(scores, scores.length, 1, topk, row, (t) => t));
  const bad = rowChecks.findIndex((r) => !r.pass);
  const topkCheck: TopkCheck = {
    pass: bad < 0, wrongRows: rowChecks.filter((r) => !r.pass).length, wrongRowList: checked.filter((_, k) => !rowChecks[k].pass),
    tiedRows: rowChecks.reduce((a, r) => a + r.tiedRows, 0),
    firstWrongRow: bad < 0 ? undefined : { row: checked[bad], problem: rowChecks[bad].firstWrongRow!.problem },
    firstProblem: bad < 0 ? undefined : `query token ${checked[bad]}: ${rowChecks[bad].firstWrongRow!.problem}`,
  };
  const attention = await checkSampledTokens({ ...call, indices: chosen }, output, checked, cacheBytes, layout);
  return {
    keys: L, sQ, hQ, topk, kernel, layout: layout.name, chunks, chunkTokens: rows, chunkLimit: limit, checkedTokens: checked,
    indexer: indexerCheck, topkCheck, attention, indices: chosen, output, scores: allScores, ms: options.time !== false ? ms : undefined,
  };
}
