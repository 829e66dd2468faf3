/**
 * `mla-sandbox bench`: the comparison sweep with a progress bar, a table, and
 * JSON + Markdown reports; `--long` adds dense against sparse (indexer ->
 * top-k -> sparse decode) at the same lengths, with the crossover.
 */
import { parseArgs } from 'node:util';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import { measureRoofline } from '../timing/roofline';
import { DEFAULT_SWEEP, FULL_SWEEP, LONG_CONTEXT_SWEEP, type SweepRow, type SweepSpec, runSweep, runnableSweep } from '../bench/sweep';
import type { GpuContext } from '../gpu/device';
import { type SparseSweepRow, indexerCrossover, sparseRowLine, sparseSweepMarkdown, sweepSparse } from '../indexer/sparse-sweep';
import { checkSparseFits } from '../indexer/sparse-options';
import { INDEXER } from '../mla/indexer-shape';
import { cliMemoryBudget } from './memory-budget';
import { PRESET_NAMES, type PresetName, presetShape } from '../mla/shape';
import { KV_FORMATS, type KvFormat } from '../mla/kv-layout';
import { intList, listFlag, oneOf, timingFlags } from '../run/run-options';
import { MATMUL_BLOCKS, MATMUL_FORMS } from '../timing/plain-matmul';
import { sweepMarkdown, sweepTableMarkdown } from '../bench/report';
import { FULL_LADDER_SWEEP, LADDER_SWEEP, ladderMarkdown, ladderRows } from '../bench/ladder';
import { describePlainMatmul, describeReadCost, describeRoofline, fmtMs } from '../run/report';
import { measureReadCost } from '../timing/read-cost';
import { bestMatmulForm, describeYardstickBeside, measureDeviceCeilings, yardstickTimer } from '../timing/device-ceilings';
import { ladderResults } from '../tune/device-results';
import { checkOutputPaths, writeOutput } from './output-paths';
import { runTune } from './tune';
import { LIBRARY_COMPARISON, compareWithLibrary, libraryComparisonMarkdown } from '../bench/library-baseline';
import { GQA_KV_HEADS, type GqaCompareSpec, type GqaPoint, checkGqaCompare, compareGqa, gqaCompareMarkdown } from '../bench/gqa-compare';

function bar(done: number, total: number, width = 30): string {
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

function listOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  return value.split(',').map((v) => oneOf(flag, v.trim(), allowed));
}

function positiveList(flag: string, value: string | undefined): number[] | undefined {
  const list = intList(flag, value);
  if (list?.some((v) => v < 1)) throw new Error(`--${flag} ${JSON.stringify(value)} is not allowed: --${flag} must be a comma-separated list of integers >= 1`);
  return list;
}

/** The flags that narrow a sweep or comparison: --presets v32,model1 --kv f32,fp8 --seqlens 4096 --heads 64; --samples N --warmup N. */
interface NarrowFlags { presets?: string; kv?: string; seqlens?: string; heads?: string; samples?: string; warmup?: string }
type Narrowable = Pick<SweepSpec, 'presets' | 'formats' | 'seqlens' | 'heads'>;

/** `timing` with the flags' values where given (--samples and --warmup time every part of the run: the sweep's points and the ceilings before them). */
function withFlags<T extends { samples?: number; warmup?: number }>(timing: T, values: NarrowFlags): T {
  const { samples, warmup } = timingFlags(values);
  return { ...timing, ...(samples === undefined ? {} : { samples }), ...(warmup === undefined ? {} : { warmup }) };
}

function narrowed<T extends Narrowable>(base: T, values: NarrowFlags): T {
  return {
    ...base,
    presets: values.presets === undefined ? base.presets : listOf('presets', values.presets, PRESET_NAMES),
    formats: values.kv === undefined ? base.formats : listOf('kv', values.kv, KV_FORMATS),
    seqlens: positiveList('seqlens', values.seqlens) ?? base.seqlens,
    heads: positiveList('heads', values.heads) ?? base.heads,
  };
}

