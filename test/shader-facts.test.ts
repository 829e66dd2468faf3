/**
 * Facts the host reads from the WGSL instead of restating them: binding
 * numbers (one table, every shipped file agrees), workgroup memory (read from
 * the declarations), the uniform's fields (a line the reader does not
 * understand is an error, not skipped); the plans' default register blocks
 * by the kind of adapter; the lines of 32-head strips, of the storage tile
 * and of the query texture marked as such.
 */
import { describe, expect, it } from 'vitest';
import { CACHE_TEXTURE_LINE, type ComposeOptions, LONG_ROW_LINE, QUERY_TEXTURE_LINE, SHADER_FILES, SHADER_FILE_NAMES, STORAGE_TILE_LINE, WIDE_LINE, composeShader } from '../src/gpu/shader-source';
import { BINDINGS, bindingMismatches, storageBuffersDeclared } from '../src/gpu/bindings';
import { evaluateWgsl, wgslValue, workgroupBytesOf } from '../src/gpu/wgsl-layout';
import { paramFields } from '../src/kernels/call-params';
import { readFileSync } from 'node:fs';
import { KERNEL_VERSIONS } from '../src/kernels/versions';
import { runnableSweep } from '../src/bench/sweep';
import { LADDER_SWEEP } from '../src/bench/ladder';
import { type DeviceLimits, MAX_OUT_VALUES, MAX_OUT_VALUES_LLVMPIPE, WEBGPU_DEFAULT_LIMITS } from '../src/gpu/device';
import { maxBlocksPerSeq, presetShape } from '../src/mla/shape';
import type { KvFormat } from '../src/mla/kv-layout';
import { generatedPages } from '../src/run/run-size';
import { cacheCopiesStraight, cacheRowLoads, cacheTextureRows, cacheTextureSize, queryTextureSize } from '../src/kernels/kernel-plan';
import { makeAttentionSpec } from '../src/kernels/attention-spec';
import { kvLayout } from '../src/mla/kv-layout';
import { SMALL_HEAD } from './support/small-head';
import { type RunConfig, planCall, planRefusal } from '../src/run/runner';

/** Lines of every shipped file whose code (comments aside) matches `names` but that do not end with `mark`, as file:line. */
function unmarkedLines(names: RegExp, mark: string): string[] {
  return SHADER_FILE_NAMES.flatMap((file) => SHADER_FILES[file].split('\n')
    .flatMap((line, k) => (names.test(line.replace(/\/\/.*$/, '')) && !line.trimEnd().endsWith(mark) ? [`${file}:${k + 1}`] : [])));
}

/** v4's module without and with the lines `option` keeps, after checking that blanking them keeps every line's number and leaves no mark. */
function v4WithAndWithout(option: keyof ComposeOptions, mark: string): { without: string; kept: string } {
  const files = ['key_tile.wgsl', 'tiled_blocks.wgsl', 'head_quads.wgsl', 'v4_tiled.wgsl'] as const;
  const without = composeShader(files).code;
  const kept = composeShader(files, {}, { [option]: true }).code;
  expect(without.split('\n')).toHaveLength(kept.split('\n').length);
  expect(without).not.toContain(mark);
  return { without, kept };
}

/** The block files without and with the lines `option` keeps: the same line count, no mark left, more than 30 marked lines kept. */
function expectBlocksBlanked(option: 'wideStrips' | 'longRows', mark: string): void {
  const files = ['head_quads.wgsl', 'tiled_blocks.wgsl'] as const;
  const without = composeShader(files).code;
  const kept = composeShader(files, {}, { [option]: true }).code;
  expect(without.split('\n')).toHaveLength(kept.split('\n').length);
  expect(without).not.toContain(mark);
  expect(kept.split('\n').filter((l) => l.endsWith(mark)).length).toBeGreaterThan(30);
}

