/** The device profile, the tuning space, the heat map grid and devices side by side (tune/), without a GPU. */
import { describe, expect, it } from 'vitest';
import { presetShape } from '../src/mla/shape';
import {
  type DeviceProfile, type ProfileEntry, adapterSlug, emptyProfile, nearestEntry, parseProfile, profileChoice, shapeClassOf, tunedRunConfig, withEntry,
} from '../src/tune/profile';
import { FULL_SPACE, KNOBS, LIKELIEST_FIRST, TUNING_AXES, allConfigs, configName, configOfPlan, spaceFromLists, withAxis } from '../src/tune/tuning-space';
import { type MatmulScoreBlockName, blockSize } from '../src/kernels/register-blocks';
import { DEFAULT_PRUNED_BUDGET_SECONDS, WALK_STEPS, budgetFromFlag, stepsOf, walkOrder } from '../src/tune/tuner';
import { heatGrid } from '../src/tune/heat-map';
import { comparisonCells, parseDeviceResults } from '../src/tune/device-results';
import { defaultProfilePath } from '../src/cli/profile-file';
import type { KernelPlan, PlanOptions } from '../src/kernels/kernel-plan';

const ADAPTER = 'Some GPU (vendor arch), core feature level, via Dawn in Node';

function entry(hQ: number, keys: number, kvFormat: 'fp8' | 'bf16' = 'fp8', ms = 10): ProfileEntry {
  return {
    shape: { dQk: 576, dV: 512, kvFormat, sparse: false, hQ, keys },
    config: { kernel: 'tiled', scoreBlock: '16x8', outBlock: '16x32', keys: 'cache', queries: 'texture', headsPerWorkgroup: Math.min(64, hQ), tileN: 64 },
    pickMs: ms, defaultMs: 2 * ms, pickGflops: 1, flops: 1e7, bytes: 1e6,
    ceilings: { copyGBps: 20, fmaGflops: 130, yardstickGflops: 25 }, search: 'pruned', fitting: 300, timed: 20, seconds: 60,
    candidates: [{ config: { kernel: 'flash' }, ms: 2 * ms }], tunedAt: '2026-12-03T00:00:00.000Z',
  };
}

const profile = (...entries: ProfileEntry[]): DeviceProfile => entries.reduce(withEntry, emptyProfile(ADAPTER, { maxComputeWorkgroupStorageSize: 32768 }));

