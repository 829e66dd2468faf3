/**
 * The tuner: find the fastest configuration of the tiled kernel (v4) and the
 * matmuls kernel (v6) for one call on this device. Every candidate is checked
 * against the f64 reference before it is timed (a wrong answer is never
 * fast). Two searches:
 *
 *   pruned (default): each version of the space on its own. Time each
 *     version's start (its default plan, moved into the space); then, the
 *     version with the fastest start first, move each step's knobs to their
 *     likeliest values (the first in LIKELIEST_FIRST), then walk its knobs
 *     one step at a time (WALK_STEPS), each step trying every value of one knob, or
 *     every pair of values of two knobs that interact, with the others
 *     fixed, and keeping the fastest configuration seen; repeat the walk
 *     until a whole walk changes nothing. It times tens of candidates where
 *     the space holds hundreds.
 *   exhaustive: every configuration of the space that fits the device.
 *
 * A budget (budgetSeconds) bounds either search: once the search has run
 * that long no new candidate starts (the default and each version's start
 * are always timed), and the pick is the best of those timed.
 *
 * Both time each candidate briefly, then the few fastest (and the default)
 * again, in interleaved rounds so that a drift of the machine's speed hits
 * them alike, and pick the fastest median.
 */
import type { GpuContext } from '../gpu/device';
import type { MlaInputs } from '../mla/inputs';
import type { KvFormat, KvLayout } from '../mla/kv-layout';
import { type MlaShape, maxBlocksPerSeq } from '../mla/shape';
import type { DeviceLimits } from '../kernels/kernel-plan';
import type { MemoryBudget } from '../run/run-options';
import { checkHostMemory, generatedPages } from '../run/run-size';
import { KEY_READS } from '../kernels/kernel-plan';
import type { AttentionResult } from '../reference/reference';
import { referenceOnCache } from '../reference/reference-chunked';
import { compareToReference, formatCheck } from '../reference/check';
import { prepareAttention, submitChecked, planCall, type PreparedAttention } from '../run/runner';
import { type TimedWork, type TimingOptions, summarize, timeWork } from '../timing/timer';
import { workOf } from '../timing/work';
import {
  DEFAULT_CONFIG, KNOBS, LIKELIEST_FIRST, type TunedKernel, type TuningAxis, type TuningConfig, type TuningKnob, type TuningSpace, allConfigs, configName, configOfPlan, planOf,
  sameConfig, withAxis,
} from './tuning-space';

export type TuneSearch = 'pruned' | 'exhaustive';

/**
 * The pruned search's budget where the user names none (`bench --tune`, the
 * page's Tune section): 45 s of search. Without one, on llvmpipe from an
 * empty shader cache, the pruned search over the full space (3,115
 * configurations fitting at V3.2 FP8, h_q 64, seqlen 4096) took 11 min 21 s,
 * most of it compiling v4's 32-head modules; with 45 s the whole command
 * took 1 min 22 s and its pick ran within 1 % of the longer search's
 * (docs/tuning.md, "The search", --budget). The default and each
 * version's start are timed whatever the budget, so a slow device still gets
 * a pick; `--budget none` runs the search to its end. The exhaustive search
 * has no default budget: it is asked for to time everything.
 */
export const DEFAULT_PRUNED_BUDGET_SECONDS = 45;

/**
 * The budget a user's text asks for (the CLI's --budget, the page's field):
 * seconds from 1 to a day, "none" for no budget, or nothing for the
 * search's default (DEFAULT_PRUNED_BUDGET_SECONDS for the pruned search,
 * none for the exhaustive one).
 */
export function budgetFromFlag(text: string | undefined, search: TuneSearch): number | undefined {
  const given = text?.trim() ?? '';
  if (given === '') return search === 'pruned' ? DEFAULT_PRUNED_BUDGET_SECONDS : undefined;
  if (given === 'none') return undefined;
  const seconds = /^\d+$/.test(given) ? Number(given) : NaN;
  if (!(seconds >= 1 && seconds <= 86_400)) throw new Error(`--budget ${JSON.stringify(text)} is not allowed: --budget must be a whole number of seconds from 1 to 86400, or none`);
  return seconds;
}

