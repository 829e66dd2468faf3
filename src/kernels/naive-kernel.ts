/**
 * Host side of shaders/naive.wgsl: three dispatches (scores, softmax, P.V)
 * through a [rows, maxKeys] score matrix in device memory.
 */
import { getPipeline } from '../gpu/pipelines';
import { type AttentionBuffers, type KernelPass, bindGroup, keySourceBindings } from './kernel-plan';
import { type AttentionSpec, maxKeysPerRow, sharedConstants, sharedFiles } from './attention-spec';

const WG = 64;

export interface NaivePlan {
  readonly kernel: 'naive';
  readonly maxKeys: number;
  readonly scoreBytes: number;
}

export function naivePlan(spec: AttentionSpec): NaivePlan {
  const maxKeys = maxKeysPerRow(spec.shape);
  const { batch, sQ, hQ } = spec.shape;
  return { kernel: 'naive', maxKeys, scoreBytes: 4 * batch * sQ * hQ * Math.max(1, maxKeys) };
}

export async function naivePasses(
  device: GPUDevice, spec: AttentionSpec, plan: NaivePlan, buffers: AttentionBuffers, scores: GPUBuffer,
): Promise<KernelPass[]> {
  const { shape } = spec;
  const constants = { ...sharedConstants(spec), D_V: shape.dV };
  const files = [...sharedFiles(spec), 'naive.wgsl' as const];
  const pipeline = (entryPoint: string) => getPipeline(device, { kernel: 'naive', files, entryPoint, constants, edits: spec.edits });
  const [scoresP, softmaxP, pvP] = await Promise.all([pipeline('computeScores'), pipeline('softmax'), pipeline('weightedValues')]);
  const keys = keySourceBindings(spec.sparse, buffers);
  const rows = shape.batch * shape.sQ;
  return [
    {
      label: 'naive:scores', pipeline: scoresP, workgroups: [Math.ceil(plan.maxKeys / WG) || 1, shape.hQ, rows],
      bindGroup: bindGroup(device, scoresP, 'naive:scores', [[0, buffers.kv], [1, buffers.q], [7, scores], ...keys]),
    },
    {
      label: 'naive:softmax', pipeline: softmaxP, workgroups: [shape.hQ, rows, 1],
      bindGroup: bindGroup(device, softmaxP, 'naive:softmax', [[3, buffers.lse], [4, buffers.sink], [7, scores], [8, buffers.params]]),
    },
    {
      label: 'naive:pv', pipeline: pvP, workgroups: [Math.ceil(shape.dV / 4 / WG), shape.hQ, rows],
      bindGroup: bindGroup(device, pvP, 'naive:pv', [[0, buffers.kv], [2, buffers.out], [7, scores], ...keys]),
    },
  ];
}