describe('device profile', () => {
  it('round-trips through JSON and keeps one entry per shape class', () => {
    const p = profile(entry(64, 4096), entry(16, 65536), entry(64, 4096, 'fp8', 7));
    expect(p.entries).toHaveLength(2);
    expect(p.entries.find((e) => e.shape.hQ === 64)!.pickMs).toBe(7);
    expect(parseProfile(JSON.stringify(p), 'p.json')).toEqual(p);
  });

  it('picks the nearest shape class of the same dims and format, and nothing for another format', () => {
    const p = profile(entry(64, 4096), entry(16, 65536));
    expect(nearestEntry(p, shapeClassOf(presetShape('v32', { hQ: 128, seqlens: [8192] }), 'fp8'))!.shape.hQ).toBe(64);
    expect(nearestEntry(p, shapeClassOf(presetShape('v32', { hQ: 16, seqlens: [100000] }), 'fp8'))!.shape.hQ).toBe(16);
    expect(nearestEntry(p, shapeClassOf(presetShape('v32', { hQ: 64, seqlens: [4096] }), 'bf16'))).toBeUndefined();
    expect(nearestEntry(p, shapeClassOf(presetShape('model1', { hQ: 64, seqlens: [4096] }), 'fp8'))).toBeUndefined();
  });

  it('says why a run uses the default: no profile, another adapter, no entry', () => {
    const shape = presetShape('v32', { hQ: 64, seqlens: [4096] });
    expect(profileChoice(undefined, 'p.json', ADAPTER, shape, 'fp8').source.line).toMatch(/^default \(no profile at p\.json; mla-sandbox bench --tune --preset v32 --kv fp8 --h-q 64 --seqlen 4096/);
    expect(profileChoice(profile(entry(64, 4096)), 'p.json', 'another', shape, 'fp8').source.line).toMatch(/for another adapter/);
    expect(profileChoice(profile(entry(64, 4096)), 'p.json', ADAPTER, shape, 'bf16').source).toMatchObject({ tuned: false });
    const hit = profileChoice(profile(entry(64, 4096)), 'p.json', ADAPTER, shape, 'fp8');
    expect(hit.source.tuned).toBe(true);
    expect(hit.config).toMatchObject({ kernel: 'tiled', scoreBlock: '16x8' });
    expect(hit.source.line).toContain(configName(hit.config!));
  });

  it('refuses a bad profile with the field and what is allowed', () => {
    const good = JSON.parse(JSON.stringify(profile(entry(64, 4096))));
    const bad = (edit: (p: typeof good) => void) => {
      const p = JSON.parse(JSON.stringify(good));
      edit(p);
      return () => parseProfile(JSON.stringify(p), 'p.json');
    };
    expect(() => parseProfile('{', 'p.json')).toThrow(/^p\.json: not JSON/);
    expect(bad((p) => { p.kind = 'a ladder'; })).toThrow(/p\.json: kind is "a ladder", expected "mla-sandbox device profile"/);
    expect(bad((p) => { p.entries[0].config.scoreBlock = '9x9'; })).toThrow(/entries\[0\]\.config\.scoreBlock "9x9" is not allowed: .* must be one of 8x8, 8x16, 16x8, 16x16/);
    expect(bad((p) => { p.entries[0].pickMs = -1; })).toThrow(/entries\[0\]\.pickMs is -1, expected a time in ms above 0/);
    expect(bad((p) => { p.entries[0].shape.kvFormat = 'int4'; })).toThrow(/entries\[0\]\.shape\.kvFormat is "int4", expected f32, bf16, fp8/);
    expect(bad((p) => { p.entries[0].config.keys = 'disk'; })).toThrow(/entries\[0\]\.config\.keys is "disk", expected tile or tile-bf16 or tile-storage or cache or texture/);
    expect(bad((p) => { p.entries[0].config.queries = 'uniform'; })).toThrow(/entries\[0\]\.config\.queries is "uniform", expected storage or texture/);
    expect(bad((p) => { delete p.entries[0].ceilings.yardstickGflops; })).toThrow(/entries\[0\]\.ceilings\.yardstickGflops is missing, expected a rate above 0/);
    expect(bad((p) => { p.version = 1; })).toThrow(/version is 1, expected 2 \(a version 1 profile has no ceilings: tune again/);
  });

  it('keeps a v6 pick as its two blocks (a 32x32 score block among them), and refuses that block for v4', () => {
    const v6 = { ...entry(64, 4096), config: { kernel: 'matmuls' as const, scoreBlock: '32x32' as const, outBlock: '32x64' as const } };
    const p = profile(v6);
    expect(parseProfile(JSON.stringify(p), 'p.json').entries[0].config).toEqual({ kernel: 'matmuls', scoreBlock: '32x32', outBlock: '32x64' });
    const text = JSON.stringify(p).replace('"matmuls"', '"tiled"');
    expect(() => parseProfile(text, 'p.json')).toThrow(/entries\[0\]\.config\.scoreBlock "32x32" is not allowed: .* must be one of 8x8, 8x16, 16x8, 16x16, 32x16 /);
    expect(() => parseProfile(JSON.stringify(p).replace('"matmuls"', '"v9"'), 'p.json')).toThrow(/entries\[0\]\.config\.kernel is "v9", expected "flash" or "tiled" or "matmuls"/);
  });

  it('reads a pick tuned before the queries were a knob as reading them from storage (what it ran)', () => {
    const p = JSON.parse(JSON.stringify(profile(entry(64, 4096))));
    delete p.entries[0].config.queries;
    expect(parseProfile(JSON.stringify(p), 'p.json').entries[0].config).toMatchObject({ keys: 'cache', queries: 'storage' });
  });

  it('keeps profiles apart by adapter, under XDG_CACHE_HOME when it is absolute', () => {
    expect(adapterSlug(ADAPTER)).toMatch(/^some-gpu-vendor-arch-core-feature-level-via-dawn-[0-9a-f]{8}$/);
    expect(adapterSlug('a')).not.toBe(adapterSlug('b'));
    expect(defaultProfilePath(ADAPTER, { XDG_CACHE_HOME: '/x/cache' })).toMatch(/^\/x\/cache\/mla-sandbox\/profiles\/some-gpu-.*\.json$/);
    expect(defaultProfilePath(ADAPTER, { XDG_CACHE_HOME: 'relative' })).toMatch(/\/\.cache\/mla-sandbox\/profiles\//);
  });
});

describe('tuning space', () => {
  it('holds the default and every combination of the knobs', () => {
    const all = allConfigs(FULL_SPACE);
    expect(all[0]).toEqual({ kernel: 'flash' });
    // v4: 6 score blocks (32x32 among them, which its plan refuses) x 9 output blocks x 5 key reads x 2 query reads x 4 head blocks x 4 tiles;
    // v6: 6 score blocks x 9 output blocks, and nothing else set.
    expect(all).toHaveLength(1 + 6 * 9 * 5 * 2 * 4 * 4 + 6 * 9);
    expect(new Set(all.map(configName)).size).toBe(all.length);
    const v6 = all.filter((c) => c.kernel === 'matmuls');
    expect(v6).toHaveLength(54);
    for (const c of v6) expect(Object.keys(c).sort()).toEqual(['kernel', 'outBlock', 'scoreBlock']);
    expect(configName(v6[0])).toBe('matmuls S 8x8 O 8x8');
  });
  it('the pruned walk moves every knob of a version, each in exactly one step; v6 walks its score block, then its output block', () => {
    expect(WALK_STEPS.flat().sort()).toEqual([...KNOBS.tiled].sort());
    expect([...TUNING_AXES].sort()).toEqual(['kernel', ...KNOBS.tiled].sort());
    expect(stepsOf('tiled')).toEqual(WALK_STEPS);
    expect(stepsOf('matmuls')).toEqual([['scoreBlock'], ['outBlock']]);
  });
  it('moves a knob only on a version that has it, and reads a v4 or v6 plan back as a configuration', () => {
    const v6 = { kernel: 'matmuls' as const, scoreBlock: '16x16' as const, outBlock: '16x32' as const };
    expect(withAxis(v6, 'keys', 'cache')).toBe(v6);
    expect(withAxis(v6, 'scoreBlock', '32x32')).toEqual({ ...v6, scoreBlock: '32x32' });
    expect(withAxis({ kernel: 'flash' }, 'tileN', 32)).toEqual({ kernel: 'tiled', tileN: 32 });
    const plan = (kernel: KernelPlan['kernel']): KernelPlan => ({
      kernel, splits: 1, tileN: 64, headsPerWorkgroup: 32, workgroupSize: 8, workgroupBytes: 0, keys: 'texture', queries: 'texture', scoreBlock: '32x32', outBlock: '32x64', constants: {}, scratch: [],
    });
    expect(configOfPlan(plan('matmuls'))).toEqual({ kernel: 'matmuls', scoreBlock: '32x32', outBlock: '32x64' });
    expect(configOfPlan(plan('tiled'))).toMatchObject({ kernel: 'tiled', tileN: 64, headsPerWorkgroup: 32, keys: 'texture' });
    expect(configOfPlan(plan('naive'))).toBeUndefined();
  });
  it('a step tries the most work per read first: larger blocks (more heads on equal size), head blocks and tiles; queries from a texture and keys from the cache first', () => {
    for (const axis of TUNING_AXES) expect([...LIKELIEST_FIRST[axis]].sort(), axis).toEqual([...FULL_SPACE[axis]].sort()); // every value, once
    const work = (name: string) => { const b = blockSize(name as MatmulScoreBlockName); return [b.heads * b.cols, b.heads]; };
    for (const axis of ['scoreBlock', 'outBlock'] as const) {
      const bySize = [...FULL_SPACE[axis]].sort((a, b) => work(b)[0] - work(a)[0] || work(b)[1] - work(a)[1]);
      expect(LIKELIEST_FIRST[axis], axis).toEqual(bySize);
    }
    expect(walkOrder('scoreBlock', FULL_SPACE.scoreBlock)).toEqual(['32x32', '32x16', '16x16', '16x8', '8x16', '8x8']);
    expect(walkOrder('kernel', FULL_SPACE.kernel)).toEqual(['matmuls', 'tiled']);
    expect(walkOrder('outBlock', ['8x8', '16x16', '32x32'])).toEqual(['32x32', '16x16', '8x8']); // a narrowed space keeps the order
    expect(walkOrder('headsPerWorkgroup', FULL_SPACE.headsPerWorkgroup)).toEqual([64, 32, 16, 8]);
    expect(walkOrder('tileN', [8, 64, 16])).toEqual([64, 16, 8]);
    expect(walkOrder('keys', FULL_SPACE.keys)).toEqual(['texture', 'cache', 'tile', 'tile-bf16', 'tile-storage']);
    expect(walkOrder('queries', FULL_SPACE.queries)).toEqual(['texture', 'storage']);
  });
});

describe('the search\'s budget', () => {
  it('is 45 s for the pruned search and none for the exhaustive one unless told; none, or whole seconds from 1 to a day', () => {
    expect(DEFAULT_PRUNED_BUDGET_SECONDS).toBe(45);
    expect(budgetFromFlag(undefined, 'pruned')).toBe(45);
    expect(budgetFromFlag('', 'pruned')).toBe(45);
    expect(budgetFromFlag(undefined, 'exhaustive')).toBeUndefined();
    expect(budgetFromFlag('none', 'pruned')).toBeUndefined();
    expect(budgetFromFlag('600', 'exhaustive')).toBe(600);
    expect(budgetFromFlag(' 30 ', 'pruned')).toBe(30);
    for (const bad of ['0', '1.5', '-3', '90000', 'forever', '0x10']) {
      expect(() => budgetFromFlag(bad, 'pruned')).toThrow(`--budget "${bad}" is not allowed: --budget must be a whole number of seconds from 1 to 86400, or none`);
    }
  });
});

describe('narrowing the space', () => {
  it('takes comma-separated lists per knob and keeps the rest whole', () => {
    const s = spaceFromLists({ 'score-blocks': '16x8, 8x8', 'tile-n': '64', keys: '', queries: 'texture', kernels: 'matmuls' });
    expect(s.kernel).toEqual(['matmuls']);
    expect(spaceFromLists({}).kernel).toEqual(['tiled', 'matmuls']);
    expect(() => spaceFromLists({ kernels: 'naive' })).toThrow('--kernels "naive" is not allowed: --kernels must be one of tiled, matmuls (or a comma-separated list of them)');
    expect(s.scoreBlock).toEqual(['16x8', '8x8']);
    expect(s.queries).toEqual(['texture']);
    expect(s.tileN).toEqual([64]);
    expect(s.keys).toEqual(FULL_SPACE.keys);
    expect(s.outBlock).toEqual(FULL_SPACE.outBlock);
    expect(() => spaceFromLists({ queries: 'uniform' })).toThrow('--queries "uniform" is not allowed: --queries must be one of storage, texture (or a comma-separated list of them)');
    expect(() => spaceFromLists({ 'heads-per-workgroup': '16,12' })).toThrow(/--heads-per-workgroup "12" is not allowed: --heads-per-workgroup must be one of 8, 16, 32, 64/);
  });
});

describe('the profile applied to a run', () => {
  const shape = presetShape('v32', { hQ: 64, seqlens: [4096] });
  const stored = () => profile(entry(64, 4096));
  it('runs the pick for kernel flash with nothing set by hand', () => {
    const r = tunedRunConfig({ kernel: 'flash', kvFormat: 'fp8', splits: 'auto' }, stored, 'p.json', ADAPTER, shape);
    expect(r.source.tuned).toBe(true);
    expect(r.config).toMatchObject({ kernel: 'tiled', scoreBlock: '16x8', outBlock: '16x32', keys: 'cache', kvFormat: 'fp8' });
  });
  it('runs a v6 pick as kernel matmuls with its two blocks, and no other option set', () => {
    const v6 = () => profile({ ...entry(64, 4096), config: { kernel: 'matmuls', scoreBlock: '32x32', outBlock: '32x64' } });
    const r = tunedRunConfig({ kernel: 'flash', kvFormat: 'fp8', splits: 'auto' }, v6, 'p.json', ADAPTER, shape);
    expect(r.config).toEqual({ kernel: 'matmuls', kvFormat: 'fp8', splits: 'auto', scoreBlock: '32x32', outBlock: '32x64' });
    expect(r.source.line).toMatch(/^tuned: matmuls S 32x32 O 32x64, from the profile at p\.json/);
  });
  it('gives way to the default, and says so, where the pick does not fit this call', () => {
    const refusal = (c: PlanOptions) => (c.queries === 'texture' ? 'queries "texture": too many rows' : undefined);
    const r = tunedRunConfig({ kernel: 'flash', kvFormat: 'fp8', splits: 'auto' }, stored, 'p.json', ADAPTER, shape, refusal);
    expect(r.config).toEqual({ kernel: 'flash', kvFormat: 'fp8', splits: 'auto' });
    expect(r.source).toEqual({ tuned: false, line: 'default (the pick of the profile at p.json, S 16x8 O 16x32 keys cache queries texture heads 64 tile 64, does not fit this call: queries "texture": too many rows)' });
  });
  it('leaves a run alone, without reading the profile, when an option is set by hand or the kernel is named', () => {
    const unread = () => { throw new Error('read'); };
    const byHand = tunedRunConfig({ kernel: 'flash', kvFormat: 'fp8', tileN: 32 }, unread, 'p.json', ADAPTER, shape);
    expect(byHand.config).toEqual({ kernel: 'flash', kvFormat: 'fp8', tileN: 32 });
    expect(byHand.source.line).toBe('set by hand (--tile-n 32); the kernel\'s defaults for the rest');
    const named = tunedRunConfig({ kernel: 'v3', kvFormat: 'fp8' }, unread, 'p.json', ADAPTER, shape);
    expect(named.source.line).toMatch(/^default \(kernel v3: the profile is read for kernel flash\)/);
  });
});

describe('the heat map grid', () => {
  const c = (scoreBlock: '8x8' | '16x8', tileN: number, ms: number) => ({ config: { kernel: 'tiled' as const, scoreBlock, outBlock: '8x16' as const, keys: 'tile' as const, headsPerWorkgroup: 64, tileN }, ms });
  it('keeps the fastest candidate of each cell, NaN where none was timed, in the space\'s order', () => {
    const g = heatGrid([c('16x8', 64, 5), c('8x8', 64, 7), c('8x8', 64, 6), c('8x8', 32, 9), { config: { kernel: 'flash' }, ms: 1 }], 'scoreBlock', 'tileN', FULL_SPACE);
    expect(g.xLabels).toEqual(['8x8', '16x8']);
    expect(g.yLabels).toEqual(['32', '64']);
    expect(g.ms[1]).toEqual([6, 5]);
    expect(g.ms[0][0]).toBe(9);
    expect(g.ms[0][1]).toBeNaN();
    expect(g.best).toEqual({ x: 1, y: 1 });
    expect(() => heatGrid([], 'keys', 'keys')).toThrow(/two different knobs/);
  });
  it('puts v6 candidates in the maps of the kernel and its blocks, and in no map of a knob it does not have', () => {
    const v6 = { config: { kernel: 'matmuls' as const, scoreBlock: '16x8' as const, outBlock: '8x16' as const }, ms: 4 };
    const all = [c('16x8', 64, 5), c('8x8', 64, 6), v6];
    const byKernel = heatGrid(all, 'kernel', 'scoreBlock', FULL_SPACE);
    expect(byKernel.xLabels).toEqual(['tiled', 'matmuls']);
    expect(byKernel.yLabels).toEqual(['8x8', '16x8']);
    expect(byKernel.ms).toEqual([[6, NaN], [5, 4]]);
    expect(byKernel.best).toEqual({ x: 1, y: 1 });
    const byTile = heatGrid(all, 'scoreBlock', 'tileN', FULL_SPACE);
    expect(byTile.ms).toEqual([[6, 5]]);
    expect(byTile.best).toEqual({ x: 1, y: 0 });
  });
});

describe('devices side by side', () => {
  const ceilings = { copyGBps: 10, fmaGflops: 100, yardstickGflops: 20 };
  const ladderRow = { preset: 'v32', dQk: 576, hQ: 64, seqlen: 4096, kvFormat: 'fp8', version: 'v4 tiled', pass: true, medianMs: 40, gflops: 15, intensity: 60, extra: 'kept out' };
  const ladderText = (edit: (d: Record<string, unknown>) => void = () => {}) => {
    const d: Record<string, unknown> = { kind: 'mla-sandbox ladder results', version: 1, adapter: 'Other GPU', ceilings, rows: [{ ...ladderRow }, { ...ladderRow, version: 'v1 naive', pass: false }] };
    edit(d);
    return JSON.stringify(d);
  };
  it('reads ladder results and profiles into one table, the same shape together, each against its own ceilings', () => {
    const ladder = parseDeviceResults(ladderText(), 'other.json');
    expect(ladder.rows).toHaveLength(1); // the failed point is left out
    expect(ladder.rows[0]).toMatchObject({ shape: 'd_qk 576 d_v 512, fp8 cache, dense, h_q 64, 4096 keys', ran: 'v4 tiled', source: 'ladder', gflops: 15 });
    const mine = parseDeviceResults(JSON.stringify(profile(entry(64, 4096, 'fp8', 10))), 'mine.json');
    expect(mine.rows[0]).toMatchObject({ source: 'tuned', intensity: 10 });
    const cells = comparisonCells([mine, ladder]);
    expect(cells).toHaveLength(2);
    expect(cells.map((r) => r[0])).toEqual(['d_qk 576 d_v 512, fp8 cache, dense, h_q 64, 4096 keys', 'd_qk 576 d_v 512, fp8 cache, dense, h_q 64, 4096 keys']);
    const other = cells.find((r) => r[1] === 'Other GPU')!;
    expect(other.slice(5)).toEqual(['15.0', '15.0 %', '75 %']); // a file from before the yardstick beside each point: the ceilings' yardstick
    // A point with its own yardstick (timed beside it) is divided by that one.
    const beside = parseDeviceResults(ladderText((d) => { (d.rows as Record<string, unknown>[])[0].yardstickGflops = 30; }), 'beside.json');
    expect(comparisonCells([beside])[0].slice(5)).toEqual(['15.0', '15.0 %', '50 %']);
    expect(() => parseDeviceResults(ladderText((d) => { (d.rows as Record<string, unknown>[])[0].yardstickGflops = 0; }), 'f.json')).toThrow(/f\.json: rows\[0\]\.yardstickGflops is 0, expected a rate above 0/);
  });
  it('refuses a file that is neither, or a bad field, naming it', () => {
    expect(() => parseDeviceResults('{"kind":"x"}', 'f.json')).toThrow(/^f\.json: kind is "x", expected "mla-sandbox device profile" .* or "mla-sandbox ladder results"/);
    expect(() => parseDeviceResults(ladderText((d) => { (d.rows as Record<string, unknown>[])[0].gflops = 'fast'; }), 'f.json')).toThrow(/f\.json: rows\[0\]\.gflops is "fast", expected a rate above 0/);
    expect(() => parseDeviceResults(ladderText((d) => { delete d.ceilings; }), 'f.json')).toThrow(/f\.json: ceilings is missing, expected an object/);
    expect(() => parseDeviceResults(JSON.stringify(emptyProfile(ADAPTER, {})), 'e.json')).toThrow(/e\.json: the profile has no entries yet/);
  });
});
