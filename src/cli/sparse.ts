/**
 * `mla-sandbox sparse`: sparse attention end to end on one request: the
 * lightning indexer over the whole cache, top-k, the ladder's sparse decode
 * over the chosen keys, each checked; beside it the dense decode of the same
 * cache, and each stage's time.
 */
import { parseArgs } from 'node:util';
import { type IndexerInputs, indexerInputsFromArrays } from '../indexer/indexer-inputs';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import { INDEXER } from '../mla/indexer-shape';
import { generateSparseCase, runSparsePipeline } from '../indexer/sparse-pipeline';
import { SPARSE_FLAGS, checkSparseFits, sparseRequestFromFlags } from '../indexer/sparse-options';
import { describeSparse, sparsePasses } from '../indexer/sparse-report';
import { type FlagValues, intFlag, intList, oneOf } from '../run/run-options';
import { PRESET_NAMES, type PresetName } from '../mla/shape';
import { indexerCrossover, sparseRowLine, sparseSweepMarkdown, sweepSparse } from '../indexer/sparse-sweep';
import { cliMemoryBudget } from './memory-budget';
import { progressLine } from './progress';
import { INDEX_FILES, indexerArraysFromFlags } from './indexer-files';
import { checkOutputPaths, writeOutput } from './output-paths';
import { encodeNpy } from '../run/npy';

export const SPARSE_USAGE = `mla-sandbox sparse: the lightning indexer -> top-k -> sparse decode, against the dense decode

  --preset v32|model1  --h-q N (default 64)  --s-q N (default 1)  --seqlens L (one request; default 65536)
  --topk K (default ${INDEXER.topk})  --kv f32|bf16|fp8 (default fp8)  --kernel K (default flash)
  --plant N             plant N relevant tokens (in both caches) and report the indexer's recall of them
  --no-dense            skip the dense decode (its time and the sparse output's error against it)
  --index-q q.npy --index-k k.npy --index-weights w.npy
                        your own indexer tensors (float32 [s_q, 64, 128], [L, 128], [s_q, 64], before the Hadamard
                        transform and FP8, which the tool applies); they give L and s_q; the attention cache is generated
  --extra-seqlens M --extra-topk N [--extra-topk-length n]
                        MODEL1's second KV source: an extra cache of M tokens, N random indices per query token
                        (n of them used), attended in the same softmax as the chosen keys
  --indices-out i.npy  the chosen keys as FlashMLA's indices (int32 [1, s_q, topk]: block * page + offset, -1 past a short row)
  --scores-out s.npy   the indexer's scores (float32 [s_q, L])
  --out o.npy --lse l.npy   the sparse decode's out (float32 [1, s_q, h_q, d_v]) and lse ([1, h_q, s_q])
  --no-time  --seed N  --json
  --sweep 4096,65536,1048576   dense against the pipeline at each length (every stage checked and timed once), and the crossover
                               where the indexer overtakes the sparse decode`;

const OUTPUT_FILES = ['indices-out', 'scores-out', 'out', 'lse'] as const;


function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** The extra cache the flags ask for: --extra-seqlens and --extra-topk together, --extra-topk-length with them. */
function extraFromFlags(v: FlagValues, given: ReadonlySet<string>): { seqlen: number; topk: number; topkLength?: number } | undefined {
  const asked = (['extra-seqlens', 'extra-topk', 'extra-topk-length'] as const).filter((f) => given.has(f));
  if (asked.length === 0) return undefined;
  if (!given.has('extra-seqlens') || !given.has('extra-topk')) throw new Error('--extra-seqlens and --extra-topk go together (and --extra-topk-length only with them)');
  const seqlen = intFlag('extra-seqlens', v['extra-seqlens'], 1, 1 << 20)!;
  const topk = intFlag('extra-topk', v['extra-topk'], 1, 1 << 15)!;
  return { seqlen, topk, topkLength: intFlag('extra-topk-length', v['extra-topk-length'], 0, topk) };
}

