/**
 * The page in a real Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against the Vite dev server: the default run shows a
 * passing check on the browser's WebGPU; a browser without navigator.gpu
 * shows the notice. Screenshots go to test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type ViteDevServer } from 'vite';
import { chromium, type Browser } from 'playwright-core';

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
    await page.close();
    return { verdict, status, result, errors };
  }

  it('runs the default shape (V3.2, FP8, flash) at once and shows a passing check with timing', async () => {
    const r = await runPage('', 'page-default');
    expect(r.status).toMatch(/^PASS/);
    expect(r.verdict).toBe('pass');
    expect(r.result).toMatch(/kernel +flash on a fp8-v32 cache/);
    expect(r.result).toMatch(/% of the roofline bound/);
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

  it('says what is missing when the browser has no WebGPU', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
    });
    await page.goto(url);
    const notice = page.locator('#no-webgpu');
    await notice.waitFor({ timeout: 30_000 });
    await page.screenshot({ path: 'test-results/page-no-webgpu.png', fullPage: true });
    expect(await notice.textContent()).toMatch(/navigator\.gpu is missing/);
    await page.close();
  });
});