export async function runBench(argv: string[], usage: string): Promise<number> {
  if (argv.includes('--tune')) return runTune(argv.filter((a) => a !== '--tune'));
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      full: { type: 'boolean', default: false }, ladder: { type: 'boolean', default: false }, tfjs: { type: 'boolean', default: false },
      long: { type: 'boolean', default: false }, gqa: { type: 'boolean', default: false }, 'kv-heads': { type: 'string' },
      out: { type: 'string' }, 'json-out': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      presets: { type: 'string' }, kv: { type: 'string' }, seqlens: { type: 'string' }, heads: { type: 'string' },
      samples: { type: 'string' }, warmup: { type: 'string' }, 'matmul-blocks': { type: 'string' },
    },
  });
  if (values.help) { process.stdout.write(`${usage}\n`); return 0; }
  if (values['matmul-blocks'] !== undefined && !values.ladder) throw new Error('--matmul-blocks is used with --ladder (the blocks of the plain matmul its yardstick times)');
  const yardstickBlocks = listFlag('matmul-blocks', values['matmul-blocks'], MATMUL_BLOCKS);
  checkOutputPaths(
    (['out', 'json-out'] as const).filter((f) => typeof values[f] === 'string').map((flag) => ({ flag, path: values[flag] as string })), [],
  );
  if (values.gqa) {
    if (values.samples !== undefined || values.warmup !== undefined) throw new Error('--samples and --warmup are not used with --gqa: it times each point 3 times after its check');
    if (values.ladder || values.full || values.tfjs || values.long) throw new Error('--gqa is not allowed with --ladder, --full, --tfjs or --long: --gqa is its own comparison (narrow it with --presets, --kv, --seqlens, --heads, --kv-heads)');
    return runGqaComparison(argv, values);
  }
  if (values['kv-heads'] !== undefined) throw new Error('--kv-heads is used with --gqa (the KV heads MLA is set beside)');
  if (values.long && (values.ladder || values.full || values.tfjs)) {
    throw new Error('--long is not allowed with --ladder, --full or --tfjs: --long is its own sweep (narrow it with --presets, --kv, --seqlens, --heads)');
  }
  if (values.tfjs) {
    if (values.ladder || values.full) throw new Error('--tfjs is not allowed with --ladder or --full: --tfjs is its own comparison (narrow it with --presets, --kv, --seqlens, --heads)');
    return runLibraryComparison(argv, values);
  }
  const base = values.long ? LONG_CONTEXT_SWEEP : values.ladder ? (values.full ? FULL_LADDER_SWEEP : LADDER_SWEEP) : (values.full ? FULL_SWEEP : DEFAULT_SWEEP);
  // Narrow the sweep: --presets v32,model1 --kv f32,fp8 --seqlens 4096 --heads 64
  const narrow = narrowed(base, values);
  const asked: SweepSpec = { ...narrow, timing: withFlags(narrow.timing, values) };
  const ceilingsTiming = timingFlags(values);
  const ctx = await openNodeDevice();
  const { spec, notRun } = runnableSweep(asked, ctx.limits);
  // The ladder measures the plain matmul of the score step (its yardstick)
  // and what a read costs: they explain its fraction of the FMA ceiling.
  const measured = values.ladder ? await measureDeviceCeilings(ctx, ceilingsTiming, MATMUL_FORMS.filter((f) => yardstickBlocks.includes(f.block))) : undefined;
  const roof = measured?.roof ?? await measureRoofline(ctx, ceilingsTiming);
  const readCost = values.ladder ? await measureReadCost(ctx, roof, ceilingsTiming) : undefined;
  const plainMatmul = measured?.yardstick;
  const started = performance.now();
  const tty = process.stderr.isTTY;
  const skipped: string[] = [];
  const rows = await runSweep(ctx, spec, (p) => {
    if (p.skipped) skipped.push(`skipped ${p.point.preset} ${p.point.kvFormat} ${p.point.kernel} seqlen ${p.point.seqlen} h_q ${p.point.hQ}: ${p.skipped}`);
    const what = `${p.point.preset} ${p.point.kvFormat} ${p.point.kernel} seqlen ${p.point.seqlen} h_q ${p.point.hQ}`;
    const line = `${bar(p.done, p.total)} ${p.row ? `${what}: ${fmtMs(p.row.medianMs)}` : what}`;
    if (tty) process.stderr.write(`\r\x1b[2K${line}`);
    else if (p.row) process.stderr.write(`${line}\n`);
  }, undefined, { memory: cliMemoryBudget(), yardstick: measured && yardstickTimer(ctx, measured.roof, ceilingsTiming, bestMatmulForm(measured.yardstick)) });
  if (tty) process.stderr.write('\n');
  const header = [
    `adapter: ${describeAdapter(ctx.adapter)}`,
    ...describeRoofline(roof),
    ...(readCost ? [describeReadCost(readCost)] : []),
    ...(plainMatmul ? [describePlainMatmul(plainMatmul)] : []),
    ...[describeYardstickBeside(rows.map((r) => r.yardstickGflops))].filter((l): l is string => l !== undefined),
    `${values.ladder ? 'ladder' : 'sweep'}: ${values.long ? 'long context' : values.full ? 'full' : 'default'}; batch ${spec.batch}; ${rows.length} points in ${((performance.now() - started) / 1e3).toFixed(0)} s`,
    `timing: ${rows[0]?.method ?? '-'}; ratios within this run only (a software adapter's absolute times mean little)`,
    ...notRun,
    ...skipped,
  ];
  if (measured) {
    const ladder = ladderRows(rows, roof, measured.ceilings.yardstickGflops);
    const markdown = ladderMarkdown(ladder, [`command: MLA_ADAPTER=${process.env.MLA_ADAPTER ?? 'auto'} mla-sandbox bench ${argv.join(' ')}`, ...header]);
    process.stdout.write(markdown);
    if (values.out) writeOutput('out', values.out, markdown);
    if (values['json-out']) writeOutput('json-out', values['json-out'], JSON.stringify({ ...ladderResults(describeAdapter(ctx.adapter), measured.ceilings, ladder), readCost, plainMatmul, spec }, null, 2));
    return ladder.every((r) => r.pass) ? 0 : 1;
  }
  process.stdout.write(`${header.join('\n')}\n\n${sweepTableMarkdown(rows)}\n`);
  const dense = sweepMarkdown(rows, header);
  process.stdout.write(`\n${dense.slice(dense.indexOf('## Ratios'))}`);
  const sparse = values.long ? await longSparseSweeps(ctx, spec, rows) : [];
  const sparseMarkdown = sparse.map(sparseSectionMarkdown).join('');
  process.stdout.write(sparseMarkdown);
  if (values.out) writeOutput('out', values.out, dense + sparseMarkdown);
  if (values['json-out']) {
    writeOutput('json-out', values['json-out'], JSON.stringify({
      adapter: ctx.adapter, roofline: { copyGBps: roof.copyGBps, fmaGflops: roof.fmaGflops }, spec, rows,
      ...(values.long ? { sparse: sparse.map((x) => ({ ...x, crossover: indexerCrossover(x.rows) ?? null })) } : {}),
    }, null, 2));
  }
  return rows.every((r) => r.pass) && sparse.every((x) => x.rows.every((r) => r.pass)) ? 0 : 1;
}