describe('strips of 32-head blocks', () => {
  // Pieces e .. h of a strip (heads 16-31) exist only in a module with a 32-head block: every line that names one,
  // or branches on eight pieces, must carry the mark, or a module without such a block would not compile.
  const namesWidePiece = /\b\w+\.[e-h]\b(?!\()|^\s*[e-h]: (mat4x4|vec4)|pieces == 8u|case [4-7]u:/;
  it('every line that names pieces e .. h carries the mark, in every shipped file', () => {
    expect(unmarkedLines(namesWidePiece, WIDE_LINE)).toEqual([]);
  });
  it('a module without a 32-head block blanks them (its lines keep their numbers); with one, keeps them', () => {
    expectBlocksBlanked('wideStrips', WIDE_LINE);
  });
});

describe('output blocks of 64 values', () => {
  // Strips v8 .. v15 of an output block (value quads 8-15) exist only in a module with a 64-value block.
  const namesLongRow = /\bv(8|9|1[0-5])\b|\bc(8|9|1[0-5])\b|OUT_QUADS == 16u/;
  it('every line that names strips v8 .. v15 carries the mark; a module without such a block blanks them', () => {
    expect(unmarkedLines(namesLongRow, LONG_ROW_LINE)).toEqual([]);
    expectBlocksBlanked('longRows', LONG_ROW_LINE);
  });
  it('an output block longer than the device\'s maxOutValues is refused before any pipeline is made', () => {
    const shape = presetShape('v32', { seqlens: [256], hQ: 64 });
    const at = (maxOutValues: number) => planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape),
      { kernel: 'tiled', kvFormat: 'f32', scoreBlock: '32x16', outBlock: '32x64' }, { ...WEBGPU_DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 32768, maxOutValues });
    expect(at(MAX_OUT_VALUES_LLVMPIPE).plan).toMatchObject({ scoreBlock: '32x16', outBlock: '32x64' });
    expect(at(MAX_OUT_VALUES_LLVMPIPE).plan.constants).toMatchObject({ OUT_HEADS: 32, OUT_VALUES: 64, WG_SIZE: 16 });
    expect(() => at(MAX_OUT_VALUES)).toThrow('output block 32x64 holds 64 values of the output row a thread, over the 32 this device\'s shader compiler is known to take');
  });
});

describe('the storage tile (--keys tile-storage)', () => {
  it('every line that names its buffer carries the mark; a module without it has one storage buffer fewer', () => {
    expect(unmarkedLines(/\bkeyTileStorage\b/, STORAGE_TILE_LINE)).toEqual([]);
    const { without, kept } = v4WithAndWithout('storageTile', STORAGE_TILE_LINE);
    expect(storageBuffersDeclared(kept)).toBe(storageBuffersDeclared(without) + 1);
  });

  const shape = presetShape('v32', { seqlens: [4096], hQ: 64 });
  const plan = (limits: DeviceLimits) => planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'tiled', kvFormat: 'fp8', keys: 'tile-storage' }, limits);
  const limits = { ...WEBGPU_DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 32768 };
  it('the plan holds a tile of f32 keys a workgroup in a scratch buffer, and is refused where it would bind more storage buffers than allowed', () => {
    const p = plan({ ...limits, maxStorageBuffersPerShaderStage: 9 }).plan;
    const workgroups = Math.ceil(64 / p.headsPerWorkgroup) * p.splits;
    expect(p.scratch.find((s) => s.label === 'decoded key tiles')?.bytes).toBe(4 * p.tileN * 576 * workgroups);
    expect(p.constants).toMatchObject({ KEY_TILE_STORAGE: 1, KEYS_FROM_CACHE: 0, KEY_TILE_BF16: 0 });
    expect(() => plan({ ...limits, maxStorageBuffersPerShaderStage: 8 }))
      .toThrow('keys "tile-storage" binds 9 storage buffers, over this device\'s maxStorageBuffersPerShaderStage of 8 (the cache\'s shards count too): use keys tile, tile-bf16 or cache');
  });
});