export interface TuneOptions {
  readonly space: TuningSpace;
  readonly search?: TuneSearch;
  /** Seconds of search after which no new candidate starts (the final rounds follow); none: the search runs to its end. */
  readonly budgetSeconds?: number;
  /** Timing of the first pass over candidates. */
  readonly quick?: TimingOptions;
  /**
   * Finalists re-timed together: how many (besides the default; 5 unless
   * told) and in how many rounds (3). Five, not three: on a software adapter
   * whose speed moves 2x between minutes, a candidate's three quick samples
   * can rank it fourth or fifth when it is the fastest (docs/tuning.md,
   * "Version 6 in the tuner's space"); a final round costs a few runs of each.
   */
  readonly finalists?: number;
  readonly rounds?: number;
  readonly onProgress?: (p: TuneProgress) => void;
  readonly signal?: AbortSignal;
  /**
   * The yardstick (a plain matmul), timed in every final round beside the
   * finalists, so that the pick's share of it is measured under the same
   * drift of the machine's speed.
   */
  readonly yardstick?: { readonly work: TimedWork; readonly flops: number };
  /** The f64 reference of the call, computed once (default: here, on this thread; the page passes a worker's). */
  readonly reference?: (inputs: MlaInputs, cacheBytes: Uint8Array, layout: KvLayout) => Promise<AttentionResult>;
}

export interface TuneProgress {
  /** Candidates timed so far, and the phase. */
  readonly timed: number;
  readonly phase: 'search' | 'final';
  readonly name: string;
  readonly ms?: number;
  /** The fastest so far. */
  readonly bestName?: string;
  readonly bestMs?: number;
}

/** One candidate as measured. */
export interface Evaluation {
  readonly config: TuningConfig;
  readonly name: string;
  /** The version that ran ("v4 tiled", "v6 matmuls", or what flash chose). */
  readonly version: string;
  readonly constants: Readonly<Record<string, number>>;
  readonly splits: number;
  readonly pass: boolean;
  /** Why it failed the check (a kernel bug if it ever shows). */
  readonly failure?: string;
  /** Median of the quick timing (NaN when it failed the check). */
  readonly ms: number;
  /**
   * Seconds spent on it: making its pipelines and buffers, its first run and
   * the check (a driver that compiles at the first dispatch, as llvmpipe
   * does, compiles there), timing it.
   */
  readonly spent: SearchSeconds;
}

/** Where a search's time went (seconds). */
export interface SearchSeconds {
  readonly prepare: number;
  readonly check: number;
  readonly time: number;
}

export interface Finalist {
  readonly name: string;
  readonly config: TuningConfig;
  readonly medianMs: number;
  readonly samplesMs: readonly number[];
}

export interface TuneResult {
  readonly search: TuneSearch;
  /** The budget, when one was given, and whether it stopped the search before its end. */
  readonly budgetSeconds?: number;
  readonly stoppedByBudget: boolean;
  /** Fitting configurations in the space (the default included), and how many were timed. */
  readonly fitting: number;
  readonly timed: number;
  readonly evaluations: readonly Evaluation[];
  readonly finalists: readonly Finalist[];
  readonly pick: Finalist;
  readonly defaultMs: number;
  /** The call's work (FlashMLA's counting): for GFLOP/s and GB/s. */
  readonly flops: number;
  readonly bytes: number;
  /** The yardstick's rate in the final rounds (median), when one was given. */
  readonly yardstickGflops?: number;
  readonly seconds: number;
  /** Of those, the final rounds (the search's part is each evaluation's `spent`). */
  readonly finalSeconds: number;
}

/**
 * Refuse a shape the device or the host cannot take, before the inputs are
 * made: the call's plan (every buffer and binding) and the host memory for
 * the inputs, cache and reference.
 */
export function checkTuneFits(shape: MlaShape, kvFormat: KvFormat, limits: DeviceLimits, budget: MemoryBudget): void {
  const { layout } = planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'flash', kvFormat }, limits);
  checkHostMemory(shape, layout, budget.bytes, budget.where);
}

const QUICK: TimingOptions = { warmup: 1, samples: 3, minSampleMs: 0, iterations: 1 };

