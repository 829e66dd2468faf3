/**
 * The sweep form shared by Compare and Ladder: heads, cache formats,
 * (kernels), seqlens, h_q and samples, read back into a SweepSpec with the
 * CLI's messages for a bad value; and the run itself, with progress and Cancel.
 */
import type { GpuContext } from '../gpu/device';
import { type SweepRow, type SweepSpec, runSweep, runnableSweep, sweepPoints } from '../bench/sweep';
import { PRESET_NAMES, type PresetName } from '../mla/shape';
import { KV_FORMATS, type KvFormat } from '../mla/kv-layout';
import type { KernelChoice } from '../kernels/versions';
import { PAGE_MEMORY_BUDGET, intFlag, intList } from '../run/run-options';
import { checkboxes, presetLabel } from './html';
import { generateInWorker, referenceInWorker } from './cpu-worker';

/** The form's fields for `spec`; `kernels` adds a row of kernel checkboxes. */
export function sweepFields(spec: SweepSpec, kernels?: readonly KernelChoice[]): string {
  return `<fieldset><legend>Head</legend>${checkboxes('preset', PRESET_NAMES, spec.presets, presetLabel)}</fieldset>
    <fieldset><legend>KV cache</legend>${checkboxes('kv', KV_FORMATS, spec.formats)}</fieldset>
    ${kernels ? `<fieldset><legend>Kernel</legend>${checkboxes('kernel', kernels, spec.kernels)}</fieldset>` : ''}
    <label><span>Seqlens (keys per request)</span><input name="seqlens" value="${spec.seqlens.join(',')}"></label>
    <label><span>Query heads h_q</span><input name="heads" value="${spec.heads.join(',')}"></label>
    <label><span>Timed samples per point</span><input name="samples" value="${spec.timing.samples}"></label>`;
}

