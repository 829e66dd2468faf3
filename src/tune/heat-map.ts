/**
 * A tune's candidates as a grid over two axes (the version, or two knobs):
 * each cell the fastest candidate with those two values (the other knobs
 * free), or none when no candidate with them was timed (the pruned search
 * leaves holes). A candidate of a version without one of the two knobs (v6
 * has no tile, head block, key or query reads) is in no cell. The page draws
 * it as a heat map; the rows and columns keep the space's order.
 */
import type { TuningAxis, TuningConfig } from './tuning-space';

export interface HeatGrid {
  readonly xAxis: TuningAxis;
  readonly yAxis: TuningAxis;
  readonly xLabels: readonly string[];
  readonly yLabels: readonly string[];
  /** ms[y][x]: the fastest time in the cell, NaN where nothing was timed. */
  readonly ms: readonly (readonly number[])[];
  /** The fastest candidate's cell, if any. */
  readonly best?: { readonly x: number; readonly y: number };
}

/** What each knob is called on a chart's axis. */
export const AXIS_TITLES: Record<TuningAxis, string> = {
  kernel: 'kernel (tiled: v4, matmuls: v6)', scoreBlock: 'score block (heads x keys)', outBlock: 'output block (heads x values)', keys: 'keys read from', queries: 'queries read from',
  headsPerWorkgroup: 'heads per workgroup', tileN: 'tile length (keys)',
};

/**
 * The grid of `candidates` (tuned configurations; the default "flash" has
 * no knobs and is left out, as is a candidate without one of the two) over
 * `xAxis` and `yAxis`, whose values are taken in the order of `order` (the
 * tuning space) where given.
 */
export function heatGrid(
  candidates: readonly { readonly config: TuningConfig; readonly ms: number }[], xAxis: TuningAxis, yAxis: TuningAxis,
  order?: Partial<Record<TuningAxis, readonly (string | number)[]>>,
): HeatGrid {
  if (xAxis === yAxis) throw new Error(`the heat map needs two different knobs, got ${xAxis} twice`);
  const tuned = candidates.filter((c) => c.config.kernel !== 'flash' && c.config[xAxis] !== undefined && c.config[yAxis] !== undefined && Number.isFinite(c.ms));
  const valuesOf = (axis: TuningAxis) => {
    const seen = new Set(tuned.map((c) => String(c.config[axis])));
    const ordered = (order?.[axis] ?? []).map(String).filter((v) => seen.has(v));
    return [...ordered, ...[...seen].filter((v) => !ordered.includes(v)).sort(naturalOrder)];
  };
  const xLabels = valuesOf(xAxis);
  const yLabels = valuesOf(yAxis);
  const ms = yLabels.map(() => xLabels.map(() => NaN));
  let best: { x: number; y: number; ms: number } | undefined;
  for (const c of tuned) {
    const x = xLabels.indexOf(String(c.config[xAxis]));
    const y = yLabels.indexOf(String(c.config[yAxis]));
    if (!(ms[y][x] <= c.ms)) ms[y][x] = c.ms;
    if (!best || c.ms < best.ms) best = { x, y, ms: c.ms };
  }
  return { xAxis, yAxis, xLabels, yLabels, ms, best: best && { x: best.x, y: best.y } };
}

/** "8x16" before "16x8", 8 before 16: numbers compared as numbers, piece by piece. */
function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