/** Tune the space's versions for these inputs and cache format. */
export async function tune(ctx: GpuContext, inputs: MlaInputs, kvFormat: KvFormat, options: TuneOptions): Promise<TuneResult> {
  const started = performance.now();
  const search = options.search ?? 'pruned';
  const quick = { ...QUICK, ...options.quick, signal: options.signal };
  const { shape } = inputs;
  const base = planCall(shape, inputs.cache.numBlocks, inputs.cache.maxBlocksPerSeq, { kernel: 'flash', kvFormat }, ctx.limits);
  const spec = base.spec;
  // A candidate as the plan resolves it. A v4 candidate that does not fit is repaired by letting the plan choose
  // the tile and head block, then by reading keys the other way (a 16-key block of decoded keys may not fit
  // workgroup memory), then by reading the queries from storage (more rows than a texture holds); v6 has no
  // such choices (its blocks fit or not).
  const fitted = (c: TuningConfig): TuningConfig | undefined => {
    if (c.kernel === 'flash') return 'plan' in planOf(c, spec, ctx.limits) ? c : undefined;
    const free = { ...c, tileN: undefined, headsPerWorkgroup: undefined };
    const repairs: TuningConfig[] = c.kernel === 'matmuls' ? [c] : [c, free, ...KEY_READS.filter((k) => k !== c.keys).map((keys) => ({ ...free, keys })),
      ...(c.queries === 'texture' ? [{ ...free, queries: 'storage' as const }] : [])];
    for (const r of repairs) {
      const p = planOf(r, spec, ctx.limits);
      if ('plan' in p) return configOfPlan(p.plan);
    }
    return undefined;
  };
  const fittingList = dedupe(allConfigs(options.space).map(fitted).filter((c): c is TuningConfig => c !== undefined));

  let reference: AttentionResult | undefined;
  const evaluations: Evaluation[] = [];
  const find = (c: TuningConfig) => evaluations.find((e) => sameConfig(e.config, c));
  const fastest = (list: readonly Evaluation[]) => list.filter((e) => e.pass).reduce<Evaluation | undefined>((a, e) => (!a || e.ms < a.ms ? e : a), undefined);
  const best = () => fastest(evaluations);
  /** The fastest of one version's candidates. */
  const bestOf = (kernel: TunedKernel) => fastest(evaluations.filter((e) => e.config.kernel === kernel));
  const report = (phase: TuneProgress['phase'], name: string, ms?: number) => {
    const b = best();
    options.onProgress?.({ timed: evaluations.length, phase, name, ms, bestName: b?.name, bestMs: b?.ms });
  };

  const prepare = (c: TuningConfig) => prepareConfig(ctx, inputs, kvFormat, c);

  async function evaluate(c: TuningConfig): Promise<Evaluation> {
    const seen = find(c);
    if (seen) return seen;
    options.signal?.throwIfAborted();
    const t0 = performance.now();
    const prepared = await prepare(c);
    try {
      const t1 = performance.now();
      await submitChecked(ctx, prepared);
      const output = await prepared.read();
      reference ??= await (options.reference?.(inputs, prepared.cacheBytes, prepared.layout) ?? referenceOnCache(inputs, prepared.cacheBytes, prepared.layout));
      const check = compareToReference(output, reference, shape);
      const t2 = performance.now();
      const ms = check.pass ? (await timeWork(ctx, timed(prepared), quick)).medianMs : NaN;
      const e: Evaluation = {
        config: c, name: configName(c), version: `${prepared.version.id} ${prepared.version.name}`,
        constants: prepared.plan.constants, splits: prepared.plan.splits, pass: check.pass, ms,
        failure: check.pass ? undefined : formatCheck(check),
        spent: { prepare: (t1 - t0) / 1e3, check: (t2 - t1) / 1e3, time: (performance.now() - t2) / 1e3 },
      };
      evaluations.push(e);
      report('search', e.name, ms);
      return e;
    } finally {
      prepared.destroy();
    }
  }

  // The budget: a candidate not yet timed starts only within it.
  let stoppedByBudget = false;
  const budget = options.budgetSeconds;
  const mayStart = (c: TuningConfig) => {
    if (budget === undefined || find(c) || (performance.now() - started) / 1e3 < budget) return true;
    stoppedByBudget = true;
    return false;
  };

  const defaultEval = await evaluate(DEFAULT_CONFIG);
  if (search === 'exhaustive') {
    for (const c of fittingList) if (mayStart(c)) await evaluate(c);
  } else {
    // Each version's start, in the space's likeliest order; then, the version with the fastest start first, each
    // version's first pass and walk, so that a budget goes to the likelier version first.
    const kernels = walkOrder('kernel', options.space.kernel);
    const starts = new Map<TunedKernel, TuningConfig>();
    for (const kernel of kernels) {
      const start = await startOf(kernel);
      if (start) starts.set(kernel, start);
    }
    const rank = (k: TunedKernel) => bestOf(k)?.ms ?? Infinity;
    for (const kernel of [...starts.keys()].sort((a, b) => rank(a) - rank(b))) {
      await firstPass(kernel, starts.get(kernel)!);
      await walkVersion(kernel);
    }
  }

  /** A version's start, timed: its default plan on this device, each knob moved into the space where the plan's value is not in it. */
  async function startOf(kernel: TunedKernel): Promise<TuningConfig | undefined> {
    const planned = planOf({ kernel }, spec, ctx.limits);
    const own = 'plan' in planned ? configOfPlan(planned.plan) : undefined;
    const start = own ? fitted(intoSpace(own, options.space)) : undefined;
    return start && (await evaluate(start)).config;
  }

  /**
   * A version's first pass from its start: each step's knobs moved to their
   * likeliest values (the first in walk order), one step after another
   * whatever each time, so that a search cut short by its budget has tried
   * the corner that won on the adapters measured (docs/tuning.md); a step
   * kept only when it was faster let a noisy time turn the pass away from it.
   */
  async function firstPass(kernel: TunedKernel, start: TuningConfig): Promise<void> {
    let corner = start;
    for (const step of stepsOf(kernel)) {
      // The likeliest that fits this device (a 64-value output block is refused where the compiler cannot take it).
      const likeliest = stepConfigs(corner, step, options.space).find((s) => fitted(s) !== undefined);
      const c = likeliest && !sameConfig(likeliest, corner) ? fitted(likeliest) : undefined;
      if (c && mayStart(c)) {
        await evaluate(c);
        corner = c;
      }
    }
  }

  /** A version's walk from the fastest of its candidates so far, until a whole walk changes nothing (at most four). */
  async function walkVersion(kernel: TunedKernel): Promise<void> {
    let current = bestOf(kernel)?.config;
    for (let walk = 0; current && walk < 4 && !stoppedByBudget; walk++) {
      const before = current;
      for (const step of stepsOf(kernel)) {
        for (const moved of stepConfigs(current, step, options.space)) {
          const c = fitted(moved);
          if (c && mayStart(c)) await evaluate(c);
        }
        current = bestOf(kernel)?.config ?? current;
      }
      if (sameConfig(before, current)) break;
    }
  }

  // Finalists: the fastest few and the default, re-timed together in interleaved rounds.
  const ranked = evaluations.filter((e) => e.pass && !sameConfig(e.config, DEFAULT_CONFIG)).sort((a, b) => a.ms - b.ms);
  const chosen = [defaultEval, ...ranked.slice(0, options.finalists ?? 5)].filter((e) => e.pass);
  if (chosen.length === 0) throw new Error(`no configuration passed the check: ${evaluations.map((e) => `${e.name}: ${e.failure}`).join('; ')}`);
  const finalStarted = performance.now();
  const interleaved = await timeInterleaved(ctx, inputs, kvFormat, chosen.map((e) => e.config), {
    rounds: options.rounds ?? 3, yardstick: options.yardstick, signal: options.signal, onEach: (c) => report('final', configName(c)),
  });
  const finalists: Finalist[] = chosen.map((e, k) => ({ name: e.name, config: e.config, medianMs: interleaved.medianMs[k], samplesMs: interleaved.samplesMs[k] }))
    .sort((a, b) => a.medianMs - b.medianMs);
  const work = workOf(shape, base.layout);
  return {
    search, budgetSeconds: budget, stoppedByBudget, fitting: fittingList.length, timed: evaluations.length, evaluations, finalists, pick: finalists[0],
    defaultMs: finalists.find((f) => sameConfig(f.config, DEFAULT_CONFIG))!.medianMs,
    flops: work.flops, bytes: work.bytes,
    yardstickGflops: interleaved.yardstickGflops,
    seconds: (performance.now() - started) / 1000,
    finalSeconds: (performance.now() - finalStarted) / 1000,
  };
}

