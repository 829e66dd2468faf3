/**
 * Watches the work the page submits to its device, so that a dispatch that
 * never ends (a kernel edited into a loop with no exit) is reported, not
 * waited on in silence.
 *
 * WebGPU cannot stop a dispatch once it is submitted. On a real GPU the
 * browser or the system resets a GPU that hangs, after a few seconds; the
 * device is then lost and the page opens a new one on the next run.
 * Chromium's software adapter (SwiftShader) runs the dispatch for ever, and
 * its GPU process answers nothing more: no later work finishes, and no new
 * device can be made, until the browser restarts. Destroying the device does
 * not help there; it blocks that process too.
 */

/** Work unfinished this long after its submit is reported as a stall. */
export const GPU_STALL_MS = 10_000;
/** How often the oldest unfinished submit is looked at while any is pending. */
const POLL_MS = 1_000;

/** The part of a GPUQueue the watch uses. */
export type WatchedQueue = Pick<GPUQueue, 'submit' | 'onSubmittedWorkDone'>;

export class GpuWatch {
  /** Submit times of the work not yet seen finished, oldest first. */
  private readonly pending: number[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private stalled = false;

  /**
   * `onChange` hears how long the oldest unfinished work has waited, once a
   * second while that is past `stallMs`, and `undefined` once it finishes.
   */
  constructor(
    private readonly onChange: (waitedMs: number | undefined) => void,
    private readonly stallMs = GPU_STALL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Route every submit on `queue` through the watch. */
  watch(queue: WatchedQueue): void {
    const submit = queue.submit.bind(queue);
    queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
      submit(buffers);
      this.pending.push(this.now());
      // Work finishes in submit order: each promise settles the oldest.
      void queue.onSubmittedWorkDone().finally(() => this.finished());
      this.timer ??= setInterval(() => this.check(), POLL_MS);
    };
  }

  /** How long the oldest unfinished work has waited, when that is past the stall time. */
  stalledFor(): number | undefined {
    if (this.pending.length === 0) return undefined;
    const waited = this.now() - this.pending[0];
    return waited >= this.stallMs ? waited : undefined;
  }

  private check(): void {
    const waited = this.stalledFor();
    if (waited === undefined) return;
    this.stalled = true;
    this.onChange(waited);
  }

  private finished(): void {
    this.pending.shift();
    if (this.pending.length > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.stalled) {
      this.stalled = false;
      this.onChange(undefined);
    }
  }
}

/** What the page says while the GPU has not finished work it was given `waitedMs` ago. */
export function stallMessage(waitedMs: number): string {
  return `The GPU has not finished work submitted ${Math.round(waitedMs / 1000)} s ago: a run that is long for this adapter, `
    + 'or a kernel that never ends (an edited loop with no exit). A dispatch cannot be stopped once submitted. '
    + 'A real GPU is reset by the browser or the system after a few seconds, and the page opens a new device on the next run; '
    + 'a software adapter (SwiftShader) keeps running it: reload the page, and if the GPU still does not answer, restart the browser. '
    + 'Until it finishes, new GPU runs are refused; Learn and Memory work without the GPU.';
}

/** The error a GPU run gets while the watch reports a stall. */
export class GpuStalledError extends Error {
  constructor(waitedMs: number) {
    super(`Not run: the GPU has not finished work submitted ${Math.round(waitedMs / 1000)} s ago (see the notice at the top of the page).`);
    this.name = 'GpuStalledError';
  }
}