/** Set the form's fields to `spec` (e.g. the long-context sweep). */
export function fillSweepForm(form: HTMLFormElement, spec: SweepSpec): void {
  const tick = (name: string, values: readonly string[]) => {
    for (const box of form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]`)) box.checked = values.includes(box.value);
  };
  tick('preset', spec.presets);
  tick('kv', spec.formats);
  tick('kernel', spec.kernels);
  const set = (name: string, value: string) => { (form.elements.namedItem(name) as HTMLInputElement).value = value; };
  set('seqlens', spec.seqlens.join(','));
  set('heads', spec.heads.join(','));
  set('samples', String(spec.timing.samples));
}

/** The spec the form describes, on top of `base` (kernels from the form when it has them). */
export function readSweepForm(form: HTMLFormElement, base: SweepSpec): SweepSpec {
  const checked = (name: string, field: string) => {
    const vs = [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
    if (!vs.length) throw new Error(`${field}: tick at least one`);
    return vs;
  };
  const text = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
  const positive = (name: string) => {
    const vs = intList(name, text(name)) ?? [];
    if (vs.some((v) => v < 1)) throw new Error(`--${name} "${text(name)}" is not allowed: --${name} must be a comma-separated list of integers >= 1`);
    return vs;
  };
  const hasKernels = form.querySelector('input[name="kernel"]') !== null;
  return {
    ...base,
    presets: checked('preset', 'Head') as PresetName[],
    formats: checked('kv', 'KV cache') as KvFormat[],
    kernels: hasKernels ? checked('kernel', 'Kernel') as KernelChoice[] : base.kernels,
    seqlens: positive('seqlens'),
    heads: positive('heads'),
    timing: { ...base.timing, samples: intFlag('samples', text('samples'), 1, 100) },
  };
}

export interface SweepControls {
  readonly root: HTMLElement;
  readonly form: HTMLFormElement;
  readonly progress: HTMLProgressElement;
  readonly status: HTMLElement;
  readonly start: HTMLButtonElement;
  readonly cancel: HTMLButtonElement;
}

export interface SweepHooks {
  /** The spec to run, read from the form (throws with a message for a bad field). */
  readonly spec: () => SweepSpec;
  /** Work before the first point, with the device (e.g. measuring the roofline). */
  readonly prepare?: (ctx: GpuContext) => Promise<void>;
  /** Every finished point, with all rows so far (an empty list when a run starts). */
  readonly onRows: (rows: readonly SweepRow[]) => void;
  /** A timer of the yardstick to run right after each point (SweepRunOptions.yardstick), made once the device is prepared; none: not timed. */
  readonly yardstick?: (ctx: GpuContext) => (() => Promise<number>) | undefined;
  /** After the run, whatever its end. */
  readonly onEnd?: (rows: readonly SweepRow[]) => void;
}

/**
 * Wire a sweep form: submit runs the sweep point by point with the progress
 * bar and status line, Cancel stops after the point in flight. The root's
 * data-state (running, done, cancelled, error) and data-rows say how it ended.
 */
export function wireSweep(ui: SweepControls, getDevice: () => Promise<GpuContext>, hooks: SweepHooks): void {
  const { root, progress, status, start, cancel } = ui;
  let controller: AbortController | undefined;
  async function run(): Promise<void> {
    let asked: SweepSpec;
    try { asked = hooks.spec(); } catch (e) { status.textContent = (e as Error).message; root.dataset.state = 'error'; return; }
    const rows: SweepRow[] = [];
    hooks.onRows(rows);
    controller = new AbortController();
    start.disabled = true;
    cancel.disabled = false;
    root.dataset.state = 'running';
    let total = sweepPoints(asked).length;
    progress.max = total;
    progress.value = 0;
    let notRun: string[] = [];
    const skipped: string[] = [];
    try {
      const ctx = await getDevice();
      const runnable = runnableSweep(asked, ctx.limits);
      const spec = runnable.spec;
      notRun = runnable.notRun;
      total = sweepPoints(spec).length;
      progress.max = total;
      await hooks.prepare?.(ctx);
      const { signal } = controller;
      let point = '';
      const stage = (what: string) => (done: number, all: number) => {
        status.textContent = `${progress.value} / ${total} points: ${point}: ${what} ${Math.floor((100 * done) / all)}%`;
      };
      await runSweep(ctx, spec, (p) => {
        progress.value = p.done;
        if (p.row) { rows.push(p.row); hooks.onRows(rows); }
        if (p.skipped) skipped.push(`${p.point.preset} ${p.point.kvFormat} seqlen ${p.point.seqlen} h_q ${p.point.hQ}: ${p.skipped}`);
        point = `${p.point.preset} ${p.point.kvFormat} ${p.point.kernel}, seqlen ${p.point.seqlen}, h_q ${p.point.hQ}`;
        status.textContent = `${p.done} / ${total} points${p.row || p.skipped ? '' : `: running ${point}`}`;
      }, signal, {
        // The CPU's share in a worker: the page answers and Cancel stops a point at once, even a million-token one.
        generate: (shape, options) => generateInWorker({ shape, options }, stage('generating the inputs'), signal),
        reference: (inputs, bytes, layout) => referenceInWorker(inputs, bytes, layout, stage('f64 reference'), signal),
        memory: PAGE_MEMORY_BUDGET,
        yardstick: hooks.yardstick?.(ctx),
      });
      const failed = rows.filter((r) => !r.pass).length;
      status.textContent = `Done: ${rows.length} points, ${failed ? `${failed} FAILED the check` : 'all match the CPU reference'}.${[...notRun, ...skipped.map((k) => `skipped ${k}`)].map((n) => ` (${n}.)`).join('')}`;
      root.dataset.state = 'done';
    } catch (e) {
      const cancelled = (e as Error).name === 'AbortError';
      status.textContent = cancelled ? `Cancelled after ${rows.length} of ${total} points.` : `Error: ${(e as Error).message}`;
      root.dataset.state = cancelled ? 'cancelled' : 'error';
    } finally {
      root.dataset.rows = String(rows.length);
      start.disabled = false;
      cancel.disabled = true;
      hooks.onEnd?.(rows);
    }
  }
  ui.form.addEventListener('submit', (e) => { e.preventDefault(); void run(); });
  cancel.addEventListener('click', () => { controller?.abort(); status.textContent += ' (cancelling after this point...)'; });
}