describe('the queries in a texture (--queries texture)', () => {
  it('every line that names the texture carries the mark; a module without it declares no texture', () => {
    expect(unmarkedLines(/\bqueryTexture\b/, QUERY_TEXTURE_LINE)).toEqual([]);
    const { without, kept } = v4WithAndWithout('queryTexture', QUERY_TEXTURE_LINE);
    expect(without).not.toMatch(/texture_2d/);
    expect(kept).toMatch(/var queryTexture: texture_2d<f32>;/);
  });

  const limits = { ...WEBGPU_DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 32768 };
  const plan = (shape: ReturnType<typeof presetShape>, kvFormat: KvFormat, at = limits) => planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'tiled', kvFormat, queries: 'texture' }, at).plan;
  it('the texture holds a texel row per query row, and is refused for rows past the texture limit', () => {
    const shape = presetShape('model1', { seqlens: [64, 64], sQ: 2, hQ: 64 });
    const p = plan(shape, 'fp8');
    expect(p.queries).toBe('texture');
    expect(p.constants.QUERIES_TEXTURE).toBe(1);
    expect(queryTextureSize(shape)).toEqual({ width: 128, height: 2 * 2 * 64 });
    expect(() => plan(presetShape('v32', { seqlens: [64], hQ: 64 }), 'f32', { ...limits, maxTextureDimension2D: 63 }))
      .toThrow('queries "texture": 64 query rows (batch x s_q x h_q) of 144 texels is over this device\'s maxTextureDimension2D of 63; use queries storage');
  });
  it('planRefusal says why a configuration does not fit a call (a tuned pick then gives way), and nothing for one that fits or a bad option', () => {
    const shape = presetShape('v32', { seqlens: [64], hQ: 64 });
    const refusal = (config: RunConfig, at = limits) => planRefusal(shape, generatedPages(shape), maxBlocksPerSeq(shape), config, at);
    expect(refusal({ kernel: 'tiled', kvFormat: 'f32', queries: 'texture' }, { ...limits, maxTextureDimension2D: 63 })).toMatch(/^queries "texture": 64 query rows/);
    expect(refusal({ kernel: 'tiled', kvFormat: 'f32', queries: 'texture' })).toBeUndefined();
    expect(refusal({ kernel: 'tiled', kvFormat: 'f32', tileN: 7 })).toBeUndefined(); // a bad option: the run reports it
  });
  it('query_texture.wgsl writes the texels tiled_blocks.wgsl reads: one rgba32float texel a quad of q, at binding queryTexture\'s number', () => {
    const code = SHADER_FILES['query_texture.wgsl'];
    expect(code).toMatch(/var queryRows: texture_storage_2d<rgba32float, write>;/);
    expect(SHADER_FILES['tiled_blocks.wgsl']).toMatch(/textureLoad\(queryTexture, vec2<u32>\(j, row\), 0\)/);
    expect(BINDINGS.queryRows).toBe(BINDINGS.queryTexture);
  });
});

