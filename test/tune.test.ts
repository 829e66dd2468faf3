/** The device profile (tune/profile.ts) and the tuning space, without a GPU. */
import { describe, expect, it } from 'vitest';
import { presetShape } from '../src/mla/shape';
import {
  type DeviceProfile, type ProfileEntry, emptyProfile, nearestEntry, parseProfile, profileChoice, shapeClassOf, withEntry,
} from '../src/tune/profile';
import { FULL_SPACE, allConfigs, configName } from '../src/tune/tuning-space';
import { adapterSlug, defaultProfilePath } from '../src/cli/profile-file';

const ADAPTER = 'Some GPU (vendor arch), core feature level, via Dawn in Node';

function entry(hQ: number, keys: number, kvFormat: 'fp8' | 'bf16' = 'fp8', ms = 10): ProfileEntry {
  return {
    shape: { dQk: 576, dV: 512, kvFormat, sparse: false, hQ, keys },
    config: { kernel: 'tiled', scoreBlock: '16x8', outBlock: '16x32', keys: 'cache', headsPerWorkgroup: Math.min(64, hQ), tileN: 64 },
    pickMs: ms, defaultMs: 2 * ms, pickGflops: 1, search: 'pruned', fitting: 300, timed: 20, seconds: 60,
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
    expect(bad((p) => { p.entries[0].config.keys = 'disk'; })).toThrow(/entries\[0\]\.config\.keys is "disk", expected tile or cache/);
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
    expect(all).toHaveLength(1 + 4 * 6 * 2 * 4 * 4);
    expect(new Set(all.map(configName)).size).toBe(all.length);
  });
});
