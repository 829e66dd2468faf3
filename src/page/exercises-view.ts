/**
 * Exercises: write a piece of a kernel yourself (src/exercises). The view
 * shows an exercise's statement, the learner's file in the editor with the
 * region to write marked, and hints one at a time; Check runs the file on
 * every case on this GPU against the f64 reference and says, as the command
 * line does, the first wrong element and what the error looks like; after a
 * pass, Time it sets the learner's kernel beside the shipped one and the
 * plain-matmul yardstick. The learner's files, passes and hints are kept in
 * localStorage (exercise-progress.ts) and a file can be downloaded and
 * loaded. A check that never finishes (a loop with no end) is caught by the
 * page's GPU watch, as in Kernel source.
 */
import type { GpuContext } from '../gpu/device';
import { EXERCISES, type Exercise, exerciseById, runBy } from '../exercises/exercises';
import { type ExerciseResult, checkExercise } from '../exercises/check-exercise';
import { describeResult, starterFile } from '../exercises/exercise-report';
import { describeTiming, timeExercise } from '../exercises/time-exercise';
import { findRegion } from '../exercises/regions';
import { type ProgressBook, loadProgress, progressOf, saveProgress } from './exercise-progress';
import { downloadFile, escapeHtml, find } from './html';
import { createWgslEditor, markLines, messageItems, onMessageClick } from './wgsl-editor';

/** The largest file Load takes: a kernel's WGSL file is a few KiB. */
const MAX_LOAD_BYTES = 1 << 20;

/** The statement as paragraphs, its indented lines (formulas) as code. */
function statementHtml(e: Exercise): string {
  const parts = e.statement.split('\n').map((l) => (l.startsWith('    ') ? `<pre class="formula">${escapeHtml(l.trim())}</pre>` : `<p>${escapeHtml(l)}</p>`));
  return `<h3>${e.id}. ${escapeHtml(e.title)}</h3>${parts.join('')}
    <p class="hint">Your file is <code>${e.file}</code>; write between the lines <code>---- exercise ${e.region}: write from here ----</code> and <code>to here</code> (marked in the editor). Run by ${runBy(e)}.</p>
    <details><summary>In scope at the region</summary><ul>${e.given.map((g) => `<li>${escapeHtml(g)}</li>`).join('')}</ul></details>
    <details><summary>The ${e.cases.length} cases</summary><ul>${e.cases.map((c) => `<li>${escapeHtml(c.name)}</li>`).join('')}</ul></details>`;
}

const optionLabel = (e: Exercise, book: ProgressBook) => `${e.id}. ${e.title}${progressOf(book, e.id).passed ? ' (passed)' : ''}`;

