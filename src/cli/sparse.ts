/**
 * `mla-sandbox sparse`: sparse attention end to end on one request: the
 * lightning indexer over the whole cache, top-k, the ladder's sparse decode
 * over the chosen keys, each checked; beside it the dense decode of the same
 * cache, and each stage's time.
 */
import { parseArgs } from 'node:util';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import { INDEXER, INDEXER_FLOPS_PER_TOKEN } from '../mla/indexer-shape';
import { generateSparseCase, runSparsePipeline, type SparseReport } from '../indexer/sparse-pipeline';
import { kvLayout } from '../mla/kv-layout';
import { formatCheck } from '../reference/check';
import { type FlagValues, configFromFlags, intFlag, shapeFromFlags } from '../run/run-options';
import { checkCacheSize, checkHostMemory, generatesStraightIntoFormat } from '../run/run-size';
import { cliMemoryBudget } from './memory-budget';
import { progressLine } from './progress';

export const SPARSE_USAGE = `mla-sandbox sparse: the lightning indexer -> top-k -> sparse decode, against the dense decode

  --preset v32|model1  --h-q N (default 64)  --s-q N (default 1)  --seqlens L (one request; default 65536)
  --topk K (default ${INDEXER.topk})  --kv f32|bf16|fp8 (default fp8)  --kernel K (default flash)
  --plant N             plant N relevant tokens (in both caches) and report the indexer's recall of them
  --no-dense            skip the dense decode (its time and the sparse output's error against it)
  --no-time  --seed N  --json`;

function print(line = ''): void {
  process.stdout.write(line + '\n');
}

export function describeSparse(r: SparseReport): string[] {
  const lines = [
    `sparse   L ${r.keys}, s_q ${r.sQ}, h_q ${r.hQ}, top-${r.topk}; cache ${r.layout}; kernel ${r.kernel}`,
    `indexer  ${r.indexer.tokens} tokens against f64 ${formatCheck(r.indexer.check)}`,
    `top-k    ${r.topkCheck.pass ? 'PASS' : `FAIL (${r.topkCheck.wrongRows} rows; ${r.topkCheck.firstProblem})`}: the CPU's top-k of the same scores, as a set${r.topkCheck.tiedRows ? ` (${r.topkCheck.tiedRows} rows tied at the boundary: any tied token may be chosen)` : ''}`,
  ];
  if (r.recall) lines.push(`recall   ${r.recall.found} of ${r.recall.of} planted (${r.recall.planted} tokens x ${r.sQ} query tokens) chosen`);
  lines.push(`decode   sparse, on the chosen indices: ${formatCheck(r.sparse)}`);
  if (r.dense) {
    lines.push(`dense    ${formatCheck(r.dense.check)}`);
    const e = r.dense.sparseError;
    lines.push(`sparsity the sparse output against the dense reference: ${r.topk >= r.keys ? formatCheck(e) : `off by ${e.maxRelErr.toExponential(2)} of max |ref|, cosine difference ${e.cosineDiff.toExponential(2)} (top-${r.topk} of ${r.keys})`}`);
  }
  if (r.ms) {
    const m = r.ms;
    const gflops = (INDEXER_FLOPS_PER_TOKEN * r.keys * r.sQ) / m.indexer / 1e6;
    lines.push(`time     indexer ${m.indexer.toFixed(2)} ms (${gflops.toFixed(2)} GFLOP/s), top-k ${m.topk.toFixed(2)} ms (${((100 * m.topk) / m.indexer).toFixed(1)} % of the indexer), sparse decode ${m.sparse.toFixed(2)} ms; all three in one submit ${m.pipeline.toFixed(2)} ms`);
    if (m.dense !== undefined) lines.push(`time     dense decode ${m.dense.toFixed(2)} ms: the pipeline is ${(m.dense / m.pipeline).toFixed(2)}x ${m.dense > m.pipeline ? 'faster' : 'slower'}`);
  }
  return lines;
}

export function sparsePasses(r: SparseReport): boolean {
  return r.indexer.check.pass && r.topkCheck.pass && r.sparse.pass && (r.dense ? r.dense.check.pass && (r.topk < r.keys || r.dense.sparseError.pass) : true);
}

export async function runSparseCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      preset: { type: 'string', default: 'v32' }, 'h-q': { type: 'string', default: '64' }, 's-q': { type: 'string', default: '1' },
      seqlens: { type: 'string', default: '65536' }, topk: { type: 'string', default: String(INDEXER.topk) }, kv: { type: 'string', default: 'fp8' },
      kernel: { type: 'string', default: 'flash' }, plant: { type: 'string', default: '0' }, seed: { type: 'string', default: '0' },
      'no-dense': { type: 'boolean', default: false }, 'no-time': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { print(SPARSE_USAGE); return 0; }
  const v = values as FlagValues;
  const topk = intFlag('topk', v.topk, 1, 1 << 16)!;
  if (String(v.seqlens).includes(',')) throw new Error(`--seqlens ${v.seqlens} is not allowed: the sparse pipeline runs one request, --seqlens must be one length`);
  const shape = shapeFromFlags({ preset: v.preset, 'h-q': v['h-q'], 's-q': v['s-q'], seqlens: v.seqlens });
  const config = configFromFlags({ kv: v.kv, kernel: v.kernel, 'scale-rounding': 'pow2', splits: 'auto' });
  const plant = intFlag('plant', v.plant, 0, shape.seqlens[0] - shape.sQ + 1)!;
  const seed = intFlag('seed', v.seed, 0, 0xffffffff)!;
  const ctx = await openNodeDevice();
  const layout = kvLayout(config.kvFormat, shape, shape.pageBlockSize);
  checkCacheSize(shape, layout, ctx.limits);
  const budget = cliMemoryBudget();
  checkHostMemory(shape, layout, budget.bytes, budget.where);
  const progress = v.json ? undefined : progressLine('generating the cache (slots)');
  const sc = generateSparseCase(shape, { seed, plant, kvFormat: config.kvFormat, straightIntoFormat: generatesStraightIntoFormat(shape), onProgress: progress });
  const report = await runSparsePipeline(ctx, sc, {
    ...config, topk, compareDense: !v['no-dense'], time: !v['no-time'],
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
