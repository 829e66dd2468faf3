/**
 * Kernel source: the project's WGSL, highlighted and editable
 * (prism-code-editor). "Run with my edits" runs the Run tab's shape with the
 * edited files (RunConfig.shaderEdits) and says at once whether the result
 * still matches the CPU reference and how fast it is; a compile error is
 * listed as file:line:col next to the code, with the line marked. Reset
 * restores the shipped source.
 */
import type { GpuContext } from '../gpu/device';
import { SHADER_FILES, type ShaderEdits, type ShaderFileName } from '../gpu/shader-source';
import { ShaderCompileError, type ShaderMessage } from '../gpu/pipelines';
import { type KernelVersion, KERNEL_VERSIONS } from '../kernels/versions';
import { VERSION_NAMES, type VersionName } from '../kernels/kernel-plan';
import { kvShardsSource } from '../kernels/kv-shards';
import { type FlagValues, PAGE_MEMORY_BUDGET, configFromFlags, inputsFromFlags, shapeFromFlags } from '../run/run-options';
import { measureAttention } from '../run/run-attention';
import { describeShape, fmtMs, fmtRate } from '../run/report';
import { runValuesFromUrl } from './run-view';
import { failureText } from '../reference/check';
import { find } from './html';
import { type PrismEditor, createWgslEditor, markLines, messageItems, onMessageClick } from './wgsl-editor';

interface FileInfo {
  readonly role: string;
  /** The version to run when this file is shown (the Run tab's otherwise). */
  readonly kernel?: VersionName;
  readonly splits?: string;
  /** A topk to run with (the sparse key source). */
  readonly topk?: string;
  readonly readOnly?: string;
}

function versionFile(id: string): FileInfo {
  const v = KERNEL_VERSIONS.find((k) => k.id === id) as KernelVersion;
  return { role: `version ${v.id.slice(1)} (${v.name}): ${v.improves}`, kernel: v.name };
}

/**
 * What each file is, which kernel exercises it, and whether it may be edited.
 * Keyed by every shader file, so a new file cannot be left out of the editor;
 * the versions' roles come from the kernel map (kernels/versions.ts).
 */
