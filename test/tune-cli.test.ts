/**
 * `mla-sandbox bench --tune` end to end on llvmpipe (the tools project): it
 * writes the device profile under XDG_CACHE_HOME, `run --kernel flash` reads
 * it back and says so, and a profile that is bad or another adapter's is
 * refused before any work. The space is narrowed to five candidates: two of
 * v4 and two of v6, and the default.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu } from './support/gpu';
import { cli } from './support/cli';
import { parseProfile } from '../src/tune/profile';

const gpu = await testGpu();


const NARROW = ['--score-blocks', '8x8,16x8', '--out-blocks', '8x16', '--keys', 'cache', '--queries', 'texture', '--heads-per-workgroup', '16', '--tile-n', '64'];

describe.skipIf(!gpu)('bench --tune', () => {
  const home = mkdtempSync(join(tmpdir(), 'mla-tune-'));
  const env = { XDG_CACHE_HOME: home };

  it('writes the profile, and run --kernel flash uses its pick for the nearest shape class', async () => {
    const t = await cli(['bench', '--tune', '--preset', 'model1', '--kv', 'bf16', '--h-q', '16', '--seqlen', '256', '--budget', '3600', ...NARROW], env);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/search: pruned, 5 of 5 fitting configurations timed in \d+ s \(making pipelines and buffers \d+ s, first runs and checks \d+ s, timing \d+ s, final rounds \d+ s\); within its budget of 3600 s\n/);
    expect(t.stdout).toMatch(/\*\*Pick:\*\* (default \(flash\)|S (8x8|16x8) O 8x16 keys cache queries texture heads 16 tile 64|matmuls S (8x8|16x8) O 8x16): [\d.]+ ms, [\d.]+ GFLOP\/s = \d+ % of the best plain matmul/);
    expect(t.stdout).toMatch(/the best form re-timed in the final rounds [\d.]+ GFLOP\/s/);
    const dir = join(home, 'mla-sandbox', 'profiles');
    const [file] = readdirSync(dir);
    const profile = parseProfile(readFileSync(join(dir, file), 'utf8'), file);
    expect(profile.entries).toHaveLength(1);
    expect(profile.entries[0].shape).toEqual({ dQk: 512, dV: 512, kvFormat: 'bf16', sparse: false, hQ: 16, keys: 256 });
    expect(profile.entries[0].candidates.length).toBe(5);

    // A nearby shape (h_q 16, 300 keys) runs the pick; a tuning flag runs by hand; another format has no entry.
    const run = await cli(['run', '--preset', 'model1', '--kv', 'bf16', '--h-q', '16', '--seqlens', '300'], env);
    expect(run.code, run.stderr).toBe(0);
    const pick = profile.entries[0].config;
    if (pick.kernel === 'tiled') {
      expect(run.stdout).toMatch(/^tuning {3}tuned: S (8x8|16x8) O 8x16 keys cache queries texture heads 16 tile 64, from the profile at .*class d_qk 512 d_v 512, bf16 cache, dense, h_q 16, 256 keys/m);
      expect(run.stdout).toContain(`register blocks ${pick.scoreBlock} (S, heads x keys) and 8x16 (O, heads x values)`);
      expect(run.stdout).toContain('queries from a texture');
    } else if (pick.kernel === 'matmuls') {
      expect(run.stdout).toMatch(/^tuning {3}tuned: matmuls S (8x8|16x8) O 8x16, from the profile at /m);
    } else {
      expect(run.stdout).toMatch(/^tuning {3}tuned: default \(flash\)/m);
    }
    // Whatever won here: a profile whose pick is v6 runs v6 with its blocks for kernel flash, and checks it.
    const v6File = join(home, 'v6.json');
    writeFileSync(v6File, JSON.stringify({ ...profile, entries: [{ ...profile.entries[0], config: { kernel: 'matmuls', scoreBlock: '16x8', outBlock: '8x16' } }] }));
    const v6 = await cli(['run', '--preset', 'model1', '--kv', 'bf16', '--h-q', '16', '--seqlens', '300', '--profile', v6File], env);
    expect(v6.code, v6.stderr).toBe(0);
    expect(v6.stdout).toMatch(/^tuning {3}tuned: matmuls S 16x8 O 8x16, from the profile at .*v6\.json/m);
    expect(v6.stdout).toMatch(/^kernel {3}v6 matmuls on a bf16 cache .*register blocks 16x8 \(S, heads x keys\) and 8x16 \(O, heads x values\)/m);
    expect(v6.stdout).toMatch(/^check {4}PASS/m);
    expect((await cli(['run', '--preset', 'model1', '--kv', 'bf16', '--h-q', '16', '--seqlens', '300', '--out-block', '16x16'], env)).stdout)
      .toMatch(/^tuning {3}set by hand \(--out-block 16x16\)/m);
    expect((await cli(['run', '--preset', 'model1', '--kv', 'f32', '--h-q', '16', '--seqlens', '300'], env)).stdout)
      .toMatch(/^tuning {3}default \(the profile at .* has no entry for d_qk 512 d_v 512, f32, dense; mla-sandbox bench --tune --preset model1 --kv f32 --h-q 16 --seqlen 300 makes one \(in the page: the Ladder view's Tune section\)\)/m);
  });

  it('refuses a bad profile file and another adapter\'s, before any work', async () => {
    const bad = join(home, 'bad.json');
    writeFileSync(bad, JSON.stringify({ kind: 'mla-sandbox device profile', version: 2, adapter: 'x', limits: {}, entries: [{ shape: { dQk: 0 } }] }));
    const r = await cli(['run', '--profile', bad], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json: entries\[0\]\.shape\.dQk is 0, expected a positive integer/);
    const other = join(home, 'other.json');
    writeFileSync(other, JSON.stringify({ kind: 'mla-sandbox device profile', version: 2, adapter: 'Another GPU', limits: {}, entries: [] }));
    const t = await cli(['bench', '--tune', '--profile', other, ...NARROW], env);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/--profile .*other\.json is for another adapter \(Another GPU\); this one is .*: name another file/);
    expect((await cli(['bench', '--tune', '--score-blocks', '8x9'], env)).stderr).toMatch(/--score-blocks "8x9" is not allowed: --score-blocks must be one of 8x8, 8x16, 16x8, 16x16/);
    expect((await cli(['bench', '--tune', '--budget', '0'], env)).stderr).toMatch(/--budget "0" is not allowed: --budget must be a whole number of seconds from 1 to 86400, or none/);
  });
});
