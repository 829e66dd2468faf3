/**
 * The Run view's third mode in a real Chromium: your own tensors picked as
 * .npy files (a sparse FP8 call over 8K cached tokens with a sink of +-inf
 * and topk_length, NaN in every slot no valid index reads), run on the
 * browser's GPU, checked, and out downloaded: the same out as the command
 * line gives for the same files; a file named after no field is refused.
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

  it('a sparse FP8 call over 8K tokens from .npy files, with a sink and topk_length: passes, and out is the command line\'s', async () => {
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
    expect(await tab.locator('#files-status').textContent()).toMatch(/^Not taken: weights\.npy: a file must be named after its field \(q\.npy, kv-cache\.npy/);
    expect(errors).toEqual([]);
    await tab.close();
  });
});
