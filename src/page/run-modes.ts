/** The Run view's two modes, as links: the mode is in the URL (pipeline=sparse), so a link reproduces it. */
export type RunMode = 'kernel' | 'sparse';

export function modeLinks(current: RunMode): string {
  const link = (mode: RunMode, text: string) => mode === current
    ? `<strong>${text}</strong>`
    : `<a href="?${mode === 'sparse' ? 'pipeline=sparse' : ''}#run" data-mode="${mode}">${text}</a>`;
  return `<p class="modes">${link('kernel', 'One kernel')} | ${link('sparse', 'Sparse pipeline: indexer -> top-k -> sparse decode')}</p>`;
}
