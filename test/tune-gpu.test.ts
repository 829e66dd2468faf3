/**
 * The tuner on this adapter, over a reduced space: every candidate checked
 * before it is timed, the pruned search against the exhaustive one on the
 * same space. Which configuration is fastest is measured, not asserted: a
 * test never holds a timing threshold (docs/tuning.md has the figures).
 */
import { describe, expect, it } from 'vitest';
import { testGpu, testMatrix } from './support/gpu';
import { presetShape } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { tune } from '../src/tune/tuner';
import { budgetNote, searchSeconds } from '../src/tune/tune-report';
import { plainMatmulWork } from '../src/timing/plain-matmul';
import { type TuningSpace, configName } from '../src/tune/tuning-space';
import { defaultBlocks } from '../src/kernels/register-blocks';

const gpu = await testGpu();

// Four tuned configurations and the default; h_q 16, 200 keys and a bf16 cache keep SwiftShader's compiles and runs short.
const SPACE: TuningSpace = { kernel: ['tiled'], scoreBlock: ['8x8', '16x8'], outBlock: ['8x16', '16x16'], keys: ['cache'], queries: ['storage'], headsPerWorkgroup: [16], tileN: [64] };
const QUICK = { warmup: 0, samples: 1, minSampleMs: 0, iterations: 1 };