describe('the cache decoded into a texture (--keys texture)', () => {
  it('every line that names the texture carries the mark; a module without it declares no texture', () => {
    expect(unmarkedLines(/\bcacheTexture\b/, CACHE_TEXTURE_LINE)).toEqual([]);
    const { without, kept } = v4WithAndWithout('cacheTexture', CACHE_TEXTURE_LINE);
    expect(without).not.toMatch(/texture_2d/);
    expect(kept).toMatch(/var cacheTexture: texture_2d<f32>;/);
  });

  const limits = { ...WEBGPU_DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 32768 };
  const plan = (shape: ReturnType<typeof presetShape>, at = limits, shardBytes?: number) =>
    planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'tiled', kvFormat: 'fp8', keys: 'texture', shardBytes }, at).plan;
  it('the plan reads keys where used (no tile decoded), from a texture as tall as the device allows; a cache too large for one is refused', () => {
    const shape = presetShape('model1', { seqlens: [64, 64], hQ: 64 });
    expect(plan(shape).constants).toMatchObject({ KEYS_TEXTURE: 1, KEYS_FROM_CACHE: 1, KEY_TILE_BF16: 0, KEY_TILE_STORAGE: 0 });
    const spec = (s: ReturnType<typeof presetShape>) => makeAttentionSpec(s, kvLayout('fp8', s, s.pageBlockSize), generatedPages(s));
    // The generated cache: 4 pages of 64 slots (2 requests' and spare ones) and the zero slot; 10,000 tokens' 159 pages, at most 8192
    // slots tall: two columns.
    expect(cacheTextureSize(spec(shape), limits)).toEqual({ width: 128, height: 257 });
    const long = presetShape('model1', { seqlens: [10_000], hQ: 64 });
    expect(cacheTextureSize(spec(long), limits)).toEqual({ width: 256, height: 8192 });
    expect(() => plan(long, { ...limits, maxTextureDimension2D: 200 }))
      .toThrow(/keys "texture": 10176 cache slots of 128 f32 texels \(20840448 bytes\) do not fit one texture of this device \(maxTextureDimension2D 200,/);
    expect(() => plan(long, limits, 1 << 20)).toThrow(/keys "texture": .* a cache in one buffer\); use keys cache or a tile/);
     // The rows the decode pass writes are padded to 256 bytes for the copy into the texture; an f32 cache of
    // whole 256-byte slots needs no pass (copied as it is), not a 68-dim head's, nor bf16 or FP8.
    expect(cacheTextureRows({ width: 17, height: 10 })).toEqual({ rowTexels: 32, bytes: 16 * 32 * 10 });
    expect(cacheTextureRows({ width: 144, height: 10 })).toEqual({ rowTexels: 144, bytes: 16 * 144 * 10 });
    const f32 = (s: ReturnType<typeof presetShape>) => makeAttentionSpec(s, kvLayout('f32', s, s.pageBlockSize), generatedPages(s));
    expect(cacheCopiesStraight(f32(shape))).toBe(true);
    expect(cacheCopiesStraight(f32(presetShape('v32', { seqlens: [64], pageBlockSize: 16, ...SMALL_HEAD })))).toBe(false);
    expect(cacheCopiesStraight(spec(shape))).toBe(false);
    expect(plan(shape).scratch.map((s) => s.label)).toContain('decoded cache rows');
    // The pass reads bf16 rows eight values a load where every record starts on 16 bytes (d_qk 576, not 68).
    const bf16 = (s: ReturnType<typeof presetShape>) => makeAttentionSpec(s, kvLayout('bf16', s, s.pageBlockSize), generatedPages(s));
    expect(cacheRowLoads(bf16(shape))).toEqual({ BF16_BY_VEC4: 1 });
    expect(cacheRowLoads(bf16(presetShape('v32', { seqlens: [64], pageBlockSize: 16, ...SMALL_HEAD })))).toEqual({ BF16_BY_VEC4: 0 });
    expect(cacheRowLoads(spec(shape))).toEqual({ BF16_BY_VEC4: 0 });
  });
  // The layout is stated once in WGSL, kv_cache.wgsl's cacheSlotTexel (slot s at texel (s / column * SLOTS_PER_ROW *
  // SLOT_TEXELS + s % SLOTS_PER_ROW * SLOT_TEXELS, s % column / SLOTS_PER_ROW), column = rows * SLOTS_PER_ROW), and
  // the shader that writes the texture and the two that read it go through it; v4's texture is f32 quads, a slot a
  // row (the overrides' defaults). The host's numbers (CacheTexture) are checked against the kernels' results.
  it('cache_texture.wgsl writes the rows of the texels key_tile.wgsl and v6 read: one layout, kv_cache.wgsl\'s cacheSlotTexel', () => {
    const layout = SHADER_FILES['kv_cache.wgsl'];
    expect(layout).toMatch(/override SLOT_TEXELS: u32 = D_QK \/ 4u;/);
    expect(layout).toMatch(/override SLOTS_PER_ROW: u32 = 1u;/);
    expect(layout).toMatch(/let column = rows \* SLOTS_PER_ROW;\n  return vec2<u32>\(slot \/ column \* SLOTS_PER_ROW \* SLOT_TEXELS \+ slot % SLOTS_PER_ROW \* SLOT_TEXELS, slot % column \/ SLOTS_PER_ROW\);/);
    const writer = SHADER_FILES['cache_texture.wgsl'];
    expect(writer).toMatch(/var<storage, read_write> cacheRows: array<vec4<f32>>;/);
    expect(writer).toMatch(/let origin = cacheSlotTexel\(slot, ROWS\);.*\n  let at = origin\.y \* ROW_TEXELS \+ origin\.x;/);
    expect(SHADER_FILES['key_tile.wgsl']).toMatch(/return vec3<u32>\(cacheSlotTexel\(slot, rows\), 1u\);/);
    expect(SHADER_FILES['v6_scores.wgsl']).toMatch(/let origin = cacheSlotTexel\(slot, cacheRows\(\)\);/);
    // No shader restates it.
    for (const file of SHADER_FILE_NAMES.filter((f) => f !== 'kv_cache.wgsl')) expect(SHADER_FILES[file], file).not.toMatch(/% SLOTS_PER_ROW \* SLOT_TEXELS/);
  });
});

