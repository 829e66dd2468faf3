/**
 * Top-k of the indexer's scores on the GPU (shaders/topk.wgsl) and its check
 * on the CPU. The GPU writes, per query token, the k tokens with the largest
 * scores as FlashMLA's indices (block_table[t / page] * page + t % page, -1
 * padded past the visible tokens). The check is set equality with the CPU's
 * top-k of the same scores, ties at the boundary allowed: every token above
 * the k-th largest score is chosen, every chosen token scores at least it,
 * none twice, none invisible.
 */
import { bindGroup } from '../gpu/bindings';
import type { BufferOwner } from '../gpu/buffer-owner';
import { getPipeline } from '../gpu/pipelines';
import { SHADER_FILES, type ShaderEdits } from '../gpu/shader-source';
import { packUniform, uniformFields } from '../gpu/wgsl-layout';
import type { KernelPass } from '../kernels/kernel-plan';

const CALL_FIELDS = uniformFields(SHADER_FILES['topk.wgsl'], 'TopkCall', 'topk.wgsl');

export interface TopkCall {
  readonly keys: number;
  readonly sQ: number;
  readonly k: number;
  /** The attention cache's paging: tokens per page and the request's block table. */
  readonly page: number;
  readonly blockTable: GPUBuffer;
  /** Write into this buffer's first k columns of rows `stride` apart (default: a buffer of its own, stride k). */
  readonly into?: { readonly buffer: GPUBuffer; readonly stride: number };
  /** Replacement WGSL for topk.wgsl (an exercise's attempt). */
  readonly edits?: ShaderEdits;
}

export async function topkPass(owner: BufferOwner, scores: GPUBuffer, call: TopkCall): Promise<{ pass: KernelPass; indices: GPUBuffer }> {
  const { device } = owner.ctx;
  if (!Number.isInteger(call.k) || call.k < 1) throw new Error(`topk = ${call.k} is not allowed: topk must be an integer of at least 1`);
  const pipeline = await getPipeline(device, { kernel: 'topk', files: ['topk.wgsl'], entryPoint: 'main', constants: { PAGE: call.page }, edits: call.edits });
  const stride = call.into?.stride ?? call.k;
  if (stride < call.k) throw new Error(`top-k: a row stride of ${stride} is shorter than k = ${call.k}`);
  const indices = call.into?.buffer ?? owner.storage('indices (top-k)', 4 * call.sQ * call.k);
  if (indices.size < 4 * call.sQ * stride) throw new Error(`top-k: the index buffer has ${indices.size} bytes, ${call.sQ} rows of ${stride} need ${4 * call.sQ * stride}`);
  const uniform = owner.uniform('top-k call', packUniform({ keys: call.keys, queries: call.sQ, k: call.k, stride }, CALL_FIELDS, 'topk.wgsl'));
  return {
    indices,
    pass: {
      label: `top-${call.k}`, pipeline,
      bindGroup: bindGroup(device, pipeline, 'top-k', { index_scores: scores, block_table: call.blockTable, indices, topk_call: uniform }),
      workgroups: [call.sQ, 1, 1],
    },
  };
}

export interface TopkCheck {
  readonly pass: boolean;
  /** Rows whose choice is wrong, with the first reason. */
  readonly wrongRows: number;
  readonly firstProblem?: string;
  /** The first wrong row and what is wrong with it, in words (firstProblem is the two together). */
  readonly firstWrongRow?: { readonly row: number; readonly problem: string };
  /** Every wrong row, in order. */
  readonly wrongRowList: readonly number[];
  /** Rows where the boundary score was shared by more tokens than places left (any of them may be chosen). */
  readonly tiedRows: number;
}

/** A score in a message: six significant digits (an f32 holds about seven). */
const short = (x: number) => String(Number(x.toPrecision(6)));

/** Check GPU indices [sQ, k] against the scores [sQ, keys] they were chosen from. */
export function checkTopk(scores: ArrayLike<number>, keys: number, sQ: number, k: number, indices: Int32Array, slotOf: (t: number) => number): TopkCheck {
  const tokenOf = new Map<number, number>();
  for (let t = 0; t < keys; t++) tokenOf.set(slotOf(t), t);
  const wrongRowList: number[] = [];
  let tiedRows = 0;
  let firstWrongRow: { row: number; problem: string } | undefined;
  for (let i = 0; i < sQ; i++) {
    const visible = keys - sQ + i + 1;
    const want = Math.min(k, visible);
    const row = Array.from({ length: visible }, (_, t) => scores[i * keys + t]).sort((a, b) => b - a);
    const threshold = row[want - 1];
    const above = row.filter((s) => s > threshold).length;
    if (row.filter((s) => s === threshold).length > want - above) tiedRows++;
    const problem = ((): string | undefined => {
      const chosen = new Set<number>();
      for (let j = 0; j < k; j++) {
        const slot = indices[i * k + j];
        if (j >= want) {
          if (slot !== -1) return `index ${j} is ${slot}, expected -1 (only ${want} tokens are visible)`;
          continue;
        }
        const t = tokenOf.get(slot);
        if (t === undefined || t >= visible) return `index ${j} is ${slot}, not a token this query sees`;
        if (chosen.has(t)) return `token ${t} is chosen twice`;
        chosen.add(t);
        if (scores[i * keys + t] < threshold) return `token ${t} scores ${short(scores[i * keys + t])}, below the k-th largest ${short(threshold)}`;
      }
      for (let t = 0; t < visible; t++) {
        if (scores[i * keys + t] > threshold && !chosen.has(t)) return `token ${t} scores ${short(scores[i * keys + t])}, above the k-th largest ${short(threshold)}, and is not chosen`;
      }
      return undefined;
    })();
    if (problem) {
      wrongRowList.push(i);
      firstWrongRow ??= { row: i, problem };
    }
  }
  return {
    pass: wrongRowList.length === 0, wrongRows: wrongRowList.length, wrongRowList, tiedRows, firstWrongRow,
    firstProblem: firstWrongRow && `query token ${firstWrongRow.row}: ${firstWrongRow.problem}`,
  };
}
