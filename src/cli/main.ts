/**
 * mla-sandbox: run MLA decode kernels headless in Node (Dawn) and check them.
 *
 *   mla-sandbox info  [--json] [--matmul-blocks 8,16,32]
 *   mla-sandbox run   [shape flags] [--q q.npy --kv-cache kv.npy --cache-seqlens s.npy ...] [--out o.npy --lse l.npy] [--json]
 *   mla-sandbox bench [--ladder] [--full] [--out report.md] [--json-out report.json]
 *   mla-sandbox layer [--config v3|small] [--seqlen L] [--s-q N] [--sweep 256,1024] [--json]
 *   mla-sandbox sparse [--seqlens L] [--h-q N] [--topk K] [--plant N] [--json]
 *   mla-sandbox prefill [--s-q N] [--s-kv N] [--topk K] [--q q.npy --kv-cache kv.npy --indices i.npy] [--out o.npy --lse l.npy --max-logits m.npy]
 *   mla-sandbox prompt-cost [--lengths 1024,2048,4096] [--h-q N] [--topk K] [--json]
 *   mla-sandbox claims [--measure] [--json]
 *   mla-sandbox exercise list | show N | check N --file my.wgsl [--json]
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { openNodeDevice } from '../gpu/node-device';
import { type GpuContext, describeAdapter } from '../gpu/device';
import type { MlaInputs } from '../mla/inputs';
import { measureAttention } from '../run/run-attention';
import { measureRoofline } from '../timing/roofline';
import { describeDevice, describePlainMatmul, describeReadCost, describeReport, describeRoofline, reportJson } from '../run/report';
import { measureReadCost } from '../timing/read-cost';
import { LADDER_SCORE_STEP, MATMUL_BLOCKS, MATMUL_FORMS, measurePlainMatmul } from '../timing/plain-matmul';
import { type NpyArray, encodeNpy, parseNpy } from '../run/npy';
import { TENSOR_FILES, type TensorKey, inputsFromArrays } from '../run/load-inputs';
import { VERSION_NAMES } from '../kernels/kernel-plan';
import { SHAPE_FLAGS, type FlagValues, configFromFlags, inputsFromFlags, listFlag, shapeFieldsFromFlags, shapeFromFlags, timingFlags } from '../run/run-options';
import { HEAD_PRESETS, type MlaShape, type PresetName, maxBlocksPerSeq } from '../mla/shape';
import { kvLayout } from '../mla/kv-layout';
import { dequantizeKvCache } from '../mla/kv-quant';
import { checkInputValues } from '../run/input-scan';
import { checkOutputPaths, writeOutput } from './output-paths';
import { progressLine } from './progress';
import { cliMemoryBudget } from './memory-budget';
import { runBench } from './bench';
import { runMemory } from './memory';
import { runLayerCommand } from './layer';
import { runSparseCommand } from './sparse';
import { runPrefillCommand } from './prefill';
import { runPromptCostCommand } from './prompt-cost';
import { runClaimsCommand } from './claims';
import { runExerciseCommand } from './exercise';
import { KERNEL_VERSIONS } from '../kernels/versions';
import { DEFAULT_BLOCKS, OUT_BLOCKS, SCORE_BLOCKS } from '../kernels/register-blocks';
import { type RunConfig, planRefusal } from '../run/runner';
import { generatedPages } from '../run/run-size';
import { type TuningSource, tunedRunConfig } from '../tune/profile';
import { defaultProfilePath, readProfileFile } from './profile-file';
import { type GqaCall, mqaShapeOf } from '../mla/gqa';
import { gqaFromArrays, kvHeadsOfFile } from '../run/load-gqa';
import { describeGqaReport, measureGqa } from '../run/gqa-run';
import { gqaFromFlags } from './run-gqa';

const USAGE = `usage: mla-sandbox <command> [flags]

commands:
  info     the adapter, its features and limits, its roofline (copy GB/s, FMA GFLOP/s), what a read costs and a plain matmul of the score step;
           --json; --samples N --warmup N (each measurement's, default 10 and 2: fewer is quicker and noisier);
           --matmul-blocks 8,16,32: the plain matmul's register blocks to time (default all three; a 32x32
           block takes a software adapter tens of seconds to compile)
  run      run one shape, check it against the CPU reference, time it
  bench    the 576-vs-512 x f32/bf16/fp8 sweep; --ladder: every kernel version instead;
           --tfjs: the best kernel against the same decode in TensorFlow.js;
           --long: the long-context sweep, 4K..1M keys, FP8 and bf16 (sharded caches), then dense against
           indexer -> top-k -> sparse decode at the same lengths, each stage timed, and the crossover;
           --gqa: MLA beside GQA at equal cache bytes (--kv-heads 1,2,4,8; --presets, --kv bf16|f32, --seqlens, --heads);
           --tune: search the tiled (v4) and matmuls (v6) kernels' configurations for one shape on this
           device and write the device profile that --kernel flash reads (mla-sandbox bench --tune --help);
           --matmul-blocks 8,16 (with --ladder: the plain matmul's blocks its yardstick times, default all three);
           --out FILE.md, --json-out FILE.json, --full; narrow it with --presets v32,model1
           --kv f32,bf16,fp8 --seqlens 1024,4096 --heads 16,64; --samples N --warmup N (every timing of the
           run, the ceilings' too; not with --gqa)
  layer    one MLA layer in MHA mode and in absorbed MQA mode, both checked and timed (mla-sandbox layer --help)
  sparse   the lightning indexer -> top-k -> sparse decode over one request, each checked, against the dense decode (mla-sandbox sparse --help)
  prefill  FlashMLA's sparse prefill over a prompt, each query token its own top-k keys; generated or your own
           tensors (flash_mla_sparse_fwd's), out, lse and max_logits back (mla-sandbox prefill --help)
  prompt-cost  what a prompt of L tokens costs: dense causal attention against the indexer, top-k and the sparse
           prefill, measured, fitted and carried to 1M tokens with the crossover (mla-sandbox prompt-cost --help)
  claims   the article's claims on DeepSeek's next model, answered from the layout table and (--measure) runs on this device
  exercise write a piece of a kernel yourself, checked on this GPU with the first wrong element and why:
           exercise list | show N [--hints K] [--starter my.wgsl] | check N --file my.wgsl [--time] (mla-sandbox exercise --help)
  memory   KV-cache bytes per token and in total: MHA/GQA/MQA against MLA's layouts (no GPU);
           --contexts 4096,131072,1048576 --layers 61 --heads 128 --groups 8 --d-k 128 --d-v 128
           --element f32|bf16|fp8|int8 --json

shape flags (run):
  --preset v32|model1  --h-q N  --s-q N  --seqlens 512,300  --batch N  --page-block-size N
  --topk N (sparse)  --no-causal  --softmax-scale X  --sink  --d-qk/--d-nope/--d-rope/--d-v N
  --h-kv N (GQA, dense: N KV heads, each read by h_q / N query heads, as FlashMLA's dense decode takes them; default 1)
  --kv f32|bf16|fp8  --kernel flash|${VERSION_NAMES.join('|')} (or v1..v${VERSION_NAMES.length}; flash: the best for the device)
  --splits auto|N  --tile-n N  --heads-per-workgroup N  --dot-parts N (v4: score slices; v5: lanes per team)
  --keys tile|tile-bf16|tile-storage|cache|texture (v4: keys decoded once per tile into workgroup memory, in f32 or in bf16 (half the bytes: bf16 caches, FP8 with power-of-two scales), or in f32 into a storage buffer of the workgroup's own, or read from the cache where used, or from the whole cache decoded once a call into a texture; default: cache for f32 and bf16, tile-bf16 for fp8, tile where its scales are not powers of two)
  --queries storage|texture (v4: the score step reads the queries from the q buffer, or from a texture the call's first
    pass writes from it: on llvmpipe a texel costs about a seventh of a storage read)
  --profile FILE (the device profile --kernel flash reads; default $XDG_CACHE_HOME/mla-sandbox/profiles/<adapter>.json,
    written by bench --tune; any tuning flag above runs by hand instead)
  --score-block ${SCORE_BLOCKS.join('|')} (v4: a thread's block of S, heads x keys; default ${DEFAULT_BLOCKS.gpu.score} on a GPU,
    ${DEFAULT_BLOCKS.software.cache.score} on a software adapter, ${DEFAULT_BLOCKS.software.tile.score} there over a tile decoded in f32)
  --out-block ${OUT_BLOCKS.join('|')} (v4, v5: a thread's block of O, heads x values; default ${DEFAULT_BLOCKS.gpu.out} on a GPU,
    ${DEFAULT_BLOCKS.software.cache.out} on a software adapter)
  --scale-rounding pow2|plain  --seed N  --distribution normal|outliers
  --samples N  --warmup N  --shard-mib X (split the cache into shards of at most X MiB; default: the device's binding limit)
your own tensors (run), FlashMLA's shapes:
  --q q.npy (float32 [b,s_q,h_q,d_qk])  --kv-cache kv.npy (float32 [blocks,page,h_kv,d_qk], h_kv > 1 a dense GQA call; or uint8 FP8 records)
  --cache-seqlens s.npy (int32 [b]; a sparse call may leave it out)  --block-table bt.npy (int32 [b,w])
  --indices i.npy (int32 [b,s_q,topk]: a sparse call; -1, negative and past-the-cache entries skipped)
  --topk-length tl.npy (int32 [b]: request b reads its first tl[b] indices)
  --attn-sink sink.npy (float32 [h_q]: out *= 1 / (1 + exp(sink - lse)); +inf zeroes that head, -inf does nothing)
  --extra-kv-cache kv2.npy (MODEL1's second cache, a page size of its own; float32 rows or uint8 records as --kv-cache)
  --extra-indices i2.npy (int32 [b,s_q,extra_topk])  --extra-topk-length tl2.npy (int32 [b])
  --out out.npy (float32 [b,s_q,h_q,d_v])  --lse lse.npy (float32 [b,h_q,s_q])

environment: MLA_ADAPTER=auto|native|swiftshader|llvmpipe picks the Node adapter.`;

const FILE_FLAGS = Object.fromEntries([...TENSOR_FILES.map((f) => f.flag), 'out', 'lse'].map((f) => [f, { type: 'string' as const }]));

function print(line = ''): void {
  process.stdout.write(line + '\n');
}

function readNpy(path: string) {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read: ${(e as Error).message}`);
  }
  return parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

async function info(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv, options: { json: { type: 'boolean', default: false }, 'matmul-blocks': { type: 'string' }, samples: { type: 'string' }, warmup: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true,
  });
  if (values.help) { print(USAGE); return; }
  const timing = timingFlags(values);
  const blocks = listFlag('matmul-blocks', values['matmul-blocks'], MATMUL_BLOCKS);
  const ctx = await openNodeDevice();
  const roof = await measureRoofline(ctx, timing);
  const readCost = await measureReadCost(ctx, roof, timing);
  const plainMatmul = await measurePlainMatmul(ctx, roof, timing, LADDER_SCORE_STEP, MATMUL_FORMS.filter((f) => blocks.includes(f.block)));
  if (values.json) {
    print(JSON.stringify({
      adapter: ctx.adapter, features: ctx.features, limits: ctx.limits,
      roofline: { copyGBps: roof.copyGBps, fmaGflops: roof.fmaGflops, fmaForms: roof.fmaForms, emptyDispatchMs: roof.emptyDispatch.medianMs, readCost, plainMatmul, method: roof.copy.method, samples: roof.copy.samplesMs.length, notes: roof.copy.notes },
      kernels: KERNEL_VERSIONS.map(({ id, name, improves, files, host, reference, tests }) => ({ id, name, improves, files, host, reference, tests })),
    }, null, 2));
    return;
  }
  describeDevice(ctx).forEach((l) => print(l));
  describeRoofline(roof).forEach((l) => print(`roofline ${l}`));
  print(`roofline ${describeReadCost(readCost)}`);
  print(`roofline ${describePlainMatmul(plainMatmul)}`);
  for (const n of roof.copy.notes) print(`note     ${n}`);
  for (const v of KERNEL_VERSIONS) print(`kernel   ${v.id} ${v.name.padEnd(13)} shaders/${v.files.join(', shaders/')}: ${v.improves}`);
}

/** Input files, by flag. */
const INPUT_FILES = TENSOR_FILES.map((f) => f.flag);
/** Flags only your own tensors use, and flags only generated inputs use. */
const OWN_TENSOR_FLAGS = INPUT_FILES.filter((f) => f !== 'q' && f !== 'kv-cache');
const GENERATION_FLAGS = { seed: 'it seeds generated inputs', distribution: 'it shapes generated inputs', sink: 'it generates sink values; give yours with --attn-sink sink.npy' } as const;
/** Shape flags the files decide: given with --q, each must agree with them. */
const FILE_SHAPE_FLAGS: Record<string, (s: MlaShape) => string> = {
  batch: (s) => String(s.batch), seqlens: (s) => s.seqlens.join(','), 'h-q': (s) => String(s.hQ), 's-q': (s) => String(s.sQ),
  'd-qk': (s) => String(s.dQk), 'page-block-size': (s) => String(s.pageBlockSize), topk: (s) => String(s.topk),
  preset: (s) => (Object.keys(HEAD_PRESETS) as PresetName[]).find((p) => HEAD_PRESETS[p].dQk === s.dQk) ?? `none (d_qk ${s.dQk})`,
};

