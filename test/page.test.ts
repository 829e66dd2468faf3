/**
 * The page in a real Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against the Vite dev server: the default run shows a
 * passing check on the browser's WebGPU, the 512 preset passes, a small
 * Compare sweep draws its charts and exports, a broken shader edit shows its
 * line-numbered error and reset recovers, Learn draws its steps (and runs
 * the case on the GPU), and a browser without navigator.gpu shows the notice
 * while Learn still works. Screenshots of each view go to test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type ViteDevServer } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run',
];
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`browser tests are required under CI but ${CHROMIUM} is missing (apt-get install chromium)`);

describe.skipIf(!haveChromium)('the page in Chromium', () => {
  let server: ViteDevServer;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    server = await createServer({ server: { port: 0, host: '127.0.0.1' }, logLevel: 'error' });
    await server.listen();
    const address = server.httpServer?.address();
    if (!address || typeof address === 'string') throw new Error('vite did not report a port');
    url = `http://127.0.0.1:${address.port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    mkdirSync('test-results', { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function runPage(path: string, shot: string) {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url + path);
    await page.locator('#run-root[data-check], #no-webgpu').first().waitFor({ timeout: 240_000 });
    await page.screenshot({ path: `test-results/${shot}.png`, fullPage: true });
    expect(await page.locator('#no-webgpu').count(), 'WebGPU must be available in this Chromium').toBe(0);
    const verdict = await page.locator('#run-root').getAttribute('data-check');
    const status = await page.locator('#status').textContent();
    const result = await page.locator('#result').textContent();
    const roofline = await page.locator('#run-roofline').getAttribute('data-points');
    await page.close();
    return { verdict, status, result, errors, roofline };
  }

  it('runs the default shape (V3.2, FP8, flash) at once and shows a passing check with timing', async () => {
    const r = await runPage('', 'page-default');
    expect(r.status).toMatch(/^PASS/);
    expect(r.verdict).toBe('pass');
    // v5 where this Chromium's adapter has subgroups, else v4
    expect(r.result).toMatch(/kernel +v(4 tiled|5 subgroups) \(the best version for this device\) on a fp8-v32 cache/);
    expect(r.result).toMatch(/% of the roofline bound/);
    expect(r.roofline).toBe('4'); // the two ceilings (3 corners) and this run's point
    expect(r.errors).toEqual([]);
  });

  it('runs the MODEL1 (512) preset from the URL and passes', async () => {
    const r = await runPage('?preset=model1&h-q=8&seqlens=200', 'page-model1');
    expect(r.status).toMatch(/^PASS/);
    expect(r.result).toMatch(/fp8-model1 cache \(584 B\/token/);
  });

  it('a bad field gives a clear error, not a NaN', async () => {
    const r = await runPage('?h-q=0', 'page-bad-field');
    expect(r.verdict).toBe('error');
    expect(r.status).toContain('--h-q "0" is not allowed');
  });

  it('a URL with nonsense in every field: an error naming a field, and the form still runs once it is set right', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url + '?preset=zz&kv=fp4&kernel=fastest&h-q=abc&s-q=-1&seqlens=1,,x&page-block-size=0&topk=q&splits=-2&seed=x&softmax-scale=huge');
    await page.locator('#run-root[data-check]').waitFor({ timeout: 240_000 });
    expect(await page.locator('#run-root').getAttribute('data-check')).toBe('error');
    // the nonsense is refused by name, not replaced by a default (the selects keep the URL's value)
    expect(await page.locator('#status').textContent()).toMatch(/^--(preset|kv|kernel|h-q|s-q|seqlens|page-block-size|topk|splits|seed|softmax-scale) "[^"]*" is not allowed: --[\w-]+ must be/);
    expect(await page.locator('select[name="kv"]').inputValue()).toBe('fp4');
    for (const [name, value] of [['preset', 'v32'], ['kv', 'fp8'], ['kernel', 'flash']]) await page.selectOption(`select[name="${name}"]`, value);
    for (const [name, value] of [['h-q', '4'], ['s-q', '1'], ['seqlens', '70'], ['page-block-size', '64'], ['topk', '0'], ['splits', 'auto'], ['seed', '1']]) {
      await page.fill(`input[name="${name}"]`, value);
    }
    await page.click('#run-button');
    // softmax-scale has no field: the URL's value is kept, so it is still refused, by name
    await page.locator('#run-root[data-check="error"]').waitFor({ timeout: 240_000 });
    expect(await page.locator('#status').textContent()).toBe('--softmax-scale "huge" is not allowed: --softmax-scale must be a decimal number, e.g. 0.0417');
    await page.goto(url + '?h-q=4&seqlens=70&softmax-scale=0.05');
    await page.locator('#run-root[data-check]').waitFor({ timeout: 240_000 });
    expect(await page.locator('#run-root').getAttribute('data-check')).toBe('pass');
    expect(await page.locator('#result').textContent()).toContain('scale 0.05000');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a shape too big for the page is refused before anything is allocated', async () => {
    // Three requests of a million tokens: a 1.9 GiB FP8 cache, over the page's 1 GiB.
    const r = await runPage('?seqlens=1000000,1000000,1000000&h-q=1024', 'page-too-big');
    expect(r.verdict).toBe('error');
    expect(r.status).toMatch(/this shape needs about [\d.]+ GiB of memory .* over the 1.00 GiB the page allows|over this device's maxStorageBufferBindingSize/);
  });

  /** The status line, read with a deadline: a page whose main thread is busy does not answer in time. */
  async function statusWithin(page: Page, ms: number, selector = '#status'): Promise<string> {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the page did not answer within ${ms} ms`)), ms));
    return Promise.race([page.evaluate((s) => document.querySelector(s)?.textContent ?? '', selector), timeout]);
  }

  // 128K tokens under a 50 MiB shard cap: two shards, as 256K under 100 MiB would give, in half the time (the sparse test below runs 256K).
  const LONG = '?preset=model1&kv=fp8&seqlens=131072&shard-mib=50&samples=1&warmup=0';

  it('decodes 128K tokens of a MODEL1 FP8 cache in 2 shards (cap from the URL), checked in a worker, answering throughout', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url + LONG);
    await page.locator('#run-root[data-running]').waitFor({ timeout: 60_000 });
    const seen = new Set<string>();
    while (await page.locator('#run-root[data-running]').count() > 0) {
      seen.add((await statusWithin(page, 3000)).replace(/\d+%/, 'N%'));
      await page.waitForTimeout(500);
    }
    await page.screenshot({ path: 'test-results/page-long-context.png', fullPage: true });
    expect(await page.locator('#run-root').getAttribute('data-check'), await page.locator('#status').textContent() ?? '').toBe('pass');
    expect([...seen]).toEqual(expect.arrayContaining(['Generating the inputs: N%', 'Checking against the f64 CPU reference (in a worker): N%']));
    const result = await page.locator('#result').textContent();
    expect(result).toContain('seqlens 131072');
    expect(result).toMatch(/kv cache 73\.\d MiB in 2 shards of at most \d+\.\d MiB \(the shard cap \(50\.0 MiB\)\)/);
    expect(result).toContain('all 16 heads');
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);

  it('Run, sparse mode: indexer -> top-k -> sparse decode over 256K tokens, every stage checked, the case generated in a worker, answering throughout', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The dense decode of the same cache is left out here (40 s more on SwiftShader); Compare's test below runs it beside the pipeline.
    await page.goto(`${url}?pipeline=sparse&seqlens=262144&no-dense=1`);
    await page.locator('#sparse-root[data-running]').waitFor({ timeout: 60_000 });
    const seen = new Set<string>();
    while (await page.locator('#sparse-root[data-running]').count() > 0) {
      seen.add((await statusWithin(page, 3000, '#sparse-status')).replace(/\d+%/, 'N%'));
      await page.waitForTimeout(500);
    }
    await page.screenshot({ path: 'test-results/page-sparse.png', fullPage: true });
    const result = await page.locator('#sparse-result').textContent() ?? '';
    expect(await page.locator('#sparse-root').getAttribute('data-check'), `${await page.locator('#sparse-status').textContent()}\n${result}`).toBe('pass');
    expect([...seen]).toEqual(expect.arrayContaining(['Generating the cache and the indexer\'s inputs (in a worker): N%', 'Indexer -> top-k -> sparse decode...']));
    expect(result).toContain('sparse   L 262144, s_q 1, h_q 16, top-2048; cache fp8-v32');
    expect(result).toMatch(/^indexer  4100 tokens against f64 PASS/m);
    expect(result).toMatch(/^top-k    PASS/m);
    expect(result).toContain('indices  2048 of 2048 attended; 0 padding (-1); 0 out of range');
    expect(result).toContain('recall   4 of 4 planted');
    expect(result).toMatch(/^decode   sparse, on the chosen indices: PASS/m);
    expect(result).not.toMatch(/^dense/m);
    expect(await page.locator('#sparse-stages').getAttribute('data-points')).toBe('4'); // indexer, top-k, sparse decode, all three
    // The mode and the length stay in the URL: a link reproduces the run.
    expect(new URL(page.url()).searchParams.get('pipeline')).toBe('sparse');
    expect(new URL(page.url()).searchParams.get('seqlens')).toBe('262144');
    expect(new URL(page.url()).searchParams.get('no-dense')).toBe('1');
    expect(errors).toEqual([]);
    await page.close();
  }, 400_000);

  it('Run, sparse mode: reached by its link; a bad field is refused by its flag\'s name before any work', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}?seqlens=300`);
    await page.locator('#run-root[data-check]').waitFor({ timeout: 240_000 });
    await page.click('a[data-mode="sparse"]');
    // The sparse mode runs its default (16K tokens, 4 planted) at once, as the kernel run does: Cancel stops it.
    await page.locator('#sparse-root[data-running]').waitFor({ timeout: 60_000 });
    expect(new URL(page.url()).searchParams.get('pipeline')).toBe('sparse');
    await page.click('#sparse-cancel');
    await page.locator('#sparse-root[data-check]').waitFor({ timeout: 60_000 });
    expect(await page.locator('#sparse-root').getAttribute('data-check')).toBe('cancelled');
    await page.fill('#sparse-form input[name="seqlens"]', '100,200');
    await page.click('#sparse-button');
    await expect.poll(() => page.locator('#sparse-root').getAttribute('data-check')).toBe('error');
    expect(await page.locator('#sparse-status').textContent()).toBe('--seqlens 100,200 is not allowed: the sparse pipeline runs one request, --seqlens must be one length');
    await page.fill('#sparse-form input[name="seqlens"]', '4000');
    await page.fill('#sparse-form input[name="plant"]', '5000');
    await page.click('#sparse-button');
    await expect.poll(() => page.locator('#sparse-status').textContent()).toBe('--plant "5000" is not allowed: --plant must be an integer from 0 to 4000');
    await page.close();
  }, 300_000);

  it('Cancel stops a long run at once, and the page runs again', async () => {
    const page = await browser.newPage();
    await page.goto(url + LONG);
    await expect.poll(() => statusWithin(page, 3000), { timeout: 60_000 }).toMatch(/^Generating the inputs: [1-9]/);
    await page.click('#run-cancel');
    await page.locator('#run-root[data-check]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#run-root').getAttribute('data-check')).toBe('cancelled');
    expect(await page.locator('#status').textContent()).toMatch(/^Cancelled/);
    await page.fill('input[name="seqlens"]', '300');
    await page.click('#run-button');
    await page.locator('#run-root[data-check="pass"]').waitFor({ timeout: 240_000 });
    await page.close();
  });

  it('a lost device is reopened on the next run', async () => {
    const page = await browser.newPage();
    // Keep every device the page opens, so the test can lose one.
    await page.addInitScript(() => {
      const w = window as unknown as { devices: GPUDevice[] };
      w.devices = [];
      const request = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = async function (this: GPUAdapter, d?: GPUDeviceDescriptor) {
        const device = await request.call(this, d);
        w.devices.push(device);
        return device;
      };
    });
    await page.goto(url + '?h-q=4&seqlens=70');
    await page.locator('#run-root[data-check]').waitFor({ timeout: 240_000 });
    expect(await page.locator('#run-root').getAttribute('data-check')).toBe('pass');
    await page.evaluate(() => (window as unknown as { devices: GPUDevice[] }).devices[0].destroy());
    await expect.poll(() => page.locator('#adapter').textContent()).toMatch(/^device lost \(destroyed/);
    await page.click('#run-button');
    await page.locator('#run-root[data-check]').waitFor({ timeout: 240_000 });
    expect(await page.locator('#status').textContent()).toMatch(/^PASS/);
    expect(await page.evaluate(() => (window as unknown as { devices: GPUDevice[] }).devices.length)).toBe(2);
    await page.close();
  });

  async function openView(path: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url + path);
    return { page, errors };
  }

  it('Compare: a small sweep fills the progress bar, draws its charts and exports JSON and CSV; cancel stops a sweep', async () => {
    const { page, errors } = await openView('#compare');
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
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Compare: the long-context sweep fills the form; a point past 256 MiB of f32 is generated straight into FP8 in a worker and passes', async () => {
    const { page, errors } = await openView('#compare');
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

  it('Compare: dense against sparse, each stage drawn against L, every stage checked, the crossover named; the long-context button sets its lengths', async () => {
    const { page, errors } = await openView('#compare');
    await page.click('#compare-long');
    expect(await page.inputValue('#sparse-sweep-form input[name="sweep"]')).toBe('4096,16384,65536,262144,1048576');
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
    expect(errors).toEqual([]);
    await page.close();
  }, 400_000);

  it('Ladder: every version on one shape, checked, timed against v1 and drawn on the roofline', async () => {
    const { page, errors } = await openView('#ladder');
    const root = page.locator('#ladder-root');
    // every version this browser's adapter runs (v5 needs subgroups) x v32 x fp8 x seqlen 100 x h_q 4
    const subgroups = await page.evaluate(async () => (await navigator.gpu.requestAdapter())?.features.has('subgroups') ?? false);
    const versions = ['v1 naive', 'v2 fused', 'v3 shared-latent', 'v4 tiled', ...(subgroups ? ['v5 subgroups'] : [])];
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
    for (const c of cells) expect(c[11]).toMatch(/^pass/);
    // the ceilings and one point per version
    expect(await page.locator('#ladder-roofline').getAttribute('data-datasets')).toBe(String(versions.length + 1));
    // what a read costs, measured on the same device
    expect(await page.locator('#ladder-read-cost').textContent()).toMatch(/^What a read costs on this GPU: One vec4 read takes as long as \d+\.\d vec4 multiply-adds from workgroup memory, \d+\.\d from a storage buffer/);
    expect(await page.locator('#ladder-plain-matmul').textContent()).toMatch(/^A plain matrix multiply on this GPU: S = Q K\^T alone \(64 heads x 4096 keys x 576, .*: [\d.]+ GFLOP\/s with 8x8 blocks \(v4's\), \d+\.\d % of the FMA ceiling; [\d.]+ GFLOP\/s with 16x16 blocks, \d+\.\d % of the FMA ceiling\. A version's score step is this product and more\.$/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Memory: the calculator\'s table, the FP8 claim against the layouts, the chart; a bad field is refused by name', async () => {
    const { page, errors } = await openView('#memory');
    const root = page.locator('#memory-root');
    await page.locator('#memory-root[data-state="done"]').waitFor({ timeout: 60_000 });
    const rows = await page.locator('#memory-table tbody tr').evaluateAll((trs) => trs.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    const v32fp8 = rows.find((r) => r[0] === 'MLA V3.2 fp8')!;
    expect(v32fp8[1]).toBe('656');
    expect(v32fp8[5]).toBe('39.08 GiB'); // 656 B x 61 layers x 2^20 tokens
    expect(await page.locator('#memory-claims').textContent()).toContain('V3.2 bf16 1152 B → FP8 656 B a token per layer, 43 % less');
    // 8 schemes + 24 GB + 80 GB (+ this adapter's maxBufferSize once the device is open)
    expect(Number(await page.locator('#memory-chart').getAttribute('data-datasets'))).toBeGreaterThanOrEqual(10);
    await page.fill('#memory-form input[name="layers"]', '0');
    await page.click('#memory-update');
    expect(await root.getAttribute('data-state')).toBe('error');
    expect(await page.locator('#memory-status').textContent()).toBe('--layers "0" is not allowed: --layers must be an integer from 1 to 1024');
    await page.fill('#memory-form input[name="layers"]', '1');
    await page.click('#memory-update');
    expect(await root.getAttribute('data-state')).toBe('done');
    await page.screenshot({ path: 'test-results/page-memory.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Kernel source: a broken edit shows its WGSL line and message next to the code; reset recovers and passes', async () => {
    const { page, errors } = await openView('?h-q=4&seqlens=70#source');
    const root = page.locator('#source-root');
    await page.locator('#source-editor textarea').click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.type('let broken = ;');
    await page.keyboard.press('Enter');
    expect(await root.getAttribute('data-edited')).toBe('v4_tiled.wgsl');
    await page.click('#source-run');
    await page.locator('#source-root[data-check]').waitFor({ timeout: 120_000 });
    await page.screenshot({ path: 'test-results/page-source-error.png', fullPage: true });
    expect(await root.getAttribute('data-check')).toBe('error');
    const first = await page.locator('#source-errors li.error').first().textContent();
    expect(first).toMatch(/^v4_tiled\.wgsl:1:\d+ error: /);
    expect(await page.locator('#source-editor .error-line').count()).toBe(1);

    await page.click('#source-reset');
    expect(await root.getAttribute('data-edited')).toBe('');
    expect(await page.locator('#source-errors li').count()).toBe(0);
    await page.click('#source-run');
    await page.locator('#source-root[data-check]').waitFor({ timeout: 180_000 });
    await page.screenshot({ path: 'test-results/page-source.png', fullPage: true });
    expect(await page.locator('#source-status').textContent()).toBe('PASS: still matches the CPU reference');
    // one line per fact: the shape on one line, not spread a character per line
    expect(await page.locator('#source-result').textContent()).toMatch(/^edited: nothing.*\nd_qk 576 \(512\+64\), d_v 512, h_q 4, .*\nkernel v\d \w+.*\ntime .* median/);
    expect(errors).toEqual([]);
    await page.close();
  });

  /** In the Kernel source editor, replace the shown file's line matching `line` by `edit(line)`, as typing would. */
  async function editLine(page: Page, line: RegExp, edit: (line: string) => string): Promise<void> {
    const editor = page.locator('#source-editor textarea');
    const found = (await editor.inputValue()).match(line);
    expect(found, `the file shown has a line matching ${line}`).not.toBeNull();
    await editor.evaluate((t: HTMLTextAreaElement, [from, to]) => {
      t.focus();
      const at = t.value.indexOf(from);
      t.setSelectionRange(at, at + from.length);
      document.execCommand('insertText', false, to);
    }, [found![0], edit(found![0])]);
  }

  it('Kernel source: an edit that compiles but is wrong fails the check', async () => {
    const { page } = await openView('?h-q=4&seqlens=70&splits=1#source');
    await page.selectOption('#source-file', 'fused_io.wgsl');
    // Halve the 1/l normalisation of the final output: the kernel still compiles, the numbers are wrong.
    await editLine(page, /^\s*var factor = 1\.0 \/ l;$/m, (line) => line.replace('/ l;', '/ (l * 2.0);'));
    await page.click('#source-run');
    await page.locator('#source-root[data-check]').waitFor({ timeout: 120_000 });
    expect(await page.locator('#source-root').getAttribute('data-check')).toBe('fail');
    // the failure says where: the worst element's position and both values
    expect(await page.locator('#source-status').textContent()).toMatch(/^FAIL: out error .*; at out\[b 0, i 0, h \d, c \d+\]: gpu -?[\d.e-]+ vs ref -?[\d.e-]+$/);
    await page.close();
  });

  it('Kernel source: a sharded run shows kv_shards.wgsl as the host wrote it', async () => {
    // 300 tokens of MODEL1 FP8 in pages of 16 at 0.06 MiB (6 pages) a shard: 21 pages in 4 shards
    // (Chromium's SwiftShader allows 10 storage buffers per stage: a fused version binds 7 + 3 more shards).
    const { page } = await openView('?preset=model1&h-q=2&seqlens=300&page-block-size=16&shard-mib=0.06#source');
    await page.click('#source-run');
    await page.locator('#source-root[data-check]').waitFor({ timeout: 120_000 });
    expect(await page.locator('#source-root').getAttribute('data-check'), await page.locator('#source-status').textContent() ?? '').toBe('pass');
    const result = await page.locator('#source-result').textContent();
    expect(result).toContain('the cache was in 4 shards (the shard cap (61.4 KiB)); kv_shards.wgsl as the host wrote it for this run:');
    expect(result).toContain('@group(0) @binding(11) var<storage, read> kv3: array<vec4<u32>>;');
    expect(result).toContain('case 3u: { return kv3[i]; }');
    await page.close();
  });

  it('Kernel source: an edit that never ends: the page says the GPU is not answering, refuses new GPU runs by saying so, and Learn still works', async () => {
    // Its own browser: SwiftShader runs the endless dispatch until its GPU process goes, and that process is the browser's.
    const own = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    try {
      const page = await own.newPage({ viewport: { width: 1300, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url + '?h-q=4&seqlens=70#source');
      // A loop whose exit test always fails: every thread of the kernel spins for ever.
      await editLine(page, /^\s*let w = workOf\(wid, tid\);$/m, (line) => `${line}\n  loop { if (lse[0] == 0xffffffffu) { break; } lse[0] = 0u; }`);
      await page.click('#source-run');
      const notice = page.locator('#gpu-stalled');
      await notice.waitFor({ timeout: 120_000 });
      await page.screenshot({ path: 'test-results/page-gpu-stalled.png', fullPage: true });
      expect(await notice.textContent()).toMatch(/^The GPU is not answering\. The GPU has not finished work submitted \d+ s ago: .*never ends.*reload the page/);
      expect(await page.locator('#source-root').getAttribute('data-check'), 'the edited run has not ended').toBeNull();
      // Another GPU run is refused at once, with the reason, not queued behind the endless one.
      await page.click('#tabs a[data-view="run"]');
      await page.locator('#run-root[data-check]').waitFor({ timeout: 30_000 });
      expect(await page.locator('#run-root').getAttribute('data-check')).toBe('error');
      expect(await page.locator('#status').textContent()).toMatch(/^Not run: the GPU has not finished work submitted \d+ s ago/);
      // Learn runs on the CPU: it still draws its steps.
      await page.click('#tabs a[data-view="learn"]');
      await page.locator('#learn-root[data-ready]').waitFor({ timeout: 30_000 });
      expect(errors).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it('Layer: the flow and costs at once, absorption on the CPU, both ways on the GPU at the default, passing, and time against L drawn', async () => {
    const { page, errors } = await openView('#layer');
    const root = page.locator('#layer-root');
    await page.locator('#layer-root[data-cpu]').waitFor({ timeout: 30_000 });
    expect(await root.getAttribute('data-cpu')).toBe('pass');
    expect(await page.locator('#layer-flow').textContent()).toContain('[256, 576]'); // the latent cache of the default L
    expect(await page.locator('#layer-model1').textContent()).toMatch(/no published up-projections/);
    expect(await page.locator('#layer-costs tbody tr').count()).toBe(3);
    await page.click('#layer-run');
    await page.locator('#layer-root[data-check]').waitFor({ timeout: 240_000 });
    expect(await page.locator('#layer-status').textContent()).toBe('Done: every check passes.');
    expect(await root.getAttribute('data-check')).toBe('pass');
    expect(await page.locator('#layer-winner').textContent()).toMatch(/^MHA mode [\d.]+ ms, MQA mode [\d.]+ ms: (MHA|MQA) mode is [\d.]+x faster here\.$/);
    await page.click('#layer-sweep');
    await page.locator('#layer-root[data-sweep]').waitFor({ timeout: 240_000 });
    expect(await root.getAttribute('data-sweep')).toBe('pass');
    // 2 ways x (s_q 1 and the chunk) over 2 lengths
    expect(await page.locator('#layer-chart').getAttribute('data-datasets')).toBe('4');
    expect(await page.locator('#layer-chart').getAttribute('data-points')).toBe('8');
    await page.screenshot({ path: 'test-results/page-layer.png', fullPage: true });
    // A bad field is refused by name.
    await page.fill('#layer-form input[name="s-q"]', '600');
    await page.click('#layer-run');
    await expect.poll(() => root.getAttribute('data-state')).toBe('error');
    expect(await page.locator('#layer-status').textContent()).toBe('--s-q "600" is not allowed: --s-q must be an integer from 1 to 128');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Claims: nine rows at once, the measured ones run on this GPU, every run checked and passing', async () => {
    const { page, errors } = await openView('#claims');
    const root = page.locator('#claims-root');
    await page.locator('#claims-root[data-rows]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#claims-table tbody tr').count()).toBe(9);
    expect(await page.locator('#claims-table tbody tr.pending').count()).toBe(4);
    expect(await page.locator('#claims-table tr[data-id="3"] td.verdict').textContent()).toBe('partly');
    expect(await page.locator('#claims-table tr[data-id="3"]').textContent()).toContain('43 % less');
    await page.click('#claims-measure');
    await page.locator('#claims-root[data-state="done"], #claims-root[data-state="error"]').waitFor({ timeout: 300_000 });
    expect(await page.locator('#claims-status').textContent()).toMatch(/^Measured on .*: 8 runs, every one checked and passing\.$/);
    expect(await root.getAttribute('data-measured')).toBe('pass');
    expect(await page.locator('#claims-table tbody tr.pending').count()).toBe(0);
    expect(await page.locator('#claims-table tr[data-id="6"]').textContent()).toMatch(/This device decoded 16,384 tokens \(model1, FP8, h_q 16\) in [\d.]+ ms, checked: pass/);
    await page.screenshot({ path: 'test-results/page-claims.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Learn: draws the steps from the core and runs the same case on the GPU', async () => {
    const { page, errors } = await openView('#learn');
    await page.locator('#learn-root[data-ready]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#learn-online-check').textContent()).toMatch(/max \|out - reference out\| = \d\.\de-(1[2-9]|[2-9]\d)/);
    expect(await page.locator('#learn-split-check').textContent()).toMatch(/max \|merged out - reference out\| = \d\.\de-(1[2-9]|[2-9]\d)/);
    expect(Number(await page.locator('#learn-scores').getAttribute('data-points'))).toBe(8 * 40);
    // step 8: the indexer's scores and the keys top-k keeps, planted ones found
    expect(Number(await page.locator('#learn-index-scores').getAttribute('data-points'))).toBe(4 * 96);
    expect(await page.locator('#learn-index-recall').textContent()).toMatch(/^Planted tokens 9, 40, 77: kept 12 times of 12 \(recall 100 %\)/);
    await page.click('#learn-gpu');
    await expect.poll(() => page.locator('#learn-gpu-out').textContent(), { timeout: 120_000 }).not.toMatch(/^(Running\.\.\.)?$/);
    await page.screenshot({ path: 'test-results/page-learn.png', fullPage: true });
    expect(await page.locator('#learn-gpu-out').textContent()).toMatch(/^PASS[\s\S]*max \|GPU out - trace out\| = \d\.\d+e-\d+/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says what is missing when the browser has no WebGPU, and Learn still works', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    await page.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
    });
    await page.goto(url);
    const notice = page.locator('#no-webgpu');
    await notice.waitFor({ timeout: 30_000 });
    await page.screenshot({ path: 'test-results/page-no-webgpu.png', fullPage: true });
    expect(await notice.textContent()).toMatch(/navigator\.gpu is missing/);
    expect(await notice.textContent()).toMatch(/Learn and Memory work without it .*Layer.s data flow/);
    await page.click('#tabs a[data-view="learn"]');
    await page.locator('#learn-root[data-ready]').waitFor({ timeout: 30_000 });
    await page.fill('#fp8-value', '1000');
    expect(await page.locator('#fp8-decoded').textContent()).toBe('448');
    await page.selectOption('#fp8-format', 'e5m2');
    expect(await page.locator('#fp8-decoded').textContent()).toBe('1024');
    await page.screenshot({ path: 'test-results/page-no-webgpu-learn.png', fullPage: true });
    await page.close();
  });
});
