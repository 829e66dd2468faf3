/**
 * The command line end to end on this machine's adapter: `info`, `run` on
 * generated inputs, and `run` on tensors given as .npy files (float32 and
 * uint8 FP8 caches), whose --out/--lse files are read back and checked
 * against the CPU reference here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu } from './support/gpu';
import { cli } from './support/cli';
import { isSoftwareAdapter } from '../src/gpu/device';
import { encodeNpy, parseNpy } from '../src/run/npy';
import { presetShape } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { referenceAttention } from '../src/reference/reference';
import { compareToReference } from '../src/reference/check';
import { kvLayout } from '../src/mla/kv-layout';
import { countIndices } from '../src/mla/index-counts';
import { parseDeviceResults } from '../src/tune/device-results';
import { SeededRandom } from '../src/random/seeded-random';
import { LAYER_CONFIGS } from '../src/layer/layer-config';
import { referenceNaive } from '../src/layer/layer-reference';
import { dequantizeKvCache, quantizeKvCache } from '../src/mla/kv-quant';

const gpu = await testGpu();

/** Rows of `width` entries, each padded with `extra` zeros. */
function widen(table: Int32Array, width: number, extra: number): Int32Array {
  const rows = table.length / width;
  const out = new Int32Array(rows * (width + extra));
  for (let r = 0; r < rows; r++) out.set(table.subarray(r * width, (r + 1) * width), r * (width + extra));
  return out;
}


interface SparseSource {
  readonly kv: Float32Array;
  readonly slots: number;
  readonly topk: number;
  readonly indices: Int32Array;
  readonly lengths: Int32Array;
}

/**
 * FlashMLA's tests/ref.py for the sparse decode, written out in f64: each
 * source's valid indices within its length, one softmax over all of them,
 * out times 1 / (1 + exp(sink - lse)), and a row with no key out 0, lse +inf.
 */
function sparseDecodeRef(c: { q: Float32Array; b: number; sQ: number; hQ: number; d: number; dV: number; sink: Float32Array; sources: readonly SparseSource[] }) {
  const { q, b, sQ, hQ, d, dV, sink } = c;
  const out = new Float64Array(b * sQ * hQ * dV);
  const lse = new Float64Array(b * hQ * sQ);
  for (let bi = 0; bi < b; bi++) for (let i = 0; i < sQ; i++) {
    const keys = c.sources.flatMap((s) => Array.from({ length: s.topk }, (_, k) => s.indices[(bi * sQ + i) * s.topk + k])
      .filter((slot, k) => k < s.lengths[bi] && slot >= 0 && slot < s.slots).map((slot) => s.kv.subarray(slot * d, (slot + 1) * d)));
    for (let h = 0; h < hQ; h++) {
      const row = (bi * sQ + i) * hQ + h;
      const scores = keys.map((key) => { let acc = 0; for (let x = 0; x < d; x++) acc += q[row * d + x] * key[x]; return acc / Math.sqrt(d); });
      const m = Math.max(...scores);
      const l = keys.length === 0 ? Infinity : m + Math.log(scores.reduce((a, x) => a + Math.exp(x - m), 0));
      lse[(bi * hQ + h) * sQ + i] = l;
      const factor = keys.length === 0 ? 0 : 1 / (1 + Math.exp(sink[h] - l));
      for (let x = 0; x < dV; x++) out[row * dV + x] = factor * keys.reduce((a, key, k) => a + Math.exp(scores[k] - l) * key[x], 0);
    }
  }
  return { out, lse };
}

function expectClose(out: ArrayLike<number>, lse: ArrayLike<number>, ref: { out: Float64Array; lse: Float64Array }): void {
  ref.lse.forEach((x, k) => { if (x === Infinity) expect(lse[k], `lse ${k}`).toBe(Infinity); else expect(Math.abs(lse[k] - x), `lse ${k}`).toBeLessThan(1e-4); });
  let worst = 0;
  ref.out.forEach((x, k) => { worst = Math.max(worst, Math.abs(out[k] - x)); });
  expect(worst, 'out against the written-out reference').toBeLessThan(1e-4);
}

