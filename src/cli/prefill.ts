/**
 * `mla-sandbox prefill`: FlashMLA's sparse prefill (flash_mla_sparse_fwd) over
 * a prompt, every query token with its own top-k indices: generated as
 * FlashMLA's tests make them, or from your own .npy files; out, lse and
 * max_logits written back in FlashMLA's shapes. See docs/prefill.md.
 */
import { parseArgs } from 'node:util';
import { readNpyFile } from './read-npy';
import { checkOutputPaths, writeOutput } from './output-paths';
import { cliMemoryBudget } from './memory-budget';
import { openNodeDevice } from '../gpu/node-device';
import { type GpuContext, describeAdapter } from '../gpu/device';
import { HEAD_PRESETS, PRESET_NAMES, type PresetName } from '../mla/shape';
import { type NpyArray, encodeNpy } from '../run/npy';
import { type FlagValues, configFromFlags, intFlag, numberFlag, oneOf } from '../run/run-options';
import { type PrefillCall, checkPrefillMemory, chunkShape, flatPageSize } from '../prefill/prefill-call';
import { tunedRunConfig } from '../tune/profile';
import { defaultProfilePath, readProfileFile } from './profile-file';
import { generatePrefillCase } from '../prefill/prefill-inputs';
import { PREFILL_FILES, PREFILL_REQUIRED, prefillFromArrays } from '../prefill/prefill-files';
import { CHECKED_TOKENS, runPrefill } from '../prefill/prefill-run';
import { describePrefill, prefillJson } from '../prefill/prefill-report';
import { VERSION_NAMES } from '../kernels/kernel-plan';
import { type AttentionOutput, type RunConfig, planRefusal } from '../run/runner';
import { type PromptCase, generatePromptCase, runPromptPipeline } from '../indexer/prompt-pipeline';
import { promptCaseFromArrays } from '../indexer/prompt-files';
import { INDEX_FILES, indexerArraysFromFlags } from './indexer-files';
import { describePrompt, promptPasses } from '../indexer/prompt-report';

export const PREFILL_USAGE = `mla-sandbox prefill: FlashMLA's sparse prefill (flash_mla_sparse_fwd) over a prompt: each query token attends its own top-k keys

generated, as FlashMLA's tests make them (docs/prefill.md):
  --preset v32|model1 (default model1)  --s-q N (default 4096)  --s-kv N (default 65536)  --h-q N (default 64)  --topk K (default 2048)
  --page-size N         a paged cache of N-token pages in shuffled order (default: FlashMLA's flat prefill cache)
  --sink                an attention sink per head (about a third of them +inf and a third -inf, as FlashMLA's tests)
  --random-topk-length  a topk_length per query token, uniform from 0 to topk
  --all-invalid X       the share of query tokens whose indices are all invalid (default 0)
  --seed N
  --indexer             DeepSeek's sparse attention over the prompt: the query tokens are the last s_q of the s_kv
                        tokens, each seeing the tokens up to its own; per chunk, the lightning indexer scores them,
                        top-k picks each token's keys and the sparse prefill attends them, in one submit (checked at
                        every stage on --check-tokens query tokens, default 8)
    --index-q q.npy --index-k k.npy --index-weights w.npy
                        with --indexer: your own indexer tensors (float32 [s_q, 64, 128], [L, 128], [s_q, 64], before
                        the Hadamard transform and FP8, as sparse takes them); they give L and s_q; with --q and
                        --kv-cache (float32 [s_q, h_q, d_qk], the flat cache [L, 1, d_qk]) the attention's too, else
                        generated (--preset, --h-q)
your own tensors, FlashMLA's names and shapes:
  --q q.npy (float32 [s_q, h_q, d_qk])
  --kv-cache kv.npy (float32 [s_kv, 1, d_qk]: the flat cache; or [blocks, page, 1, d_qk], or uint8 FP8 records with --kv fp8: a paged one)
  --indices i.npy (int32 [s_q, 1, topk]: negative or past the cache: skipped)
  --attn-sink s.npy (float32 [h_q])  --topk-length t.npy (int32 [s_q])  --d-v N (default: the preset's 512)
outputs: --out o.npy (float32 [s_q, h_q, d_v])  --lse l.npy (float32 [s_q, h_q])  --max-logits m.npy (float32 [s_q, h_q])
  --indices-out i.npy (with --indexer: the indices top-k chose, int32 [s_q, 1, topk], FlashMLA's layout; -1 past a short row)
  --scores-out s.npy (with --indexer: the indexer's scores, float32 [s_q, L]; -inf past the tokens a query token sees)
both:
  --softmax-scale X (FlashMLA's sm_scale; default 1/sqrt(d_qk))  --kv bf16|f32|fp8 (the cache's format; default bf16, FlashMLA's)
  --kernel flash|${VERSION_NAMES.join('|')} (default flash: the device profile's pick for the nearest sparse shape class, as run's;
    --profile FILE)  and the tuning flags of run (--score-block, --out-block, --keys, ...)
  --check-tokens N|all  query tokens checked against the f64 reference (default ${CHECKED_TOKENS}, spread over the prompt)
  --chunk-tokens N      at most N query tokens a chunk (default: as many as the device allows)
  --no-time  --samples N (timed runs of each chunk, default 1)  --json`;