/** Refuse flags that would be ignored: own-tensor files without --q, generation flags with it. */
function checkFlagUse(v: FlagValues, given: ReadonlySet<string>): void {
  const own = v.q !== undefined;
  if ((v.q === undefined) !== (v['kv-cache'] === undefined)) throw new Error('--q and --kv-cache go together: give both, or neither to generate inputs');
  if (!own) {
    for (const f of OWN_TENSOR_FLAGS) {
      if (given.has(f)) throw new Error(`--${f} is only used with your own tensors (--q and --kv-cache); without them the inputs are generated from the shape flags`);
    }
    return;
  }
  if (!given.has('cache-seqlens') && !given.has('indices')) throw new Error('--kv-cache needs --cache-seqlens (int32 [b]) for a dense call, or --indices (int32 [b, s_q, topk]) for a sparse one');
  if (given.has('topk-length') && !given.has('indices')) throw new Error('--topk-length is only used by a sparse call: give --indices as well');
  for (const [f, why] of Object.entries(GENERATION_FLAGS)) {
    if (given.has(f)) throw new Error(`--${f} is not used with your own tensors (--q, --kv-cache): ${why}`);
  }
}

/** Your tensors as an MLA call, or (a cache file with h_kv > 1) a GQA call. */
function loadTensors(v: FlagValues, given: ReadonlySet<string>): { inputs?: MlaInputs; gqa?: GqaCall; names: Record<string, string> } {
  const path = (k: string) => v[k] as string;
  const names = Object.fromEntries(INPUT_FILES.filter((f) => typeof v[f] === 'string').map((f) => [f, path(f)]));
  const flags = shapeFieldsFromFlags({ ...v, seqlens: undefined, batch: undefined });
  const chosen = TENSOR_FILES.filter((f) => typeof v[f.flag] === 'string');
  const files: Partial<Record<TensorKey, NpyArray>> = Object.fromEntries(chosen.map((f) => [f.key, readNpy(path(f.flag))]));
  const arrays = {
    ...files, q: files.q!, kvCache: files.kvCache!, // both given: checkFlagUse
    names: Object.fromEntries(chosen.map((f) => [f.key, path(f.flag)])),
  };
  const load = {
    kvFormat: configFromFlags(v).kvFormat,
    shape: {
      dNope: given.has('d-nope') ? flags.dNope : undefined, dRope: given.has('d-rope') ? flags.dRope : undefined,
      dV: given.has('d-v') ? flags.dV : undefined, causal: flags.causal, softmaxScale: flags.softmaxScale,
    },
  };
  const gqa = kvHeadsOfFile(arrays.kvCache) > 1 ? gqaFromArrays(arrays, load) : undefined;
  const inputs = gqa ? undefined : inputsFromArrays(arrays, load);
  const shape = gqa?.shape ?? inputs!.shape;
  // A shape flag next to your own tensors is a statement about them: it must hold.
  for (const [f, fromFiles] of Object.entries(FILE_SHAPE_FLAGS)) {
    if (!given.has(f)) continue;
    const said = String(v[f]).split(',').map((x) => x.trim()).join(',');
    if (said !== fromFiles(shape)) {
      throw new Error(`--${f} ${v[f]} disagrees with your tensors, whose shapes give ${f} ${fromFiles(shape)} (q ${names.q}, cache seqlens ${names['cache-seqlens'] ?? 'none (a sparse call)'}): drop --${f} or fix the files`);
    }
  }
  return { inputs, gqa, names };
}

