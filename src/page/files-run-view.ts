/**
 * Run, your own tensors: .npy files in FlashMLA's shapes, picked or dropped,
 * under the command line's names, for either of FlashMLA's calls
 * (files-calls.ts): the decode call (q, kv-cache, cache-seqlens, block-table,
 * indices, topk-length, attn-sink, extra-*) or the sparse prefill (q,
 * kv-cache, indices, attn-sink, topk-length). The call runs on this GPU
 * through the command line's loading and checks, is checked against the f64
 * reference (in a worker) and timed; its returns (out, lse, and the
 * prefill's max_logits) download as .npy. The call is in the URL (call=prefill).
 */
import type { GpuContext } from '../gpu/device';
import type { FlagValues } from '../run/run-options';
import { type NpyArray, encodeNpy, parseNpy } from '../run/npy';
import { downloadFile, escapeHtml, find, setQuery } from './html';
import { fieldsHtml, readFields } from './flag-form';
import { modeLinks, modeQuery } from './run-modes';
import { wireRun } from './run-control';
import { type ChosenArray, FILES_CALLS, FILES_CALL_NAMES, type FilesCall, type FilesCallName, RETURN_NAMES, type ReturnName } from './files-calls';

/** FlashMLA's argument names for the files, where they differ from the flags. */
const FLASHMLA_NAMES: Readonly<Record<string, string>> = {
  'k-cache': 'kv-cache', kv: 'kv-cache', 'indices-in-kvcache': 'indices', 'extra-k-cache': 'extra-kv-cache', 'extra-indices-in-kvcache': 'extra-indices',
};

/** The file a return downloads as (FlashMLA's name). */
const RETURN_FILES: Readonly<Record<ReturnName, string>> = { out: 'out.npy', lse: 'lse.npy', 'max-logits': 'max_logits.npy' };

const CALL_PARAM = 'call';

/** The call a URL's query asks for (decode when left out); any other value is refused by name. */
function filesCallOf(search: string): FilesCallName {
  const asked = new URLSearchParams(search).get(CALL_PARAM);
  if (asked === null) return 'decode';
  if ((FILES_CALL_NAMES as readonly string[]).includes(asked)) return asked as FilesCallName;
  throw new Error(`${CALL_PARAM}=${JSON.stringify(asked)} is not allowed: ${CALL_PARAM} must be ${FILES_CALL_NAMES.join(' or ')}`);
}

/** The flag a file's name gives it in `call` (q.npy, kv-cache.npy, k_cache.npy, kv.npy, attn_sink.npy, ...), or undefined. */
function flagOfFileName(name: string, call: FilesCall = FILES_CALLS.decode): string | undefined {
  const base = name.replace(/\.npy$/i, '').toLowerCase().replace(/_/g, '-');
  const flag = FLASHMLA_NAMES[base] ?? base;
  return call.files.some((f) => f.flag === flag) ? flag : undefined;
}

async function readNpyFile(file: File): Promise<NpyArray> {
  return parseNpy(new Uint8Array(await file.arrayBuffer()), file.name);
}

function callLabel(name: FilesCallName): string {
  return `${name}: ${FILES_CALLS[name].flashmla}`;
}

