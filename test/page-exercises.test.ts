/**
 * The Exercises view in a real Chromium: an exercise solved by typing into
 * the editor passes, is timed, and is still passed (with the learner's
 * text) after a reload; a file with a planted mistake, loaded from disk,
 * gets the failing case, the first wrong element and the diagnosis; a
 * compile error is shown at the learner's line and marked there.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { haveChromium, usePage } from './support/page';
import { SHADER_FILES } from '../src/gpu/shader-source';

/** Select `text` in the editor's textarea (the first place it occurs), so that typing replaces it. */
async function selectInEditor(page: Page, text: string): Promise<void> {
  await page.locator('#exercise-editor textarea').evaluate((ta: HTMLTextAreaElement, t) => {
    const at = ta.value.indexOf(t);
    if (at < 0) throw new Error(`the editor does not hold ${t}`);
    ta.focus();
    ta.setSelectionRange(at, at + t.length);
  }, text);
}

/** The status line once it starts with `prefix` (a file is read asynchronously). */
async function statusStarting(page: Page, prefix: string): Promise<string> {
  await page.waitForFunction((p) => document.querySelector('#exercise-status')?.textContent?.startsWith(p), prefix, { timeout: 30_000 });
  return (await page.locator('#exercise-status').textContent())!;
}

async function checked(page: Page): Promise<string> {
  await page.click('#exercise-check');
  await page.locator('#exercises-root[data-check]').waitFor({ timeout: 240_000 });
  return (await page.locator('#exercises-root').getAttribute('data-check'))!;
}

describe.skipIf(!haveChromium)('the Exercises view in Chromium', () => {
  const h = usePage();

  it('exercise 1 solved by typing into the editor passes, is timed against the shipped kernel, and stays passed after a reload', async () => {
    const { page, errors } = await h.openView('#exercises');
    await page.locator('#exercises-root[data-region]').waitFor({ timeout: 60_000 });
    expect(await page.locator('#exercise-pick').inputValue()).toBe('1');
    expect(await page.locator('#exercise-editor .region-line').count()).toBeGreaterThanOrEqual(3); // the markers and the starter lines
    await selectInEditor(page, 's = 0.0;');
    const solution = 'var acc = 0.0; for (var j = 0u; j < D_QK / 4u; j++) { acc += dot(q[row * (D_QK / 4u) + j], loadKvQuad(u32(slot), j)); } s = params.scale * acc;';
    await page.keyboard.type(solution);
    const verdict = await checked(page);
    expect(verdict, (await page.locator('#exercise-result').textContent()) ?? '').toBe('pass');
    expect(await page.locator('#exercise-status').textContent()).toBe('PASS: all 6 cases match the reference');
    await page.click('#exercise-time');
    await page.locator('#exercises-root[data-timed]').waitFor({ timeout: 240_000 });
    expect(await page.locator('#exercise-result').textContent()).toMatch(/\ntime {5}yours .* ms, the shipped kernel .* ms \(\d+\.\d\dx its time\)[^\n]*\nspeed {4}.* GFLOP\/s, \d+ % of a plain matmul on this device/);
    // The hints open one at a time and are remembered too.
    await page.click('#exercise-hint');
    expect(await page.locator('#exercise-hints li').count()).toBe(1);
    await page.reload();
    await page.locator('#exercises-root[data-region]').waitFor({ timeout: 60_000 });
    expect(await page.locator('#exercise-pick option[value="1"]').textContent()).toMatch(/\(passed\)$/);
    expect(await page.locator('#exercise-editor textarea').inputValue()).toContain(solution);
    expect(await page.locator('#exercise-hints li').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a file with a planted mistake, loaded from disk, fails at its first wrong element with the diagnosis; a compile error is marked at its line', async () => {
    const { page, errors } = await h.openView('#exercises');
    await page.locator('#exercises-root[data-region]').waitFor({ timeout: 60_000 });
    await page.selectOption('#exercise-pick', '2');
    // Exercise 2 (softmax) with the max left out of exp: right on ordinary logits, not on large ones.
    const planted = SHADER_FILES['v1_naive.wgsl'].replace('sum += exp(scores[base + k] - m);', 'sum += exp(scores[base + k]);').replace('let rowLse = m + log(sum);', 'let rowLse = log(sum);');
    expect(planted).not.toBe(SHADER_FILES['v1_naive.wgsl']);
    const file = join(mkdtempSync(join(tmpdir(), 'mla-exercise-')), 'softmax-no-max.wgsl');
    writeFileSync(file, planted);
    await page.setInputFiles('#exercise-load', file);
    expect(await statusStarting(page, 'Loaded')).toBe('Loaded softmax-no-max.wgsl.');
    expect(await checked(page)).toBe('fail');
    await page.screenshot({ path: 'test-results/page-exercises.png', fullPage: true });
    expect(await page.locator('#exercise-status').textContent()).toMatch(/^FAIL: case "large logits: q times 40": first wrong element out\[b \d+, i \d+, h \d+, c \d+\]: expected \S+, got \S+$/);
    expect(await page.locator('#exercise-result').textContent()).toContain('why      wrong only for large logits: subtract the row\'s max before exp');
    // A file for another exercise (no softmax markers) is refused by name, the editor left as it was.
    const other = join(mkdtempSync(join(tmpdir(), 'mla-exercise-')), 'combine.wgsl');
    writeFileSync(other, SHADER_FILES['combine.wgsl']);
    await page.setInputFiles('#exercise-load', other);
    expect(await statusStarting(page, 'Not loaded')).toMatch(/^Not loaded: combine\.wgsl must hold the marker lines "\/\/ ---- exercise softmax: write from here ----"/);
    // A compile error: at the learner's line, marked in the editor.
    await selectInEditor(page, 'let rowLse = log(sum);');
    await page.keyboard.type('let rowLse = log(total);');
    const line = (await page.locator('#exercise-editor textarea').inputValue()).split('\n').findIndex((l) => l.includes('log(total)')) + 1;
    expect(await checked(page)).toBe('error');
    expect(await page.locator('#exercise-status').textContent()).toBe('Does not compile (nothing ran):');
    expect(await page.locator('#exercise-errors li.error').first().textContent()).toMatch(new RegExp(`^your file:${line}:\\d+ error: .*total`));
    expect(await page.locator('#exercise-editor .error-line').count()).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });
});
