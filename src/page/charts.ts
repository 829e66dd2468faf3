/**
 * The page's charts, on Chart.js (lines, bars) and chartjs-chart-matrix
 * (heatmaps). One place that registers what is used and sets the common
 * look, so each view only says what to plot.
 */
import {
  BarController, BarElement, CategoryScale, Chart, type ChartConfiguration, Legend, LineController, LineElement,
  LinearScale, LogarithmicScale, PointElement, Title, Tooltip,
} from 'chart.js';
import { MatrixController, MatrixElement } from 'chartjs-chart-matrix';

Chart.register(
  BarController, BarElement, CategoryScale, Legend, LineController, LineElement, LinearScale, LogarithmicScale,
  PointElement, Title, Tooltip, MatrixController, MatrixElement,
);

/** Colour-blind-safe palette (Okabe-Ito), then greys. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000', '#777777', '#AAAAAA'];

export interface Series {
  readonly label: string;
  readonly points: readonly { x: number; y: number }[];
  readonly dashed?: boolean;
  /** The palette's colour to draw in (default: the series' place); a measured line and its model share one. */
  readonly color?: number;
}

export interface Axis {
  readonly title: string;
  readonly log?: boolean;
}

function axis(a: Axis) {
  if (!a.log) return { type: 'linear' as const, title: { display: true, text: a.title } };
  return { type: 'logarithmic' as const, title: { display: true, text: a.title }, ticks: { callback: logTickLabel } };
}

/**
 * On a log axis, a label at 1, 2 and 5 of each decade only (grid lines stay
 * at every tick): all nine crowd. Past 1e5 and under 1e-3 as 2e6, 5e-4.
 */
export function logTickLabel(value: number | string): string {
  const v = Number(value);
  if (!(v > 0)) return '';
  let exponent = Math.floor(Math.log10(v));
  let mantissa = v / 10 ** exponent;
  if (mantissa >= 9.5) { mantissa /= 10; exponent += 1; } // log10 rounds 1000 to 2.9999...
  const m = [1, 2, 5].find((k) => Math.abs(mantissa - k) < 1e-6 * k);
  if (m === undefined) return '';
  return v >= 1e5 || v < 1e-3 ? `${m}e${exponent}` : String(Number(v.toPrecision(3)));
}

/** Ticks on cell centres 0, k, 2k, ... (at most ~16 of them) for a heatmap axis of n cells. */
function integerTicks(n: number) {
  const step = Math.max(1, Math.ceil(n / 16));
  return (scale: { ticks: { value: number }[] }) => {
    scale.ticks = Array.from({ length: Math.ceil(n / step) }, (_, k) => ({ value: k * step }));
  };
}

/** A heatmap axis's tick text: the cell's label when the axis has labels, else its index. */
const cellLabel = (labels: readonly string[] | undefined) => (value: number | string) => labels?.[Number(value)] ?? String(value);

/** A chart that is redrawn in place when its data changes. */
export class ChartView {
  private chart?: Chart;
  constructor(readonly canvas: HTMLCanvasElement) {}

  private show(config: ChartConfiguration): void {
    this.chart?.destroy();
    this.chart = new Chart(this.canvas, config);
    const points = config.data.datasets.reduce((n, d) => n + d.data.length, 0);
    this.canvas.dataset.datasets = String(config.data.datasets.length);
    this.canvas.dataset.points = String(points);
  }

  lines(title: string, series: readonly Series[], x: Axis, y: Axis): void {
    this.show({
      type: 'line',
      data: {
        datasets: series.map((s, k) => ({
          label: s.label, data: s.points.map((p) => ({ ...p })), borderColor: PALETTE[(s.color ?? k) % PALETTE.length],
          backgroundColor: PALETTE[(s.color ?? k) % PALETTE.length], borderDash: s.dashed ? [6, 4] : undefined, tension: 0,
        })),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { title: { display: true, text: title }, legend: { position: 'bottom', labels: { boxWidth: 24 } } },
        scales: { x: axis(x), y: axis(y) },
      },
    });
  }

  /**
   * A roofline: arithmetic intensity (FLOP per byte) against GFLOP/s on log
   * axes, the device's two ceilings as lines (copy bandwidth x intensity up
   * to the ridge, then the FMA rate), and each run a labelled point.
   */
  roofline(title: string, ceilings: { copyGBps: number; fmaGflops: number }, points: readonly { label: string; x: number; y: number }[]): void {
    const xs = points.map((p) => p.x).filter((x) => x > 0);
    const ridge = ceilings.fmaGflops / ceilings.copyGBps;
    const lo = Math.min(ridge / 10, ...xs.map((x) => x / 2));
    const hi = Math.max(ridge * 10, ...xs.map((x) => x * 2));
    this.show({
      type: 'line',
      data: {
        datasets: [
          {
            label: `ceilings: copy ${ceilings.copyGBps.toPrecision(3)} GB/s, FMA ${ceilings.fmaGflops.toPrecision(3)} GFLOP/s`,
            data: [{ x: lo, y: lo * ceilings.copyGBps }, { x: ridge, y: ceilings.fmaGflops }, { x: hi, y: ceilings.fmaGflops }],
            borderColor: '#777777', backgroundColor: '#777777', pointRadius: 0, borderWidth: 2, tension: 0,
          },
          ...points.map((p, k) => ({
            label: p.label, data: [{ x: p.x, y: p.y }], showLine: false, pointRadius: 6, pointHoverRadius: 8,
            borderColor: PALETTE[k % 8], backgroundColor: PALETTE[k % 8],
          })),
        ],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { title: { display: true, text: title }, legend: { position: 'bottom', labels: { boxWidth: 14 } } },
        scales: { x: axis({ title: 'arithmetic intensity (FLOP / byte)', log: true }), y: axis({ title: 'GFLOP/s', log: true }) },
      },
    });
  }