export function mountFilesRunView(view: HTMLElement, getDevice: () => Promise<GpuContext>): { run: () => Promise<void> } {
  let callName: FilesCallName;
  try {
    callName = filesCallOf(location.search);
  } catch (e) {
    view.innerHTML = `<div id="files-root" data-check="error">${modeLinks('files')}<h2>Your own tensors</h2><p id="files-status" class="fail">${escapeHtml((e as Error).message)}</p></div>`;
    return { run: async () => {} };
  }
  const returnButtons = RETURN_NAMES.map((r) => `<button type="button" id="files-${r}" disabled>Download ${RETURN_FILES[r]}</button>`).join('');
  view.innerHTML = `<div id="files-root">${modeLinks('files')}<h2>Your own tensors</h2>`
    + '<p class="lead">FlashMLA\'s calls on this GPU, from .npy files in FlashMLA\'s shapes, checked as the command line checks them, '
    + 'run, checked against the f64 CPU reference and timed. A sparse call (indices) needs no cache seqlens or block table. Nothing leaves this browser.</p>'
    + `<p><label class="call">Call <select id="files-call">${FILES_CALL_NAMES.map((n) => `<option value="${n}"${n === callName ? ' selected' : ''}>${callLabel(n)}</option>`).join('')}</select></label>`
    + ' <span id="files-command"></span></p>'
    + '<div id="files-drop" class="drop"></div>'
    + '<form id="files-form"><div class="file-fields" id="files-inputs"></div><div class="fields" id="files-fields"></div>'
    + `<div class="buttons"><button type="submit" id="files-run">Run</button><button type="button" id="files-cancel" disabled>Cancel</button>${returnButtons}</div></form>`
    + '<p id="files-status"></p><pre id="files-result"></pre></div>';
  const root = find(view, '#files-root');
  const form = find<HTMLFormElement>(root, '#files-form');
  const status = find(root, '#files-status');
  const result = find(root, '#files-result');
  const chosen = new Map<string, File>();
  let returns: Partial<Record<ReturnName, Uint8Array<ArrayBuffer>>> = {};

  const call = () => FILES_CALLS[callName];
  function showReturns(): void {
    for (const r of RETURN_NAMES) {
      const button = find<HTMLButtonElement>(root, `#files-${r}`);
      button.hidden = !call().returns.includes(r);
      button.disabled = returns[r] === undefined;
    }
  }
  function choose(flag: string, file: File | undefined): void {
    if (file) chosen.set(flag, file);
    else chosen.delete(flag);
    find(root, `#chosen-${flag}`).textContent = file ? `${file.name}, ${file.size} bytes` : '';
  }
  /** Draw the call's file inputs and fields; files chosen for an argument the call does not take are let go, and the status says so. */
  function drawCall(): void {
    const c = call();
    root.dataset.call = callName;
    find(root, '#files-command').innerHTML = `the same as <code>${c.command}</code> with these files`;
    find(root, '#files-drop').textContent = `Drop .npy files here, each named after its argument (${c.files.map((f) => `${f.flag}.npy`).join(', ')}; _ for - and FlashMLA's names are fine), or pick them below.`;
    find(root, '#files-inputs').innerHTML = c.files.map((f) => `<label class="file-field"><span><code>--${f.flag}</code> ${escapeHtml(f.what)}</span>`
      + `<input type="file" accept=".npy" data-flag="${f.flag}" id="file-${f.flag}"><small class="chosen" id="chosen-${f.flag}"></small></label>`).join('');
    for (const input of root.querySelectorAll<HTMLInputElement>('#files-inputs input[type=file]')) {
      input.addEventListener('change', () => choose(input.dataset.flag!, input.files?.[0]));
    }
    find(root, '#files-fields').innerHTML = fieldsHtml(c.fields, c.defaults);
    const letGo = [...chosen.keys()].filter((flag) => !c.files.some((f) => f.flag === flag));
    const names = letGo.map((flag) => chosen.get(flag)!.name);
    letGo.forEach((flag) => chosen.delete(flag));
    for (const [flag, file] of chosen) choose(flag, file);
    status.className = '';
    status.textContent = names.length > 0 ? `Let go: ${names.join(', ')}: not an argument of ${c.flashmla}.` : '';
    returns = {};
    showReturns();
  }
  drawCall();
  find<HTMLSelectElement>(root, '#files-call').addEventListener('change', (e) => {
    callName = filesCallOf(`?${CALL_PARAM}=${(e.target as HTMLSelectElement).value}`);
    setQuery(new URLSearchParams({ ...modeQuery('files'), ...(callName === 'decode' ? {} : { [CALL_PARAM]: callName }) }).toString());
    drawCall();
  });

  const drop = find(root, '#files-drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const unknown: string[] = [];
    for (const file of e.dataTransfer?.files ?? []) {
      const flag = flagOfFileName(file.name, call());
      if (flag) choose(flag, file);
      else unknown.push(file.name);
    }
    status.className = unknown.length > 0 ? 'fail' : '';
    status.textContent = unknown.length > 0
      ? `Not taken: ${unknown.join(', ')}: a file must be named after an argument of ${call().flashmla} (${call().files.map((f) => `${f.flag}.npy`).join(', ')}; _ for - is fine)`
      : `Taken: ${[...chosen.keys()].join(', ')}.`;
  });
  for (const r of RETURN_NAMES) {
    find(root, `#files-${r}`).addEventListener('click', () => { const bytes = returns[r]; if (bytes) downloadFile(RETURN_FILES[r], bytes, 'application/octet-stream'); });
  }

  return wireRun({ root, form, status, cancel: find<HTMLButtonElement>(root, '#files-cancel') }, async (steps) => {
    const c = call();
    result.textContent = '';
    returns = {};
    showReturns();
    const values: FlagValues = readFields(form, c.fields, c.defaults);
    for (const f of c.required) if (!chosen.has(f)) throw new Error(`--${f}: no file chosen (${c.files.find((t) => t.flag === f)!.what})`);
    steps.say('Reading the files...');
    const arrays = new Map<string, ChosenArray>();
    for (const [flag, file] of chosen) arrays.set(flag, { array: await readNpyFile(file), name: file.name });
    const run = await c.run(arrays, values, getDevice, steps);
    for (const [r, a] of Object.entries(run.returns) as [ReturnName, NpyArray][]) returns[r] = encodeNpy(a) as Uint8Array<ArrayBuffer>;
    showReturns();
    const given = c.files.filter((f) => chosen.has(f.flag)).map((f) => `--${f.flag} ${chosen.get(f.flag)!.name}`);
    result.textContent = [`call     ${c.flashmla} (${c.command})`, `files    ${given.join('  ')}`, ...run.lines].join('\n');
    return { pass: run.pass, status: run.status };
  });
}
