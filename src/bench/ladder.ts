/**
 * The kernel ladder as a benchmark (`mla-sandbox bench --ladder`, the page's
 * Ladder panel): every version at both head shapes and all cache formats,
 * each point checked against the CPU reference before it is timed, then set
 * against version 1 and against the device's own ceilings measured in the
 * same run (FMA throughput and copy bandwidth).
 */
import { VERSION_NAMES } from '../kernels/kernel-plan';
import { KERNEL_VERSIONS } from '../kernels/versions';
import type { Roofline } from '../timing/work';
import { DEFAULT_SWEEP, type SweepRow, type SweepSpec } from './sweep';
import { fmtMs, fmtRate } from '../run/report';

/** Default: seqlen 4096 at h_q 16/64/128, sized for a software adapter. */
export const LADDER_SWEEP: SweepSpec = {
  ...DEFAULT_SWEEP, kernels: VERSION_NAMES, seqlens: [4096], heads: [16, 64, 128],
  timing: { warmup: 1, samples: 5, minSampleMs: 10 },
};

/** --full: more seqlens, for a real GPU. */
export const FULL_LADDER_SWEEP: SweepSpec = {
  ...LADDER_SWEEP, seqlens: [1024, 4096, 16384], timing: { warmup: 2, samples: 10, minSampleMs: 20 },
};

export interface LadderRow extends SweepRow {
  /** time(v1) / time(this version) at the same point. */
  readonly speedupOverV1: number;
  /** GFLOP/s / the device's FMA ceiling. */
  readonly fmaFraction: number;
  /** GB/s / the device's copy bandwidth. */
  readonly copyFraction: number;
  /** GFLOP/s / the best plain matmul form measured in the same run (timed beside this point where the sweep did, else at the start): how close to a plain GEMM this kernel gets. */
  readonly yardstickFraction: number;
  /** FLOPs per byte of the work (FlashMLA's counting). */
  readonly intensity: number;
}

const pointKey = (r: SweepRow) => `${r.preset}|${r.kvFormat}|${r.seqlen}|${r.hQ}`;

/** `yardstickGflops`: the yardstick timed before the sweep, for rows that have none timed beside them. */
export function ladderRows(rows: readonly SweepRow[], roof: Roofline, yardstickGflops: number): LadderRow[] {
  const v1 = new Map(rows.filter((r) => r.kernel === 'naive' || r.kernel === 'v1').map((r) => [pointKey(r), r]));
  return rows.map((r) => ({
    ...r,
    speedupOverV1: (v1.get(pointKey(r))?.medianMs ?? NaN) / r.medianMs,
    fmaFraction: r.gflops / roof.fmaGflops,
    copyFraction: r.gbps / roof.copyGBps,
    yardstickFraction: r.gflops / (r.yardstickGflops ?? yardstickGflops),
    intensity: r.gflops / r.gbps,
  }));
}

export const LADDER_TABLE_HEAD = [
  'head', 'kv', 'seqlen', 'h_q', 'version', 'time (median)', 'vs v1', 'GFLOP/s', '% of FMA', '% of yardstick', 'GB/s', '% of copy', 'check (rel err)',
] as const;

export function ladderTableCells(r: LadderRow): string[] {
  const version = KERNEL_VERSIONS.find((v) => v.name === r.kernel || v.id === r.kernel);
  return [
    String(r.dQk), r.kvFormat, String(r.seqlen), String(r.hQ), version ? `${version.id} ${version.name}` : r.version,
    fmtMs(r.medianMs), Number.isFinite(r.speedupOverV1) ? `${r.speedupOverV1.toFixed(1)}x` : '-',
    fmtRate(r.gflops), `${(100 * r.fmaFraction).toFixed(1)}%`, `${(100 * r.yardstickFraction).toFixed(0)}%`, fmtRate(r.gbps), `${(100 * r.copyFraction).toFixed(1)}%`,
    `${r.pass ? 'pass' : 'FAIL'} (${r.maxRelErr.toExponential(1)})`,
  ];
}

export function ladderMarkdown(rows: readonly LadderRow[], header: readonly string[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    '# mla-sandbox bench --ladder', '', ...header.map((h) => `- ${h}`), '',
    line(LADDER_TABLE_HEAD), '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|', ...rows.map((r) => line(ladderTableCells(r))), '',
  ].join('\n');
}
