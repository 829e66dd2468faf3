/**
 * The kernel ladder: one row per version, from the textbook three-pass kernel
 * to the GEMM-shaped one. The CLI (`--kernel`, `bench --ladder`), the page
 * (Run's kernel list, Kernel source's file list) and the tests all read this
 * table; docs/kernels.md explains each step and README.md shows the table.
 *
 * Every version is checked against the same CPU reference (src/reference/reference.ts,
 * plain f64 loops) on the dequantised cache it read, and reads keys through
 * the same shared files (params, cache reader, dense or sparse key source).
 */
import { type ShaderFileName, composeShader } from '../gpu/shader-source';
import { storageBuffersDeclared } from '../gpu/bindings';
import { type AttentionSpec, sharedFiles } from './attention-spec';
import { fusedFiles, fusedModuleOptions } from './split-kv';
import { type AttentionBuffers, type DeviceLimits, type CallPass, type KernelPlan, type PlanOptions, PlanDoesNotFit, VERSION_NAMES, type VersionName } from './kernel-plan';
import { NAIVE_FILES, naivePasses, naivePlan } from './naive-kernel';
import { FUSED_FILES, fusedPlan, fusedVersionPasses } from './fused-kernel';
import { SHARED_LATENT_FILES, sharedLatentPasses, sharedLatentPlan } from './shared-latent-kernel';
import { DEFAULT_KEY_READS, TILED_FILES, tiledPasses, tiledPlan } from './tiled-kernel';
import { SUBGROUPS_FILES, subgroupsPasses, subgroupsPlan } from './subgroups-kernel';
import { MATMULS_FILES, matmulsPasses, matmulsPlan, matmulsStorageBuffers } from './matmuls-kernel';
import { DEFAULT_BLOCKS } from './register-blocks';

export interface KernelVersion {
  readonly id: string;
  readonly name: VersionName;
  /** What this version adds over the one before, in a line. */
  readonly improves: string;
  /** Its WGSL files (its own, then combine.wgsl where it splits). */
  readonly files: readonly ShaderFileName[];
  readonly host: string;
  readonly reference: string;
  readonly tests: readonly string[];
  /** The tuning options it takes; any other one given is refused, not ignored. */
  readonly options: readonly (keyof PlanOptions)[];
  /** A device feature it cannot run without. */
  readonly needs?: 'subgroups';
  /** Why "flash" passes over it for this shape though it fits (a version below is faster there), or undefined. */
  flashSkips?(spec: AttentionSpec, limits: DeviceLimits): string | undefined;
  plan(spec: AttentionSpec, limits: DeviceLimits, options?: PlanOptions): KernelPlan;
  passes(device: GPUDevice, spec: AttentionSpec, plan: KernelPlan, buffers: AttentionBuffers, scratch: readonly GPUBuffer[]): Promise<CallPass[]>;
}

const REFERENCE = 'src/reference/reference.ts';
const GPU_TESTS = ['test/kernels.test.ts', 'test/kernel-tiling.test.ts'];