const FILE_INFO: Record<ShaderFileName, FileInfo> = {
  'v1_naive.wgsl': versionFile('v1'),
  'v2_fused.wgsl': versionFile('v2'),
  'v3_shared_latent.wgsl': versionFile('v3'),
  'v4_tiled.wgsl': versionFile('v4'),
  'v5_subgroups.wgsl': versionFile('v5'),
  'v6_scores.wgsl': versionFile('v6'),
  'v6_softmax.wgsl': { role: 'version 6\'s softmax between its two products: the score matrix into probabilities, each row\'s chunk by one thread', kernel: 'matmuls' },
  'v6_values.wgsl': { role: 'version 6\'s O = P V: a plain matrix product of the probabilities\' texture and the values, written as the fused versions write', kernel: 'matmuls' },
  'v6_layout.wgsl': { role: 'where version 6 keeps its score matrix (buffer and texture alike), and each split\'s chunk of a row', kernel: 'matmuls' },
  'v6_cache.wgsl': { role: 'where version 6 reads keys and values: the cache\'s texture of f32 quads, or a bf16 cache\'s own words copied in as they are (lines marked [cache words])', kernel: 'matmuls' },
  'subgroup_teams.wgsl': { role: 'teams of subgroup lanes that sum through shuffles, formed for any subgroup size and layout (version 5)', kernel: 'subgroups' },
  'tiled_blocks.wgsl': { role: 'the register blocks of S = Q K^T and O = P V and the softmax statistics of the tiled versions (4 and 5)', kernel: 'tiled' },
  'head_quads.wgsl': { role: 'the strip of four-head mat4x4 pieces every register block is built of, and its step (versions 4 and 5; lines marked [32 heads] run only with a 32-head block)', kernel: 'tiled' },
  'key_tile.wgsl': { role: 'a tile of keys decoded once into workgroup memory (versions 3 to 5), or into a storage buffer (version 4, lines marked [storage tile])', kernel: 'tiled' },
  'fused_io.wgsl': { role: 'query, results and how versions 2-4 write them (with or without split-KV)', kernel: 'tiled' },
  'cache_texture.wgsl': { role: 'the cache decoded into a texture for version 4 (`--keys texture`: a first pass of such a call)', readOnly: 'the Run tab does not read keys from a texture, so it is read-only here' },
  'query_texture.wgsl': { role: 'the queries copied into a texture for version 4\'s score step (`--queries texture`: the first pass of such a call)', readOnly: 'the Run tab does not read the queries from a texture, so it is read-only here' },
  'combine.wgsl': { role: 'merges split-KV partials by lse (runs with splits > 1)', kernel: 'tiled', splits: '2' },
  'fp8.wgsl': { role: 'FP8 E4M3 code -> f32, shared by the cache reader and the indexer' },
  'kv_cache.wgsl': { role: 'reads one cache element in any layout (FP8 through fp8.wgsl), from the shard that holds its page' },
  'kv_shards.wgsl': { role: 'which buffer holds a cache shard (this is the one-buffer file; the host writes it for a sharded cache)' },
  'keys_dense.wgsl': { role: 'dense key source: seqlens + block table' },
  'keys_sparse.wgsl': { role: 'sparse key source: topk indices (runs with topk 64)', topk: '64' },
  'params.wgsl': { role: 'per-call uniform', readOnly: 'the host reads this struct\'s field order to fill the uniform, so it is read-only here' },
  'roofline.wgsl': { role: 'copy / FMA / empty kernels for the roofline', readOnly: 'its kernels are not checked against a reference, so it is read-only here' },
  'plain_matmul.wgsl': { role: 'S = Q K^T alone with v4\'s register blocks: how fast a plain matrix multiply of the decode\'s shape runs here (`mla-sandbox info`, the ladder)', readOnly: 'it is a yardstick timed beside the ceilings, not a kernel the page checks, so it is read-only here' },
  'layer_gemm.wgsl': { role: 'the MLA layer\'s matrix multiply (projections, MHA mode\'s decompression, Q K^T and P V, the absorption): run from the Layer tab', readOnly: 'the Layer tab runs it, not the Run tab\'s shape, so it is read-only here' },
  'layer_rows.wgsl': { role: 'the MLA layer\'s row steps: RMSNorm, RoPE, MHA mode\'s softmax: run from the Layer tab', readOnly: 'the Layer tab runs it, not the Run tab\'s shape, so it is read-only here' },
  'indexer_call.wgsl': { role: 'the lightning indexer\'s per-pass uniform, shared by its decode and score kernels', readOnly: 'the host reads this struct\'s field order to fill the uniform, so it is read-only here' },
  'indexer_decode.wgsl': { role: 'the lightning indexer\'s FP8 keys, from their paged cache, decoded for a chunk of tokens', readOnly: 'the indexer is run from the CLI and its tests, not the Run tab, so it is read-only here' },
  'indexer_scores.wgsl': { role: 'the lightning indexer\'s scores: ReLU(q . k) per head, weighted and summed, register-blocked', readOnly: 'the indexer is run from the CLI and its tests, not the Run tab, so it is read-only here' },
  'topk.wgsl': { role: 'the top k indexer scores of each query token by an exact radix select, written as FlashMLA\'s sparse indices', readOnly: 'the indexer is run from the CLI and its tests, not the Run tab, so it is read-only here' },
  'loop_probe.wgsl': { role: 'finds whether the device cuts long loops short (llvmpipe does, at 65535 iterations)', readOnly: 'it runs when the device is opened, so it is read-only here' },
};
/** Kernels first, then the files they share, read-only ones last. */
const FILES = (Object.keys(FILE_INFO) as ShaderFileName[]).map((file) => ({ file, ...FILE_INFO[file] }));