const OWN_FILES = PREFILL_FILES.map((f) => f.flag);
const GENERATION_FLAGS = ['preset', 's-q', 's-kv', 'h-q', 'topk', 'page-size', 'sink', 'random-topk-length', 'all-invalid', 'seed'] as const;

/** out, lse, max_logits (and the chosen indices and the indexer's scores) in FlashMLA's shapes, to the files their flags name. */
function writeResults(outputs: readonly { flag: string; path: string }[], call: PrefillCall, output: AttentionOutput, indexer?: { indices: Int32Array; scores?: Float32Array }): void {
  const { sQ, hQ, topk } = call;
  const scores = indexer?.scores;
  const written: Record<string, NpyArray | undefined> = {
    out: { dtype: 'float32', shape: [sQ, hQ, call.dims.dV], data: output.out },
    lse: { dtype: 'float32', shape: [sQ, hQ], data: output.lse },
    'max-logits': { dtype: 'float32', shape: [sQ, hQ], data: output.maxLogits },
    'indices-out': indexer && { dtype: 'int32', shape: [sQ, 1, topk], data: indexer.indices },
    'scores-out': scores && { dtype: 'float32', shape: [sQ, scores.length / sQ], data: scores },
  };
  for (const { flag, path } of outputs) writeOutput(flag, path, encodeNpy(written[flag]!));
}

/**
 * The configuration a run uses: the device profile's pick for the call's
 * sparse class when the kernel is flash (tune/profile.ts), unless it does not
 * fit even a chunk of one query token on this device (a pick that fits one
 * shortens the chunks where it needs to: prefill-run.ts, largestChunk).
 */
function tuningOf(v: FlagValues, config: RunConfig, ctx: GpuContext, call: PrefillCall): ReturnType<typeof tunedRunConfig<RunConfig>> {
  const adapter = describeAdapter(ctx.adapter);
  const path = typeof v.profile === 'string' ? v.profile : defaultProfilePath(adapter);
  const shape = chunkShape(call, 1);
  const refusal = (c: RunConfig) => planRefusal(shape, call.numBlocks, 1, c, ctx.limits);
  return tunedRunConfig(config, () => readProfileFile(path), path, adapter, shape, refusal);
}

function print(line = ''): void {
  process.stdout.write(line + '\n');
}

