/**
 * A shader change measured: a kernel (v4 tiled, or v6 matmuls) with the working tree's WGSL
 * against the same configuration with the WGSL of a git revision (given to
 * the runner as shader edits, as the page's editor does), both checked
 * against the f64 reference, then timed in interleaved rounds with the
 * plain-matmul yardstick (16x16) in the same rounds.
 *
 *   MLA_ADAPTER=llvmpipe npx tsx scripts/shaders-ab.ts [--rev HEAD] [--preset v32] [--kv f32] [--h-q 64] [--seqlen 4096]
 *     [--kernel tiled] [--score-block 16x16] [--out-block 16x32] [--keys cache] [--heads-per-workgroup 32] [--tile-n 64] [--rounds 5]
 *
 * --kernel matmuls (v6) takes the two blocks only (--keys, --heads-per-workgroup and --tile-n are v4's).
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { projectModules } from './project-modules';

const { values } = parseArgs({
  options: {
    rev: { type: 'string', default: 'HEAD' }, kernel: { type: 'string', default: 'tiled' }, preset: { type: 'string', default: 'v32' }, kv: { type: 'string', default: 'f32' },
    'h-q': { type: 'string', default: '64' }, seqlen: { type: 'string', default: '4096' }, 'score-block': { type: 'string', default: '16x16' },
    'out-block': { type: 'string', default: '16x32' }, keys: { type: 'string', default: 'cache' }, 'heads-per-workgroup': { type: 'string', default: '32' },
    'tile-n': { type: 'string', default: '64' }, rounds: { type: 'string', default: '5' },
  },
});
const { load, close, openNodeDevice, describeAdapter, presetShape, generateInputs, prepareAttention, submitChecked, timeWork, summarize } = await projectModules();
const { SHADER_FILES } = await load<typeof import('../src/gpu/shader-source')>('/src/gpu/shader-source.ts');
const { referenceOnCache } = await load<typeof import('../src/reference/reference-chunked')>('/src/reference/reference-chunked.ts');
const { compareToReference, formatCheck } = await load<typeof import('../src/reference/check')>('/src/reference/check.ts');
const { plainMatmulWork } = await load<typeof import('../src/timing/plain-matmul')>('/src/timing/plain-matmul.ts');

// The revision's text of every shader file that differs from the working tree's (empty where the
// revision has no such file: what it held was then in another file).
const old: Record<string, string> = {};
const revisionFiles = execFileSync('git', ['ls-tree', '--name-only', values.rev!, 'shaders/'], { encoding: 'utf8' }).split('\n');
for (const [file, now] of Object.entries(SHADER_FILES)) {
  const then = revisionFiles.includes(`shaders/${file}`) ? execFileSync('git', ['show', `${values.rev}:shaders/${file}`], { encoding: 'utf8' }) : '';
  if (then !== now) old[file] = then;
}
const ctx = await openNodeDevice();
const kvFormat = values.kv as 'f32' | 'bf16' | 'fp8';
const shape = presetShape(values.preset!, { hQ: Number(values['h-q']), seqlens: [Number(values.seqlen)] });
const inputs = generateInputs(shape, { seed: 0 });
const blocks = { kvFormat, scoreBlock: values['score-block'] as '16x16', outBlock: values['out-block'] as '16x32' };
if (values.kernel !== 'tiled' && values.kernel !== 'matmuls') throw new Error(`--kernel: "${values.kernel}" is not tiled or matmuls`);
const config = values.kernel === 'matmuls' ? { kernel: 'matmuls' as const, ...blocks } : {
  kernel: 'tiled' as const, ...blocks,
  keys: values.keys as 'cache' | 'tile', headsPerWorkgroup: Number(values['heads-per-workgroup']), tileN: Number(values['tile-n']),
};
const say = (s: string) => process.stdout.write(`${s}\n`);
say(`adapter  ${describeAdapter(ctx.adapter)}`);
say(`shape    ${values.preset} ${kvFormat} h_q ${shape.hQ} seqlen ${shape.seqlens[0]}; ${JSON.stringify(config)}`);
say(`changed  ${Object.keys(old).join(', ') || 'nothing'} (against ${values.rev})`);
const sides = [{ name: 'working tree', edits: {} }, { name: values.rev!, edits: old }];
const samples = sides.map((): number[] => []);
const yardstick = await plainMatmulWork(ctx, { block: 16, queries: 'storage', keys: 'storage' });
const yardMs: number[] = [];
const timing = { warmup: 1, samples: 2, minSampleMs: 0, iterations: 1 };
for (let round = 0; round < Number(values.rounds); round++) {
  yardMs.push(...(await timeWork(ctx, yardstick.work, timing)).samplesMs);
  for (const [k, side] of sides.entries()) {
    const p = await prepareAttention(ctx, inputs, { ...config, shaderEdits: side.edits });
    if (round === 0) {
      await submitChecked(ctx, p);
      const check = compareToReference(await p.read(), referenceOnCache(inputs, p.cacheBytes, p.layout), shape);
      if (!check.pass) throw new Error(`${side.name}: ${formatCheck(check)}`);
    }
    samples[k].push(...(await timeWork(ctx, { label: side.name, passLabels: p.passes.map((x) => x.label), encode: p.encode }, timing)).samplesMs);
    p.destroy();
  }
}
yardstick.release();
const yardGflops = yardstick.flops / summarize(yardMs).median / 1e6;
const flops = 2 * shape.hQ * shape.seqlens[0] * (shape.dQk + shape.dV);
say(`yardstick 16x16 plain matmul: ${yardGflops.toFixed(1)} GFLOP/s (interleaved)`);
for (const [k, side] of sides.entries()) {
  const ms = summarize(samples[k]).median;
  say(`${side.name.padEnd(14)} ${ms.toFixed(2)} ms  ${(flops / ms / 1e6).toFixed(1)} GFLOP/s  ${(100 * flops / ms / 1e6 / yardGflops).toFixed(0)} % of the yardstick`);
}
await close();
process.exit(0);
