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

  it('runs the default shape (V3.2, FP8, flash) at once and shows a passing check', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    const check = page.locator('#check, #error, #no-webgpu');
    await check.first().waitFor({ timeout: 180_000 });
    await page.screenshot({ path: 'test-results/page-default.png', fullPage: true });
    expect(await page.locator('#no-webgpu').count(), 'WebGPU must be available in this Chromium').toBe(0);
    const error = page.locator('#error');
    expect(await error.count() ? await error.textContent() : '').toBe('');
    expect(await page.locator('#check').textContent()).toMatch(/^PASS/);
    expect(await page.locator('#adapter').textContent()).toMatch(/navigator\.gpu/);
    expect(errors).toEqual([]);
    await page.close();
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
