/**
 * Host side of shaders/v5_subgroups.wgsl (version 5): version 4's blocks with
 * the score sum in subgroup shuffles. Runs only where the device has the
 * `subgroups` feature; elsewhere the plan says it does not fit and "flash"
 * takes version 4. What is tuned: the head block (as v4) and TEAM_LANES,
 * the lanes that share one score block (a power of two no larger than the
 * smallest subgroup the device may use).
 */
import { composeShader } from '../gpu/shader-source';
import { workgroupBytesOf } from '../gpu/wgsl-layout';
import { type AttentionBuffers, type DeviceLimits, type CallPass, type KernelPlan, type PlanOptions, PlanDoesNotFit } from './kernel-plan';
import { type AttentionSpec, sharedConstants } from './attention-spec';
import { chooseSplits, fusedFiles, fusedPasses, splitScratch } from './split-kv';
import { TILED_BLOCK, chosenBlocks, tiledHeads, tiledLoops } from './tiled-kernel';
import { type ScoreBlockName, blockConstants } from './register-blocks';

/** This version's own WGSL files (its own first), composed after the shared ones (subgroup_teams.wgsl, which holds the directives, goes first). */
export const SUBGROUPS_FILES = ['v5_subgroups.wgsl', 'subgroup_teams.wgsl', 'tiled_blocks.wgsl', 'head_quads.wgsl', 'key_tile.wgsl'] as const;

/** A team's lanes are one 32-bit word of a subgroup ballot. */
const MAX_TEAM_LANES = 32;

/** v5's score block: a team's whole tile of 8 keys for 8 heads (the team's softmax needs every score of its heads). */
const TEAM_SCORE_BLOCK: ScoreBlockName = '8x8';

const powerOfTwoAtMost = (n: number) => 2 ** Math.floor(Math.log2(n));

export function subgroupsPlan(spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions = {}): KernelPlan {
  const { shape } = spec;
  if (limits.subgroupMinSize < 1) throw new PlanDoesNotFit('kernel subgroups (v5) needs the subgroups feature, which this device does not have (flash runs v4 there)');
  const code = composeShader(fusedFiles(spec, SUBGROUPS_FILES), spec.edits).code;
  // The score block is fixed; the output block is a choice (by default the device's for keys from a decoded tile, as v5's are).
  if (options.scoreBlock !== undefined && options.scoreBlock !== TEAM_SCORE_BLOCK) {
    throw new Error(`scoreBlock ${JSON.stringify(options.scoreBlock)} is not allowed for kernel subgroups: its score block is ${TEAM_SCORE_BLOCK}, a team's whole tile (choose outBlock, or kernel tiled)`);
  }
  const { out } = chosenBlocks(options, limits, 'tile');
  const blocks = blockConstants(TEAM_SCORE_BLOCK, out);
  const { heads, threads } = tiledHeads(spec, limits, options, code, 'subgroups', blocks);
  const dq4 = shape.dQk / 4;
  // Lanes per team: at most the smallest subgroup, the workgroup and the head dim's quads.
  const lanesMost = powerOfTwoAtMost(Math.min(limits.subgroupMinSize, MAX_TEAM_LANES, threads, dq4));
  // By default, few enough lanes that every head block has a team of its own.
  const lanes = options.dotParts ?? Math.max(1, Math.min(lanesMost, powerOfTwoAtMost(threads / (heads / TILED_BLOCK))));
  if (!Number.isInteger(lanes) || lanes < 1 || lanes > lanesMost || lanes !== powerOfTwoAtMost(lanes)) {
    throw new Error(`dotParts = ${lanes} is not allowed: for kernel subgroups, dotParts (lanes per team) must be a power of two from 1 to ${lanesMost} on this device (subgroupMinSize ${limits.subgroupMinSize}, ${threads} threads per workgroup)`);
  }
  const constants = { HEADS_PER_WG: heads, TILE_N: TILED_BLOCK, WG_SIZE: threads, TEAM_LANES: lanes, ...blocks };
  const bytes = workgroupBytesOf(code, { ...sharedConstants(spec), D_V: shape.dV, ...constants });
  if (bytes > limits.maxComputeWorkgroupStorageSize) {
    throw new PlanDoesNotFit(`a tile of ${TILED_BLOCK} keys of d_qk = ${shape.dQk} for ${heads} heads needs ${bytes} bytes of workgroup memory; this device has ${limits.maxComputeWorkgroupStorageSize}`);
  }
  // Teams of `lanes` threads share the head blocks; each walks its slice of the dot, then the butterfly.
  const teams = Math.max(1, Math.floor(threads / lanes));
  const perTeam = Math.ceil(heads / TILED_BLOCK / teams) * (1 + Math.ceil(dq4 / lanes) + Math.log2(lanes));
  const splits = chooseSplits(spec, Math.ceil(shape.hQ / heads) * shape.sQ * shape.batch, options.splits, limits, tiledLoops({ tileN: TILED_BLOCK, heads, threads, dq4, tasks: threads, perTask: perTeam, slices: 1, decoded: true }));
  return {
    kernel: 'subgroups', splits, tileN: TILED_BLOCK, headsPerWorkgroup: heads, workgroupSize: threads, scoreBlock: TEAM_SCORE_BLOCK, outBlock: out,
    workgroupBytes: bytes, constants, scratch: splitScratch(spec, splits),
  };
}

export function subgroupsPasses(
  device: GPUDevice, spec: AttentionSpec, plan: KernelPlan, buffers: AttentionBuffers, scratch: readonly GPUBuffer[],
): Promise<CallPass[]> {
  const headBlocks = Math.ceil(spec.shape.hQ / plan.headsPerWorkgroup);
  return fusedPasses(device, spec, { label: 'v5-subgroups', files: SUBGROUPS_FILES, plan, headBlocks }, buffers, scratch);
}
