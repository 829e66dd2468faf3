/**
 * One run at a time behind a form, for the Run view's two modes: submit
 * starts it, Cancel aborts its signal, the status line says how it went, and
 * the root's data-running (while it runs) and data-check (pass, fail, error,
 * cancelled) say so to a test or a script.
 */
export interface RunControls {
  readonly root: HTMLElement;
  readonly form: HTMLFormElement;
  readonly status: HTMLElement;
  readonly cancel: HTMLButtonElement;
}

export interface RunSteps {
  readonly signal: AbortSignal;
  /** Set the status line. */
  readonly say: (text: string) => void;
  /** A progress callback that says "what: N%". */
  readonly percent: (what: string) => (done: number, total: number) => void;
}

/** What a run ends with: whether it passed, and the status line that says so. */
export interface RunVerdict {
  readonly pass: boolean;
  readonly status: string;
}

export function wireRun(ui: RunControls, body: (steps: RunSteps) => Promise<RunVerdict>): { run: () => Promise<void> } {
  const { root, form, status, cancel } = ui;
  let running: AbortController | undefined;
  const say = (text: string) => { status.textContent = text; };
  const percent = (what: string) => (done: number, total: number) => say(`${what}: ${Math.floor((100 * done) / total)}%`);
  cancel.addEventListener('click', () => {
    if (!running) return;
    running.abort(new DOMException('the run was cancelled', 'AbortError'));
    say('Cancelling: the CPU work stops now, a GPU dispatch already submitted runs to its end...');
  });

  async function run(): Promise<void> {
    if (running) return;
    const controller = new AbortController();
    const { signal } = controller;
    running = controller;
    cancel.disabled = false;
    status.className = '';
    delete root.dataset.check;
    root.dataset.running = '1';
    try {
      const verdict = await body({ signal, say, percent });
      status.textContent = verdict.status;
      status.className = verdict.pass ? 'pass' : 'fail';
      root.dataset.check = verdict.pass ? 'pass' : 'fail';
    } catch (e) {
      const aborted = signal.aborted;
      status.textContent = aborted ? 'Cancelled: the run was stopped; nothing was checked or timed.' : (e as Error).message;
      status.className = aborted ? '' : 'fail';
      root.dataset.check = aborted ? 'cancelled' : 'error';
    } finally {
      running = undefined;
      cancel.disabled = true;
      delete root.dataset.running;
    }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); void run(); });
  return { run };
}
