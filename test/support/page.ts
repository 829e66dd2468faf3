/**
 * The page tests' harness: the Vite dev server and a headless Chromium
 * (Debian's /usr/bin/chromium, driven by playwright-core), one of each per
 * test file, so the page tests can be split across files that run side by
 * side; and the helpers every page test uses.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type ViteDevServer } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SWIFTSHADER_DAWN_TOGGLES_OFF } from '../../src/gpu/node-device';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * Chromium's WebGPU here is SwiftShader: the same Dawn toggles off as in
 * Node (node-device.ts, SWIFTSHADER_DAWN_TOGGLES_OFF), for the same faster
 * compiles; the page computes the same (a visitor's Chromium on SwiftShader
 * keeps the slow compile).
 */
export const FLAGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run', `--disable-dawn-features=${SWIFTSHADER_DAWN_TOGGLES_OFF.join(',')}`,
];
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`browser tests are required under CI but ${CHROMIUM} is missing (apt-get install chromium)`);

export interface RunResult {
  readonly verdict: string | null;
  readonly status: string | null;
  readonly result: string | null;
  readonly errors: string[];
  readonly roofline: string | null;
}

export interface PageHarness {
  readonly browser: Browser;
  /** The dev server's address, ending in '/'. */
  readonly url: string;
  /** Open the Run view at `path`, wait for its verdict, screenshot it as test-results/`shot`.png; `inspect` looks at the page before it closes. */
  runPage(path: string, shot: string, inspect?: (page: Page) => Promise<void>): Promise<RunResult>;
  /** A new page at `path`, with the page errors it throws collected. */
  openView(path: string): Promise<{ page: Page; errors: string[] }>;
}

/** Starts the server and the browser before the file's tests and closes them after. Call inside a describe. */
export function usePage(): PageHarness {
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  let url = '';
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
  const harness: PageHarness = {
    get browser() {
      if (!browser) throw new Error('the browser is not started yet');
      return browser;
    },
    get url() { return url; },
    async runPage(path, shot, inspect) {
      const page = await harness.browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url + path);
      await page.locator('#run-root[data-check], #no-webgpu').first().waitFor({ timeout: 240_000 });
      await page.screenshot({ path: `test-results/${shot}.png`, fullPage: true });
      expect(await page.locator('#no-webgpu').count(), 'WebGPU must be available in this Chromium').toBe(0);
      const verdict = await page.locator('#run-root').getAttribute('data-check');
      const status = await page.locator('#status').textContent();
      const result = await page.locator('#result').count() > 0 ? await page.locator('#result').textContent() : null;
      const roofline = await page.locator('#run-roofline').count() > 0 ? await page.locator('#run-roofline').getAttribute('data-points') : null;
      await inspect?.(page);
      await page.close();
      return { verdict, status, result, errors, roofline };
    },
    async openView(path) {
      const page = await harness.browser.newPage({ viewport: { width: 1300, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.addInitScript(recordStatuses, STATUS_IDS);
      await page.goto(url + path);
      return { page, errors };
    },
  };
  return harness;
}

/** The status line, read with a deadline: a page whose main thread is busy does not answer in time. */
export async function statusWithin(page: Page, ms: number, selector = '#status'): Promise<string> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the page did not answer within ${ms} ms`)), ms));
  return Promise.race([page.evaluate((s) => document.querySelector(s)?.textContent ?? '', selector), timeout]);
}

/** The status lines a page shows, by element id: every text each held, kept from the page's first script on. */
const STATUS_IDS = ['status', 'sparse-status'];

/** Runs in the page before its own scripts (openView; it cannot see this module, so the ids come as its argument): records each text a status line takes, however briefly. */
function recordStatuses(ids: readonly string[]): void {
  const seen: Record<string, string[]> = {};
  (window as unknown as { statusesSeen: typeof seen }).statusesSeen = seen;
  new MutationObserver(() => {
    for (const id of ids) {
      const text = document.getElementById(id)?.textContent;
      if (text === undefined || text === null) continue;
      const list = (seen[id] ??= []);
      if (list.at(-1) !== text) list.push(text);
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

/**
 * Follow a long run until it ends, reading its status every half second
 * (each read within 3 s: the page must keep answering): the statuses it
 * showed, numbers as N%, including those too brief for a read to catch.
 */
export async function followRun(page: Page, running: string, status: string): Promise<Set<string>> {
  const seen = new Set<string>();
  while (await page.locator(running).count() > 0) {
    seen.add((await statusWithin(page, 3000, status)).replace(/\d+%/, 'N%'));
    await page.waitForTimeout(500);
  }
  const recorded = await page.evaluate((id) => (window as unknown as { statusesSeen?: Record<string, string[]> }).statusesSeen?.[id] ?? [], status.replace(/^#/, ''));
  for (const text of recorded) seen.add(text.replace(/\d+%/, 'N%'));
  return seen;
}

/** In the Kernel source editor, replace the shown file's line matching `line` by `edit(line)`, as typing would. */
export async function editLine(page: Page, line: RegExp, edit: (line: string) => string): Promise<void> {
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
