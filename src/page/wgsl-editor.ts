/**
 * The WGSL editor the Kernel source and Exercises views share
 * (prism-code-editor, highlighted, with undo and bracket matching), and the
 * compile messages shown beside it: each a link to its file:line:column,
 * its line marked in the editor.
 */
import { createEditor, type PrismEditor } from 'prism-code-editor';
import { defaultKeymap, editHistory, editorCommands } from 'prism-code-editor/commands';
import { matchBrackets } from 'prism-code-editor/match-brackets';
import 'prism-code-editor/prism/languages/wgsl';
import 'prism-code-editor/languages/wgsl';
import 'prism-code-editor/layout.css';
import 'prism-code-editor/themes/github-light.css';
import type { ShaderMessage } from '../gpu/pipelines';
import { escapeHtml } from './html';

export type { PrismEditor };

export function createWgslEditor(container: HTMLElement, value = ''): PrismEditor {
  return createEditor(container, { language: 'wgsl', value, tabSize: 2 }, editorCommands(defaultKeymap), editHistory(), matchBrackets());
}

/** Give the editor's 1-based `lines` the class `cls`, and take it from every other line. */
export function markLines(editor: PrismEditor, cls: string, lines: Iterable<number>): void {
  for (const line of editor.lines) line.classList.remove(cls);
  for (const k of lines) editor.lines[k]?.classList.add(cls);
}

/** The messages as list items, each linking to its line (`shownAs` names the file in the link text). */
export function messageItems(messages: readonly ShaderMessage[], shownAs: (file: string) => string = (f) => f): string {
  return messages.map((m) => `<li class="${m.type}"><a href="#" data-file="${escapeHtml(m.file)}" data-line="${m.line}">${escapeHtml(`${shownAs(m.file)}:${m.line}:${m.column}`)}</a> ${m.type}: ${escapeHtml(m.message)}</li>`).join('');
}

/** Clicking a message's link calls `go` with its file and line. */
export function onMessageClick(list: HTMLElement, go: (file: string, line: number) => void): void {
  list.addEventListener('click', (e) => {
    const a = (e.target as HTMLElement).closest('a');
    if (!a || !a.dataset.file) return;
    e.preventDefault();
    go(a.dataset.file, Number(a.dataset.line));
  });
}
