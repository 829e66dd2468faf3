/**
 * The Run view's third mode in a real Chromium: your own tensors picked as
 * .npy files, for both of FlashMLA's calls on one page: the decode call (a
 * sparse FP8 call over 8K cached tokens with a sink of +-inf and
 * topk_length, NaN in every slot no valid index reads) and the sparse
 * prefill (a flat cache, hostile indices, topk_length 0 for some tokens),
 * each run on the browser's GPU, checked, and its returns downloaded: the
 * same as the command line gives for the same files; a file named after no
 * argument of the call is refused.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveChromium, usePage } from './support/page';
import { cli } from './support/cli';
import { encodeNpy, parseNpy, type NpyArray } from '../src/run/npy';
import { SeededRandom } from '../src/random/seeded-random';
import { presetShape } from '../src/mla/shape';
import { kvLayout } from '../src/mla/kv-layout';
import { quantizeKvCache } from '../src/mla/kv-quant';

describe.skipIf(!haveChromium)('the page in Chromium: your own tensors', () => {
  const h = usePage();

  it('a sparse FP8 decode over 8K tokens and a sparse prefill from .npy files, with sinks and topk_length: both pass, and their returns are the command line\'s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mla-files-'));
    const save = (name: string, a: NpyArray) => { writeFileSync(join(dir, name), encodeNpy(a)); return join(dir, name); };
    const hQ = 8, topk = 2048, page = 64, blocks = 128, d = 576, slots = blocks * page; // 8192 cached tokens
    const rng = new SeededRandom(5);
    const indices = Int32Array.from({ length: topk }, (_, k) => (k % 97 === 5 ? -1 : k % 211 === 7 ? slots + k : rng.int(0, slots - 1)));
    const topkLength = Int32Array.of(1900);
    const rows = new Float32Array(slots * d).fill(NaN);
    indices.forEach((s, k) => { if (k < topkLength[0] && s >= 0 && s < slots) for (let c = 0; c < d; c++) rows[s * d + c] = 0.3 * Math.sin(0.7 * s + 0.11 * c); });
    // FP8 records as FlashMLA stores them; the NaN rows quantise to NaN records, which no valid index reads.
    const records = quantizeKvCache(rows, kvLayout('fp8', presetShape('v32', { seqlens: [slots], hQ }), page));
    const files = {
      q: save('q.npy', { dtype: 'float32', shape: [1, 1, hQ, d], data: Float32Array.from({ length: hQ * d }, () => rng.normal()) }),
      'kv-cache': save('k_cache.npy', { dtype: 'uint8', shape: [blocks, page, 1, 656], data: records }),
      indices: save('indices.npy', { dtype: 'int32', shape: [1, 1, topk], data: indices }),
      'topk-length': save('topk_length.npy', { dtype: 'int32', shape: [1], data: topkLength }),
      'attn-sink': save('attn_sink.npy', { dtype: 'float32', shape: [hQ], data: Float32Array.of(Infinity, -Infinity, 0, 1, -1, 2, -2, 0.5) }),
    };
    const { page: tab, errors } = await h.openView('?pipeline=files#run');
    await tab.locator('#files-root').waitFor({ timeout: 60_000 });
    for (const [flag, path] of Object.entries(files)) await tab.setInputFiles(`#file-${flag}`, path);
    await tab.selectOption('#files-form select[name="kernel"]', 'tiled');
    await tab.fill('#files-form input[name="splits"]', '4');
    await tab.click('#files-run');
    await tab.locator('#files-root[data-check]').waitFor({ timeout: 240_000 });
    await tab.screenshot({ path: 'test-results/page-files.png', fullPage: true });
    expect(await tab.locator('#files-root').getAttribute('data-check'), (await tab.locator('#files-status').textContent()) ?? '').toBe('pass');
    const result = (await tab.locator('#files-result').textContent())!;
    expect(result).toContain('files    --q q.npy  --kv-cache k_cache.npy  --indices indices.npy  --topk-length topk_length.npy  --attn-sink attn_sink.npy');
    expect(result).toMatch(/seqlens none \(the indices name the keys\), page 64, topk 2048, sink/);
    const download = tab.waitForEvent('download');
    await tab.click('#files-out');
    const fromPage = parseNpy(new Uint8Array(readFileSync((await (await download).path())!)));
    // The command line on the same files, kernel and splits.
    const outPath = join(dir, 'out-cli.npy');
    const r = await cli(['run', '--kv', 'fp8', '--kernel', 'tiled', '--splits', '4', '--samples', '1', '--warmup', '0', '--out', outPath,
      ...Object.entries(files).flatMap(([flag, path]) => [`--${flag}`, path])]);
    expect(r.code, r.stderr).toBe(0);
    const fromCli = parseNpy(new Uint8Array(readFileSync(outPath)));
    expect(fromPage.shape).toEqual([1, 1, hQ, 512]);
    expect(fromPage.shape).toEqual(fromCli.shape);
    let worst = 0;
    fromPage.data.forEach((x, k) => { worst = Math.max(worst, Math.abs(x - fromCli.data[k])); });
    expect(worst, 'the page\'s out against the command line\'s').toBeLessThan(1e-5);
    expect([...fromPage.data.subarray(0, 512)].every((x) => x === 0), 'head 0 (sink +inf) is zero').toBe(true);
    // A dropped file named after no field is refused by name.
    await tab.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(8)], 'weights.npy'));
      document.querySelector('#files-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    expect(await tab.locator('#files-status').textContent()).toMatch(/^Not taken: weights\.npy: a file must be named after an argument of flash_mla_with_kvcache \(q\.npy, kv-cache\.npy/);

    // The prefill call (flash_mla_sparse_fwd) on the same page: a flat MODEL1 cache with NaN in every row no valid index
    // names, FlashMLA's hostile indices, topk_length (0 for some tokens) and a sink of +-inf; out and max_logits are the
    // command line's on the same files, and a token with no valid index returns out 0, max_logits -inf, lse +inf.
    const sQ = 40, sKv = 600, pk = 96, dm = 512, hostile = [-2147483648, -123456, -1, sKv, 2147483647];
    const pIndices = Int32Array.from({ length: sQ * pk }, (_, k) => (k % 13 === 3 ? hostile[k % 5] : rng.int(0, sKv - 1)));
    const pLength = Int32Array.from({ length: sQ }, (_, i) => (i % 9 === 4 ? 0 : pk - (i % 17)));
    const kvRows = new Float32Array(sKv * dm).fill(NaN);
    pIndices.forEach((slot, k) => {
      if (k % pk < pLength[Math.floor(k / pk)] && slot >= 0 && slot < sKv) for (let c = 0; c < dm; c++) kvRows[slot * dm + c] = 0.4 * Math.cos(0.3 * slot + 0.07 * c);
    });
    const prefillFiles = {
      q: save('p-q.npy', { dtype: 'float32', shape: [sQ, hQ, dm], data: Float32Array.from({ length: sQ * hQ * dm }, () => rng.normal()) }),
      'kv-cache': save('kv.npy', { dtype: 'float32', shape: [sKv, 1, dm], data: kvRows }),
      indices: save('p-indices.npy', { dtype: 'int32', shape: [sQ, 1, pk], data: pIndices }),
      'topk-length': save('p-topk-length.npy', { dtype: 'int32', shape: [sQ], data: pLength }),
      'attn-sink': save('p-attn-sink.npy', { dtype: 'float32', shape: [hQ], data: Float32Array.of(-Infinity, Infinity, 0.5, 0, -1, 1, 3, -3) }),
    };
    await tab.selectOption('#files-call', 'prefill');
    expect(tab.url()).toContain('call=prefill');
    for (const [flag, path] of Object.entries(prefillFiles)) await tab.setInputFiles(`#file-${flag}`, path);
    await tab.selectOption('#files-form select[name="kernel"]', 'tiled');
    await tab.fill('#files-form input[name="check-tokens"]', 'all');
    await tab.check('#files-form input[name="no-time"]');
    await tab.click('#files-run');
    await tab.locator('#files-root[data-check]').waitFor({ timeout: 240_000 });
    expect(await tab.locator('#files-root').getAttribute('data-check'), (await tab.locator('#files-status').textContent()) ?? '').toBe('pass');
    await tab.screenshot({ path: 'test-results/page-files-prefill.png', fullPage: true });
    const prefillResult = (await tab.locator('#files-result').textContent())!;
    expect(prefillResult).toContain('call     flash_mla_sparse_fwd (mla-sandbox prefill)');
    expect(prefillResult).toMatch(/s_q 40, h_q 8, topk 96 over a flat cache of 600 tokens \(d_qk 512 = 448\+64, d_v 512, sink\)/);
    const fetched = async (id: string) => {
      const d = tab.waitForEvent('download');
      await tab.click(id);
      return parseNpy(new Uint8Array(readFileSync((await (await d).path())!)));
    };
    const [pOut, pLse, pMax] = [await fetched('#files-out'), await fetched('#files-lse'), await fetched('#files-max-logits')];
    expect(pOut.shape).toEqual([sQ, hQ, 512]);
    const cliOut = join(dir, 'p-out-cli.npy'), cliMax = join(dir, 'p-max-cli.npy');
    const p = await cli(['prefill', '--kernel', 'tiled', '--no-time', '--check-tokens', 'all', '--out', cliOut, '--max-logits', cliMax,
      ...Object.entries(prefillFiles).flatMap(([flag, path]) => [`--${flag}`, path])]);
    expect(p.code, p.stderr).toBe(0);
    for (const [page, path] of [[pOut, cliOut], [pMax, cliMax]] as const) {
      const fromCliP = parseNpy(new Uint8Array(readFileSync(path)));
      expect(page.shape).toEqual(fromCliP.shape);
      let w = 0;
      page.data.forEach((x, k) => { w = Math.max(w, x === fromCliP.data[k] ? 0 : Math.abs(x - fromCliP.data[k])); });
      expect(w, `the page's ${path} against the command line's`).toBeLessThan(1e-5);
    }
    const empty = 4; // pLength[4] = 0: no valid index
    expect([...pOut.data.subarray(empty * hQ * 512, (empty + 1) * hQ * 512)].every((x) => x === 0)).toBe(true);
    expect([...pMax.data.subarray(empty * hQ, (empty + 1) * hQ)].every((x) => x === -Infinity)).toBe(true);
    expect([...pLse.data.subarray(empty * hQ, (empty + 1) * hQ)].every((x) => x === Infinity)).toBe(true);
    await tab.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(8)], 'block_table.npy'));
      document.querySelector('#files-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    expect(await tab.locator('#files-status').textContent()).toMatch(/^Not taken: block_table\.npy: a file must be named after an argument of flash_mla_sparse_fwd/);

    // Back to the decode call with a cache of two KV heads (GQA, [blocks, page, h_kv, d]): the page's out is the command line's.
    const gKv = new Float32Array(2 * 64 * 2 * d).fill(NaN);
    for (let k = 0; k < 100 * 2 * d; k++) gKv[k] = 0.5 * Math.sin(0.37 * k);
    const gqaFiles = {
      q: save('g-q.npy', { dtype: 'float32', shape: [1, 1, 4, d], data: Float32Array.from({ length: 4 * d }, () => rng.normal()) }),
      'kv-cache': save('g-kv.npy', { dtype: 'float32', shape: [2, 64, 2, d], data: gKv }),
      'cache-seqlens': save('g-seqlens.npy', { dtype: 'int32', shape: [1], data: Int32Array.of(100) }),
    };
    await tab.selectOption('#files-call', 'decode');
    for (const flag of ['indices', 'topk-length', 'attn-sink']) await tab.setInputFiles(`#file-${flag}`, []);
    for (const [flag, path] of Object.entries(gqaFiles)) await tab.setInputFiles(`#file-${flag}`, path);
    await tab.selectOption('#files-form select[name="kv"]', 'bf16');
    await tab.selectOption('#files-form select[name="kernel"]', 'tiled');
    await tab.click('#files-run');
    await tab.locator('#files-root[data-check]').waitFor({ timeout: 240_000 });
    expect(await tab.locator('#files-root').getAttribute('data-check'), (await tab.locator('#files-status').textContent()) ?? '').toBe('pass');
    expect(await tab.locator('#files-result').textContent()).toMatch(/gqa +h_kv 2: query heads g\*2 \.\. g\*2\+1 read KV head g/);
    const gOut = await fetched('#files-out');
    const gCli = join(dir, 'g-out-cli.npy');
    const g = await cli(['run', '--kv', 'bf16', '--kernel', 'tiled', '--samples', '1', '--warmup', '0', '--out', gCli, ...Object.entries(gqaFiles).flatMap(([flag, path]) => [`--${flag}`, path])]);
    expect(g.code, g.stderr).toBe(0);
    const gFromCli = parseNpy(new Uint8Array(readFileSync(gCli)));
    expect(gOut.shape).toEqual([1, 1, 4, 512]);
    let gWorst = 0;
    gOut.data.forEach((x, k) => { gWorst = Math.max(gWorst, Math.abs(x - gFromCli.data[k])); });
    expect(gWorst, 'the page\'s GQA out against the command line\'s').toBeLessThan(1e-5);
    expect(errors).toEqual([]);
    await tab.close();
  });
});
