/** Small DOM helpers the views share. */
import { HEAD_PRESETS, type PresetName } from '../mla/shape';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** The element matching `selector` under `root`; throws if the view's markup lacks it. */
export function find<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`page markup has no ${selector}`);
  return el;
}

/** Offer `data` (text, or bytes such as an .npy file) as a file download. */
export function downloadFile(filename: string, data: string | Uint8Array<ArrayBuffer>, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Replace the query string, keeping the view in the hash. */
export function setQuery(query: string): void {
  history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}${location.hash}`);
}

/** Number formatting for tables: 4 significant digits, exponent when tiny or huge. */
export function fmtNum(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

/** A row of checkboxes named `name`, those in `on` ticked. */
export function checkboxes(name: string, all: readonly string[], on: readonly string[], label: (v: string) => string = (v) => v): string {
  return all.map((v) => `<label class="check"><input type="checkbox" name="${name}" value="${v}"${on.includes(v) ? ' checked' : ''}>${escapeHtml(label(v))}</label>`).join('');
}

/** "v32 (576)" */
export const presetLabel = (p: string): string => `${p} (${HEAD_PRESETS[p as PresetName].dQk})`;
