/**
 * Host side of shaders/v1_naive.wgsl (version 1): three dispatches (scores,
 * softmax, P.V) through a [rows, maxKeys] score matrix in device memory.
 */
import { getPipeline } from '../gpu/pipelines';
import { SHADER_FILES, composeShader } from '../gpu/shader-source';
import { wgslValue, workgroupBytesOf } from '../gpu/wgsl-layout';
import { type AttentionBuffers, type DeviceLimits, type KernelPass, type KernelPlan, PlanDoesNotFit, keySourceBindings } from './kernel-plan';
import { bindGroup } from '../gpu/bindings';
import { loopBudget } from './split-kv';
import { kvShardBindings } from './kv-shards';
import { type AttentionSpec, maxKeysPerRow, sharedConstants, sharedFiles } from './attention-spec';

/** This version's own WGSL file, composed after the shared ones. */
export const NAIVE_FILES = ['v1_naive.wgsl'] as const;

/** Threads per workgroup of all three dispatches, read from the shader. */
const WG = wgslValue(SHADER_FILES['v1_naive.wgsl'], 'WG');

export function naivePlan(spec: AttentionSpec, limits?: DeviceLimits): KernelPlan {
  const { batch, sQ, hQ } = spec.shape;
  const maxKeys = Math.max(1, maxKeysPerRow(spec.shape));
  // P.V: one thread walks every key of its row (softmax: three passes over the row, WG threads sharing it).
  const loops = maxKeys + 3 * Math.ceil(maxKeys / WG) + Math.log2(WG);
  if (loops > loopBudget(limits)) {
    throw new PlanDoesNotFit(`this device stops a shader invocation's loops after ${limits?.maxLoopIterations} iterations (shaders/loop_probe.wgsl); v1 walks all ${maxKeys} keys of a row in one thread: use a fused version (they split the keys)`);
  }
  return {
    kernel: 'naive', splits: 1, tileN: 0, headsPerWorkgroup: 1, workgroupSize: WG,
    workgroupBytes: workgroupBytesOf(composeShader(NAIVE_FILES, spec.edits).code, {}), constants: {},
    scratch: [{ label: 'score matrix', bytes: 4 * batch * sQ * hQ * maxKeys }],
  };
}

export async function naivePasses(
  device: GPUDevice, spec: AttentionSpec, _plan: KernelPlan, buffers: AttentionBuffers, [scores]: readonly GPUBuffer[],
): Promise<KernelPass[]> {
  const { shape } = spec;
  const constants = { ...sharedConstants(spec), D_V: shape.dV };
  const files = [...sharedFiles(spec), ...NAIVE_FILES];
  const pipeline = (entryPoint: string) => getPipeline(device, { kernel: 'v1-naive', files, entryPoint, constants, edits: spec.edits });
  const [scoresP, softmaxP, pvP] = await Promise.all([pipeline('computeScores'), pipeline('softmax'), pipeline('weightedValues')]);
  const keys = keySourceBindings(spec.sparse, buffers);
  const rows = shape.batch * shape.sQ;
  const maxKeys = Math.max(1, maxKeysPerRow(shape));
  return [
    {
      label: 'v1-naive:scores', pipeline: scoresP, workgroups: [Math.ceil(maxKeys / WG), shape.hQ, rows],
      bindGroup: bindGroup(device, scoresP, 'v1-naive:scores', { ...kvShardBindings(buffers.kv), q: buffers.q, scores, ...keys }),
    },
    {
      label: 'v1-naive:softmax', pipeline: softmaxP, workgroups: [shape.hQ, rows, 1],
      bindGroup: bindGroup(device, softmaxP, 'v1-naive:softmax', { lse: buffers.lse, max_logits: buffers.maxLogits, sink: buffers.sink, scores, params: buffers.params }),
    },
    {
      label: 'v1-naive:pv', pipeline: pvP, workgroups: [Math.ceil(shape.dV / 4 / WG), shape.hQ, rows],
      bindGroup: bindGroup(device, pvP, 'v1-naive:pv', { ...kvShardBindings(buffers.kv), out: buffers.out, scores, ...keys }),
    },
  ];
}