/** One head's dense-against-sparse sweep in `bench --long`. */
interface LongSparse {
  readonly preset: PresetName;
  readonly hQ: number;
  readonly kvFormat: KvFormat;
  readonly rows: SparseSweepRow[];
  /** Lengths left out, with the reason. */
  readonly skipped: string[];
}

/**
 * `bench --long`'s second half: for each head and h_q, indexer -> top-k ->
 * sparse decode (top-2048, FP8 cache where the sweep has it) at each of the
 * sweep's lengths, every stage checked and timed, its dense time taken from
 * the long-context sweep's point of the same cache (same shape, format and
 * seed: the same bytes), and the crossover where the indexer overtakes the
 * sparse decode.
 */
async function longSparseSweeps(ctx: GpuContext, spec: SweepSpec, denseRows: readonly SweepRow[]): Promise<LongSparse[]> {
  const kvFormat: KvFormat = spec.formats.includes('fp8') ? 'fp8' : spec.formats[0];
  const out: LongSparse[] = [];
  for (const preset of spec.presets) for (const hQ of spec.heads) {
    const skipped: string[] = [];
    const lengths = spec.seqlens.filter((L) => {
      try {
        checkSparseFits(presetShape(preset, { hQ, seqlens: [L] }), { kernel: 'flash', kvFormat }, ctx.limits, cliMemoryBudget());
        return true;
      } catch (e) {
        skipped.push(`L ${L}: ${(e as Error).message}`);
        return false;
      }
    });
    const rows = await sweepSparse(ctx, { preset, hQ, sQ: 1, kvFormat, kernel: 'flash', topk: INDEXER.topk, seed: spec.seed, lengths, compareDense: false }, (row, done, total) => {
      process.stderr.write(`sparse ${preset} h_q ${hQ}: ${done}/${total}: ${sparseRowLine(row)}\n`);
    });
    const denseOf = (keys: number) => denseRows.find((d) => d.preset === preset && d.kvFormat === kvFormat && d.kernel === 'flash' && d.hQ === hQ && d.seqlen === keys);
    out.push({ preset, hQ, kvFormat, skipped, rows: rows.map((r) => ({ ...r, denseMs: denseOf(r.keys)?.medianMs })) });
  }
  return out;
}

