/**
 * A learner's progress through the exercises, kept in this browser's
 * localStorage: per exercise, their file as last edited, whether it has
 * passed, and how many hints they have opened. Stored text that no longer
 * reads is reported (and then replaced), never silently dropped.
 */
export interface ExerciseProgress {
  /** The learner's whole file, as last edited (absent: the starter file). */
  readonly file?: string;
  /** Passed every case at least once. */
  readonly passed: boolean;
  readonly hints: number;
}

export type ProgressBook = Record<number, ExerciseProgress>;

export const PROGRESS_KEY = 'mla-sandbox/exercises';

const NOTHING: ExerciseProgress = { passed: false, hints: 0 };

function isProgress(v: unknown): v is ExerciseProgress {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.passed === 'boolean' && Number.isInteger(p.hints) && (p.file === undefined || typeof p.file === 'string');
}

/** The stored book, and what was wrong with the stored text when it did not read. */
export function loadProgress(): { book: ProgressBook; problem?: string } {
  const text = localStorage.getItem(PROGRESS_KEY);
  if (text === null) return { book: {} };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object of exercises');
    const book: ProgressBook = {};
    for (const [k, v] of Object.entries(parsed)) {
      if (!/^\d+$/.test(k) || !isProgress(v)) throw new Error(`entry ${JSON.stringify(k)} is not {file?, passed, hints}`);
      book[Number(k)] = v;
    }
    return { book };
  } catch (e) {
    return { book: {}, problem: `the progress stored in this browser (localStorage ${PROGRESS_KEY}) does not read (${(e as Error).message}); it is started afresh` };
  }
}

export function progressOf(book: ProgressBook, id: number): ExerciseProgress {
  return book[id] ?? NOTHING;
}

/** The book with exercise `id`'s entry changed by `change`, saved. */
export function saveProgress(book: ProgressBook, id: number, change: Partial<ExerciseProgress>): ProgressBook {
  const next = { ...book, [id]: { ...progressOf(book, id), ...change } };
  localStorage.setItem(PROGRESS_KEY, JSON.stringify(next));
  return next;
}