  /**
   * Several devices on one roofline: each device's ceilings as a dashed line
   * and its points in the device's colour, so a run on one GPU sits beside
   * the same shape on another.
   */
  devicesRoofline(title: string, devices: readonly { label: string; ceilings: { copyGBps: number; fmaGflops: number }; points: readonly { label: string; x: number; y: number }[] }[]): void {
    const xs = devices.flatMap((d) => [d.ceilings.fmaGflops / d.ceilings.copyGBps, ...d.points.map((p) => p.x)]).filter((x) => x > 0);
    const lo = Math.min(...xs) / 10;
    const hi = Math.max(...xs) * 10;
    this.show({
      type: 'line',
      data: {
        datasets: devices.flatMap((d, k) => {
          const colour = PALETTE[k % 8];
          const ridge = d.ceilings.fmaGflops / d.ceilings.copyGBps;
          return [
            {
              label: `${d.label}: copy ${d.ceilings.copyGBps.toPrecision(3)} GB/s, FMA ${d.ceilings.fmaGflops.toPrecision(3)} GFLOP/s`,
              data: [{ x: lo, y: lo * d.ceilings.copyGBps }, { x: ridge, y: d.ceilings.fmaGflops }, { x: hi, y: d.ceilings.fmaGflops }],
              borderColor: colour, backgroundColor: colour, borderDash: [6, 4], pointRadius: 0, borderWidth: 1.5, tension: 0,
            },
            {
              label: `${d.label}: ${d.points.length} point${d.points.length === 1 ? '' : 's'}`, data: d.points.map((p) => ({ x: p.x, y: p.y, name: p.label })),
              showLine: false, pointRadius: 6, pointHoverRadius: 8, borderColor: colour, backgroundColor: colour,
            },
          ];
        }),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: title }, legend: { position: 'bottom', labels: { boxWidth: 14 } },
          tooltip: { callbacks: { label: (c) => { const r = c.raw as { x: number; y: number; name?: string }; return `${r.name ?? c.dataset.label}: ${r.y.toPrecision(3)} GFLOP/s at ${r.x.toPrecision(3)} FLOP/B`; } } },
        },
        scales: { x: axis({ title: 'arithmetic intensity (FLOP / byte)', log: true }), y: axis({ title: 'GFLOP/s', log: true }) },
      },
    });
  }

  bars(title: string, labels: readonly string[], series: readonly { label: string; values: readonly number[] }[], y: Axis, xTitle?: string): void {
    this.show({
      type: 'bar',
      data: {
        labels: [...labels],
        datasets: series.map((s, k) => ({ label: s.label, data: [...s.values], backgroundColor: PALETTE[k % PALETTE.length] })),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { title: { display: true, text: title }, legend: { display: series.length > 1, position: 'top' } },
        scales: { x: { title: { display: !!xTitle, text: xTitle ?? '' } }, y: axis(y) },
      },
    });
  }

  /**
   * values[row][col] as coloured cells; diverging blue-white-red around 0 when
   * `diverging`, else white-to-blue from 0 to the maximum. A NaN cell (nothing
   * measured there) is grey. `labels` name the columns and rows (else their
   * indices).
   */
  heatmap(
    title: string, values: readonly (readonly number[])[], xTitle: string, yTitle: string, diverging: boolean, fmt: (v: number) => string,
    labels?: { readonly x: readonly string[]; readonly y: readonly string[] },
  ): void {
    const rows = values.length;
    const cols = values[0]?.length ?? 0;
    let top = 0;
    for (const r of values) for (const v of r) if (Number.isFinite(v)) top = Math.max(top, Math.abs(v));
    top ||= 1;
    const colour = (v: number) => {
      if (Number.isNaN(v)) return '#dddddd';
      const t = Math.min(1, Math.abs(v) / top);
      const [r, g, b] = diverging && v < 0 ? [33, 102, 172] : diverging ? [178, 24, 43] : [8, 81, 156];
      const mix = (c: number) => Math.round(255 + (c - 255) * t);
      return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
    };
    const data = values.flatMap((r, y) => r.map((v, x) => ({ x, y, v })));
    this.show({
      type: 'matrix',
      data: {
        datasets: [{
          label: title, data,
          backgroundColor: (c: { raw: unknown }) => colour((c.raw as { v: number }).v),
          width: ({ chart }) => (chart.chartArea?.width ?? 0) / cols - 0.5,
          height: ({ chart }) => (chart.chartArea?.height ?? 0) / rows - 0.5,
        }],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: title }, legend: { display: false },
          tooltip: { callbacks: { title: () => '', label: (c) => {
            const r = c.raw as { x: number; y: number; v: number };
            return `${yTitle} ${cellLabel(labels?.y)(r.y)}, ${xTitle} ${cellLabel(labels?.x)(r.x)}: ${Number.isNaN(r.v) ? 'not measured' : fmt(r.v)}`;
          } } },
        },
        scales: {
          x: { type: 'linear', min: -0.5, max: cols - 0.5, offset: false, afterBuildTicks: integerTicks(cols), ticks: { callback: cellLabel(labels?.x) }, title: { display: true, text: xTitle }, grid: { display: false } },
          y: { type: 'linear', min: -0.5, max: rows - 0.5, reverse: true, offset: false, afterBuildTicks: integerTicks(rows), ticks: { callback: cellLabel(labels?.y) }, title: { display: true, text: yTitle }, grid: { display: false } },
        },
      },
    });
  }
}