function sparseSectionMarkdown(x: LongSparse): string {
  return [
    '', `## Dense against sparse: ${x.preset}, ${x.kvFormat} cache, h_q ${x.hQ}, top-${INDEXER.topk}`, '',
    'Indexer -> top-k -> sparse decode, each stage checked then timed once; the dense time is the flash point of the table above on the same cache.',
    ...x.skipped.map((l) => `skipped ${l}`), '', sparseSweepMarkdown(x.rows), '',
  ].join('\n');
}

/** `bench --tfjs`: the flash kernel against the same decode in TensorFlow.js, on the same device. */
async function runLibraryComparison(
  argv: string[], values: NarrowFlags & { out?: string; 'json-out'?: string },
): Promise<number> {
  const spec = withFlags(narrowed(LIBRARY_COMPARISON, values), values);
  const ctx = await openNodeDevice();
  const rows = await compareWithLibrary(ctx, spec, (r) => {
    process.stderr.write(`${r.preset} ${r.kvFormat} seqlen ${r.seqlen} h_q ${r.hQ}: ${r.version} ${fmtMs(r.kernel.medianMs)}, TF.js ${fmtMs(r.library.medianMs)}\n`);
  });
  const markdown = libraryComparisonMarkdown(rows, [
    `command: MLA_ADAPTER=${process.env.MLA_ADAPTER ?? 'auto'} mla-sandbox bench ${argv.join(' ')}`,
    `adapter: ${describeAdapter(ctx.adapter)}`,
    `TF.js: matMul, mul, logSumExp, softmax, matMul on the WebGPU backend, on the same device, the keys gathered and V sliced once outside the timing; the f32 cache for every row (a library cannot read FP8 records)`,
    `timing: wall clock per call (${spec.warmup} warm-up, ${spec.samples} samples each), up to the results being done; ratios within this run only`,
  ]);
  process.stdout.write(markdown);
  if (values.out) writeOutput('out', values.out, markdown);
  if (values['json-out']) writeOutput('json-out', values['json-out'], JSON.stringify({ adapter: ctx.adapter, spec, rows }, null, 2));
  return rows.every((r) => r.kernelCheck.pass && r.libraryCheck.pass) ? 0 : 1;
}

/** `bench --gqa`: MLA beside GQA at equal cache bytes (bench/gqa-compare.ts), every preset, format, seqlen and h_q asked for. */
async function runGqaComparison(argv: string[], values: NarrowFlags & { 'kv-heads'?: string; out?: string; 'json-out'?: string }): Promise<number> {
  const presets = values.presets === undefined ? ['v32' as PresetName] : listOf('presets', values.presets, PRESET_NAMES);
  const formats = values.kv === undefined ? ['bf16' as KvFormat] : listOf('kv', values.kv, KV_FORMATS); // FP8 is refused with the reason (checkGqaCompare)
  const seqlens = positiveList('seqlens', values.seqlens) ?? [4096];
  const heads = positiveList('heads', values.heads) ?? [16];
  const kvHeads = positiveList('kv-heads', values['kv-heads']) ?? GQA_KV_HEADS;
  const specs: GqaCompareSpec[] = presets.flatMap((preset) => formats.flatMap((kvFormat) => seqlens.flatMap((seqlen) => heads.map((hQ) => ({
    preset, kvFormat, hQ, seqlen, kvHeads, onProgress: (step: string) => process.stderr.write(`bench --gqa: ${preset} ${kvFormat} h_q ${hQ} seqlen ${seqlen}: ${step}\n`),
  })))));
  specs.forEach(checkGqaCompare); // every spec refused before the device opens
  const ctx = await openNodeDevice();
  const results: { spec: GqaCompareSpec; points: GqaPoint[] }[] = [];
  for (const spec of specs) results.push({ spec, points: await compareGqa(ctx, spec) });
  const markdown = [
    `command: MLA_ADAPTER=${process.env.MLA_ADAPTER ?? 'auto'} mla-sandbox bench ${argv.join(' ')}`,
    `adapter: ${describeAdapter(ctx.adapter)}`,
    'each point: generated, checked against the reference on the call as given, then timed (median of 3); ratios within this run only',
    '', ...results.flatMap((r) => [gqaCompareMarkdown(r.spec, r.points, fmtMs), '']),
  ].join('\n');
  process.stdout.write(markdown);
  if (values.out) writeOutput('out', values.out, markdown);
  if (values['json-out']) writeOutput('json-out', values['json-out'], JSON.stringify({ adapter: ctx.adapter, results: results.map((r) => ({ ...r, spec: { ...r.spec, onProgress: undefined } })) }, null, 2));
  return results.every((r) => r.points.every((p) => p.pass)) ? 0 : 1;
}