/**
 * The run's configuration with this adapter's device profile applied
 * (tune/profile.ts: tunedRunConfig); a pick that does not fit a cache of
 * these pages on this device gives way to the default.
 */
function tuningOf(v: FlagValues, config: RunConfig, ctx: GpuContext, shape: MlaShape, pages: { numBlocks: number; tableWidth: number }): { config: RunConfig; source: TuningSource } {
  const adapter = describeAdapter(ctx.adapter);
  const path = typeof v.profile === 'string' ? v.profile : defaultProfilePath(adapter);
  const refusal = (c: RunConfig) => planRefusal(shape, pages.numBlocks, pages.tableWidth, c, ctx.limits);
  return tunedRunConfig(config, () => readProfileFile(path), path, adapter, shape, refusal);
}

async function run(argv: string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args: argv, options: { ...SHAPE_FLAGS, ...FILE_FLAGS, 'h-kv': { type: 'string' }, profile: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }, strict: true, tokens: true,
  });
  if (values.help) { print(USAGE); return 0; }
  const v = values as FlagValues;
  const given = new Set(tokens.filter((t) => t.kind === 'option').map((t) => t.name));
  checkFlagUse(v, given);
  const config = configFromFlags(v);
  const timing = timingFlags(v);
  // Outputs: writable, distinct, never an input; checked before any work.
  const outputs = (['out', 'lse'] as const).filter((f) => typeof v[f] === 'string').map((flag) => ({ flag, path: v[flag] as string }));
  checkOutputPaths(outputs, INPUT_FILES.filter((f) => typeof v[f] === 'string').map((flag) => ({ flag, path: v[flag] as string })));
  if (given.has('h-kv') && v.q) throw new Error('--h-kv is for generated inputs: with your own tensors the cache file gives h_kv (float32 [blocks, page, h_kv, d_qk])');
  let inputs: MlaInputs;
  let ctx: GpuContext;
  let tuning: ReturnType<typeof tuningOf>;
  if (given.has('h-kv')) return runGqa(v, gqaFromFlags(v), config, timing, outputs);
  if (v.q) {
    const loaded = loadTensors(v, given);
    if (loaded.gqa) return runGqa(v, loaded.gqa, config, timing, outputs);
    inputs = loaded.inputs!;
    const layout = kvLayout(config.kvFormat, inputs.shape, inputs.shape.pageBlockSize);
    const kvRows = inputs.cacheBytes ? dequantizeKvCache(inputs.cacheBytes, layout) : inputs.kvRows;
    checkInputValues(inputs, kvRows, { q: loaded.names.q, kvCache: loaded.names['kv-cache'], sink: loaded.names['attn-sink'] });
    ctx = await openNodeDevice();
    tuning = tuningOf(v, config, ctx, inputs.shape, { numBlocks: inputs.cache.numBlocks, tableWidth: inputs.cache.maxBlocksPerSeq });
  } else {
    const generated = shapeFromFlags(v); // a bad shape flag is refused before the device is opened
    ctx = await openNodeDevice();
    // A bad profile is refused before the inputs are made; they will have generatedPages' pages.
    tuning = tuningOf(v, config, ctx, generated, { numBlocks: generatedPages(generated), tableWidth: maxBlocksPerSeq(generated) });
    inputs = inputsFromFlags(v, ctx.limits, cliMemoryBudget(), progressLine('generating the cache (slots)'));
  }
  const shape = inputs.shape;
  const report = await measureAttention(ctx, inputs, tuning.config, { quantizationError: true, timing, onReferenceProgress: progressLine('f64 reference (keys)') });
  if (typeof v.out === 'string') {
    writeOutput('out', v.out, encodeNpy({ dtype: 'float32', shape: [shape.batch, shape.sQ, shape.hQ, shape.dV], data: report.output.out }));
  }
  if (typeof v.lse === 'string') {
    writeOutput('lse', v.lse, encodeNpy({ dtype: 'float32', shape: [shape.batch, shape.hQ, shape.sQ], data: report.output.lse }));
  }
  if (v.json) {
    print(JSON.stringify({ adapter: ctx.adapter, tuning: tuning.source, ...reportJson(shape, report) }, null, 2));
  } else {
    print(`device   ${describeAdapter(ctx.adapter)}`);
    print(`tuning   ${tuning.source.line}`);
    describeReport(shape, report).forEach((l) => print(l));
  }
  return report.check.pass ? 0 : 1;
}