export interface InterleavedTimes {
  readonly medianMs: readonly number[];
  readonly samplesMs: readonly (readonly number[])[];
  readonly yardstickGflops?: number;
}

/**
 * Several configurations (and the yardstick) timed in interleaved rounds: a
 * drift of the machine's speed hits them alike. Each is prepared afresh in
 * each round (one cache on the device at a time), 2 samples a round.
 */
export async function timeInterleaved(
  ctx: GpuContext, inputs: MlaInputs, kvFormat: KvFormat, configs: readonly TuningConfig[],
  options: { readonly rounds: number; readonly yardstick?: TuneOptions['yardstick']; readonly signal?: AbortSignal; readonly onEach?: (c: TuningConfig) => void },
): Promise<InterleavedTimes> {
  const timing: TimingOptions = { ...QUICK, warmup: 1, samples: 2, signal: options.signal };
  const samples = configs.map((): number[] => []);
  const yardstickMs: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    if (options.yardstick) yardstickMs.push(...(await timeWork(ctx, options.yardstick.work, timing)).samplesMs);
    for (const [k, c] of configs.entries()) {
      const prepared = await prepareConfig(ctx, inputs, kvFormat, c);
      try {
        samples[k].push(...(await timeWork(ctx, timed(prepared), timing)).samplesMs);
      } finally {
        prepared.destroy();
      }
      options.onEach?.(c);
    }
  }
  return {
    medianMs: samples.map((s) => summarize(s).median), samplesMs: samples,
    yardstickGflops: options.yardstick && options.yardstick.flops / (summarize(yardstickMs).median / 1e3) / 1e9,
  };
}