export function mountExercisesView(view: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  view.innerHTML = `<div id="exercises-root"><h2>Exercises</h2>
    <p class="lead">Write a piece of an MLA kernel yourself. Check runs your file on this GPU on every case of the exercise and compares it with the f64 reference on the CPU: the first wrong element, and what the error looks like.</p>
    <div class="exercise-bar">
      <label><span>Exercise</span> <select id="exercise-pick"></select></label>
      <div class="buttons"><button type="button" id="exercise-check">Check</button><button type="button" id="exercise-hint">Show a hint</button>
        <button type="button" id="exercise-time" disabled>Time it</button><button type="button" id="exercise-download">Download my file</button>
        <label class="button-like">Load a file <input type="file" id="exercise-load" accept=".wgsl,text/plain"></label>
        <button type="button" id="exercise-reset">Start again</button></div>
    </div>
    <p id="exercise-note" class="hint"></p>
    <div id="exercise-statement" class="statement"></div>
    <div class="source-grid"><div id="exercise-editor"></div>
      <aside><p id="exercise-status">Not checked yet.</p><ul id="exercise-errors"></ul><pre id="exercise-result"></pre>
        <ol id="exercise-hints"></ol></aside></div></div>`;
  const root = find(view, '#exercises-root');
  const pick = find<HTMLSelectElement>(root, '#exercise-pick');
  const status = find(root, '#exercise-status');
  const errors = find(root, '#exercise-errors');
  const result = find(root, '#exercise-result');
  const hintList = find(root, '#exercise-hints');
  const hintButton = find<HTMLButtonElement>(root, '#exercise-hint');
  const timeButton = find<HTMLButtonElement>(root, '#exercise-time');
  const note = find(root, '#exercise-note');
  const loaded = loadProgress();
  let book = loaded.book;
  if (loaded.problem) note.textContent = loaded.problem;
  const editor = createWgslEditor(find(root, '#exercise-editor'));
  let exercise: Exercise = EXERCISES[0];
  /** The file that last passed, for Time it. */
  let passedSource: string | undefined;
  let errorLines: number[] = [];
  let busy = false;

  const fileOf = (e: Exercise) => progressOf(book, e.id).file ?? starterFile(e);

  function fillPicker(): void {
    pick.innerHTML = EXERCISES.map((e) => `<option value="${e.id}">${escapeHtml(optionLabel(e, book))}</option>`).join('');
    pick.value = String(exercise.id);
  }

  /** Mark the region's lines (and compile errors); say so when its markers are gone. */
  function markRegion(): void {
    try {
      const r = findRegion(editor.value, exercise.region, 'your file');
      markLines(editor, 'region-line', Array.from({ length: r.endLine - r.beginLine + 1 }, (_, k) => r.beginLine + k));
      root.dataset.region = `${r.beginLine}-${r.endLine}`;
    } catch (e) {
      markLines(editor, 'region-line', []);
      delete root.dataset.region;
      status.textContent = (e as Error).message;
      status.className = 'fail';
    }
    markLines(editor, 'error-line', errorLines);
  }

  function showHints(): void {
    const shown = progressOf(book, exercise.id).hints;
    hintList.innerHTML = exercise.hints.slice(0, shown).map((h) => `<li>${escapeHtml(h)}</li>`).join('');
    hintButton.textContent = shown < exercise.hints.length ? `Show hint ${shown + 1} of ${exercise.hints.length}` : `All ${exercise.hints.length} hints shown`;
    hintButton.disabled = shown >= exercise.hints.length;
  }

  function clearResult(): void {
    errorLines = [];
    errors.innerHTML = '';
    result.textContent = '';
    status.textContent = progressOf(book, exercise.id).passed ? 'Passed before in this browser. Not checked since.' : 'Not checked yet.';
    status.className = '';
    timeButton.disabled = true;
    passedSource = undefined;
    delete root.dataset.check;
  }

  function showExercise(e: Exercise): void {
    exercise = e;
    pick.value = String(e.id);
    find(root, '#exercise-statement').innerHTML = statementHtml(e);
    clearResult();
    editor.setOptions({ value: fileOf(e) });
    showHints();
    markRegion();
    // Open the file at its region.
    const first = root.dataset.region ? editor.lines[Number(root.dataset.region.split('-')[0])] : undefined;
    if (first) editor.container.scrollTop = Math.max(0, first.offsetTop - 60);
  }

  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  editor.on('update', (value) => {
    markRegion();
    if (passedSource !== undefined && value !== passedSource) timeButton.disabled = true;
    const id = exercise.id;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => { book = saveProgress(book, id, { file: value }); }, 300);
  });

  function showResult(r: ExerciseResult, source: string): void {
    const yours = (file: string) => (file === exercise.file ? 'your file' : file);
    errorLines = r.compileErrors.filter((m) => m.type === 'error' && m.file === exercise.file).map((m) => m.line);
    errors.innerHTML = messageItems(r.compileErrors.filter((m) => m.type !== 'info'), yours);
    const lines = describeResult(exercise, r, 'your file');
    if (r.compileErrors.length > 0) {
      status.textContent = 'Does not compile (nothing ran):';
      result.textContent = '';
    } else {
      status.textContent = r.pass ? `PASS: all ${r.cases.length} cases match the reference` : `FAIL: ${r.failure}`;
      result.textContent = lines.join('\n');
    }
    status.className = r.pass ? 'pass' : 'fail';
    root.dataset.check = r.compileErrors.length > 0 ? 'error' : r.pass ? 'pass' : 'fail';
    markRegion();
    if (r.pass) {
      passedSource = source;
      timeButton.disabled = false;
      book = saveProgress(book, exercise.id, { passed: true, file: source });
      fillPicker();
    }
  }

  async function check(): Promise<void> {
    if (busy) return;
    busy = true;
    const e = exercise;
    const source = editor.value;
    clearResult();
    status.textContent = 'Compiling...';
    try {
      findRegion(source, e.region, 'your file'); // refused before the GPU is asked
      const ctx = await getDevice();
      const r = await checkExercise(ctx, e, source, { onCase: (done, total, name) => { status.textContent = `Case ${done + 1} of ${total}: ${name}`; } });
      if (exercise === e) showResult(r, source);
    } catch (err) {
      status.textContent = (err as Error).message;
      status.className = 'fail';
      root.dataset.check = 'error';
    } finally {
      busy = false;
    }
  }

  async function time(): Promise<void> {
    if (busy || passedSource === undefined) return;
    busy = true;
    timeButton.disabled = true;
    const before = status.textContent;
    status.textContent = 'Timing your kernel, the shipped one and a plain matmul...';
    try {
      const t = await timeExercise(await getDevice(), exercise, passedSource, { samples: 3, warmup: 1 });
      result.textContent = `${result.textContent}\n${describeTiming(t).join('\n')}`;
      status.textContent = before;
      root.dataset.timed = 'yes';
    } catch (err) {
      status.textContent = (err as Error).message;
      status.className = 'fail';
    } finally {
      busy = false;
    }
  }

  async function load(input: HTMLInputElement): Promise<void> {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    try {
      if (file.size > MAX_LOAD_BYTES) throw new Error(`${file.name} is not allowed: ${file.size} bytes, over the ${MAX_LOAD_BYTES} a WGSL file may have here`);
      const text = await file.text();
      findRegion(text, exercise.region, file.name); // the file must be this exercise's
      editor.setOptions({ value: text });
      book = saveProgress(book, exercise.id, { file: text });
      clearResult();
      markRegion();
      status.textContent = `Loaded ${file.name}.`;
    } catch (err) {
      status.textContent = `Not loaded: ${(err as Error).message}`;
      status.className = 'fail';
    }
  }

  pick.addEventListener('change', () => showExercise(exerciseById(Number(pick.value))));
  find(root, '#exercise-check').addEventListener('click', () => void check());
  timeButton.addEventListener('click', () => void time());
  hintButton.addEventListener('click', () => {
    book = saveProgress(book, exercise.id, { hints: Math.min(exercise.hints.length, progressOf(book, exercise.id).hints + 1) });
    showHints();
  });
  find(root, '#exercise-download').addEventListener('click', () => downloadFile(`exercise-${exercise.id}-${exercise.file}`, editor.value, 'text/plain'));
  find<HTMLInputElement>(root, '#exercise-load').addEventListener('change', (e) => void load(e.target as HTMLInputElement));
  find(root, '#exercise-reset').addEventListener('click', () => {
    if (!confirm(`Replace your file for exercise ${exercise.id} with the starter file? Download it first to keep it.`)) return;
    editor.setOptions({ value: starterFile(exercise) });
    book = saveProgress(book, exercise.id, { file: undefined });
    clearResult();
    markRegion();
  });
  onMessageClick(errors, (_file, line) => editor.lines[line]?.scrollIntoView({ block: 'center' }));

  fillPicker();
  showExercise(exercise);
}
