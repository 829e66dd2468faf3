/**
 * One run at a time behind a section's form (Compare's dense-against-sparse
 * and prompt-cost sections): submit starts it, Cancel aborts its signal, the
 * buttons follow, and the root's data-state (running, done, error,
 * cancelled) says how it went to a test or a script.
 */
export interface SectionControls {
  readonly root: HTMLElement;
  readonly form: HTMLFormElement;
  readonly status: HTMLElement;
  readonly start: HTMLButtonElement;
  readonly cancel: HTMLButtonElement;
}

export interface SectionRun {
  /** The run: its status line when it ends. */
  readonly body: (signal: AbortSignal) => Promise<string>;
  /** The status line of a cancelled run ("Cancelled after 2 lengths."). */
  readonly cancelled: () => string;
  /** Why the signal was aborted, in words ("the sweep was cancelled"). */
  readonly cancelReason: string;
}

export function wireSection(ui: SectionControls, run: SectionRun): void {
  const { root, form, status, start, cancel } = ui;
  let controller: AbortController | undefined;
  async function go(): Promise<void> {
    if (controller) return;
    root.dataset.state = 'running';
    controller = new AbortController();
    const { signal } = controller;
    start.disabled = true;
    cancel.disabled = false;
    try {
      status.textContent = await run.body(signal);
      root.dataset.state = 'done';
    } catch (e) {
      const cancelled = signal.aborted;
      status.textContent = cancelled ? run.cancelled() : `Error: ${(e as Error).message}`;
      root.dataset.state = cancelled ? 'cancelled' : 'error';
    } finally {
      controller = undefined;
      start.disabled = false;
      cancel.disabled = true;
    }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); void go(); });
  cancel.addEventListener('click', () => controller?.abort(new DOMException(run.cancelReason, 'AbortError')));
}