export const KERNEL_VERSIONS: readonly KernelVersion[] = [
  {
    id: 'v1', name: 'naive', improves: 'the baseline: scores, softmax and P.V in three dispatches, the score matrix in memory',
    files: NAIVE_FILES, host: 'src/kernels/naive-kernel.ts', reference: REFERENCE, tests: GPU_TESTS, options: [],
    plan: (spec, limits) => naivePlan(spec, limits), passes: naivePasses,
  },
  {
    id: 'v2', name: 'fused', improves: 'one pass with online softmax (no score matrix), split-KV + combine',
    files: [...FUSED_FILES, 'combine.wgsl'], host: 'src/kernels/fused-kernel.ts', reference: REFERENCE, tests: GPU_TESTS, options: ['splits'],
    plan: fusedPlan, passes: fusedVersionPasses,
  },
  {
    id: 'v3', name: 'shared-latent', improves: 'a block of heads shares one key tile, decoded once into workgroup memory',
    files: [...SHARED_LATENT_FILES, 'combine.wgsl'], host: 'src/kernels/shared-latent-kernel.ts', reference: REFERENCE, tests: GPU_TESTS,
    options: ['tileN', 'headsPerWorkgroup', 'splits'],
    plan: sharedLatentPlan, passes: sharedLatentPasses,
  },
  {
    id: 'v4', name: 'tiled', improves: `the GEMM shape: register blocks in mat4x4 (by default ${DEFAULT_BLOCKS.gpu.score} / ${DEFAULT_BLOCKS.gpu.out} on a GPU, ${DEFAULT_BLOCKS.software.cache.score} / ${DEFAULT_BLOCKS.software.cache.out} on a software adapter), softmax once per head, lazy rescale, 64-head blocks; f32 and bf16 keys read from the cache where used, FP8 decoded once a tile into bf16`,
    files: [...TILED_FILES, 'combine.wgsl'], host: 'src/kernels/tiled-kernel.ts', reference: REFERENCE, tests: GPU_TESTS,
    options: ['tileN', 'headsPerWorkgroup', 'dotParts', 'splits', 'keys', 'queries', 'scoreBlock', 'outBlock'],
    plan: tiledPlan, passes: tiledPasses,
  },
  {
    id: 'v5', name: 'subgroups', improves: 'the score block summed by subgroup shuffles and its softmax in registers: no partial scores in memory, three barriers a tile',
    files: [...SUBGROUPS_FILES, 'combine.wgsl'], host: 'src/kernels/subgroups-kernel.ts', reference: REFERENCE, tests: GPU_TESTS,
    options: ['headsPerWorkgroup', 'dotParts', 'splits', 'outBlock'], needs: 'subgroups',
    // v5 reads keys from its decoded 8-key tile; where v4 reads them from the cache (f32, bf16) in 64-key tiles, v4 is faster.
    // On a software adapter the subgroup shuffles are emulated, and v4 was as fast or faster for FP8 too
    // (SwiftShader, V3.2 FP8, h_q 64, seqlen 4096, the same output block: 16x32 306 ms against v5's 350,
    // 16x16 384-398 against 392-459; docs/tuning.md, "Defaults"), and v4 is the version the tuner searches.
    flashSkips: (spec, limits) => (limits.cpuThreads > 0 ? 'on a software adapter v4 is as fast as v5 or faster (its subgroup shuffles are emulated)'
      : DEFAULT_KEY_READS[spec.layout.format] === 'cache' ? `v4 reads ${spec.layout.format} keys straight from the cache, faster than v5's decoded tile` : undefined),
    plan: subgroupsPlan, passes: subgroupsPasses,
  },
  {
    id: 'v6', name: 'matmuls', improves: 'v1\'s three passes with v4\'s register blocks: S = Q K^T and O = P V as two plain matrix products, every operand a texel (the cache as bf16 words where its values are bf16: no decode pass for a bf16 cache), no barrier and no workgroup memory; the score matrix in memory',
    files: [...MATMULS_FILES, 'combine.wgsl'], host: 'src/kernels/matmuls-kernel.ts', reference: REFERENCE, tests: GPU_TESTS,
    options: ['splits', 'scoreBlock', 'outBlock'],
    // Not among flash's own choices: it keeps every score in memory, and where it wins (the CPU emulators here) is
    // measured in docs/kernels.md, "Version 6". The tuner searches it: flash runs it where a profile picked it.
    flashSkips: () => 'v6 keeps every score in memory; flash runs it only where a tuned profile picked it (bench --tune), else a fused version (run v6 by name: --kernel matmuls)',
    plan: matmulsPlan, passes: matmulsPasses,
  },
];

/** What `--kernel` takes: a version's name or id, or "flash" for the best version this device runs. */
export type KernelChoice = 'flash' | VersionName | `v${number}`;
export const KERNEL_CHOICES: readonly KernelChoice[] = ['flash', ...VERSION_NAMES, ...KERNEL_VERSIONS.map((v) => v.id as KernelChoice)];

export function versionByName(name: VersionName): KernelVersion {
  const v = KERNEL_VERSIONS.find((k) => k.name === name);
  if (!v) throw new Error(`no kernel version named ${name}`);
  return v;
}

/** Why a version cannot run on a device with these limits (a feature it lacks), or undefined if it can. */
export function missingFeature(version: KernelVersion, limits: DeviceLimits): string | undefined {
  if (version.needs === 'subgroups' && limits.subgroupMinSize < 1) return `${version.id} ${version.name} needs the subgroups feature, which this device does not have`;
  return undefined;
}

