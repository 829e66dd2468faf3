/**
 * `mla-sandbox prefill` from files, as flash_mla_sparse_fwd takes them: q
 * [s_q, h_q, d_qk], kv [s_kv, 1, d_qk] (or paged), indices [s_q, 1, topk] with
 * FlashMLA's hostile values, NaN in every slot no index reads, a sink of
 * +-inf, topk_length; out, lse and max_logits read back and checked against
 * FlashMLA's tests/ref.py (ref_sparse_attn_fwd) written out here in f64.
 * Bad input refused by name before any GPU work.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu } from './support/gpu';
import { cli } from './support/cli';
import { encodeNpy, parseNpy } from '../src/run/npy';
import { SeededRandom } from '../src/random/seeded-random';

const gpu = await testGpu();

// FlashMLA's "irregular shape with OOB topk" (s_kv 153, topk 256), MODEL1's head, fewer heads.
const S_Q = 40;
const S_KV = 153;
const TOPK = 256;
const H_Q = 8;
const D = 512;
const D_V = 512;
const SCALE = 0.5;
const HOSTILE = [-2147483648, -123456, -1, S_KV, 114514, 1919810, 2147480000, 2147483647];

const rng = new SeededRandom(31);
const q = Float32Array.from({ length: S_Q * H_Q * D }, () => rng.normal() / 10);
const kv = Float32Array.from({ length: S_KV * D }, () => rng.normal() / 10);
const indices = new Int32Array(S_Q * TOPK);
for (let i = 0; i < S_Q; i++) {
  const perm = rng.permutation(S_KV);
  for (let k = 0; k < TOPK; k++) indices[i * TOPK + k] = k < S_KV ? perm[k] : HOSTILE[rng.int(0, HOSTILE.length - 1)];
  if (i % 13 === 5) indices.fill(HOSTILE[i % HOSTILE.length], i * TOPK, (i + 1) * TOPK); // a token with no valid index
}
const topkLength = Int32Array.from({ length: S_Q }, (_, i) => (i % 7 === 3 ? 0 : rng.int(1, TOPK)));
const sink = Float32Array.from({ length: H_Q }, (_, h) => (h === 1 ? Infinity : h === 2 ? -Infinity : rng.normal()));
// NaN in every row no index (within its token's topk_length) reads, as FlashMLA's tests fill them.
const read = new Set<number>();
for (let i = 0; i < S_Q; i++) for (let k = 0; k < topkLength[i]; k++) { const s = indices[i * TOPK + k]; if (s >= 0 && s < S_KV) read.add(s); }
for (let t = 0; t < S_KV; t++) if (!read.has(t)) kv.fill(NaN, t * D, (t + 1) * D);

/** tests/ref.py's ref_sparse_attn_fwd in f64: masked indices, natural-unit logits, sink merged into lse for out only, a lonely token out 0 / max -inf / lse +inf. */
function reference() {
  const out = new Float64Array(S_Q * H_Q * D_V);
  const lse = new Float64Array(S_Q * H_Q);
  const maxLogits = new Float64Array(S_Q * H_Q);
  for (let i = 0; i < S_Q; i++) {
    const keys = [...indices.subarray(i * TOPK, i * TOPK + topkLength[i])].filter((s) => s >= 0 && s < S_KV);
    for (let h = 0; h < H_Q; h++) {
      const row = i * H_Q + h;
      const p = keys.map((s) => { let a = 0; for (let c = 0; c < D; c++) a += q[row * D + c] * kv[s * D + c]; return a * SCALE; });
      const m = Math.max(...p);
      const orig = keys.length === 0 ? -Infinity : m + Math.log(p.reduce((a, x) => a + Math.exp(x - m), 0));
      maxLogits[row] = keys.length === 0 ? -Infinity : m;
      lse[row] = orig === -Infinity ? Infinity : orig;
      let forOut = sink[h] === -Infinity ? orig : Math.max(orig, sink[h]) + Math.log(Math.exp(orig - Math.max(orig, sink[h])) + Math.exp(sink[h] - Math.max(orig, sink[h])));
      if (forOut === -Infinity || Number.isNaN(forOut)) forOut = Infinity;
      for (let c = 0; c < D_V; c++) out[row * D_V + c] = keys.reduce((a, s, k) => a + Math.exp(p[k] - forOut) * kv[s * D + c], 0);
    }
  }
  return { out, lse, maxLogits };
}