describe('binding table', () => {
  it('every shipped shader file agrees with it', () => {
    for (const file of SHADER_FILE_NAMES) expect(bindingMismatches(SHADER_FILES[file]), file).toEqual([]);
  });
  it('names the line of a binding that disagrees, and of a name it does not know', () => {
    const code = 'x\n@group(0) @binding(3) var<storage, read> q: array<f32>;\n@group(0) @binding(1) var<storage, read> qq: array<f32>;\n@group(1) @binding(0) var<storage> kv: array<u32>;';
    expect(bindingMismatches(code)).toEqual([
      { line: 2, message: 'q is at binding 3, the binding table (src/gpu/bindings.ts) says 1' },
      { line: 3, message: 'qq is not in the binding table (src/gpu/bindings.ts)' },
      { line: 4, message: 'kv is in group 1; every kernel binds group 0' },
    ]);
  });
});

describe('reading the WGSL', () => {
  it('evaluates override expressions with u32 division, defaults and given values', () => {
    const code = 'override A: u32;\noverride B: u32 = (A + 3u) / 4u;\nconst C: u32 = 8u;\n';
    expect(evaluateWgsl('B * C - 1u', code, { A: 10 })).toBe(3 * 8 - 1);
    expect(wgslValue(code, 'B', { A: 13 })).toBe(4);
    expect(() => evaluateWgsl('A + 1u', code, {})).toThrow('WGSL name A has no value (an override the host must set?)');
    expect(() => evaluateWgsl('A +', code, { A: 1 })).toThrow(/ends early/);
  });

  it('workgroup memory of v4 from its declarations equals the hand count', () => {
    const code = composeShader(['key_tile.wgsl', 'tiled_blocks.wgsl', 'head_quads.wgsl', 'v4_tiled.wgsl']).code;
    const o = { D_QK: 576, D_V: 512, HEADS_PER_WG: 64, TILE_N: 8, SCORE_SLICES: 5, WG_SIZE: 256 };
    // keys + score slices + slot list + four per-head statistics (m, l, the rescale, the largest score)
    // + one unused key row and scale (vec4 each) + one unused bf16 quad (vec2<u32>)
    expect(workgroupBytesOf(code, o)).toBe(4 * (8 * 576 + 5 * 64 * 8 + 8 + 4 * 64) + 2 * 16 + 8);
    // keys from the cache, 64-key tiles: one key, two tiles of key rows and scale words
    expect(workgroupBytesOf(code, { ...o, TILE_N: 64, SCORE_SLICES: 1, KEYS_FROM_CACHE: 1 })).toBe(4 * (576 + 64 * 64 + 64 + 4 * 64) + 2 * 128 * 16 + 8);
    // the tile in bf16, 16 keys: 2 bytes a value, one unused f32 quad
    expect(workgroupBytesOf(code, { ...o, TILE_N: 16, SCORE_SLICES: 1, KEY_TILE_BF16: 1 })).toBe(2 * 16 * 576 + 16 + 4 * (64 * 16 + 16 + 4 * 64) + 2 * 16);
  });

  it('workgroup memory of v3 and v2 from their declarations', () => {
    expect(workgroupBytesOf(composeShader(['key_tile.wgsl', 'v3_shared_latent.wgsl']).code, { D_QK: 512, D_V: 512, HEADS_PER_WG: 8, TILE_N: 15, DOT_PARTS: 2 }))
      .toBe(4 * (15 * 512 + 8 * 15 * 2 + 15) + 2 * 16 + 8);
    expect(workgroupBytesOf(SHADER_FILES['v2_fused.wgsl'], { WG_SIZE: 64 })).toBe(4 * 64);
  });

  it('refuses a workgroup declaration or a uniform field line it cannot read', () => {
    expect(() => workgroupBytesOf('var<workgroup> x: array<bool, 4>;', {})).toThrow(/element type bool is not in the size table/);
    const bad = SHADER_FILES['params.wgsl'].replace('h_q: u32,', 'h_q: u32, s_q2: u32,');
    expect(() => paramFields(bad)).toThrow('params.wgsl: cannot read the struct Params line "h_q: u32, s_q2: u32,"');
    expect(paramFields().map((f) => f.name)).toContain('scale_log2');
  });
});

