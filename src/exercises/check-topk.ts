/**
 * The top-k exercise's run: a case's scores through the learner's
 * topk.wgsl (src/indexer/topk.ts's pass, the file edited), the indices read
 * back and checked against the CPU's choice (checkTopk: every token above
 * the k-th largest score chosen, none below it, none twice, -1 past the
 * visible tokens), as a comparison the diagnosis reads like any other.
 */
import type { GpuContext } from '../gpu/device';
import { bufferOwner, type BufferOwner } from '../gpu/buffer-owner';
import { releaseStandIns } from '../gpu/bindings';
import { encodePasses, type KernelPass } from '../kernels/kernel-plan';
import { checkTopk, topkPass } from '../indexer/topk';
import { type TimingOptions, timeWork } from '../timing/timer';
import { type TopkCase, topkBlockTable, topkScores } from './exercise-cases';
import type { CaseOutcome, TensorComparison } from './diagnose';

async function preparedTopk(owner: BufferOwner, c: TopkCase, source?: string): Promise<{ pass: KernelPass; indices: GPUBuffer; table: Int32Array; scores: Float32Array }> {
  const scores = topkScores(c);
  const table = topkBlockTable(c);
  const { pass, indices } = await topkPass(owner, owner.storage('scores', 4 * scores.length, scores), {
    keys: c.keys, sQ: c.sQ, k: c.k, page: c.page, blockTable: owner.storage('block table', 4 * table.length, table),
    edits: source === undefined ? undefined : { 'topk.wgsl': source },
  });
  return { pass, indices, table, scores };
}

export async function runTopkCase(ctx: GpuContext, c: TopkCase, source: string): Promise<CaseOutcome> {
  const owner = bufferOwner(ctx);
  let group: GPUBindGroup | undefined;
  try {
    const { pass, indices, table, scores } = await preparedTopk(owner, c, source);
    group = pass.bindGroup;
    const encoder = ctx.device.createCommandEncoder({ label: `exercise: top-${c.k}` });
    encodePasses([pass], encoder);
    ctx.device.queue.submit([encoder.finish()]);
    const got = new Int32Array((await owner.read(indices, 4 * c.sQ * c.k)).buffer);
    const check = checkTopk(scores, c.keys, c.sQ, c.k, got, (t) => table[Math.floor(t / c.page)] * c.page + (t % c.page));
    const first = check.firstWrongRow;
    const tensor: TensorComparison = {
      tensor: 'indices', pass: check.pass, wrong: check.wrongRows, total: c.sQ, nonFiniteWhereFinite: 0, wrongRequests: [], requests: 1,
      firstWrong: first && { tensor: 'indices', index: first.row, at: [first.row], names: ['i'], expected: NaN, got: NaN, note: first.problem },
    };
    return { name: c.name, tags: c.tags, tensors: [tensor] };
  } finally {
    owner.destroy();
    if (group) releaseStandIns(group);
  }
}

/** Median time of the learner's top-k pass and the shipped one on `c`, in ms. */
export async function timeTopk(ctx: GpuContext, c: TopkCase, source: string, timing: TimingOptions): Promise<{ yoursMs: number; shippedMs: number }> {
  const owner = bufferOwner(ctx);
  const groups: GPUBindGroup[] = [];
  try {
    const time = async (file?: string) => {
      const { pass } = await preparedTopk(owner, c, file);
      groups.push(pass.bindGroup);
      const r = await timeWork(ctx, { label: `top-${c.k}`, passLabels: [pass.label], encode: (encoder, stamps) => encodePasses([pass], encoder, stamps) }, timing);
      return r.medianMs;
    };
    return { yoursMs: await time(source), shippedMs: await time() };
  } finally {
    owner.destroy();
    groups.forEach(releaseStandIns);
  }
}