describe.skipIf(!gpu)('mla-sandbox prefill', () => {
  let dir: string;
  const path = (name: string) => join(dir, name);
  const file = (name: string, data: Parameters<typeof encodeNpy>[0]) => { writeFileSync(path(name), encodeNpy(data)); return path(name); };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mla-prefill-'));
    file('q.npy', { dtype: 'float32', shape: [S_Q, H_Q, D], data: q });
    file('kv.npy', { dtype: 'float32', shape: [S_KV, 1, D], data: kv });
    file('indices.npy', { dtype: 'int32', shape: [S_Q, 1, TOPK], data: indices });
    file('sink.npy', { dtype: 'float32', shape: [H_Q], data: sink });
    file('topk-length.npy', { dtype: 'int32', shape: [S_Q], data: topkLength });
  });
  const given = () => ['prefill', '--q', path('q.npy'), '--kv-cache', path('kv.npy'), '--indices', path('indices.npy'), '--attn-sink', path('sink.npy'),
    '--topk-length', path('topk-length.npy'), '--softmax-scale', String(SCALE), '--kv', 'f32', '--no-time'];

  it('takes FlashMLA\'s tensors and writes out, lse and max_logits that match ref.py', async () => {
    const r = await cli([...given(), '--check-tokens', 'all', '--out', path('out.npy'), '--lse', path('lse.npy'), '--max-logits', path('max.npy'), '--profile', path('no-profile.json')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/check +PASS/);
    // flash reads the device profile's sparse class of top-256; there is none, and the line says how to make it.
    expect(r.stdout).toMatch(/tuning +default \(no profile at .*no-profile\.json; mla-sandbox bench --tune --preset model1 --kv f32 --h-q 8 --topk 256 makes one\)/);
    const load = (name: string) => parseNpy(new Uint8Array(readFileSync(path(name))), name);
    const [out, lse, max] = [load('out.npy'), load('lse.npy'), load('max.npy')];
    expect(out.shape).toEqual([S_Q, H_Q, D_V]);
    expect(lse.shape).toEqual([S_Q, H_Q]);
    expect(max.shape).toEqual([S_Q, H_Q]);
    const ref = reference();
    let lonely = 0;
    ref.lse.forEach((x, k) => {
      if (x === Infinity) { lonely++; expect(lse.data[k]).toBe(Infinity); expect(max.data[k]).toBe(-Infinity); } else {
        expect(Math.abs(lse.data[k] - x), `lse ${k}`).toBeLessThan(1e-5);
        expect(Math.abs(max.data[k] - ref.maxLogits[k]), `max_logits ${k}`).toBeLessThan(1e-5);
      }
    });
    expect(lonely).toBeGreaterThan(H_Q); // tokens with no valid index, and those of topk_length 0
    let worst = 0;
    ref.out.forEach((x, k) => { worst = Math.max(worst, Math.abs(out.data[k] - x)); });
    expect(worst, 'out against ref.py written out').toBeLessThan(8e-4 / 10); // FlashMLA's abs 8e-4 is for bf16 out
    // The +inf sink zeroes head 1 everywhere.
    for (let i = 0; i < S_Q; i++) expect(out.data.subarray((i * H_Q + 1) * D_V, (i * H_Q + 2) * D_V).every((x) => x === 0)).toBe(true);
  });

  it('the same tokens in a paged cache (shuffled pages of 61, NaN past the tokens) give the same out', async () => {
    const page = 61;
    const blocks = Math.ceil(S_KV / page) + 1;
    const order = new SeededRandom(5).permutation(blocks);
    const paged = new Float32Array(blocks * page * D).fill(NaN);
    for (let t = 0; t < S_KV; t++) paged.set(kv.subarray(t * D, (t + 1) * D), (order[Math.floor(t / page)] * page + (t % page)) * D);
    file('paged.npy', { dtype: 'float32', shape: [blocks, page, 1, D], data: paged });
    // Valid indices become physical slots; an invalid one that would land inside the larger paged cache (S_KV itself, say) becomes -1.
    const moved = indices.map((s) => (s >= 0 && s < S_KV ? order[Math.floor(s / page)] * page + (s % page) : s >= 0 && s < blocks * page ? -1 : s));
    file('paged-indices.npy', { dtype: 'int32', shape: [S_Q, 1, TOPK], data: moved });
    const args = given();
    args[args.indexOf('--kv-cache') + 1] = path('paged.npy');
    args[args.indexOf('--indices') + 1] = path('paged-indices.npy');
    const r = await cli([...args, '--out', path('paged-out.npy')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/a paged cache of 4 pages of 61 tokens/);
    const a = parseNpy(new Uint8Array(readFileSync(path('paged-out.npy'))), 'paged');
    const ref = reference();
    let worst = 0;
    ref.out.forEach((x, k) => { worst = Math.max(worst, Math.abs(a.data[k] - x)); });
    expect(worst).toBeLessThan(8e-5);
  });

  it('--indexer: the indexer and top-k over a prompt feed the sparse prefill, every stage checked', async () => {
    const r = await cli(['prefill', '--indexer', '--s-kv', '384', '--s-q', '200', '--topk', '64', '--h-q', '8', '--chunk-tokens', '128', '--no-time', '--profile', path('no-profile.json'),
      '--indices-out', path('chosen.npy'), '--max-logits', path('prompt-max.npy')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    // The chosen indices in FlashMLA's layout: query token i (position 184 + i) 64 distinct tokens of those up to its own.
    const chosen = parseNpy(new Uint8Array(readFileSync(path('chosen.npy'))), 'chosen');
    expect(chosen.shape).toEqual([200, 1, 64]);
    for (let i = 0; i < 200; i++) {
      const row = [...chosen.data.subarray(i * 64, (i + 1) * 64)];
      expect(new Set(row).size).toBe(64);
      expect(row.every((t) => t >= 0 && t <= 184 + i), `row ${i}`).toBe(true);
    }
    expect(parseNpy(new Uint8Array(readFileSync(path('prompt-max.npy'))), 'max').shape).toEqual([200, 8]);
    expect(r.stdout).toMatch(/prompt +query tokens 184\.\.383 of 384/);
    expect(r.stdout).toMatch(/chunks +2 of up to 128 query tokens/);
    expect(r.stdout).toMatch(/indexer +PASS/);
    expect(r.stdout).toMatch(/top-k +PASS/);
    expect(r.stdout).toMatch(/prefill +on the chosen indices: PASS/);
    expect(r.stdout).toMatch(/verdict +PASS/);
  });

  it('--indexer with your own tensors (the indexer\'s and the attention\'s): the scores and chosen indices written; the prefill on those indices gives the same out', async () => {
    const L = 300, sQ = 24, k = 32, hQ = 4, r2 = new SeededRandom(77);
    const normal = (n: number, s = 1) => Float32Array.from({ length: n }, () => s * r2.normal());
    file('iq.npy', { dtype: 'float32', shape: [sQ, 64, 128], data: normal(sQ * 64 * 128) });
    file('ik.npy', { dtype: 'float32', shape: [L, 128], data: normal(L * 128) });
    file('iw.npy', { dtype: 'float32', shape: [sQ, 64], data: normal(sQ * 64) });
    file('pq.npy', { dtype: 'float32', shape: [sQ, hQ, D], data: normal(sQ * hQ * D, 0.1) });
    file('pkv.npy', { dtype: 'float32', shape: [L, 1, D], data: normal(L * D, 0.1) });
    const own = ['--index-q', path('iq.npy'), '--index-k', path('ik.npy'), '--index-weights', path('iw.npy')];
    const r = await cli(['prefill', '--indexer', ...own, '--q', path('pq.npy'), '--kv-cache', path('pkv.npy'), '--topk', String(k), '--kernel', 'tiled', '--no-time',
      '--check-tokens', '4', '--indices-out', path('own-chosen.npy'), '--scores-out', path('own-scores.npy'), '--out', path('own-out.npy')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/inputs +your indexer tensors \(--index-q, --index-k, --index-weights\); the attention's yours \(--q, --kv-cache\)/);
    expect(r.stdout).toMatch(/prompt +query tokens 276\.\.299 of 300/);
    const load = (name: string) => parseNpy(new Uint8Array(readFileSync(path(name))), name);
    const scores = load('own-scores.npy'), chosen = load('own-chosen.npy');
    expect(scores.shape).toEqual([sQ, L]);
    expect(chosen.shape).toEqual([sQ, 1, k]);
    for (let i = 0; i < sQ; i++) {
      const visible = L - sQ + i + 1;
      const row = scores.data.subarray(i * L, (i + 1) * L);
      expect(row.subarray(0, visible).every(Number.isFinite) && row.subarray(visible).every((x) => x === -Infinity), `row ${i}: finite up to its own token, -inf past it`).toBe(true);
      // The chosen are exactly the row's top k: none unchosen scores above the least chosen.
      const picks = new Set(chosen.data.subarray(i * k, (i + 1) * k));
      expect(picks.size).toBe(k);
      expect([...picks].every((t) => t >= 0 && t < visible)).toBe(true);
      const least = Math.min(...[...picks].map((t) => row[t]));
      expect(row.subarray(0, visible).every((x, t) => picks.has(t) || x <= least), `row ${i}: top ${k}`).toBe(true);
    }
    // The same attention as FlashMLA's call on the chosen indices.
    const again = await cli(['prefill', '--q', path('pq.npy'), '--kv-cache', path('pkv.npy'), '--indices', path('own-chosen.npy'), '--kernel', 'tiled', '--no-time', '--check-tokens', '4', '--out', path('own-out-2.npy')]);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const a = load('own-out.npy'), b = load('own-out-2.npy');
    let worst = 0;
    a.data.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - b.data[j])); });
    expect(worst).toBeLessThan(1e-6);
    // Refusals that need these files.
    for (const [args, message] of [
      [[...own, '--s-kv', '300'], /--s-kv: your own tensors give L and s_q; leave it out/],
      [[...own, '--q', path('q.npy'), '--kv-cache', path('kv.npy')], /--q .*q\.npy: expected float32 \[24, \?, \?\] \(s_q = 24 as --index-q/],
      [[...own, '--q', path('pq.npy')], /--q and --kv-cache go together .*--kv-cache missing/],
      [[...own, '--q', path('pq.npy'), '--kv-cache', path('pkv.npy'), '--h-q', '8'], /--h-q: your own tensors give L, s_q, h_q and the head/],
    ] as [string[], RegExp][]) {
      const bad = await cli(['prefill', '--indexer', ...args]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('sparse writes the chosen indices, the indexer\'s scores, out and lse', async () => {
    const r = await cli(['sparse', '--seqlens', '512', '--topk', '64', '--h-q', '8', '--no-dense', '--no-time', '--kv', 'bf16',
      '--indices-out', path('sparse-indices.npy'), '--scores-out', path('sparse-scores.npy'), '--out', path('sparse-out.npy'), '--lse', path('sparse-lse.npy')]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const load = (name: string) => parseNpy(new Uint8Array(readFileSync(path(name))), name);
    const indices = load('sparse-indices.npy');
    expect(indices.shape).toEqual([1, 1, 64]);
    expect(new Set(indices.data).size).toBe(64);
    expect(load('sparse-scores.npy').shape).toEqual([1, 512]);
    expect(load('sparse-out.npy').shape).toEqual([1, 1, 8, 512]);
    expect(load('sparse-lse.npy').shape).toEqual([1, 8, 1]);
  });

  it('prompt-cost: both ways over the same prompts and the layer\'s two in chunks, each checked, the model fitted and carried to 1M tokens', async () => {
    const r = await cli(['prompt-cost', '--preset', 'v32', '--lengths', '192,96', '--h-q', '8', '--topk', '64', '--mha-chunk', '80', '--check-tokens', '3', '--profile', path('no-profile.json'), '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    type Layer = { mhaMs: number; mqaMs: number; chunks: number; pass: boolean };
    const j = JSON.parse(r.stdout) as { points: { keys: number; pageSize: number; densePass: boolean; dsaPass: boolean; ms: Record<string, number>; layer: Layer }[]; fitError: { dense: number; layerMha: number }; curves: { keys: number; measured: boolean; layerMhaMs: number }[]; pass: boolean };
    expect(j.points.map((p) => p.keys)).toEqual([96, 192]);
    expect(j.points.map((p) => p.pageSize)).toEqual([96, 96]); // one flat page at both lengths: each kernel compiled once
    expect(j.points.every((p) => p.densePass && p.dsaPass && p.layer.pass)).toBe(true);
    expect(j.points.map((p) => p.layer.chunks)).toEqual([2, 3]); // chunks of 80 query tokens: 96 = 80 + 16, 192 = 80 + 80 + 32
    expect(j.points.every((p) => p.layer.mhaMs > 0 && p.layer.mqaMs > 0)).toBe(true);
    expect(Number.isFinite(j.fitError.layerMha)).toBe(true);
    expect(j.curves.at(-1)!.layerMhaMs).toBeGreaterThan(0);
    expect(Object.keys(j.points[0].ms).sort()).toEqual(['dense', 'indexer', 'sparse', 'topk']);
    expect(j.points.every((p) => Object.values(p.ms).every((ms) => ms > 0))).toBe(true);
    expect(Number.isFinite(j.fitError.dense)).toBe(true);
    expect(j.curves.filter((c) => c.measured).map((c) => c.keys)).toEqual([96, 192]);
    expect(j.curves.at(-1)).toEqual(expect.objectContaining({ keys: 1 << 20, measured: false }));
    // The speed probed around each way: its range, and the error of a fit at the run's median speed beside the model's.
    const sj = JSON.parse(r.stdout) as { points: { speed: { dense: number; dsa: number; layer: number } }[]; speedCorrection: { medianGflops: number; minGflops: number; maxGflops: number; correctedFitError: { dense: number } } };
    for (const p of sj.points) for (const g of [p.speed.dense, p.speed.dsa, p.speed.layer]) expect(g).toBeGreaterThan(0);
    const all = sj.points.flatMap((p) => [p.speed.dense, p.speed.dsa, p.speed.layer]);
    expect(sj.speedCorrection.minGflops).toBe(Math.min(...all));
    expect(sj.speedCorrection.maxGflops).toBe(Math.max(...all));
    expect(Number.isFinite(sj.speedCorrection.correctedFitError.dense)).toBe(true);
  });

  it('refuses bad input by name before any GPU work', async () => {
    const cases: [string[], RegExp][] = [
      [['prefill', '--q', path('q.npy'), '--kv-cache', path('kv.npy')], /--indices missing/],
      [[...given(), '--s-kv', '100'], /--s-kv is not used with your own tensors/],
      [[...given(), '--out', path('q.npy')], /--out .* is the same file as --q/],
      [['prefill', '--q', path('q.npy'), '--kv-cache', path('kv.npy'), '--indices', path('topk-length.npy')], /--indices .*topk-length\.npy: expected int32 \[40, 1, \?\]/],
      [['prefill', '--s-q', '0'], /--s-q "0" is not allowed/],
      [['prefill', '--all-invalid', '2'], /--all-invalid 2 is not allowed/],
      [['prefill', '--indexer', '--page-size', '64'], /--page-size is not used with --indexer/],
      [['prefill', '--indices-out', path('x.npy')], /--indices-out: the indexer's inputs and outputs are used with --indexer/],
      [['prefill', '--index-q', path('x.npy'), '--scores-out', path('y.npy')], /--scores-out, --index-q: the indexer's inputs and outputs are used with --indexer/],
      [['prefill', '--indexer', '--index-q', path('q.npy')], /your own indexer tensors go together: --index-k, --index-weights missing/],
      [['prefill', '--indexer', '--q', path('q.npy'), '--kv-cache', path('kv.npy')], /the attention's own tensors go with your own indexer tensors/],
      [['sparse', '--sweep', '4096', '--out', path('x.npy')], /--out: --sweep runs many lengths and writes no tensors/],
      [['prefill', '--indexer', '--s-kv', '100', '--s-q', '200'], /--s-q "200" is not allowed/],
      [['prompt-cost', '--lengths', '1024,1'], /--lengths: 1 is not allowed/],
      [['prompt-cost', '--mha-chunk', '256'], /--mha-chunk: the layer's MHA mode runs V3\.2's head .* only \(--preset v32\)/],
      [['prompt-cost', '--lengths', '1048576', '--h-q', '128'], /q or out of s_q 1048576 x h_q 128 is over the 4 GiB one array holds/],
      [['layer', '--s-q', '2000'], /--s-q "2000" is not allowed/],
    ];
    for (const [args, want] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(want);
    }
    // NaN in a row an index reads: refused with the file and the position.
    const bad = kv.slice();
    const first = [...read][0];
    bad[first * D + 3] = NaN;
    file('bad-kv.npy', { dtype: 'float32', shape: [S_KV, 1, D], data: bad });
    const args = given();
    args[args.indexOf('--kv-cache') + 1] = path('bad-kv.npy');
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-kv\.npy holds NaN at/);
  });
});
