/**
 * The Run view's two modes: one kernel, or the sparse pipeline. The mode is
 * in the URL (pipeline=sparse), so a link reproduces it; this file is the one
 * place that spells that parameter.
 */
export type RunMode = 'kernel' | 'sparse';

const PARAM = 'pipeline';

/** The mode a URL's query asks for; any other value of the parameter is refused by name, never run as the default. */
export function runModeOf(search: string): RunMode {
  const asked = new URLSearchParams(search).get(PARAM);
  if (asked === null) return 'kernel';
  if (asked === 'sparse') return 'sparse';
  throw new Error(`${PARAM}=${JSON.stringify(asked)} is not allowed: ${PARAM} must be sparse (the sparse pipeline), or left out for one kernel`);
}

/** The query parameters that select `mode` (none for the kernel run, the default). */
export function modeQuery(mode: RunMode): Record<string, string> {
  return mode === 'sparse' ? { [PARAM]: 'sparse' } : {};
}

/** Links to the two modes, the current one (if any) in bold. */
export function modeLinks(current?: RunMode): string {
  const link = (mode: RunMode, text: string) => mode === current
    ? `<strong>${text}</strong>`
    : `<a href="?${new URLSearchParams(modeQuery(mode))}#run" data-mode="${mode}">${text}</a>`;
  return `<p class="modes">${link('kernel', 'One kernel')} | ${link('sparse', 'Sparse pipeline: indexer -> top-k -> sparse decode')}</p>`;
}
