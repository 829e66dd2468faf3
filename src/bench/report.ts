/** The sweep's results as a Markdown report, CSV, and the ratios the mission asks about. */
import type { SweepPoint, SweepRow } from './sweep';
import { fmtMs, fmtRate } from '../run/report';

export const CSV_COLUMNS: (keyof SweepRow)[] = [
  'preset', 'dQk', 'kvFormat', 'kernel', 'seqlen', 'hQ', 'splits', 'bytesPerToken', 'pass', 'maxRelErr', 'cosineDiff',
  'quantRelErr', 'quantCosineDiff', 'medianMs', 'minMs', 'p90Ms', 'method', 'gbps', 'gflops', 'rooflineFraction', 'suspect',
];

export function sweepCsv(rows: readonly SweepRow[]): string {
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => String(r[c])).join(','))].join('\n') + '\n';
}

const POINT_FIELDS: (keyof SweepPoint)[] = ['preset', 'kvFormat', 'kernel', 'seqlen', 'hQ'];

function geomean(xs: number[]): number {
  return xs.length ? Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length) : NaN;
}

export interface SweepRatios {
  /** time(576) / time(512), geometric mean over matching points, per kernel and format. */
  readonly v32OverModel1: { kernel: string; kvFormat: string; ratio: number; n: number }[];
  /** time(format) / time(bf16), per kernel and preset. */
  readonly formatOverBf16: { kernel: string; preset: string; kvFormat: string; ratio: number; n: number }[];
  /** time(flash) / time(naive), per preset and format. */
  readonly flashOverNaive: { preset: string; kvFormat: string; ratio: number; n: number }[];
}

export function sweepRatios(rows: readonly SweepRow[]): SweepRatios {
  // Two rows match when they agree on every point field but the one compared.
  const key = (r: SweepRow, omit: keyof SweepPoint) => POINT_FIELDS.map((c) => (c === omit ? '*' : String(r[c]))).join('|');
  const pair = (a: SweepRow[], b: SweepRow[], omit: keyof SweepPoint) => {
    const byKey = new Map(b.map((r) => [key(r, omit), r]));
    return a.flatMap((r) => { const o = byKey.get(key(r, omit)); return o ? [r.medianMs / o.medianMs] : []; });
  };
  const uniq = <T>(xs: T[]) => [...new Set(xs)];
  const kernels = uniq(rows.map((r) => r.kernel));
  const formats = uniq(rows.map((r) => r.kvFormat));
  const presets = uniq(rows.map((r) => r.preset));
  const v32OverModel1 = kernels.flatMap((kernel) => formats.map((kvFormat) => {
    const sel = (p: string) => rows.filter((r) => r.kernel === kernel && r.kvFormat === kvFormat && r.preset === p);
    const xs = pair(sel('v32'), sel('model1'), 'preset');
    return { kernel, kvFormat, ratio: geomean(xs), n: xs.length };
  })).filter((x) => x.n > 0);
  const formatOverBf16 = kernels.flatMap((kernel) => presets.flatMap((preset) => formats.filter((f) => f !== 'bf16').map((kvFormat) => {
    const sel = (f: string) => rows.filter((r) => r.kernel === kernel && r.preset === preset && r.kvFormat === f);
    const xs = pair(sel(kvFormat), sel('bf16'), 'kvFormat');
    return { kernel, preset, kvFormat, ratio: geomean(xs), n: xs.length };
  }))).filter((x) => x.n > 0);
  const flashOverNaive = presets.flatMap((preset) => formats.map((kvFormat) => {
    const sel = (k: string) => rows.filter((r) => r.kernel === k && r.preset === preset && r.kvFormat === kvFormat);
    const xs = pair(sel('flash'), sel('naive'), 'kernel');
    return { preset, kvFormat, ratio: geomean(xs), n: xs.length };
  })).filter((x) => x.n > 0);
  return { v32OverModel1, formatOverBf16, flashOverNaive };
}

/** The results table, one place for its columns and formatting; Markdown (CLI, docs) and HTML (the page) render it. */
export const SWEEP_TABLE_HEAD = [
  'head', 'kv', 'B/token', 'kernel', 'seqlen', 'h_q', 'splits', 'time (median)', 'p90', 'GB/s', 'GFLOP/s', 'roofline', 'check (rel err)', 'quant err vs f32',
] as const;

export function sweepTableCells(r: SweepRow): string[] {
  return [
    String(r.dQk), r.kvFormat, String(r.bytesPerToken), r.kernel, String(r.seqlen), String(r.hQ), String(r.splits), fmtMs(r.medianMs), fmtMs(r.p90Ms),
    `${fmtRate(r.gbps)}${r.suspect ? ' (suspect)' : ''}`, fmtRate(r.gflops), `${(100 * r.rooflineFraction).toFixed(1)}%`,
    `${r.pass ? 'pass' : 'FAIL'} (${r.maxRelErr.toExponential(1)})`, r.kvFormat === 'f32' ? '-' : Number.isNaN(r.quantRelErr) ? 'n/a (no f32 cache)' : r.quantRelErr.toExponential(2),
  ];
}

export function sweepTableMarkdown(rows: readonly SweepRow[]): string {
  const sep = '|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|';
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(SWEEP_TABLE_HEAD), sep, ...rows.map((r) => line(sweepTableCells(r)))].join('\n');
}

/** The ratios as sentences, for the Markdown report and the page. */
export function sweepRatioLines(rows: readonly SweepRow[]): string[] {
  const q = sweepRatios(rows);
  return [
    ...q.v32OverModel1.map((x) => `${x.kernel}, ${x.kvFormat}: time 576 / time 512 = ${x.ratio.toFixed(3)} (${x.n} points)`),
    ...q.formatOverBf16.map((x) => `${x.kernel}, ${x.preset}: time ${x.kvFormat} / time bf16 = ${x.ratio.toFixed(3)} (${x.n} points)`),
    ...q.flashOverNaive.map((x) => `${x.preset}, ${x.kvFormat}: time flash / time naive = ${x.ratio.toFixed(3)} (${x.n} points)`),
  ];
}

export function sweepMarkdown(rows: readonly SweepRow[], header: readonly string[]): string {
  const lines = [
    '# mla-sandbox bench', '', ...header.map((h) => `- ${h}`), '',
    '## Results', '', sweepTableMarkdown(rows), '',
    '## Ratios (geometric mean of matching points; < 1 means the first is faster)', '',
    ...sweepRatioLines(rows).map((l) => `- ${l}`),
    '',
  ];
  return lines.join('\n');
}
