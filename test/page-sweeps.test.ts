/**
 * The sweeps in a real Chromium: Compare's small sweep and its exports, its
 * long-context sweep, dense against sparse, and the Ladder. Screenshots go
 * to test-results/.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveChromium, usePage } from './support/page';

describe.skipIf(!haveChromium)('the page in Chromium', () => {
  const h = usePage();

  it('Compare: the long-context sweep fills the form; a point past 256 MiB of f32 is generated straight into FP8 in a worker and passes', async () => {
    const { page, errors } = await h.openView('#compare');
    await page.click('#compare-long');
    expect(await page.inputValue('#compare-form input[name="seqlens"]')).toBe('4096,16384,65536,262144,1048576');
    const ticked = (name: string) => page.locator(`#compare-form input[name="${name}"]:checked`).evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(await ticked('kv')).toEqual(['bf16', 'fp8']);
    expect(await ticked('kernel')).toEqual(['flash']);
    expect(await ticked('preset')).toEqual(['v32', 'model1']);
    // Narrowed to two points: MODEL1 FP8 at 4096 and 140000 keys (140000 x 512 f32 is over 256 MiB: generated straight into FP8).
    await page.uncheck('#compare-form input[name="preset"][value="v32"]');
    await page.uncheck('#compare-form input[name="kv"][value="bf16"]');
    await page.fill('#compare-form input[name="seqlens"]', '4096,140000');
    await page.click('#compare-start');
    await page.locator('#compare-root[data-state="done"], #compare-root[data-state="error"]').waitFor({ timeout: 400_000 });
    expect(await page.locator('#compare-status').textContent()).toBe('Done: 2 points, all match the CPU reference.');
    expect(await page.locator('#chart-time').getAttribute('data-points')).toBe('2');
    const cells = await page.locator('#compare-table tbody tr').evaluateAll((rows) => rows.map((r) => r.textContent ?? ''));
    expect(cells[1]).toContain('140000');
    expect(cells[1]).toContain('n/a (no f32 cache)');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Compare: dense against sparse, each stage drawn against L, every stage checked, the crossover named; the long-context button sets its lengths; then what a prompt costs, both ways checked at each length, measured and modelled curves to 1M', async () => {
    const { page, errors } = await h.openView('#compare');
    // Once under the suite's load a read right after the click still saw the form's default (cause not found):
    // the click is idempotent, so it is repeated until its lengths show.
    await expect.poll(async () => {
      await page.click('#compare-long');
      return page.inputValue('#sparse-sweep-form input[name="sweep"]');
    }, { timeout: 20_000 }).toBe('4096,16384,65536,262144,1048576');
    await page.fill('#sparse-sweep-form input[name="sweep"]', '2500,5000');
    await page.fill('#sparse-sweep-form input[name="h-q"]', '4');
    await page.click('#sparse-sweep-start');
    await page.locator('#sparse-sweep-root[data-state="done"], #sparse-sweep-root[data-state="error"]').waitFor({ timeout: 300_000 });
    expect(await page.locator('#sparse-sweep-status').textContent()).toBe('Done: 2 lengths, every stage matches the CPU.');
    expect(await page.locator('#chart-sparse-stages').getAttribute('data-datasets')).toBe('5'); // dense, pipeline, indexer, top-k, sparse decode
    expect(await page.locator('#chart-sparse-stages').getAttribute('data-points')).toBe('10');
    expect(await page.locator('#sparse-crossover').textContent()).toMatch(/^The indexer (stays under the sparse decode at every length here|overtakes the sparse decode at L = (2500|5000))/);
    const cells = await page.locator('#sparse-sweep-table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(cells.map((c) => c[0])).toEqual(['2500', '5000']);
    for (const c of cells) expect(c[7]).toBe('pass');
    // Below it, what a prompt costs (the same page: its indexer and top-k pipelines are compiled already).
    await page.fill('#prompt-cost-form input[name="lengths"]', '96,48');
    await page.fill('#prompt-cost-form input[name="h-q"]', '4');
    await page.fill('#prompt-cost-form input[name="topk"]', '32');
    await page.click('#prompt-cost-start');
    await page.locator('#prompt-cost-root[data-state="done"], #prompt-cost-root[data-state="error"]').waitFor({ timeout: 300_000 });
    expect(await page.locator('#prompt-cost-status').textContent()).toBe('Done: 2 lengths, both ways match the CPU at every length.');
    expect(await page.locator('#chart-prompt-cost').getAttribute('data-datasets')).toBe('4'); // dense and DSA, measured and modelled
    // 2 + 2 measured, and 11 doublings from 1K to 1M plus the 2 measured lengths for each modelled line.
    expect(await page.locator('#chart-prompt-cost').getAttribute('data-points')).toBe(String(2 + 2 + 2 * 13));
    expect(await page.locator('#prompt-cost-model').textContent()).toMatch(/fit error on the measured points: dense [\d.]+ %, DSA [\d.]+ %/);
    expect(await page.locator('#prompt-cost-model').textContent()).toMatch(/at 1M tokens \(modelled\): dense .*, DSA /);
    const costCells = await page.locator('#prompt-cost-table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(costCells.map((c) => [c[0], c[7]])).toEqual([['48', 'pass'], ['96', 'pass']]);
    await page.locator('#prompt-cost-root').screenshot({ path: 'test-results/page-prompt-cost.png' });
    expect(errors).toEqual([]);
    await page.close();
  }, 600_000);

  it('Compare: a small sweep fills the progress bar, draws its charts and exports JSON and CSV; cancel stops a sweep', async () => {
    const { page, errors } = await h.openView('#compare');
    const root = page.locator('#compare-root');
    // 2 heads x fp8 x flash x 2 seqlens x 1 h_q = 4 points
    for (const [name, value] of [['kv', 'f32'], ['kv', 'bf16'], ['kernel', 'naive']]) await page.uncheck(`#compare-form input[name="${name}"][value="${value}"]`);
    await page.fill('#compare-form input[name="seqlens"]', '64,200');
    await page.fill('#compare-form input[name="heads"]', '4');
    await page.fill('#compare-form input[name="samples"]', '2');
    await page.click('#compare-start');
    await page.locator('#compare-root[data-state="done"], #compare-root[data-state="error"]').waitFor({ timeout: 240_000 });
    await page.screenshot({ path: 'test-results/page-compare.png', fullPage: true });
    expect(await page.locator('#compare-status').textContent()).toBe('Done: 4 points, all match the CPU reference.');
    expect(await root.getAttribute('data-rows')).toBe('4');
    expect(await page.locator('#compare-progress').evaluate((p: HTMLProgressElement) => [p.value, p.max])).toEqual([4, 4]);
    // one line per configuration (576 and 512), two seqlens each
    expect(await page.locator('#chart-time').getAttribute('data-datasets')).toBe('2');
    expect(await page.locator('#chart-time').getAttribute('data-points')).toBe('4');
    expect(await page.locator('#chart-gbps').getAttribute('data-points')).toBe('4');
    expect(await page.locator('#chart-quant').getAttribute('data-points')).toBe('4');
    expect(await page.locator('#chart-bytes').getAttribute('data-points')).toBe('6'); // 3 formats x 2 heads
    // the chart is really drawn: coloured pixels on the canvas
    const inked = await page.locator('#chart-time').evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2])) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(200);
    expect(await page.locator('#compare-table tbody tr').count()).toBe(4);
    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = readFileSync(await csvDownload.path()).toString().trim().split('\n');
    expect(csv.length).toBe(5);
    expect(csv[0]).toMatch(/^preset,dQk,kvFormat,kernel,seqlen,hQ/);
    expect(csv.slice(1).map((l) => l.split(',').slice(0, 5).join(','))).toEqual(
      ['v32,576,fp8,flash,64', 'v32,576,fp8,flash,200', 'model1,512,fp8,flash,64', 'model1,512,fp8,flash,200']);
    const [jsonDownload] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const json = JSON.parse(readFileSync(await jsonDownload.path()).toString());
    expect(json.rows).toHaveLength(4);
    expect(json.rows.every((r: { pass: boolean }) => r.pass)).toBe(true);
    expect(json.adapter).toBe(await page.locator('#adapter').textContent()); // the adapter the sweep ran on

    // Cancel: a longer sweep stops after the point in flight and keeps what it has.
    await page.check('#compare-form input[name="kv"][value="f32"]');
    await page.click('#compare-start');
    await page.locator('#compare-root[data-state="running"]').waitFor();
    await page.click('#compare-cancel');
    await page.locator('#compare-root[data-state="cancelled"]').waitFor({ timeout: 120_000 });
    expect(await page.locator('#compare-status').textContent()).toMatch(/^Cancelled after [01] of 8 points\.$/);

    // MLA beside GQA at equal cache bytes: 576 values a token as one head, 2 heads of 288, 4 of 144; each point checked (in a worker), then timed.
    await page.fill('#gqa-form input[name="h-q"]', '4');
    await page.fill('#gqa-form input[name="seqlen"]', '96');
    await page.fill('#gqa-form input[name="kv-heads"]', '1,2,4');
    await page.click('#gqa-start');
    await page.locator('#gqa-root[data-state="done"], #gqa-root[data-state="error"]').waitFor({ timeout: 120_000 });
    expect(await page.locator('#gqa-status').textContent()).toMatch(/^Done: 3 points, each matches the CPU; fastest /);
    const gqaCells = await page.locator('#gqa-table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(gqaCells.map((c) => [c[0], c[1], c[2], c[3], c[8]])).toEqual([
      ['1 (MLA)', '576 / 512', '4', '1152', 'pass'], ['2', '288 / 256', '2', '1152', 'pass'], ['4', '144 / 128', '1', '1152', 'pass']]);
    expect(await page.locator('#chart-gqa').getAttribute('data-points')).toBe('3');
    await page.locator('#gqa-root').screenshot({ path: 'test-results/page-gqa.png' });
    await page.fill('#gqa-form input[name="kv-heads"]', '1,3');
    await page.click('#gqa-start');
    await page.locator('#gqa-root[data-state="error"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#gqa-status').textContent()).toBe('Error: KV heads 3 is not allowed with h_q 4: h_q must be a multiple of each h_kv');
    expect(await page.locator('#gqa-table tbody tr').count()).toBe(3); // the last run's points stay
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);

  it('Ladder: every version on one shape, checked, timed against v1 and drawn on the roofline', async () => {
    const { page, errors } = await h.openView('#ladder');
    const root = page.locator('#ladder-root');
    // every version this browser's adapter runs (v5 needs subgroups) x v32 x fp8 x seqlen 100 x h_q 4
    const subgroups = await page.evaluate(async () => (await navigator.gpu.requestAdapter())?.features.has('subgroups') ?? false);
    const versions = ['v1 naive', 'v2 fused', 'v3 shared-latent', 'v4 tiled', ...(subgroups ? ['v5 subgroups'] : []), 'v6 matmuls'];
    process.stderr.write(`[page ladder] the browser's adapter ${subgroups ? 'has' : 'has no'} subgroups\n`);
    await page.uncheck('#ladder-form input[name="preset"][value="model1"]');
    await page.fill('#ladder-form input[name="seqlens"]', '100');
    await page.fill('#ladder-form input[name="heads"]', '4');
    await page.fill('#ladder-form input[name="samples"]', '2');
    await page.click('#ladder-start');
    await page.locator('#ladder-root[data-state="done"], #ladder-root[data-state="error"]').waitFor({ timeout: 240_000 });
    await page.screenshot({ path: 'test-results/page-ladder.png', fullPage: true });
    expect(await page.locator('#ladder-status').textContent()).toBe(`Done: ${versions.length} points, all match the CPU reference.${
      subgroups ? '' : ' (not run: v5 subgroups needs the subgroups feature, which this device does not have.)'}`);
    expect(await root.getAttribute('data-rows')).toBe(String(versions.length));
    const cells = await page.locator('#ladder-table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(cells.map((c) => c[4])).toEqual(versions);
    expect(cells[0][6]).toBe('1.0x'); // v1 against itself
    for (const c of cells) expect(c[12]).toMatch(/^pass/);
    for (const c of cells) expect(c[9]).toMatch(/^\d+%$/); // of the plain-matmul yardstick
    // the ceilings and one point per version
    expect(await page.locator('#ladder-roofline').getAttribute('data-datasets')).toBe(String(versions.length + 1));
    // what a read costs, measured on the same device
    expect(await page.locator('#ladder-read-cost').textContent()).toMatch(/^What a read costs on this GPU: One vec4 read takes as long as \d+\.\d vec4 multiply-adds from workgroup memory, \d+\.\d from a storage buffer, \d+\.\d from a uniform buffer, \d+\.\d from a texture/);
    expect(await page.locator('#ladder-plain-matmul').textContent()).toMatch(new RegExp(`^A plain matrix multiply on this GPU: S = Q K\\^T alone \\(64 heads x 4096 keys x 576, .*\\): ${['8x8 blocks \\(v4\'s on a GPU\\)', '16x16 blocks', '32x32 blocks'].flatMap((b) => ['queries from storage', 'queries from a texture', 'queries and keys from textures'].map((r) => `[\\d.]+ GFLOP/s with ${b}, ${r}, \\d+\\.\\d % of the FMA ceiling`)).join('; ')}\\. A version's score step is this product and more\\.$`));

    // The results export, and come back beside this run as another device's.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#ladder-export')]);
    const exported = JSON.parse(readFileSync(await download.path()).toString());
    expect(exported).toMatchObject({ kind: 'mla-sandbox ladder results', version: 1, adapter: await page.locator('#adapter').textContent() });
    expect(exported.rows).toHaveLength(versions.length);
    // Each point is divided by the yardstick timed right after it, not by the one timed at the start.
    expect(await page.locator('#ladder-yardstick-beside').textContent()).toMatch(/^yardstick beside each point: the best plain matmul timed again right after every point, [\d.]+ GFLOP\/s median \([\d.]+-[\d.]+\); each point's % of yardstick divides by its own$/);
    exported.rows.forEach((r: { gflops: number; yardstickGflops: number; yardstickFraction: number }, k: number) => {
      expect(r.yardstickGflops).toBeGreaterThan(0);
      expect(r.yardstickFraction).toBe(r.gflops / r.yardstickGflops);
      expect(cells[k][9]).toBe(`${(100 * r.yardstickFraction).toFixed(0)}%`);
    });
    expect(await page.locator('#devices-root').getAttribute('data-devices')).toBe('1'); // this page's ladder
    const dir = mkdtempSync(join(tmpdir(), 'mla-devices-'));
    writeFileSync(join(dir, 'other-gpu.json'), JSON.stringify({ ...exported, adapter: 'Other GPU', ceilings: { ...exported.ceilings, fmaGflops: 2 * exported.ceilings.fmaGflops } }));
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ ...exported, rows: [{ ...exported.rows[0], gflops: -1 }] }));
    await page.setInputFiles('#devices-import', [join(dir, 'other-gpu.json'), join(dir, 'broken.json')]);
    await page.locator('#devices-root[data-devices="2"]').waitFor();
    expect(await page.locator('#devices-status').textContent()).toBe('Imported 1 file. Refused broken.json: rows[0].gflops is -1, expected a rate above 0');
    const compared = await page.locator('#devices-table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(compared).toHaveLength(2 * versions.length);
    expect(new Set(compared.map((c) => c[1]))).toEqual(new Set([exported.adapter, 'Other GPU']));
    expect(await page.locator('#devices-roofline').getAttribute('data-datasets')).toBe('4'); // each device: ceilings and points
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);

  it('Ladder: Tune checks and times each candidate, draws the heat map, keeps the pick in localStorage, exports it, and the Run view\'s flash uses it', async () => {
    const { page, errors } = await h.openView('#ladder');
    // MODEL1, bf16, h_q 16, 256 keys; the space narrowed to two tuned candidates besides the default: v4's and v6's 8x8 / 8x16.
    await page.selectOption('#tune-form select[name="preset"]', 'model1');
    await page.selectOption('#tune-form select[name="kv"]', 'bf16');
    await page.fill('#tune-form input[name="h-q"]', '16');
    await page.fill('#tune-form input[name="seqlen"]', '256');
    for (const [name, value] of [['kernels', 'tiled,matmuls'], ['score-blocks', '8x8'], ['out-blocks', '8x16'], ['keys', 'cache'], ['queries', 'storage'], ['heads-per-workgroup', '16'], ['tile-n', '64']]) {
      await page.fill(`#tune-form input[name="${name}"]`, value);
    }
    await page.fill('#tune-form input[name="budget"]', '3600');
    await page.click('#tune-start');
    await page.locator('#tune-root[data-check]').waitFor({ timeout: 280_000 });
    await page.screenshot({ path: 'test-results/page-tune.png', fullPage: true });
    expect(await page.locator('#tune-status').textContent()).toMatch(/^Done: 3 of 3 fitting configurations checked and timed \(pruned\) in \d+ s \(making pipelines and buffers \d+ s, first runs and checks \d+ s, timing \d+ s, final rounds \d+ s\); within its budget of 3600 s; all match the CPU reference\.$/);
    expect(await page.locator('#tune-root').getAttribute('data-check')).toBe('pass');
    expect(await page.locator('#tune-pick').textContent()).toMatch(/^Pick: (S 8x8 O 8x16 keys cache queries storage heads 16 tile 64|matmuls S 8x8 O 8x16|default \(flash\)): [\d.]+ ms, [\d.]+ GFLOP\/s = \d+ % of the best plain matmul/);
    expect(await page.locator('#tune-finalists tbody tr').count()).toBe(3);
    expect(await page.locator('#tune-heatmap').getAttribute('data-points')).toBe('1'); // 1 score block x 1 output block: both versions' cell
    await page.selectOption('#tune-root select[name="tune-x"]', 'kernel');
    expect(await page.locator('#tune-heatmap').getAttribute('data-points')).toBe('2'); // tiled and matmuls x 1 output block
    await page.selectOption('#tune-root select[name="tune-x"]', 'outBlock'); // the same knob twice: the other axis moves
    expect(await page.inputValue('#tune-root select[name="tune-y"]')).not.toBe('outBlock');
    // Kept in this browser, shown beside others, exported.
    const adapter = await page.locator('#adapter').textContent();
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('mla-sandbox/profile/')));
    expect(stored).toHaveLength(1);
    expect(await page.locator('#devices-root').getAttribute('data-devices')).toBe('1');
    expect(await page.locator('#devices-table tbody tr td:nth-child(3)').textContent()).toBe('this browser\'s profile (tuned)');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#tune-export')]);
    const profile = JSON.parse(readFileSync(await download.path()).toString());
    expect(profile).toMatchObject({ kind: 'mla-sandbox device profile', version: 2, adapter });
    expect(profile.entries[0].shape).toEqual({ dQk: 512, dV: 512, kvFormat: 'bf16', sparse: false, hQ: 16, keys: 256 });
    // The Run view's kernel flash runs the pick, and says so.
    await page.goto(`${h.url}?preset=model1&kv=bf16&kernel=flash&h-q=16&seqlens=300#run`);
    await page.locator('#run-root[data-check]').waitFor({ timeout: 240_000 });
    expect(await page.locator('#run-root').getAttribute('data-check')).toBe('pass');
    const line = (await page.locator('#result').textContent())!.split('\n')[0];
    if (profile.entries[0].config.kernel === 'flash') expect(line).toMatch(/^tuning {3}tuned: default \(flash\), from the profile at this browser's localStorage/);
    else if (profile.entries[0].config.kernel === 'matmuls') expect(line).toMatch(/^tuning {3}tuned: matmuls S 8x8 O 8x16, from the profile at this browser's localStorage/);
    else expect(line).toMatch(/^tuning {3}tuned: S 8x8 O 8x16 keys cache queries storage heads 16 tile 64, from the profile at this browser's localStorage \(mla-sandbox\/profile\/.*\), class d_qk 512 d_v 512, bf16 cache, dense, h_q 16, 256 keys/);
    // Forget it: the next run says there is none.
    await page.goto(`${h.url}#ladder`);
    await page.locator('#tune-forget:not([disabled])').click();
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('mla-sandbox/profile/')))).toEqual([]);
    // A stored profile that no longer reads is named, and Forget clears it.
    await page.evaluate((key) => localStorage.setItem(key, '{"kind": "mla-sandbox device profile", "version": 1}'), stored[0]);
    await page.reload();
    await page.locator('#tune-status.fail').waitFor();
    expect(await page.locator('#tune-status').textContent()).toMatch(/^this browser's localStorage \(mla-sandbox\/profile\/.*\), which the Ladder view's Tune section can clear: version is 1, expected 2/);
    await page.locator('#tune-forget:not([disabled])').click();
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('mla-sandbox/profile/')))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 400_000);
});