export async function runSparseCommand(argv: string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args: argv, strict: true, tokens: true,
    options: {
      ...SPARSE_FLAGS,
      sweep: { type: 'string' }, 'extra-seqlens': { type: 'string' }, 'extra-topk': { type: 'string' }, 'extra-topk-length': { type: 'string' },
      'index-q': { type: 'string' }, 'index-k': { type: 'string' }, 'index-weights': { type: 'string' },
      'indices-out': { type: 'string' }, 'scores-out': { type: 'string' }, out: { type: 'string' }, lse: { type: 'string' }, 'no-time': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { print(SPARSE_USAGE); return 0; }
  const v = values as FlagValues;
  const given = new Set<string>(tokens.filter((t) => t.kind === 'option').map((t) => t.name));
  const files = INDEX_FILES.filter((f) => given.has(f));
  const outputs = OUTPUT_FILES.filter((f) => given.has(f)).map((flag) => ({ flag, path: v[flag] as string }));
  if (outputs.length > 0 && v.sweep !== undefined) throw new Error(`${outputs.map((o) => `--${o.flag}`).join(', ')}: --sweep runs many lengths and writes no tensors`);
  checkOutputPaths(outputs, files.map((flag) => ({ flag, path: v[flag] as string })));
  let own: IndexerInputs | undefined;
  const arrays = indexerArraysFromFlags(v, given);
  if (arrays) {
    if (v.sweep !== undefined) throw new Error('--sweep generates its inputs at each length: it does not take your own indexer tensors');
    if (given.has('plant')) throw new Error('--plant is for generated indexer inputs: your own keys decide what is relevant');
    own = indexerInputsFromArrays(arrays, { seed: intFlag('seed', v.seed, 0, 0xffffffff)! });
    for (const [flag, fromFiles] of [['seqlens', own.keys], ['s-q', own.sQ]] as const) {
      if (given.has(flag) && Number(v[flag]) !== fromFiles) throw new Error(`--${flag} ${v[flag]} disagrees with your indexer tensors, which give ${fromFiles}: drop --${flag} or fix the files`);
    }
    v.seqlens = String(own.keys);
    v['s-q'] = String(own.sQ);
  }
  const { shape, config, topk, plant, seed, compareDense, straightIntoFormat } = sparseRequestFromFlags(v);
  if (v.sweep !== undefined) {
    if (plant > 0 || v['no-dense'] || v['no-time'] || given.has('extra-seqlens') || given.has('extra-topk')) throw new Error('--plant, --no-dense, --no-time and the extra cache are not used with --sweep: each point runs the pipeline and the dense decode, timed');
    if (given.has('seqlens')) throw new Error('--seqlens is not used with --sweep: the sweep\'s lengths are the contexts');
    const lengths = intList('sweep', v.sweep)!;
    const shapes = lengths.map((L) => sparseRequestFromFlags({ ...v, seqlens: String(L) }).shape);
    const ctx = await openNodeDevice();
    for (const s of shapes) checkSparseFits(s, config, ctx.limits, cliMemoryBudget());
    const rows = await sweepSparse(ctx, { preset: oneOf<PresetName>('preset', v.preset, PRESET_NAMES), hQ: shape.hQ, sQ: shape.sQ, kvFormat: config.kvFormat, kernel: config.kernel, topk, seed, lengths }, (row, done, total) => {
      if (!v.json) process.stderr.write(`sparse: ${done}/${total}: ${sparseRowLine(row)}\n`);
    });
    if (v.json) print(JSON.stringify({ adapter: ctx.adapter, topk, rows, crossover: indexerCrossover(rows) ?? null }, null, 2));
    else {
      print(`device   ${describeAdapter(ctx.adapter)}`);
      print(sparseSweepMarkdown(rows));
    }
    return rows.every((r) => r.pass) ? 0 : 1;
  }
  const ctx = await openNodeDevice();
  checkSparseFits(shape, config, ctx.limits, cliMemoryBudget());
  const progress = v.json ? undefined : progressLine('generating the cache (slots)');
  const sc = generateSparseCase(shape, { seed, plant, kvFormat: config.kvFormat, straightIntoFormat, onProgress: progress, indexer: own, extra: extraFromFlags(v, given) });
  const report = await runSparsePipeline(ctx, sc, {
    ...config, topk, compareDense, time: !v['no-time'],
    onTensors: (t) => {
      const { sQ, hQ, dV } = shape;
      const L = shape.seqlens[0];
      const written = {
        'indices-out': { dtype: 'int32', shape: [1, sQ, topk], data: t.indices },
        'scores-out': { dtype: 'float32', shape: [sQ, L], data: t.scores },
        out: { dtype: 'float32', shape: [1, sQ, hQ, dV], data: t.out },
        lse: { dtype: 'float32', shape: [1, hQ, sQ], data: t.lse },
      } as const;
      for (const { flag, path } of outputs) writeOutput(flag, path, encodeNpy({ ...written[flag], shape: [...written[flag].shape] }));
    },
    onStep: v.json ? undefined : (s) => process.stderr.write(`sparse: ${s}\n`),
  });
  if (v.json) print(JSON.stringify({ adapter: ctx.adapter, ...report, pass: sparsePasses(report) }, null, 2));
  else {
    print(`device   ${describeAdapter(ctx.adapter)}`);
    describeSparse(report).forEach((l) => print(l));
    print(`verdict  ${sparsePasses(report) ? 'PASS' : 'FAIL'}`);
  }
  return sparsePasses(report) ? 0 : 1;
}