/** Option names as the CLI spells them. */
/** Each plan option's command-line flag (and the page's URL key, without the dashes). */
export const PLAN_OPTION_FLAGS: Readonly<Record<keyof PlanOptions, string>> = {
  tileN: '--tile-n', headsPerWorkgroup: '--heads-per-workgroup', dotParts: '--dot-parts', splits: '--splits', keys: '--keys',
  queries: '--queries', scoreBlock: '--score-block', outBlock: '--out-block',
};

/** Why the version cannot take these options: one it does not have (splits "auto", and 1 for an unsplit version, mean "not set"). */
function unusedOption(version: KernelVersion, options: PlanOptions): string | undefined {
  for (const key of Object.keys(PLAN_OPTION_FLAGS) as (keyof PlanOptions)[]) {
    const value = options[key];
    if (value === undefined || value === 'auto' || (key === 'splits' && value === 1) || version.options.includes(key)) continue;
    const takes = version.options.length ? version.options.map((o) => PLAN_OPTION_FLAGS[o]).join(', ') : 'none';
    return `${PLAN_OPTION_FLAGS[key]} ${value} is not used by kernel ${version.name} (${version.id}): the options it takes are ${takes}`;
  }
  return undefined;
}

function checkOptions(version: KernelVersion, options: PlanOptions): void {
  const unused = unusedOption(version, options);
  if (unused) throw new Error(unused);
}

/**
 * The version a choice names. "flash" is the fastest version that takes the
 * tuning options given and whose plan fits this device, tried from the top
 * of the ladder down (so `--tile-n` makes it skip v5, which has no tile
 * option; a device without subgroups skips v5 too).
 */
export function resolveKernel(choice: KernelChoice, spec: AttentionSpec, limits: DeviceLimits, options: PlanOptions = {}): { version: KernelVersion; plan: KernelPlan } {
  if (choice === 'flash') {
    const errors: string[] = [];
    for (const version of [...KERNEL_VERSIONS].reverse()) {
      const unused = unusedOption(version, options) ?? version.flashSkips?.(spec, limits);
      if (unused) {
        errors.push(unused);
        continue;
      }
      try {
        return { version, plan: version.plan(spec, limits, options) };
      } catch (e) {
        if (!(e instanceof PlanDoesNotFit)) throw e;
        errors.push(`${version.name}: ${e.message}`);
      }
    }
    throw new PlanDoesNotFit(`no kernel version fits this device for this shape: ${errors.join('; ')}`);
  }
  const version = KERNEL_VERSIONS.find((v) => v.name === choice || v.id === choice);
  if (!version) {
    throw new Error(`kernel ${JSON.stringify(choice)} is not allowed: kernel must be one of ${KERNEL_CHOICES.join(', ')}`);
  }
  checkOptions(version, options);
  return { version, plan: version.plan(spec, limits, options) };
}

/**
 * Storage buffers a version's decode module declares, composed as the plan
 * composes it (the cache's shards included, and the storage tile where the
 * plan has one: split-kv.ts fusedModuleOptions). Dawn holds each pipeline
 * of v1's three to the whole module's count, not to what its entry point
 * uses (measured: 13 refused on SwiftShader's 12 where no pass uses more
 * than 9), so every declaration counts.
 */
function storageBuffersOf(version: KernelVersion, spec: AttentionSpec, plan: KernelPlan): number {
  if (version.name === 'matmuls') return matmulsStorageBuffers(spec, plan);
  const own = version.files.filter((f) => f !== 'combine.wgsl');
  const files = version.name === 'naive' ? [...sharedFiles(spec), ...own] : fusedFiles(spec, own);
  return storageBuffersDeclared(composeShader(files, spec.edits, fusedModuleOptions(plan.constants)).code);
}

/** Refuse a call whose module binds more storage buffers than the device allows per shader stage. */
export function checkStorageBuffers(version: KernelVersion, spec: AttentionSpec, plan: KernelPlan, limits: DeviceLimits): void {
  const n = storageBuffersOf(version, spec, plan);
  if (n > limits.maxStorageBuffersPerShaderStage) {
    throw new Error(`kernel ${version.id} ${version.name} with the cache in ${spec.shards.count} shards binds ${n} storage buffers, over this device's maxStorageBuffersPerShaderStage of ${limits.maxStorageBuffersPerShaderStage}: ${spec.shards.capped ? 'allow larger shards (a larger --shard-mib) or make' : 'make'} the cache smaller (fewer or shorter requests)`);
  }
}