function generated(v: FlagValues): PrefillCall {
  const dims = HEAD_PRESETS[oneOf<PresetName>('preset', v.preset ?? 'model1', PRESET_NAMES)];
  const sQ = intFlag('s-q', v['s-q'] ?? '4096', 1, 1 << 20)!;
  const sKv = intFlag('s-kv', v['s-kv'] ?? '65536', 1, 1 << 22)!;
  const hQ = intFlag('h-q', v['h-q'] ?? '64', 1, 1024)!;
  const topk = intFlag('topk', v.topk ?? '2048', 1, 1 << 16)!;
  const pageSize = intFlag('page-size', v['page-size'], 1, 4096);
  const allInvalid = numberFlag('all-invalid', v['all-invalid']) ?? 0;
  if (!(allInvalid >= 0 && allInvalid <= 1)) throw new Error(`--all-invalid ${v['all-invalid']} is not allowed: --all-invalid must be a share from 0 to 1`);
  const slots = pageSize === undefined ? sKv : (Math.ceil(sKv / pageSize) + 1) * pageSize;
  checkPrefillMemory({ dims, sQ, hQ, topk, slots }, cliMemoryBudget().bytes, cliMemoryBudget().where);
  if (pageSize === undefined && flatPageSize(sKv) === 1 && sKv > 4096) process.stderr.write(`prefill: s_kv ${sKv} is prime: the flat cache runs as pages of one token\n`);
  return generatePrefillCase({
    dims, sQ, sKv, hQ, topk, pageSize, seed: intFlag('seed', v.seed ?? '0', 0, 0xffffffff), sink: v.sink === true, topkLength: v['random-topk-length'] === true,
    allInvalidShare: allInvalid, softmaxScale: numberFlag('softmax-scale', v['softmax-scale']),
  });
}

function fromFiles(v: FlagValues, given: ReadonlySet<string>): PrefillCall {
  for (const f of GENERATION_FLAGS) if (given.has(f)) throw new Error(`--${f} is not used with your own tensors (--q, --kv-cache, --indices): the files give the call`);
  const missing = PREFILL_REQUIRED.filter((f) => !given.has(f));
  if (missing.length > 0) throw new Error(`your own tensors need --q, --kv-cache and --indices together: ${missing.map((f) => `--${f}`).join(', ')} missing`);
  const file = (f: string) => (given.has(f) ? readNpyFile(f, v[f] as string) : undefined);
  const name = (f: string) => `--${f} ${v[f] as string}`;
  return prefillFromArrays({
    q: file('q')!, kvCache: file('kv-cache')!, indices: file('indices')!, attnSink: file('attn-sink'), topkLength: file('topk-length'),
    names: { q: name('q'), kvCache: name('kv-cache'), indices: name('indices'), attnSink: given.has('attn-sink') ? name('attn-sink') : undefined, topkLength: given.has('topk-length') ? name('topk-length') : undefined },
  }, { kvFormat: configFromFlags(v).kvFormat, dV: intFlag('d-v', v['d-v'], 4, 1024), softmaxScale: numberFlag('softmax-scale', v['softmax-scale']) });
}