describe.skipIf(!gpu)('tuner (reduced space: 2 score blocks x 2 output blocks, and the default)', () => {
  const inputs = generateInputs(presetShape('model1', { hQ: 16, seqlens: [200] }), { seed: 2 });

  it('the exhaustive search checks and times every fitting configuration, and picks the fastest finalist', async () => {
    const progress: string[] = [];
    const r = await tune(gpu!, inputs, 'bf16', { space: SPACE, search: 'exhaustive', quick: QUICK, finalists: 2, rounds: 1, onProgress: (p) => progress.push(p.name) });
    expect(r.fitting).toBe(5);
    expect(r.evaluations.map((e) => e.name).sort()).toEqual([
      'default (flash)', ...['8x8', '16x8'].flatMap((s) => ['8x16', '16x16'].map((o) => `S ${s} O ${o} keys cache queries storage heads 16 tile 64`)),
    ].sort());
    for (const e of r.evaluations) expect(e.pass, `${e.name}: ${e.failure}`).toBe(true);
    // The default and the two fastest others were re-timed; the pick is the least median among them.
    expect(r.finalists.map((f) => f.name)).toContain('default (flash)');
    expect(r.finalists).toHaveLength(3);
    expect(r.pick.medianMs).toBe(Math.min(...r.finalists.map((f) => f.medianMs)));
    expect(progress.length).toBeGreaterThanOrEqual(r.timed);
    // Where the time went: every candidate's pipelines were made, it ran once and was timed; the parts fit in the whole.
    for (const e of r.evaluations) for (const part of Object.values(e.spent)) expect(part).toBeGreaterThan(0);
    const s = searchSeconds(r);
    expect(s.prepare + s.check + s.time + r.finalSeconds).toBeLessThanOrEqual(r.seconds);
  });

  // The same format as above (two of its pipelines compiled already); three score blocks, so that the first pass
  // (the likeliest value of each knob alone) and the walk (every value of a knob) try them in different orders.
  it('the pruned search moves each knob to its likeliest value, then walks the knobs from the default plan; the yardstick is timed in the final rounds', async () => {
    const space: TuningSpace = { ...SPACE, scoreBlock: ['8x8', '16x8', '16x16'], outBlock: ['8x8', '8x32'] };
    const yardstick = await plainMatmulWork(gpu!, { block: 8, queries: 'storage', keys: 'storage' }, { heads: 16, keys: 64, dq4: 16 });
    const r = await tune(gpu!, inputs, 'bf16', { space, search: 'pruned', quick: QUICK, finalists: 1, rounds: 1, yardstick });
    yardstick.release();
    expect(r.yardstickGflops).toBeGreaterThan(0);
    expect(Number.isFinite(r.yardstickGflops)).toBe(true);
    expect(r.timed).toBeLessThanOrEqual(r.fitting);
    for (const e of r.evaluations) expect(e.pass, `${e.name}: ${e.failure}`).toBe(true);
    // From v4's default plan on this device (register-blocks.ts: the GPU's 8x8 / 8x16, a software adapter's 8x16 / 16x16),
    // each block moved into the space where it is not in it: S 8x8 on a software adapter, and O 8x8 on every adapter.
    const own = defaultBlocks(gpu!.limits.cpuThreads, 'cache');
    expect(space.outBlock).not.toContain(own.out);
    const name = (s: string, o: string) => `S ${s} O ${o} keys cache queries storage heads 16 tile 64`;
    // The first pass: the likeliest score block (the largest, 16x16) right after the start, then the likeliest output
    // block (8x32) on top of it whatever the two times were, before the walk tries the rest of the score blocks.
    expect(r.evaluations.slice(0, 3).map((e) => e.name)).toEqual(['default (flash)', name(space.scoreBlock.includes(own.score) ? own.score : '8x8', '8x8'), name('16x16', '8x8')]);
    expect(r.evaluations[3].config).toMatchObject({ scoreBlock: '16x16', outBlock: '8x32' });
    expect(r.evaluations.some((e) => e.config.scoreBlock === '16x8')).toBe(true);
    expect(configName(r.pick.config)).toBe(r.pick.name);
  });

  // The space here reads the queries from a texture only: the walk's start (the default plan, which reads
  // them from storage) is moved into it, so the texture's candidate is checked and timed too.
  it('a budget stops the search: with none left after the default and the walk\'s start, nothing else is timed', async () => {
    const r = await tune(gpu!, inputs, 'bf16', { space: { ...SPACE, queries: ['texture'] }, search: 'pruned', budgetSeconds: 0, quick: QUICK, finalists: 1, rounds: 1 });
    expect(r.stoppedByBudget).toBe(true);
    expect(r.budgetSeconds).toBe(0);
    expect(r.timed).toBe(2);
    expect(r.evaluations.map((e) => e.name)).toContain('default (flash)');
    const start = r.evaluations.find((e) => e.config.kernel === 'tiled')!;
    expect(start.config.queries).toBe('texture');
    expect(start.pass, start.failure).toBe(true);
    expect(r.finalists).toHaveLength(2);
    expect(budgetNote(r)).toBe('; stopped by its budget of 0 s (the pick is the best of those timed)');
  });

  // Both versions: v6's start (its default blocks moved into the space: S 8x8 on every adapter) comes right after the
  // default, being the likelier, then v4's start; then each version's first pass (v6: S 16x8, the likeliest) and walk
  // (v6: the score block left, 8x16), the version whose start was faster first.
  it('searches v6 beside v4: the exhaustive search checks every block pair of both, the pruned one starts both, then searches the faster start\'s version first', async () => {
    const space: TuningSpace = { ...SPACE, kernel: ['tiled', 'matmuls'], scoreBlock: ['8x8', '16x8', '8x16'], outBlock: ['8x16'] };
    const all = await tune(gpu!, inputs, 'bf16', { space, search: 'exhaustive', quick: QUICK, finalists: 1, rounds: 1 });
    expect(all.fitting).toBe(7);
    expect(all.evaluations.map((e) => e.name).sort()).toEqual([
      'default (flash)', ...space.scoreBlock.flatMap((s) => [`S ${s} O 8x16 keys cache queries storage heads 16 tile 64`, `matmuls S ${s} O 8x16`]),
    ].sort());
    for (const e of all.evaluations) expect(e.pass, `${e.name}: ${e.failure}`).toBe(true);
    for (const e of all.evaluations.filter((x) => x.config.kernel === 'matmuls')) expect(e.version).toBe('v6 matmuls');

    const pruned = await tune(gpu!, inputs, 'bf16', { space, search: 'pruned', quick: QUICK, finalists: 1, rounds: 1 });
    const kernels = pruned.evaluations.map((e) => e.config.kernel);
    expect(kernels.slice(0, 3)).toEqual(['flash', 'matmuls', 'tiled']);
    expect(pruned.evaluations[1].config.scoreBlock).toBe('8x8');
    expect(pruned.evaluations.filter((e) => e.config.kernel === 'matmuls').map((e) => e.config.scoreBlock)).toEqual(['8x8', '16x8', '8x16']);
    // The walks follow the first passes, the faster start's version first.
    const v6Start = pruned.evaluations[1].ms;
    const v4Start = pruned.evaluations[2].ms;
    const firstAfterStarts = pruned.evaluations[3].config.kernel;
    expect(firstAfterStarts).toBe(v6Start <= v4Start ? 'matmuls' : 'tiled');
    for (const e of pruned.evaluations) expect(e.pass, `${e.name}: ${e.failure}`).toBe(true);
    // With no budget left, the default and each version's start are timed, nothing else.
    const cut = await tune(gpu!, inputs, 'bf16', { space, search: 'pruned', budgetSeconds: 0, quick: QUICK, finalists: 2, rounds: 1 });
    expect(cut.evaluations.map((e) => e.name)).toEqual(['default (flash)', 'matmuls S 8x8 O 8x16', expect.stringMatching(/^S /)]);
  });

  it.skipIf(!gpu || testMatrix(gpu) !== 'full')('FP8: a 16-key score block whose tile decoded in f32 does not fit is repaired to the next key read that fits: the tile in bf16', async () => {
    const space: TuningSpace = { ...SPACE, scoreBlock: ['8x8', '16x16'], keys: ['tile'], tileN: [8] };
    const r = await tune(gpu!, inputs, 'fp8', { space, search: 'pruned', quick: QUICK, finalists: 1, rounds: 1 });
    for (const e of r.evaluations) expect(e.pass, `${e.name}: ${e.failure}`).toBe(true);
    expect(r.evaluations.find((e) => e.config.scoreBlock === '16x16')?.config).toMatchObject({ keys: 'tile-bf16' });
  });
});
