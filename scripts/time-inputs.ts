/**
 * How long the seeded inputs of one run take to generate, in Node and in the
 * page's worker (headless Chromium against the Vite dev server): the figure
 * docs/random.md reports. The run's flags are this script's arguments, as
 * `mla-sandbox run` takes them; by default the 256K-token MODEL1 FP8 case.
 *
 *   npx tsx scripts/time-inputs.ts [--preset model1 --kv fp8 --h-q 16 --seqlens 262144] [--repeat 3]
 *
 * Each repeat is timed on its own; the best and the median are printed.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { createServer } from 'vite';
import { chromium } from 'playwright-core';
import type { FlagValues } from '../src/run/run-options';
// The generator itself is imported as the command line's bundle has it: plain modules, direct calls.
import { generateInputs } from '../src/mla/inputs';

// The run's flags are read by the project's own code through Vite (it imports WGSL files as text); Vite serves the page too.
const server = await createServer({ server: { port: 0, host: '127.0.0.1' }, logLevel: 'error' });
const load = <T>(path: string) => server.ssrLoadModule(path) as Promise<T>;
const { SHAPE_FLAGS, PAGE_MEMORY_BUDGET, generationFromFlags } = await load<typeof import('../src/run/run-options')>('/src/run/run-options.ts');
const { openNodeDevice } = await load<typeof import('../src/gpu/node-device')>('/src/gpu/node-device.ts');
const { describeAdapter } = await load<typeof import('../src/gpu/device')>('/src/gpu/device.ts');

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DEFAULT_FLAGS = { preset: 'model1', kv: 'fp8', 'h-q': '16', seqlens: '262144' };

// The flags without their defaults, so that the script's defaults fill what is not given.
const options = Object.fromEntries(Object.entries(SHAPE_FLAGS).map(([k, f]) => [k, { type: f.type }])) as Record<string, { type: 'string' | 'boolean' }>;
const { values } = parseArgs({ options: { ...options, repeat: { type: 'string', default: '3' } }, strict: true });
const repeat = Number(values.repeat);
const flagDefaults = Object.fromEntries(Object.entries(SHAPE_FLAGS).flatMap(([k, f]) => ('default' in f ? [[k, f.default]] : [])));
const given = Object.fromEntries(Object.entries(values).filter(([k, v]) => k !== 'repeat' && v !== undefined));
const flags = { ...flagDefaults, ...DEFAULT_FLAGS, ...given } as FlagValues;
const ctx = await openNodeDevice();
const request = generationFromFlags(flags, ctx.limits, PAGE_MEMORY_BUDGET);
const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return `best ${(sorted[0] / 1000).toFixed(2)} s, median ${(sorted[Math.floor(sorted.length / 2)] / 1000).toFixed(2)} s (${ms.map((m) => (m / 1000).toFixed(2)).join(', ')})`;
};
process.stdout.write(`case     ${Object.entries(DEFAULT_FLAGS).map(([k]) => `--${k} ${flags[k]}`).join(' ')}; cache ${request.options.cacheLayout ? `straight into ${request.options.cacheLayout.name}` : 'f32 rows'} (limits from ${describeAdapter(ctx.adapter)})\n`);

const node: number[] = [];
for (let r = 0; r < repeat; r++) {
  const t = performance.now();
  generateInputs(request.shape, request.options);
  node.push(performance.now() - t);
}
process.stdout.write(`node     ${summary(node)}\n`);

if (!existsSync(CHROMIUM)) {
  process.stdout.write(`browser  not measured: ${CHROMIUM} is missing\n`);
} else {
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('vite did not report a port');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
  try {
    const page = await browser.newPage();
    // The Learn view opens without a GPU run, so the worker has the machine to itself.
    await page.goto(`http://127.0.0.1:${address.port}/#learn`);
    const worker: number[] = [];
    for (let r = 0; r < repeat; r++) {
      worker.push(await page.evaluate(async ({ req, module }) => {
        const { generateInWorker } = await import(/* @vite-ignore */ module) as typeof import('../src/page/cpu-worker');
        const t = performance.now();
        await generateInWorker(req, () => {});
        return performance.now() - t;
      }, { req: request, module: '/src/page/cpu-worker.ts' }));
    }
    process.stdout.write(`worker   ${summary(worker)} (the page's worker, the inputs posted back included)\n`);
  } finally {
    await browser.close();
  }
}
await server.close();
