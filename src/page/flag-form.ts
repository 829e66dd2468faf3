/**
 * A form whose fields are CLI flags (the Run view's kernel run and its sparse
 * pipeline): values read from the URL by the flags' table, written back to
 * the URL (only those off the defaults, so a link reproduces a run), drawn as
 * inputs and read back as the CLI's flag values, which the CLI's own parsing
 * then checks.
 */
import type { FlagValues } from '../run/run-options';
import { escapeHtml } from './html';

export interface Field {
  readonly name: string;
  readonly label: string;
  readonly choices?: readonly string[];
  readonly checkbox?: boolean;
  readonly hint?: string;
  readonly placeholder?: string;
}

/** A flags table as the CLI's parseArgs takes it. */
export type FlagTable = Readonly<Record<string, { readonly type: 'string' | 'boolean' }>>;

/** The flags' values in `search` over `defaults`; a boolean flag is on unless given as 0 or false. */
export function valuesFromUrl(search: string, flags: FlagTable, defaults: FlagValues): FlagValues {
  const params = new URLSearchParams(search);
  const values: FlagValues = { ...defaults };
  for (const name of Object.keys(flags)) {
    const v = params.get(name);
    if (v === null) continue;
    values[name] = flags[name].type === 'boolean' ? v !== '0' && v !== 'false' : v;
  }
  return values;
}

/** The query string of the values off `defaults`, after `fixed` (e.g. the view's mode). */
export function queryFromValues(values: FlagValues, defaults: FlagValues, fixed: Record<string, string> = {}): string {
  const params = new URLSearchParams(fixed);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === false || v === '' || defaults[k] === v) continue;
    params.set(k, v === true ? '1' : String(v));
  }
  return params.toString();
}

/** The fields as labelled inputs. */
export function fieldsHtml(fields: readonly Field[], values: FlagValues): string {
  const field = (f: Field) => {
    const v = values[f.name];
    const input = f.checkbox
      ? `<input type="checkbox" name="${f.name}"${v ? ' checked' : ''}>`
      : f.choices
        // A value from the URL that is not a choice stays selected, so the run refuses it by name instead of running another.
        ? `<select name="${f.name}">${[...f.choices, ...(typeof v === 'string' && !f.choices.includes(v) ? [v] : [])]
          .map((c) => `<option${c === v ? ' selected' : ''}>${escapeHtml(c)}</option>`).join('')}</select>`
        : `<input name="${f.name}" value="${escapeHtml(String(v ?? ''))}" placeholder="${escapeHtml(f.placeholder ?? '')}">`;
    return `<label title="${escapeHtml(f.hint ?? '')}"><span>${f.label}</span>${input}</label>`;
  };
  return fields.map(field).join('');
}

/** The form's values over `base` (values of flags the form has no field for are kept). */
export function readFields(form: HTMLFormElement, fields: readonly Field[], base: FlagValues): FlagValues {
  const values: FlagValues = { ...base };
  for (const f of fields) {
    const el = form.elements.namedItem(f.name) as HTMLInputElement | HTMLSelectElement;
    values[f.name] = f.checkbox ? (el as HTMLInputElement).checked : el.value.trim() || undefined;
  }
  return values;
}