/** run with several KV heads: the call's MQA form runs, the report and the outputs are the call's (mla/gqa.ts). */
async function runGqa(v: FlagValues, call: GqaCall, config: RunConfig, timing: { samples?: number; warmup?: number }, outputs: readonly { flag: string; path: string }[]): Promise<number> {
  const ctx = await openNodeDevice();
  // The MQA form's cache: every KV head's copy of the pages (mla/gqa.ts, gqaAsMqa).
  const tuning = tuningOf(v, config, ctx, mqaShapeOf(call), { numBlocks: call.hKv * call.cache.numBlocks, tableWidth: call.cache.maxBlocksPerSeq });
  const report = await measureGqa(ctx, call, tuning.config, { quantizationError: true, timing, onReferenceProgress: progressLine('f64 reference (keys)') });
  const { shape } = call;
  for (const { flag, path } of outputs) {
    writeOutput(flag, path, encodeNpy(flag === 'out'
      ? { dtype: 'float32', shape: [shape.batch, shape.sQ, shape.hQ, shape.dV], data: report.output.out }
      : { dtype: 'float32', shape: [shape.batch, shape.hQ, shape.sQ], data: report.output.lse }));
  }
  if (v.json) {
    print(JSON.stringify({ adapter: ctx.adapter, tuning: tuning.source, hKv: call.hKv, ...reportJson(shape, report) }, null, 2));
  } else {
    print(`device   ${describeAdapter(ctx.adapter)}`);
    print(`tuning   ${tuning.source.line}`);
    describeGqaReport(call, report).forEach((l) => print(l));
  }
  return report.check.pass ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'info': await info(rest); return 0;
      case 'run': return await run(rest);
      case 'bench': return await runBench(rest, USAGE);
      case 'memory': return runMemory(rest, USAGE);
      case 'layer': return await runLayerCommand(rest);
      case 'sparse': return await runSparseCommand(rest);
      case 'prefill': return await runPrefillCommand(rest);
      case 'prompt-cost': return await runPromptCostCommand(rest);
      case 'claims': return await runClaimsCommand(rest);
      case 'exercise': return await runExerciseCommand(rest);
      case undefined: case '-h': case '--help': case 'help': print(USAGE); return command === undefined ? 2 : 0;
      default: throw new Error(`command ${JSON.stringify(command)} is not allowed: command must be one of info, run, bench, layer, sparse, prefill, prompt-cost, claims, memory, exercise`);
    }
  } catch (e) {
    process.stderr.write(`mla-sandbox: error: ${(e as Error).message}\n`);
    // A flag the command does not know: show what it takes.
    if (String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) process.stderr.write(`\n${USAGE}\n`);
    return 2;
  }
}