describe('kernel map', () => {
  it('lists the versions in ladder order, each with its own WGSL file that opens with "version N"', () => {
    expect(KERNEL_VERSIONS.map((v) => v.id)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    KERNEL_VERSIONS.forEach((v, k) => {
      const src = SHADER_FILES[v.files[0]];
      expect(src.split('\n')[0], v.files[0]).toMatch(new RegExp(`^// ${v.files[0]}: version ${k + 1}, "${v.name}"`));
      if (k > 0) expect(src, v.files[0]).toContain(`What it improves over version ${k}`);
    });
  });

  it('the README\'s and docs/kernels.md\'s ladder tables say what the map says', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const doc = readFileSync(new URL('../docs/kernels.md', import.meta.url), 'utf8');
    for (const v of KERNEL_VERSIONS) {
      expect(readme).toContain(`| ${v.id} | \`${v.name}\` | \`shaders/${v.files[0]}\` | \`${v.host}\` |`);
      expect(doc).toContain(`| ${v.id} | \`${v.name}\` | \`${v.files[0]}\` | \`${v.host.replace('src/kernels/', '')}\` |`);
    }
    expect(readme.match(/^\| v\d+ \| `/gm)).toHaveLength(KERNEL_VERSIONS.length);
  });

  it('a sweep on a device without subgroups leaves v5 out and says so; with them it runs every version', () => {
    const without = runnableSweep(LADDER_SWEEP, WEBGPU_DEFAULT_LIMITS);
    expect(without.spec.kernels).toEqual(['naive', 'fused', 'shared-latent', 'tiled', 'matmuls']);
    expect(without.notRun).toEqual(['not run: v5 subgroups needs the subgroups feature, which this device does not have']);
    const withSubgroups = runnableSweep(LADDER_SWEEP, { ...WEBGPU_DEFAULT_LIMITS, subgroupMinSize: 4, subgroupMaxSize: 4 });
    expect(withSubgroups.spec.kernels).toEqual(KERNEL_VERSIONS.map((v) => v.name));
    expect(withSubgroups.notRun).toEqual([]);
  });
});

describe('default register blocks by the kind of adapter', () => {
  const GPU = { ...WEBGPU_DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 32768 };
  const SOFTWARE = { ...GPU, cpuThreads: 2 };
  const shape = presetShape('v32', { seqlens: [4096], hQ: 64 });
  const flash = (kvFormat: KvFormat, limits: DeviceLimits) => planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'flash', kvFormat }, limits);

  it('a GPU: v4 with 8x8 and 8x16 (v5 with its 8x16 output block where it has subgroups)', () => {
    for (const kv of ['f32', 'fp8'] as const) expect(flash(kv, GPU).plan).toMatchObject({ kernel: 'tiled', scoreBlock: '8x8', outBlock: '8x16' });
    expect(flash('fp8', { ...GPU, subgroupMinSize: 32, subgroupMaxSize: 32 }).plan).toMatchObject({ kernel: 'subgroups', scoreBlock: '8x8', outBlock: '8x16' });
  });

  it('a software adapter: 16x16 output blocks, 8x16 score blocks over keys from the cache or a bf16 tile, 8x8 over an f32 tile; v4 even with subgroups', () => {
    expect(flash('f32', SOFTWARE).plan).toMatchObject({ kernel: 'tiled', keys: 'cache', scoreBlock: '8x16', outBlock: '16x16' });
    expect(flash('bf16', SOFTWARE).plan).toMatchObject({ kernel: 'tiled', keys: 'cache', scoreBlock: '8x16', outBlock: '16x16' });
    expect(flash('fp8', SOFTWARE).plan).toMatchObject({ kernel: 'tiled', keys: 'tile-bf16', scoreBlock: '8x16', outBlock: '16x16', tileN: 16 });
    const f32Tile = planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'flash', kvFormat: 'fp8', keys: 'tile' }, SOFTWARE);
    expect(f32Tile.plan).toMatchObject({ kernel: 'tiled', keys: 'tile', scoreBlock: '8x8', outBlock: '16x16', tileN: 8 });
    expect(flash('fp8', { ...SOFTWARE, subgroupMinSize: 4, subgroupMaxSize: 64 }).plan.kernel).toBe('tiled');
    // Asked for, v5 takes the software output block too.
    expect(planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'subgroups', kvFormat: 'fp8' }, { ...SOFTWARE, subgroupMinSize: 4, subgroupMaxSize: 64 }).plan.outBlock).toBe('16x16');
    // A choice overrides the default.
    expect(planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'flash', kvFormat: 'f32', outBlock: '8x8' }, SOFTWARE).plan).toMatchObject({ scoreBlock: '8x16', outBlock: '8x8' });
  });
});