export async function runPrefillCommand(argv: string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args: argv, strict: true, tokens: true,
    options: {
      preset: { type: 'string' }, 's-q': { type: 'string' }, 's-kv': { type: 'string' }, 'h-q': { type: 'string' }, topk: { type: 'string' },
      'page-size': { type: 'string' }, sink: { type: 'boolean' }, 'random-topk-length': { type: 'boolean' }, 'all-invalid': { type: 'string' }, seed: { type: 'string' },
      ...Object.fromEntries(OWN_FILES.map((f) => [f, { type: 'string' as const }])), 'd-v': { type: 'string' },
      out: { type: 'string' }, lse: { type: 'string' }, 'max-logits': { type: 'string' }, 'indices-out': { type: 'string' }, 'scores-out': { type: 'string' },
      ...Object.fromEntries(INDEX_FILES.map((f) => [f, { type: 'string' as const }])),
      'softmax-scale': { type: 'string' }, profile: { type: 'string' }, kv: { type: 'string', default: 'bf16' }, kernel: { type: 'string', default: 'flash' },
      splits: { type: 'string', default: 'auto' }, 'tile-n': { type: 'string' }, 'heads-per-workgroup': { type: 'string' }, 'dot-parts': { type: 'string' },
      keys: { type: 'string' }, 'score-block': { type: 'string' }, 'out-block': { type: 'string' }, 'scale-rounding': { type: 'string', default: 'pow2' },
      indexer: { type: 'boolean', default: false }, 'check-tokens': { type: 'string' }, 'chunk-tokens': { type: 'string' }, 'no-time': { type: 'boolean', default: false }, samples: { type: 'string' },
      json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { print(PREFILL_USAGE); return 0; }
  const v = values as FlagValues;
  const given = new Set<string>(tokens.filter((t) => t.kind === 'option').map((t) => t.name));
  const own = OWN_FILES.some((f) => given.has(f));
  if (!own && given.has('d-v')) throw new Error('--d-v is for your own tensors: a generated call takes the preset\'s d_v');
  const config = configFromFlags(v);
  const checkTokens = v['check-tokens'] === 'all' ? 'all' : intFlag('check-tokens', v['check-tokens'] ?? String(CHECKED_TOKENS), 1);
  const chunkTokens = intFlag('chunk-tokens', v['chunk-tokens'], 1);
  const samples = intFlag('samples', v.samples, 1, 100);
  if (v['no-time'] && samples !== undefined) throw new Error('--samples is not used with --no-time');
  const outputs = (['out', 'lse', 'max-logits', 'indices-out', 'scores-out'] as const).filter((f) => given.has(f)).map((flag) => ({ flag, path: v[flag] as string }));
  checkOutputPaths(outputs, [...OWN_FILES, ...INDEX_FILES].filter((f) => given.has(f)).map((flag) => ({ flag, path: v[flag] as string })));
  if (v.indexer) return runPromptCommand(v, given, config, chunkTokens, outputs);
  const indexerOnly = ['indices-out', 'scores-out', ...INDEX_FILES].filter((f) => given.has(f));
  if (indexerOnly.length > 0) throw new Error(`${indexerOnly.map((f) => `--${f}`).join(', ')}: the indexer's inputs and outputs are used with --indexer (without it the indices are generated or yours)`);
  const call = own ? fromFiles(v, given) : generated(v);
  const ctx = await openNodeDevice();
  const tuning = tuningOf(v, config, ctx, call);
  const report = await runPrefill(ctx, call, tuning.config, {
    checkTokens, chunkTokens, samples, time: !v['no-time'],
    onProgress: v.json ? undefined : (step) => process.stderr.write(`prefill: ${step}\n`),
  });
  writeResults(outputs, call, report.output);
  if (v.json) print(JSON.stringify({ adapter: ctx.adapter, tuning: tuning.source, ...prefillJson(call, report) }, null, 2));
  else {
    print(`device   ${describeAdapter(ctx.adapter)}`);
    print(`tuning   ${tuning.source.line}`);
    describePrefill(call, report).forEach((l) => print(l));
  }
  return report.check.pass ? 0 : 1;
}

/**
 * The prompt of prefill --indexer: generated (--preset, --s-kv, --s-q, --h-q), or your own indexer tensors
 * (which give L and s_q) with the attention's q and flat cache yours too (which give h_q and the head) or generated.
 */
function promptCase(v: FlagValues, given: ReadonlySet<string>, config: RunConfig): PromptCase {
  const topk = intFlag('topk', v.topk ?? '2048', 1, 1 << 16)!;
  const seed = intFlag('seed', v.seed ?? '0', 0, 0xffffffff);
  const softmaxScale = numberFlag('softmax-scale', v['softmax-scale']);
  const budget = cliMemoryBudget();
  const keptScores = (keys: number, sQ: number) => (given.has('scores-out') ? keys * sQ : 0);
  const attention = (['q', 'kv-cache'] as const).filter((f) => given.has(f));
  const indexer = indexerArraysFromFlags(v, given);
  if (!indexer) {
    if (attention.length > 0) throw new Error(`${attention.map((f) => `--${f}`).join(', ')} with --indexer: the attention's own tensors go with your own indexer tensors (--index-q, --index-k, --index-weights), which give the prompt's L and s_q`);
    const dims = HEAD_PRESETS[oneOf<PresetName>('preset', v.preset ?? 'model1', PRESET_NAMES)];
    const keys = intFlag('s-kv', v['s-kv'] ?? '65536', 1, 1 << 22)!;
    const sQ = intFlag('s-q', v['s-q'] ?? '4096', 1, keys)!;
    const hQ = intFlag('h-q', v['h-q'] ?? '64', 1, 1024)!;
    checkPrefillMemory({ dims, sQ, hQ, topk, slots: keys, keptScores: keptScores(keys, sQ) }, budget.bytes, budget.where);
    return generatePromptCase({ dims, keys, sQ, hQ, topk, seed, softmaxScale });
  }
  if (attention.length === 1) throw new Error(`--q and --kv-cache go together (the attention's own tensors): --${attention[0] === 'q' ? 'kv-cache' : 'q'} missing`);
  const fromFiles = ['s-kv', 's-q', ...(attention.length > 0 ? ['preset', 'h-q'] : [])].filter((f) => given.has(f));
  if (fromFiles.length > 0) throw new Error(`${fromFiles.map((f) => `--${f}`).join(', ')}: your own tensors give ${attention.length > 0 ? 'L, s_q, h_q and the head' : 'L and s_q'}; leave ${fromFiles.length > 1 ? 'them' : 'it'} out`);
  const c = promptCaseFromArrays({
    indexer,
    attention: attention.length > 0 ? { q: readNpyFile('q', v.q as string), kvCache: readNpyFile('kv-cache', v['kv-cache'] as string), names: { q: `--q ${v.q as string}`, kvCache: `--kv-cache ${v['kv-cache'] as string}` } } : undefined,
  }, { topk, kvFormat: config.kvFormat, preset: oneOf<PresetName>('preset', v.preset ?? 'model1', PRESET_NAMES), hQ: intFlag('h-q', v['h-q'] ?? '64', 1, 1024), seed, softmaxScale });
  // The files are read; what is left to hold is the run's outputs (and the scores kept).
  checkPrefillMemory({ dims: c.call.dims, sQ: c.call.sQ, hQ: c.call.hQ, topk, slots: c.keys, keptScores: keptScores(c.keys, c.call.sQ) }, budget.bytes, budget.where);
  return c;
}

/** prefill --indexer: the indexer, top-k and the sparse prefill over a prompt (indexer/prompt-pipeline.ts). */
async function runPromptCommand(v: FlagValues, given: ReadonlySet<string>, config: RunConfig, chunkTokens: number | undefined, outputs: readonly { flag: string; path: string }[]): Promise<number> {
  const unused = ['indices', 'attn-sink', 'topk-length', 'page-size', 'sink', 'random-topk-length', 'all-invalid', 'samples', 'd-v'].filter((f) => given.has(f));
  if (unused.length > 0) throw new Error(`${unused.map((f) => `--${f}`).join(', ')} ${unused.length > 1 ? 'are' : 'is'} not used with --indexer: it runs a prompt over a flat cache, whose indices the indexer and top-k choose`);
  const checkTokens = intFlag('check-tokens', v['check-tokens'] ?? '8', 1);
  const c = promptCase(v, given, config);
  const inputs = !given.has('index-q') ? 'generated (seeded)' : `your indexer tensors (${INDEX_FILES.map((f) => `--${f}`).join(', ')}); the attention's ${given.has('q') ? 'yours (--q, --kv-cache)' : 'generated (seeded)'}`;
  const ctx = await openNodeDevice();
  const tuning = tuningOf(v, config, ctx, c.call);
  const report = await runPromptPipeline(ctx, c, tuning.config, {
    checkTokens, chunkTokens, time: !v['no-time'], keepScores: given.has('scores-out'),
    onProgress: v.json ? undefined : (step) => process.stderr.write(`prefill: ${step}\n`),
  });
  writeResults(outputs, c.call, report.output, report);
  if (v.json) {
    const { output: _o, indices: _i, scores: _s, ...rest } = report;
    print(JSON.stringify({ adapter: ctx.adapter, tuning: tuning.source, ...rest, pass: promptPasses(report) }, null, 2));
  } else {
    print(`device   ${describeAdapter(ctx.adapter)}`);
    print(`tuning   ${tuning.source.line}`);
    print(`inputs   ${inputs}`);
    describePrompt(report).forEach((l) => print(l));
    print(`verdict  ${promptPasses(report) ? 'PASS' : 'FAIL'}`);
  }
  return promptPasses(report) ? 0 : 1;
}
