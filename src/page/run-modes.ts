/**
 * The Run view's three modes: one kernel on generated inputs, the sparse
 * pipeline, or one kernel on your own tensors (.npy files). The mode is in
 * the URL (pipeline=sparse, pipeline=files), so a link reproduces it; this
 * file is the one place that spells that parameter.
 */
export type RunMode = 'kernel' | 'sparse' | 'files';

const PARAM = 'pipeline';

/** The mode a URL's query asks for; any other value of the parameter is refused by name, never run as the default. */
export function runModeOf(search: string): RunMode {
  const asked = new URLSearchParams(search).get(PARAM);
  if (asked === null) return 'kernel';
  if (asked === 'sparse' || asked === 'files') return asked;
  throw new Error(`${PARAM}=${JSON.stringify(asked)} is not allowed: ${PARAM} must be sparse (the sparse pipeline) or files (your own tensors), or left out for one kernel`);
}

/** The query parameters that select `mode` (none for the kernel run, the default). */
export function modeQuery(mode: RunMode): Record<string, string> {
  return mode === 'kernel' ? {} : { [PARAM]: mode };
}

/** Links to the three modes, the current one (if any) in bold. */
export function modeLinks(current?: RunMode): string {
  const link = (mode: RunMode, text: string) => mode === current
    ? `<strong>${text}</strong>`
    : `<a href="?${new URLSearchParams(modeQuery(mode))}#run" data-mode="${mode}">${text}</a>`;
  return `<p class="modes">${link('kernel', 'One kernel')} | ${link('sparse', 'Sparse pipeline: indexer -> top-k -> sparse decode')} | ${link('files', 'Your tensors (.npy files)')}</p>`;
}
