/**
 * What a tune found, in words and tables: the pick against the same run's
 * yardstick (the best plain matmul form) and copy bandwidth, the finalists
 * re-timed together, the fastest of the search. The command line prints it
 * as Markdown; the page shows the same sentence and tables.
 */
import { fmtRate } from '../run/report';
import type { DeviceCeilings } from '../timing/device-ceilings';
import type { SearchSeconds, TuneResult } from './tuner';

const gflopsAt = (r: TuneResult, ms: number) => r.flops / (ms / 1e3) / 1e9;
const gbpsAt = (r: TuneResult, ms: number) => r.bytes / (ms / 1e3) / 1e9;
const percent = (x: number) => `${(100 * x).toFixed(0)} %`;

/** "S 16x16 O 16x32 ..., 30.8 ms, 18.5 GFLOP/s = 67 % of the best plain matmul; ...; the default 42.2 ms (1.37x)." */
export function pickSentence(r: TuneResult, c: DeviceCeilings): string {
  const ms = r.pick.medianMs;
  return `${r.pick.name}: ${ms.toFixed(2)} ms, ${fmtRate(gflopsAt(r, ms))} GFLOP/s = ${percent(gflopsAt(r, ms) / c.yardstickGflops)} of the best plain matmul `
    + `(${fmtRate(c.yardstickGflops)} GFLOP/s); ${fmtRate(gbpsAt(r, ms))} GB/s = ${percent(gbpsAt(r, ms) / c.copyGBps)} of the copy bandwidth `
    + `(${fmtRate(c.copyGBps)} GB/s); the default ${r.defaultMs.toFixed(2)} ms (${(r.defaultMs / ms).toFixed(2)}x).`;
}

export const FINALIST_HEAD = ['configuration', 'median ms', 'GFLOP/s', '% of yardstick', 'samples'] as const;

export function finalistCells(r: TuneResult, c: DeviceCeilings): string[][] {
  return r.finalists.map((f) => [
    f.name, f.medianMs.toFixed(2), fmtRate(gflopsAt(r, f.medianMs)), percent(gflopsAt(r, f.medianMs) / c.yardstickGflops), String(f.samplesMs.length),
  ]);
}

/** Where the search's time went: each part summed over the candidates. */
export function searchSeconds(r: TuneResult): SearchSeconds {
  const sum = (part: keyof SearchSeconds) => r.evaluations.reduce((a, e) => a + e.spent[part], 0);
  return { prepare: sum('prepare'), check: sum('check'), time: sum('time') };
}

/** "making pipelines and buffers 61 s, first runs and checks 9 s, timing 12 s, final rounds 15 s" */
export function timeSplit(r: TuneResult): string {
  const s = searchSeconds(r);
  return `making pipelines and buffers ${s.prepare.toFixed(0)} s, first runs and checks ${s.check.toFixed(0)} s, `
    + `timing ${s.time.toFixed(0)} s, final rounds ${r.finalSeconds.toFixed(0)} s`;
}

/** "; stopped by its budget of 120 s (the pick is the best of those timed)", "; within its budget of 120 s", or nothing without a budget. */
export function budgetNote(r: TuneResult): string {
  if (r.budgetSeconds === undefined) return '';
  return r.stoppedByBudget
    ? `; stopped by its budget of ${r.budgetSeconds} s (the pick is the best of those timed)`
    : `; within its budget of ${r.budgetSeconds} s`;
}

export function tuneMarkdown(r: TuneResult, header: readonly string[], c: DeviceCeilings): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const top = r.evaluations.filter((e) => e.pass).sort((a, b) => a.ms - b.ms).slice(0, 12);
  const failed = r.evaluations.filter((e) => !e.pass);
  return [
    '# mla-sandbox bench --tune', '', ...header.map((h) => `- ${h}`),
    `- search: ${r.search}, ${r.timed} of ${r.fitting} fitting configurations timed in ${r.seconds.toFixed(0)} s (${timeSplit(r)})${budgetNote(r)}`, '',
    `**Pick:** ${pickSentence(r, c)}`, '',
    '## Final rounds (interleaved)', '', line(FINALIST_HEAD), '|---|---:|---:|---:|---:|', ...finalistCells(r, c).map(line), '',
    '## Fastest in the search (quick timing)', '', line(['configuration', 'version', 'ms', 'GFLOP/s', 'splits']), '|---|---|---:|---:|---:|',
    ...top.map((e) => line([e.name, e.version, e.ms.toFixed(2), fmtRate(gflopsAt(r, e.ms)), String(e.splits)])), '',
    ...(failed.length ? ['## Failed the check', '', ...failed.map((e) => `- ${e.name}: ${e.failure}`), ''] : []),
  ].join('\n');
}