describe.skipIf(!gpu)('mla-sandbox CLI', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mla-cli-')); });
  const file = (name: string, data: Parameters<typeof encodeNpy>[0]) => {
    const path = join(dir, name);
    writeFileSync(path, encodeNpy(data));
    return path;
  };

  it('info --json reports the adapter, limits and a roofline; --matmul-blocks narrows the plain matmul', async () => {
    const r = await cli(['info', '--json', '--samples', '3', '--warmup', '1', '--matmul-blocks', '16,8']);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
    // a software adapter (this machine's) reports the CPU threads it runs on, for the auto split; a GPU 0
    expect(info.limits.cpuThreads).toBe(isSoftwareAdapter(info.adapter) ? availableParallelism() : 0);
    expect(info.roofline.copyGBps).toBeGreaterThan(0);
    expect(info.roofline.fmaGflops).toBeGreaterThan(0);
    expect(info.roofline.samples).toBe(3); // --samples
    expect(Object.keys(info.roofline.readCost).sort()).toEqual(['storage', 'texture', 'uniform', 'workgroup']); // what a read costs, in multiply-adds
    expect(info.roofline.readCost.workgroup).toBeGreaterThan(0);
    expect(info.roofline.readCost.storage).toBeGreaterThan(0);
    expect(info.roofline.readCost.uniform).toBeGreaterThan(0);
    expect(info.roofline.readCost.texture).toBeGreaterThan(0);
    // the plain matmul yardstick: the ladder's score step, the blocks asked for (v4's 8 x 8 and 16 x 16 here, in the yardstick's
    // order; 32 x 32 takes tens of seconds to compile, and test/roofline.test.ts runs it), the queries read from storage and from a
    // texture (the keys from storage), and both from textures
    expect(info.roofline.plainMatmul.size).toEqual({ heads: 64, keys: 4096, dq4: 144 });
    expect(info.roofline.plainMatmul.forms.map((f: { block: number; queries: string; keys: string }) => `${f.block} ${f.queries} ${f.keys}`)).toEqual([
      '8 storage storage', '8 texture storage', '8 texture texture', '16 storage storage', '16 texture storage', '16 texture texture',
    ]);
    for (const f of info.roofline.plainMatmul.forms) expect(f.gflops).toBeGreaterThan(0);
    // the kernel map, as the CLI reads it
    expect(info.kernels.map((k: { id: string; name: string }) => `${k.id} ${k.name}`)).toEqual(['v1 naive', 'v2 fused', 'v3 shared-latent', 'v4 tiled', 'v5 subgroups', 'v6 matmuls']);
    if (gpu!.limits.subgroupMinSize > 0) expect(info.features).toContain('subgroups'); // requested where the adapter has it (SwiftShader; llvmpipe has none)
    expect(info.kernels[3].files).toEqual(['v4_tiled.wgsl', 'tiled_blocks.wgsl', 'head_quads.wgsl', 'key_tile.wgsl', 'combine.wgsl']);
  });

  it('bench --ladder runs every version on a narrowed sweep, checked, against v1 and the ceilings', async () => {
    const json = join(dir, 'ladder.json');
    // --matmul-blocks: the yardstick's 8 x 8 and 16 x 16 forms only (a 32 x 32 form takes a software adapter tens of seconds to compile)
    const r = await cli(['bench', '--ladder', '--presets', 'model1', '--kv', 'fp8', '--seqlens', '80', '--heads', '4', '--samples', '3', '--warmup', '1', '--matmul-blocks', '8,16', '--json-out', json]);
    expect(r.code, r.stderr).toBe(0);
    // The JSON is the ladder results the page's Devices section imports.
    const results = parseDeviceResults(readFileSync(json, 'utf8'), 'ladder.json');
    expect(results.adapter).toMatch(/feature level, via /);
    expect(results.rows.map((x) => x.ran)[0]).toBe('v1 naive');
    const rows = r.stdout.split('\n').filter((l) => /^\| 512 \| fp8 \| 80 \| 4 \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    // v5 where the adapter has subgroups (SwiftShader), otherwise a line says it was not run
    const subgroups = gpu!.limits.subgroupMinSize > 0;
    expect(rows.map((c) => c[5])).toEqual(['v1 naive', 'v2 fused', 'v3 shared-latent', 'v4 tiled', ...(subgroups ? ['v5 subgroups'] : []), 'v6 matmuls']);
    if (!subgroups) expect(r.stdout).toContain('- not run: v5 subgroups needs the subgroups feature');
    expect(rows[0][7]).toBe('1.0x');
    for (const c of rows) {
      expect(c[9]).toMatch(/^\d+\.\d%$/); // % of the FMA ceiling
      expect(c[10]).toMatch(/^\d+%$/); // % of the plain-matmul yardstick
      expect(c[13]).toMatch(/^pass/);
    }
    expect(r.stdout).toContain('command: MLA_ADAPTER=');
    // the yardstick's forms: the blocks asked for, none of 32 x 32
    const matmulLine = r.stdout.split('\n').find((l) => l.startsWith('- plain matmul')) ?? '';
    expect(matmulLine).toContain('with 16x16 blocks, queries and keys from textures');
    expect(matmulLine).not.toContain('32x32');
    // Each point's % of the yardstick divides by the yardstick timed right after it.
    expect(r.stdout).toMatch(/^- yardstick beside each point: the best plain matmul timed again right after every point, [\d.]+ GFLOP\/s median \([\d.]+-[\d.]+\)/m);
    const written = JSON.parse(readFileSync(json, 'utf8')) as { rows: { gflops: number; yardstickGflops: number; yardstickFraction: number }[]; spec: { timing: object } };
    expect(written.spec.timing).toMatchObject({ samples: 3, warmup: 1 }); // --samples, --warmup
    written.rows.forEach((x, k) => {
      expect(x.yardstickFraction).toBe(x.gflops / x.yardstickGflops);
      expect(rows[k][10]).toBe(`${(100 * x.yardstickFraction).toFixed(0)}%`);
    });
    const bad = await cli(['bench', '--ladder', '--kv', 'fp4']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--kv "fp4" is not allowed: --kv must be one of f32, bf16, fp8');
  });

  it('bench --long: the dense points, then dense against indexer -> top-k -> sparse decode at the same lengths, each stage timed, the crossover', async () => {
    const json = join(dir, 'long.json');
    const r = await cli(['bench', '--long', '--presets', 'model1', '--kv', 'fp8', '--seqlens', '3000,5000', '--heads', '4', '--json-out', json]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('## Dense against sparse: model1, fp8 cache, h_q 4, top-2048');
    const table = r.stdout.split('\n').filter((l) => /^\| (3000|5000) \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(table.map((c) => c[1])).toEqual(['3000', '5000']);
    for (const c of table) {
      for (const ms of c.slice(2, 7)) expect(Number(ms)).toBeGreaterThan(0); // indexer, top-k, sparse, pipeline, dense
      expect(c[8]).toBe('pass');
    }
    expect(r.stdout).toMatch(/The indexer (stays under the sparse decode at every length here|overtakes the sparse decode at L = (3000|5000))/);
    const j = JSON.parse(readFileSync(json, 'utf8'));
    expect(j.rows.map((x: { seqlen: number }) => x.seqlen)).toEqual([3000, 5000]);
    expect(j.sparse).toHaveLength(1);
    const dense = j.rows.map((x: { medianMs: number }) => x.medianMs);
    expect(j.sparse[0].rows.map((x: { denseMs: number }) => x.denseMs)).toEqual(dense); // the dense point of the same cache
    expect(j.sparse[0]).toHaveProperty('crossover');
  });

  it('bench --tfjs: the flash kernel against the same decode in TensorFlow.js, both checked', async () => {
    const r = await cli(['bench', '--tfjs', '--presets', 'model1', '--kv', 'f32,fp8', '--seqlens', '90', '--heads', '4']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\| 512 \| (f32|fp8) \| 90 \| 4 \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.map((c) => c[2])).toEqual(['f32', 'fp8']);
    for (const c of rows) {
      expect(c[8]).toMatch(/^\d+\.\d\dx$/); // TF.js time / kernel time
      expect(c[9]).toMatch(/^pass/);
      expect(c[10]).toMatch(/^pass/); // TF.js agrees with the CPU reference: the same computation is timed
    }
    const bad = await cli(['bench', '--tfjs', '--ladder']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--tfjs is not allowed with --ladder or --full');
  });

  it('bench --gqa: MLA beside GQA at equal cache bytes, every point checked, its FLOPs a byte', async () => {
    const json = join(dir, 'gqa.json');
    const r = await cli(['bench', '--gqa', '--presets', 'model1', '--kv', 'f32', '--seqlens', '70', '--heads', '8', '--kv-heads', '1,2,8', '--json-out', json]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\| (1 \(MLA\)|\d+) \| \d+ \/ \d+ \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.map((c) => [c[1], c[2], c[3], c[4], c[9]])).toEqual([
      ['1 (MLA)', '512 / 512', '8', '2048', 'pass'], ['2', '256 / 256', '4', '2048', 'pass'], ['8', '64 / 64', '1', '2048', 'pass']]);
    const points = JSON.parse(readFileSync(json, 'utf8')).results[0].points as { hKv: number; intensity: number }[];
    // FLOPs a byte fall with h_kv: each cached value is read by h_q / h_kv query heads (within the bytes of q and out).
    expect(points[0].intensity / points[1].intensity).toBeGreaterThan(1.8);
    expect(points[1].intensity / points[2].intensity).toBeGreaterThan(3);
    for (const [args, message] of [
      [['--kv', 'fp8'], /--kv fp8 is not allowed for MLA beside GQA: bf16 or f32/],
      [['--heads', '6', '--kv-heads', '1,4'], /KV heads 4 is not allowed with h_q 6/],
      [['--ladder'], /--gqa is not allowed with --ladder/],
    ] as [string[], RegExp][]) {
      const bad = await cli(['bench', '--gqa', ...args]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr, args.join(' ')).toMatch(message);
    }
    const stray = await cli(['bench', '--kv-heads', '2']);
    expect(stray.stderr).toMatch(/--kv-heads is used with --gqa/);
  });

  it('run prints a passing check and a roofline fraction', async () => {
    const r = await cli(['run', '--preset', 'v32', '--kv', 'fp8', '--seqlens', '100,37', '--h-q', '4', '--samples', '2', '--warmup', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/check {4}PASS/);
    expect(r.stdout).toMatch(/% of the roofline bound/);
    expect(r.stdout).toMatch(/quant {4}fp8-v32 vs f32 cache/);
  });

  it('run --shard-mib cuts the cache into shards, and still passes', async () => {
    // 300 + 37 tokens in pages of 16: 19 + 3 + 2 = 24 pages of 9.6 KiB (MODEL1 FP8), 5 to a 0.05 MiB shard: 5 shards
    const r = await cli(['run', '--preset', 'model1', '--kv', 'fp8', '--seqlens', '300,37', '--h-q', '2', '--page-block-size', '16', '--shard-mib', '0.05', '--samples', '1', '--warmup', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/upload {3}kv cache 229.5 KiB in 5 shards of at most 47.8 KiB \(the shard cap \(51.2 KiB\)\)/);
    expect(r.stdout).toMatch(/check {4}PASS/);
    expect(r.stdout).toMatch(/ref {6}f64 over every key each row attends, all 2 heads/);
  });

  it('run on your own tensors: float32 cache, --out and --lse read back and checked', async () => {
    const shape = presetShape('model1', { seqlens: [70, 9], hQ: 3, sQ: 2 });
    const inp = generateInputs(shape, { seed: 11 });
    const kv = inp.kvRows.map((v) => (Number.isNaN(v) ? 0 : v)); // a real dump has no NaN poison
    const args = [
      'run', '--kv', 'bf16', '--kernel', 'naive', '--samples', '1', '--warmup', '0', '--json',
      '--q', file('q.npy', { dtype: 'float32', shape: [2, 2, 3, 512], data: inp.q }),
      '--kv-cache', file('kv.npy', { dtype: 'float32', shape: [inp.cache.numBlocks, 64, 1, 512], data: kv }),
      '--cache-seqlens', file('seqlens.npy', { dtype: 'int32', shape: [2], data: inp.cache.seqlens }),
      // a block table wider than needed (FlashMLA's max_blocks_per_seq), padded with 0
      '--block-table', file('bt.npy', { dtype: 'int32', shape: [2, inp.cache.maxBlocksPerSeq + 3], data: widen(inp.cache.blockTable, inp.cache.maxBlocksPerSeq, 3) }),
      '--out', join(dir, 'out.npy'), '--lse', join(dir, 'lse.npy'),
    ];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).check.pass).toBe(true);
    const out = parseNpy(new Uint8Array(readFileSync(join(dir, 'out.npy'))));
    const lse = parseNpy(new Uint8Array(readFileSync(join(dir, 'lse.npy'))));
    expect(out.shape).toEqual([2, 2, 3, 512]);
    expect(lse.shape).toEqual([2, 3, 2]);
    const layout = kvLayout('bf16', shape, 64);
    const ref = referenceAttention({ ...inp, kvRows: dequantizeKvCache(quantizeKvCache(kv, layout), layout) });
    expect(compareToReference({ out: out.data, lse: lse.data }, ref).pass).toBe(true);
  });

  it('run, sparse: the report counts the indices attended, the -1 padding and those out of range (skipped, as FlashMLA does)', async () => {
    // seqlen 40 < topk 64 pads request 0's rows with -1; the generator makes about 10 % of the entries invalid on purpose.
    const r = await cli(['run', '--seqlens', '40,100', '--h-q', '2', '--topk', '64', '--samples', '1', '--warmup', '0']);
    expect(r.code, r.stderr).toBe(0);
    const shape = presetShape('v32', { seqlens: [40, 100], hQ: 2, topk: 64 });
    const inp = generateInputs(shape, { seed: 0 });
    const c = countIndices(inp.indices!, inp.cache.numBlocks * shape.pageBlockSize);
    expect(c.padding).toBeGreaterThan(0);
    expect(c.outOfRange).toBeGreaterThan(0);
    expect(r.stdout).toContain(`indices  ${c.attended} of 128 attended; ${c.padding} padding (-1); ${c.outOfRange} out of range [0, ${c.numSlots}) skipped, as FlashMLA skips them`);
    expect(r.stdout).toMatch(/^check    PASS/m);
  });

  it('run on an FP8 cache given as FlashMLA\'s uint8 records', async () => {
    const shape = presetShape('v32', { seqlens: [50], hQ: 2 });
    const inp = generateInputs(shape, { seed: 12 });
    const layout = kvLayout('fp8', shape, 64);
    const bytes = quantizeKvCache(inp.kvRows.map((v) => (Number.isNaN(v) ? 0 : v)), layout);
    const r = await cli([
      'run', '--kv', 'fp8', '--samples', '1', '--warmup', '0', '--json',
      '--q', file('q8.npy', { dtype: 'float32', shape: [1, 1, 2, 576], data: inp.q }),
      '--kv-cache', file('kv8.npy', { dtype: 'uint8', shape: [inp.cache.numBlocks, 64, 1, 656], data: bytes }),
      '--cache-seqlens', file('s8.npy', { dtype: 'int32', shape: [1], data: inp.cache.seqlens }),
      '--block-table', file('bt8.npy', { dtype: 'int32', shape: [1, 1], data: inp.cache.blockTable }),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).check.pass).toBe(true);
  });

  it('a sparse call as FlashMLA takes it: no seqlens or block table, NaN in every unread slot, hostile indices, topk_length, sinks of +-inf', async () => {
    // Made the way FlashMLA's tests/lib.py makes a sparse decode case: pages of 53, every slot no valid index reads
    // holds NaN, invalid entries -2147483648, -123456, -1, the cache's size and 2147483647, a request of topk_length 0.
    const b = 2, sQ = 2, hQ = 4, d = 576, dV = 512, topk = 64, page = 53, blocks = 6, slots = blocks * page;
    const rng = new SeededRandom(77);
    const q = Float32Array.from({ length: b * sQ * hQ * d }, () => rng.normal());
    const kv = new Float32Array(slots * d).fill(NaN);
    const hostile = [-2147483648, -123456, -1, slots, 2147483647];
    const topkLength = Int32Array.of(50, 0);
    const indices = Int32Array.from({ length: b * sQ * topk }, (_, k) => (k % 7 === 3 ? hostile[k % 5] : rng.int(0, slots - 1)));
    const sink = Float32Array.of(Infinity, -Infinity, 0.3, -2);
    // Only the slots a valid index reads get a key: the rest stay NaN.
    indices.forEach((slot, k) => {
      if (k % topk < topkLength[Math.floor(k / (sQ * topk))] && slot >= 0 && slot < slots) for (let c = 0; c < d; c++) kv[slot * d + c] = 0.2 * Math.sin(slot + 0.37 * c);
    });
    const r = await cli([
      'run', '--kv', 'f32', '--samples', '1', '--warmup', '0', '--json',
      '--q', file('sq.npy', { dtype: 'float32', shape: [b, sQ, hQ, d], data: q }),
      '--kv-cache', file('skv.npy', { dtype: 'float32', shape: [blocks, page, 1, d], data: kv }),
      '--indices', file('sidx.npy', { dtype: 'int32', shape: [b, sQ, topk], data: indices }),
      '--topk-length', file('stl.npy', { dtype: 'int32', shape: [b], data: topkLength }),
      '--attn-sink', file('ssink.npy', { dtype: 'float32', shape: [hQ], data: sink }),
      '--out', join(dir, 'sout.npy'), '--lse', join(dir, 'slse.npy'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).check.pass).toBe(true);
    const out = parseNpy(new Uint8Array(readFileSync(join(dir, 'sout.npy')))).data;
    const lse = parseNpy(new Uint8Array(readFileSync(join(dir, 'slse.npy')))).data;
    const ref = sparseDecodeRef({ q, b, sQ, hQ, d, dV, sink, sources: [{ kv, slots, topk, indices, lengths: topkLength }] });
    expectClose(out, lse, ref);
  });

  it('run with several KV heads (GQA) from files as FlashMLA takes them: [blocks, page, h_kv, d], each group of query heads reading its own', async () => {
    // h_q 9 over h_kv 3, pages of 53 in shuffled order, an unused block-table entry of 2147480000, NaN in every unread slot of every head.
    const hQ = 9, hKv = 3, d = 576, page = 53, seqlens = [100, 7], blocks = 4;
    const rng = new SeededRandom(21);
    const table = Int32Array.of(3, 0, 2, 2147480000); // request 0: blocks 3, 0; request 1: block 2, then an entry never read
    const kv = new Float32Array(blocks * page * hKv * d).fill(NaN);
    const slot = (b: number, t: number) => table[b * 2 + Math.floor(t / page)] * page + (t % page);
    seqlens.forEach((len, b) => { for (let t = 0; t < len; t++) for (let k = 0; k < hKv * d; k++) kv[slot(b, t) * hKv * d + k] = rng.normal(); });
    const q = Float32Array.from({ length: 2 * hQ * d }, () => rng.normal());
    const files = [
      '--q', file('gqa-q.npy', { dtype: 'float32', shape: [2, 1, hQ, d], data: q }),
      '--kv-cache', file('gqa-kv.npy', { dtype: 'float32', shape: [blocks, page, hKv, d], data: kv }),
      '--cache-seqlens', file('gqa-seqlens.npy', { dtype: 'int32', shape: [2], data: Int32Array.from(seqlens) }),
      '--block-table', file('gqa-bt.npy', { dtype: 'int32', shape: [2, 2], data: table }),
    ];
    const r = await cli(['run', '--kv', 'f32', '--kernel', 'tiled', '--samples', '1', '--warmup', '0', ...files, '--out', join(dir, 'gqa-out.npy'), '--lse', join(dir, 'gqa-lse.npy')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/gqa +h_kv 3: query heads g\*3 \.\. g\*3\+2 read KV head g; run as an MQA call of 6 requests/);
    // The definition, written out: head h attends KV head floor(h / 3) of its request's tokens.
    const out = parseNpy(new Uint8Array(readFileSync(join(dir, 'gqa-out.npy'))), 'out');
    const lse = parseNpy(new Uint8Array(readFileSync(join(dir, 'gqa-lse.npy'))), 'lse');
    expect(out.shape).toEqual([2, 1, hQ, 512]);
    expect(lse.shape).toEqual([2, hQ, 1]);
    let worst = 0;
    for (let b = 0; b < 2; b++) {
      for (let h = 0; h < hQ; h++) {
        const g = Math.floor(h / 3);
        const s = Array.from({ length: seqlens[b] }, (_, t) => {
          let dot = 0;
          for (let c = 0; c < d; c++) dot += q[(b * hQ + h) * d + c] * kv[(slot(b, t) * hKv + g) * d + c];
          return dot / Math.sqrt(d);
        });
        const m = Math.max(...s);
        const l = m + Math.log(s.reduce((a, x) => a + Math.exp(x - m), 0));
        worst = Math.max(worst, Math.abs(lse.data[b * hQ + h] - l));
        for (let c = 0; c < 512; c += 37) {
          const o = s.reduce((a, x, t) => a + Math.exp(x - l) * kv[(slot(b, t) * hKv + g) * d + c], 0);
          worst = Math.max(worst, Math.abs(out.data[(b * hQ + h) * 512 + c] - o));
        }
      }
    }
    expect(worst, 'out and lse against the definition').toBeLessThan(1e-5);
    // Refused by name: h_q not a multiple of h_kv; a sparse call; --h-kv beside files; NaN in a read slot of KV head 2.
    const q8 = file('gqa-q8.npy', { dtype: 'float32', shape: [2, 1, 8, d], data: new Float32Array(2 * 8 * d) });
    const bad = kv.slice();
    bad[(slot(1, 6) * hKv + 2) * d + 5] = NaN;
    const badKv = file('gqa-bad-kv.npy', { dtype: 'float32', shape: [blocks, page, hKv, d], data: bad });
    for (const [args, message] of [
      [['--q', q8, ...files.slice(2)], /gqa-q8\.npy and .*gqa-kv\.npy: h_q = 8 is not allowed with h_kv = 3: h_q must be a multiple of h_kv/],
      [[...files, '--indices', file('gqa-i.npy', { dtype: 'int32', shape: [2, 1, 4], data: new Int32Array(8) })], /gqa-i\.npy: a sparse call takes one KV head/],
      [[...files, '--h-kv', '3'], /--h-kv is for generated inputs/],
      [[...files.slice(0, 2), '--kv-cache', badKv, ...files.slice(4)], /gqa-bad-kv\.npy holds NaN at \[2, 6, 2, 5\]/],
      [['--h-kv', '3', '--h-q', '8'], /--h-kv 3 is not allowed with --h-q 8/],
    ] as [string[], RegExp][]) {
      const refused = await cli(['run', '--kv', 'f32', ...args]);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('MODEL1\'s extra cache from files, a page size of its own, FP8 records in both: one softmax over both sources', async () => {
    const b = 2, sQ = 1, hQ = 3, d = 512, topk = 32, extraTopk = 24;
    const shape = presetShape('model1', { seqlens: [1], hQ });
    const main = { page: 64, blocks: 3 };
    const extra = { page: 53, blocks: 2 };
    const rng = new SeededRandom(78);
    const rowsOf = (slots: number) => Float32Array.from({ length: slots * d }, () => 0.5 * rng.normal());
    const mainLayout = kvLayout('fp8', shape, main.page);
    const extraLayout = kvLayout('fp8', shape, extra.page);
    const mainBytes = quantizeKvCache(rowsOf(main.blocks * main.page), mainLayout);
    const extraBytes = quantizeKvCache(rowsOf(extra.blocks * extra.page), extraLayout);
    const pick = (n: number, slots: number) => Int32Array.from({ length: b * sQ * n }, (_, k) => (k % 9 === 4 ? -1 : rng.int(0, slots - 1)));
    const indices = pick(topk, main.blocks * main.page);
    const extraIndices = pick(extraTopk, extra.blocks * extra.page);
    const topkLength = Int32Array.of(32, 20);
    const extraTopkLength = Int32Array.of(0, 24);
    const sink = Float32Array.of(0.5, -Infinity, 1);
    const q = Float32Array.from({ length: b * sQ * hQ * d }, () => rng.normal());
    const records = (bytes: Uint8Array, layout: typeof mainLayout, blocks: number) => {
      // FlashMLA's view of the cache: each page's records one after another, without the layout's padding.
      const perPage = layout.pageBlockSize * layout.bytesPerToken;
      const out = new Uint8Array(blocks * perPage);
      for (let blk = 0; blk < blocks; blk++) out.set(bytes.subarray(blk * layout.pageStride, blk * layout.pageStride + perPage), blk * perPage);
      return out;
    };
    const r = await cli([
      'run', '--kv', 'fp8', '--samples', '1', '--warmup', '0', '--json', '--kernel', 'tiled',
      '--q', file('xq.npy', { dtype: 'float32', shape: [b, sQ, hQ, d], data: q }),
      '--kv-cache', file('xkv.npy', { dtype: 'uint8', shape: [main.blocks, main.page, 1, 584], data: records(mainBytes, mainLayout, main.blocks) }),
      '--indices', file('xidx.npy', { dtype: 'int32', shape: [b, sQ, topk], data: indices }),
      '--topk-length', file('xtl.npy', { dtype: 'int32', shape: [b], data: topkLength }),
      '--extra-kv-cache', file('xkv2.npy', { dtype: 'uint8', shape: [extra.blocks, extra.page, 1, 584], data: records(extraBytes, extraLayout, extra.blocks) }),
      '--extra-indices', file('xidx2.npy', { dtype: 'int32', shape: [b, sQ, extraTopk], data: extraIndices }),
      '--extra-topk-length', file('xtl2.npy', { dtype: 'int32', shape: [b], data: extraTopkLength }),
      '--attn-sink', file('xsink.npy', { dtype: 'float32', shape: [hQ], data: sink }),
      '--out', join(dir, 'xout.npy'), '--lse', join(dir, 'xlse.npy'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).check.pass).toBe(true);
    const out = parseNpy(new Uint8Array(readFileSync(join(dir, 'xout.npy')))).data;
    const lse = parseNpy(new Uint8Array(readFileSync(join(dir, 'xlse.npy')))).data;
    // Each source read through its own indices and its own decoded cache, one softmax over both (FlashMLA's ref.py).
    const ref = sparseDecodeRef({
      q, b, sQ, hQ, d, dV: 512, sink, sources: [
        { kv: dequantizeKvCache(mainBytes, mainLayout), slots: main.blocks * main.page, topk, indices, lengths: topkLength },
        { kv: dequantizeKvCache(extraBytes, extraLayout), slots: extra.blocks * extra.page, topk: extraTopk, indices: extraIndices, lengths: extraTopkLength },
      ],
    });
    expectClose(out, lse, ref);
  });

  it('a mismatched tensor gets an error naming the file and both shapes', async () => {
    const r = await cli([
      'run', '--kv', 'fp8',
      '--q', file('badq.npy', { dtype: 'float32', shape: [1, 1, 2, 576], data: new Float32Array(1152) }),
      '--kv-cache', file('badkv.npy', { dtype: 'float32', shape: [2, 64, 1, 512], data: new Float32Array(2 * 64 * 512) }),
      '--cache-seqlens', file('bads.npy', { dtype: 'int32', shape: [1], data: Int32Array.from([10]) }),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/badkv\.npy: expected float32 \[2, 64, 1, 576\] \(num_blocks, page, 1, d_qk\), found float32 \[2, 64, 1, 512\]/);
  });

  it('layer --json: the seeded small layer both ways, every check passing, every stage timed', async () => {
    const r = await cli(['layer', '--seqlen', '100', '--s-q', '3', '--kv', 'bf16', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.pass).toBe(true);
    expect([j.keys, j.sQ, j.dims.heads, j.layout]).toEqual([100, 3, 16, 'bf16']);
    expect(j.agreement).toBeLessThanOrEqual(1e-5);
    expect(j.mha.check.pass && j.mqa.check.pass && j.mqa.ladder.pass && j.front.cache.pass).toBe(true);
    expect(j.stages.map((s: { way: string }) => s.way)).toEqual(['front', 'front', 'mha', 'mha', 'mha', 'mha', 'mqa', 'mqa', 'mqa', 'out']);
    expect(j.costs.map((c: { way: string }) => c.way)).toEqual(['mha-materialised', 'mha-recomputed', 'absorbed']);
  });

  it('layer on your own core tensors: --out read back and checked against the f64 naive formula', async () => {
    const rng = new SeededRandom(11);
    const h = 2, sQ = 2, L = 30;
    const fill = (n: number, sc = 1) => Float32Array.from({ length: n }, () => sc * rng.normal());
    const t = {
      uk: fill(h * 128 * 512, 512 ** -0.5), uv: fill(h * 128 * 512, 512 ** -0.5), qn: fill(sQ * h * 128), qp: fill(sQ * h * 64), lat: fill(L * 512), kpe: fill(L * 64),
    };
    const out = join(dir, 'layer-o.npy');
    const r = await cli([
      'layer', '--softmax-scale', '0.1', '--out', out,
      '--w-uk', file('uk.npy', { dtype: 'float32', shape: [h, 128, 512], data: t.uk }), '--w-uv', file('uv.npy', { dtype: 'float32', shape: [h, 128, 512], data: t.uv }),
      '--q-nope', file('qn.npy', { dtype: 'float32', shape: [sQ, h, 128], data: t.qn }), '--q-pe', file('qp.npy', { dtype: 'float32', shape: [sQ, h, 64], data: t.qp }),
      '--latent', file('lat.npy', { dtype: 'float32', shape: [L, 512], data: t.lat }), '--k-pe', file('kpe.npy', { dtype: 'float32', shape: [L, 64], data: t.kpe }),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/verdict  PASS/);
    // Each cost with its unit after a space; the materialised cache reads no weights, and says so.
    expect(r.stdout).toMatch(/^cost +MHA over a cache of per-head keys and values +[\d.]+ [KMG]?FLOP, cache [\d.]+ [KMG]?B, no weights read/m);
    expect(r.stdout).toMatch(/^cost +absorbed \(MQA\) over the latent cache +[\d.]+ [KMG]?FLOP, cache [\d.]+ [KMG]?B, weights [\d.]+ [KMG]?B \(bf16\)$/m);
    expect(r.stdout).not.toMatch(/\d[KMG]?B\b/);
    const o = parseNpy(new Uint8Array(readFileSync(out)), out);
    expect(o.shape).toEqual([sQ, h, 128]);
    const q = new Float32Array(sQ * h * 192);
    for (let k = 0; k < sQ * h; k++) { q.set(t.qn.subarray(k * 128, k * 128 + 128), k * 192); q.set(t.qp.subarray(k * 64, k * 64 + 64), k * 192 + 128); }
    const rows = new Float32Array(L * 576);
    for (let k = 0; k < L; k++) { rows.set(t.lat.subarray(k * 512, k * 512 + 512), k * 576); rows.set(t.kpe.subarray(k * 64, k * 64 + 64), k * 576 + 512); }
    const ref = referenceNaive({
      dims: { heads: h, qkNope: 128, qkRope: 64, vHead: 128, kvLoraRank: 512 }, sQ, keys: L, q, latentRows: rows, wUK: t.uk, wUV: t.uv,
      softmaxScale: 0.1, rope: 'decoupled', yarn: LAYER_CONFIGS.v3.yarn,
    });
    expect(compareToReference({ out: o.data as Float32Array, lse: [] }, { out: ref.o, lse: new Float64Array(0) }).pass).toBe(true);
  });

  it('layer refuses a bad .npy shape naming the file and the dims, and flags that do not fit', async () => {
    const f = (name: string, shape: number[]) => file(name, { dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const six = (over: Record<string, string> = {}) => Object.entries({
      'w-uk': f('l-uk.npy', [2, 128, 512]), 'w-uv': f('l-uv.npy', [2, 128, 512]), 'q-nope': f('l-qn.npy', [1, 2, 128]),
      'q-pe': f('l-qp.npy', [1, 2, 64]), latent: f('l-lat.npy', [8, 512]), 'k-pe': f('l-kpe.npy', [8, 64]), ...over,
    }).flatMap(([k, v]) => [`--${k}`, v]);
    const bad = await cli(['layer', ...six({ 'w-uv': f('l-uv-bad.npy', [2, 64, 512]) })]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--w-uv .*l-uv-bad\.npy: expected float32 \[2, 128, 512\] \(h, 128, 512\), found float32 \[2, 64, 512\]/);
    const kpe = await cli(['layer', ...six({ 'k-pe': f('l-kpe-bad.npy', [9, 64]) })]);
    expect(kpe.stderr).toMatch(/l-kpe-bad\.npy: expected float32 \[8, 64\] \(L, 64\), found float32 \[9, 64\]/);
    const missing = await cli(['layer', '--w-uk', f('l-uk2.npy', [2, 128, 512])]);
    expect(missing.stderr).toContain('your own tensors go together: --w-uv, --q-nope, --q-pe, --latent, --k-pe missing');
    const config = await cli(['layer', ...six(), '--config', 'v3']);
    expect(config.stderr).toContain('--config is not used with your own tensors');
    const model1 = await cli(['layer', '--config', 'model1']);
    expect(model1.code).toBe(2);
    expect(model1.stderr).toMatch(/--config model1 is not offered: MODEL1 .* has no published up-projections/);
    const long = await cli(['layer', '--seqlen', '40000']);
    expect(long.stderr).toContain('--seqlen "40000" is not allowed: --seqlen must be an integer from 1 to 32768');
    // The softmax scale: by its flag and the layer's own default; scores past f32 refused before any GPU work, as run does.
    const negative = await cli(['layer', ...six(), '--softmax-scale=-1']);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('--softmax-scale -1 is not allowed: the softmax scale must be a finite number > 0 (unset: the model\'s, 0.135234)');
    const ones = (name: string, shape: number[]) => file(name, { dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1) });
    const big = { 'w-uk': ones('l-uk1.npy', [2, 128, 512]), 'q-nope': ones('l-qn1.npy', [1, 2, 128]), latent: ones('l-lat1.npy', [8, 512]) };
    const huge = await cli(['layer', ...six(big), '--softmax-scale', '1e38']);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/--q-nope .*l-qn1\.npy, --w-uk .*l-uk1\.npy, --latent .*l-lat1\.npy, .* with --softmax-scale 1e38: scores can reach 6\.55e\+42 .* beyond what f32 carries/);
    expect(huge.stderr).not.toContain('FAIL');
  });

  it('sparse --json: indexer, top-k and the sparse decode checked, the planted tokens found, the dense decode beside', async () => {
    const r = await cli(['sparse', '--seqlens', '3000', '--h-q', '8', '--topk', '128', '--plant', '3', '--no-time', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.pass).toBe(true);
    expect([j.keys, j.topk, j.hQ, j.layout]).toEqual([3000, 128, 8, 'fp8-v32']);
    expect(j.indexer.check.pass && j.topkCheck.pass && j.sparse.pass && j.dense.check.pass).toBe(true);
    expect(j.recall).toEqual({ planted: 3, found: 3, of: 3 });
    expect(j.ms).toBeUndefined(); // --no-time
  });

  it('sparse refuses what it cannot run, by flag', async () => {
    const two = await cli(['sparse', '--seqlens', '100,200']);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('--seqlens 100,200 is not allowed: the sparse pipeline runs one request');
    const k = await cli(['sparse', '--topk', '0']);
    expect(k.stderr).toContain('--topk "0" is not allowed: --topk must be an integer from 1 to 65536');
    const plant = await cli(['sparse', '--seqlens', '100', '--plant', '101']);
    expect(plant.stderr).toContain('--plant "101" is not allowed: --plant must be an integer from 0 to 100');
    const badK = await cli(['sparse', '--index-q', file('iq-bad.npy', { dtype: 'float32', shape: [1, 64, 128], data: new Float32Array(8192) }),
      '--index-k', file('ik-bad.npy', { dtype: 'float32', shape: [300, 64], data: new Float32Array(300 * 64) }),
      '--index-weights', file('iw-bad.npy', { dtype: 'float32', shape: [1, 64], data: new Float32Array(64) })]);
    expect(badK.code).toBe(2);
    expect(badK.stderr).toMatch(/--index-k .*ik-bad\.npy: expected float32 \[\?, 128\] \(L, 128\), found float32 \[300, 64\]/);
    const some = await cli(['sparse', '--index-q', file('iq-only.npy', { dtype: 'float32', shape: [1, 64, 128], data: new Float32Array(8192) })]);
    expect(some.stderr).toContain('your own indexer tensors go together: --index-k, --index-weights missing');
    const extra = await cli(['sparse', '--extra-topk', '5']);
    expect(extra.stderr).toContain('--extra-seqlens and --extra-topk go together');
  });

  it('sparse on your own indexer tensors: they give L and s_q, and every stage passes', async () => {
    const rng = new SeededRandom(12);
    const fill = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const r = await cli(['sparse', '--h-q', '4', '--topk', '32', '--no-time', '--no-dense', '--json',
      '--index-q', file('iq.npy', { dtype: 'float32', shape: [2, 64, 128], data: fill(2 * 8192) }),
      '--index-k', file('ik.npy', { dtype: 'float32', shape: [500, 128], data: fill(500 * 128) }),
      '--index-weights', file('iw.npy', { dtype: 'float32', shape: [2, 64], data: fill(128) })]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect([j.keys, j.sQ, j.pass]).toEqual([500, 2, true]);
  });

  it('claims --json: the nine claims with their verdicts, computed without a device', async () => {
    const r = await cli(['claims', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rows.map((row: { verdict: string }) => row.verdict)).toEqual(['wrong', 'partly', 'partly', 'partly', 'not measurable here', 'not measurable here', 'wrong', 'holds', 'not measurable here']);
    expect(j.rows[5].numbers.model1Fp8At1M).toBe(37_354_471_424);
    const bad = await cli(['claims', '--long-tokens', '1000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--long-tokens is only used with --measure');
  });

  it('bad flags name the allowed values', async () => {
    const r = await cli(['run', '--kv', 'fp16']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--kv "fp16" is not allowed: --kv must be one of f32, bf16, fp8');
    const s = await cli(['run', '--h-q', '0']);
    expect(s.stderr).toContain('--h-q "0" is not allowed: --h-q must be an integer from 1');
  });
});