export function mountSourceView(view: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  view.innerHTML = `<div id="source-root"><h2>Kernel source</h2>
    <p class="lead">Change a kernel and run it: the result is checked against the CPU reference and timed. The shape is the Run tab's.</p>
    <div class="fields">
      <label><span>File</span><select id="source-file">${FILES.map((f) => `<option value="${f.file}">${f.file}</option>`).join('')}</select></label>
      <label><span>Kernel to run</span><select id="source-kernel">${['flash', ...VERSION_NAMES].map((k) => `<option>${k}</option>`).join('')}</select></label>
      <label><span>KV splits</span><input id="source-splits" value="auto" size="6"></label>
      <div class="buttons"><button type="button" id="source-run">Run with my edits</button><button type="button" id="source-reset">Reset this file</button></div>
    </div>
    <p id="source-role" class="hint"></p>
    <div class="source-grid"><div id="source-editor"></div>
      <aside><p id="source-status">Not run yet.</p><ul id="source-errors"></ul><pre id="source-result"></pre></aside></div></div>`;
  const root = find(view, '#source-root');
  const fileSelect = find<HTMLSelectElement>(root, '#source-file');
  const kernelSelect = find<HTMLSelectElement>(root, '#source-kernel');
  const splitsInput = find<HTMLInputElement>(root, '#source-splits');
  const status = find(root, '#source-status');
  const errors = find(root, '#source-errors');
  const result = find(root, '#source-result');
  const edits: ShaderEdits = {};
  /** Median time of the unedited kernel per (shape, kernel, splits), to compare an edit with. */
  const baseline = new Map<string, number>();
  let messages: readonly ShaderMessage[] = [];

  const editor: PrismEditor = createWgslEditor(find(root, '#source-editor'));
  const current = () => FILES.find((f) => f.file === fileSelect.value)!;

  function markErrors(): void {
    markLines(editor, 'error-line', messages.filter((m) => m.file === current().file && m.type === 'error').map((m) => m.line));
  }

  function showFile(): void {
    const f = current();
    editor.setOptions({ value: edits[f.file] ?? SHADER_FILES[f.file], readOnly: !!f.readOnly });
    const values = runValuesFromUrl(location.search);
    kernelSelect.value = f.kernel ?? String(values.kernel);
    splitsInput.value = f.splits ?? String(values.splits ?? 'auto');
    find(root, '#source-role').textContent = `${f.file}: ${f.role}${f.readOnly ? ` (${f.readOnly})` : ''}.`;
    markErrors();
  }

  editor.on('update', (value) => {
    const f = current();
    if (f.readOnly) return;
    if (value === SHADER_FILES[f.file]) delete edits[f.file];
    else edits[f.file] = value;
    root.dataset.edited = Object.keys(edits).join(',');
  });

  function showMessages(list: readonly ShaderMessage[]): void {
    messages = list;
    errors.innerHTML = messageItems(list);
    markErrors();
  }

  onMessageClick(errors, (file, line) => {
    if (FILES.some((f) => f.file === file)) { fileSelect.value = file; showFile(); }
    editor.lines[line]?.scrollIntoView({ block: 'center' });
  });

  let busy = false;
  async function run(): Promise<void> {
    if (busy) return;
    busy = true;
    delete root.dataset.check;
    showMessages([]);
    result.textContent = '';
    status.className = '';
    status.textContent = 'Compiling, running, checking against the CPU reference, timing...';
    try {
      const values: FlagValues = { ...runValuesFromUrl(location.search), kernel: kernelSelect.value, splits: splitsInput.value.trim() || 'auto' };
      if (current().topk && !Number(values.topk)) values.topk = current().topk;
      const config = { ...configFromFlags(values), shaderEdits: { ...edits } };
      shapeFromFlags(values); // a bad field is refused before the device is asked for
      const ctx = await getDevice();
      const inputs = inputsFromFlags(values, ctx.limits, PAGE_MEMORY_BUDGET);
      const { shape } = inputs;
      const r = await measureAttention(ctx, inputs, config, { timing: { samples: 3, warmup: 1 } });
      const key = JSON.stringify([shape, values.kernel, values.splits, values.kv]);
      const edited = Object.keys(edits).length > 0;
      if (!edited) baseline.set(key, r.timing!.medianMs);
      const base = baseline.get(key);
      status.textContent = r.check.pass ? 'PASS: still matches the CPU reference' : `FAIL: ${failureText(r.check)}`;
      status.className = r.check.pass ? 'pass' : 'fail';
      result.textContent = [
        `edited: ${edited ? Object.keys(edits).join(', ') : 'nothing (the shipped kernels)'}`,
        describeShape(shape),
        `kernel ${r.version.id} ${r.version.name}, ${r.layout.name} cache, max rel err ${r.check.maxRelErr.toExponential(2)}`,
        `time ${fmtMs(r.timing!.medianMs)} median (${r.timing!.method}), ${fmtRate(r.throughput!.gbps)} GB/s, ${fmtRate(r.throughput!.gflops)} GFLOP/s`,
        base !== undefined && edited ? `${(r.timing!.medianMs / base).toFixed(2)}x the time of the unedited kernel on this shape` : 'run once without edits to get a baseline time to compare with',
        // A sharded cache: the one file the host writes, as this run used it.
        ...(r.upload.kvShards.length > 1
          ? [`\nthe cache was in ${r.upload.kvShards.length} shards (${r.upload.kvShardLimit}); kv_shards.wgsl as the host wrote it for this run:\n`,
            kvShardsSource(r.upload.kvShards.length, SHADER_FILES['kv_shards.wgsl'])]
          : []),
      ].join('\n');
      root.dataset.check = r.check.pass ? 'pass' : 'fail';
    } catch (e) {
      if (e instanceof ShaderCompileError) {
        status.textContent = `Compile error in ${e.kernel} (nothing ran):`;
        showMessages(e.messages.filter((m) => m.type !== 'info'));
      } else {
        status.textContent = (e as Error).message;
      }
      status.className = 'fail';
      root.dataset.check = 'error';
    } finally {
      busy = false;
    }
  }

  fileSelect.value = 'v4_tiled.wgsl';
  fileSelect.addEventListener('change', showFile);
  find(root, '#source-run').addEventListener('click', () => void run());
  find(root, '#source-reset').addEventListener('click', () => {
    delete edits[current().file];
    root.dataset.edited = Object.keys(edits).join(',');
    showMessages(messages.filter((m) => m.file !== current().file));
    showFile();
    status.textContent = `${current().file} restored to the shipped source.`;
    status.className = '';
  });
  showFile();
}