function prepareConfig(ctx: GpuContext, inputs: MlaInputs, kvFormat: KvFormat, c: TuningConfig): Promise<PreparedAttention> {
  const { kernel, ...planOptions } = c;
  return prepareAttention(ctx, inputs, { kernel, kvFormat, ...planOptions });
}

const timed = (p: PreparedAttention) => ({ label: p.plan.kernel, passLabels: p.passes.map((x) => x.label), encode: p.encode });

/**
 * The pruned search's steps. Where keys are read and the tile's length are
 * tried together: each decides what the other costs (FP8 keys decoded into a
 * tile want a short one, which fits workgroup memory; read from the cache,
 * a long one), so moving either alone from the default can leave the search
 * in the wrong corner, as it did for V3.2 FP8 on llvmpipe (docs/tuning.md).
 * Where the queries are read comes right after the score block, whose reads
 * they are: on llvmpipe a texel costs a seventh of a storage read, and the
 * blocks worth trying after it differ.
 */
export const WALK_STEPS: readonly (readonly TuningKnob[])[] = [['scoreBlock'], ['queries'], ['outBlock'], ['keys', 'tileN'], ['headsPerWorkgroup']];

/** A version's steps: WALK_STEPS with the knobs it does not have left out (v6: its score block, then its output block). */
export function stepsOf(kernel: TunedKernel): readonly (readonly TuningKnob[])[] {
  return WALK_STEPS.map((step) => step.filter((k) => KNOBS[kernel].includes(k))).filter((step) => step.length > 0);
}

/** `c` with the step's knobs moved to every combination of their values in the space, in walk order. */
function stepConfigs(c: TuningConfig, step: readonly TuningKnob[], space: TuningSpace): TuningConfig[] {
  return step.reduce<TuningConfig[]>(
    (configs, axis) => configs.flatMap((x) => (walkOrder(axis, space[axis]) as readonly TuningConfig[TuningKnob][]).map((v) => withAxis(x, axis, v))),
    [c],
  );
}

/** A knob's values in the order a step tries them: LIKELIEST_FIRST's (tuning-space.ts). */
export function walkOrder<A extends TuningAxis>(axis: A, values: TuningSpace[A]): TuningSpace[A] {
  const rank = (v: unknown) => (LIKELIEST_FIRST[axis] as readonly unknown[]).indexOf(v);
  return [...values].sort((a, b) => rank(a) - rank(b)) as unknown as TuningSpace[A];
}

/** The configuration with every knob of its version whose value the space does not hold set to the space's first value. */
function intoSpace(c: TuningConfig, space: TuningSpace): TuningConfig {
  if (c.kernel === 'flash') return c;
  let out = c;
  for (const axis of KNOBS[c.kernel]) {
    const values = space[axis] as readonly unknown[];
    if (!values.includes(c[axis])) out = withAxis(out, axis, values[0] as TuningConfig[typeof axis]);
  }
  return out;
}

function dedupe(list: TuningConfig[]): TuningConfig[] {
  const out: TuningConfig[] = [];
  for (const c of list) if (!out.some((o) => sameConfig(o, c))) out.push(c);
  return out;
}
