/**
 * Kernel configurations against the plain-matmul yardstick, timed in
 * interleaved rounds (each round: the yardstick, then every configuration,
 * each prepared afresh), so that a drift of the machine's speed hits them
 * alike. Prints, per shape, each configuration's fastest time over all
 * rounds as a fraction of the yardstick's fastest, and the median of the
 * per-round fractions with every round's. Not checked against the
 * reference: run the configurations with `mla-sandbox run` for that.
 *
 *   MLA_ADAPTER=llvmpipe npx tsx scripts/interleaved-rounds.ts [--shapes v32:f32,model1:fp8] [--rounds 6]
 *     [--form 32:texture:texture] [--configs '{"v6":{"kernel":"matmuls"},"v4":{"kernel":"tiled","keys":"texture"}}']
 *
 * --shapes: preset:kv pairs, h_q 64, seqlen 4096, batch 1 (default: both heads, every format);
 * --form: the yardstick's block:queries:keys (plain_matmul.wgsl; default 32:texture:texture, llvmpipe's fastest);
 * --configs: name -> run config (RunConfig's fields; default v6 and v4 with their defaults).
 */
import { parseArgs } from 'node:util';
import { projectModules } from './project-modules';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'v32:f32,v32:bf16,v32:fp8,model1:f32,model1:bf16,model1:fp8' }, rounds: { type: 'string', default: '6' },
    form: { type: 'string', default: '32:texture:texture' }, configs: { type: 'string', default: '{"v6":{"kernel":"matmuls"},"v4":{"kernel":"tiled"}}' },
  },
});
const { load, close, openNodeDevice, describeAdapter, presetShape, generateInputs, prepareAttention, timeWork, summarize } = await projectModules();
const { plainMatmulWork } = await load<typeof import('../src/timing/plain-matmul')>('/src/timing/plain-matmul.ts');
type RunConfig = import('../src/run/runner').RunConfig;

const ctx = await openNodeDevice();
const say = (s: string) => process.stdout.write(`${s}\n`);
const [block, queries, keys] = values.form!.split(':');
const yardstick = await plainMatmulWork(ctx, { block: Number(block), queries, keys } as Parameters<typeof plainMatmulWork>[1]);
const configs = JSON.parse(values.configs!) as Record<string, Omit<RunConfig, 'kvFormat'>>;
const rounds = Number(values.rounds);
const timing = { warmup: 1, samples: 3, method: 'wall-clock' as const };
const median = (a: readonly number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
say(`adapter   ${describeAdapter(ctx.adapter)}`);
say(`yardstick plain matmul ${values.form}; ${rounds} rounds; h_q 64, seqlen 4096, batch 1`);
for (const pair of values.shapes!.split(',')) {
  const [preset, kvFormat] = pair.split(':') as [string, RunConfig['kvFormat']];
  const inputs = generateInputs(presetShape(preset, { hQ: 64, seqlens: [4096] }), { seed: 0 });
  const flops = 2 * 64 * 4096 * (inputs.shape.dQk + inputs.shape.dV);
  let yardstickMin = Infinity;
  const fastest: Record<string, number> = {};
  const ratios: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    const y = summarize((await timeWork(ctx, yardstick.work, timing)).samplesMs).min;
    yardstickMin = Math.min(yardstickMin, y);
    for (const [name, config] of Object.entries(configs)) {
      const prepared = await prepareAttention(ctx, inputs, { ...config, kvFormat });
      try {
        const t = summarize((await timeWork(ctx, { label: name, passLabels: prepared.passes.map((p) => p.label), encode: prepared.encode }, timing)).samplesMs).min;
        fastest[name] = Math.min(fastest[name] ?? Infinity, t);
        (ratios[name] ??= []).push((flops / t) / (yardstick.flops / y));
      } finally {
        prepared.destroy();
      }
    }
  }
  const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
  say(`${preset} ${kvFormat}: yardstick ${(yardstick.flops / yardstickMin / 1e6).toFixed(1)} GFLOP/s at its fastest; ${Object.keys(configs).map((n) =>
    `${n} ${fastest[n].toFixed(2)} ms, ${pct((flops / fastest[n]) / (yardstick.flops / yardstickMin))} of it (rounds: median ${pct(median(ratios[n]))}, ${ratios[n].map((x) => (100 * x).toFixed(0)).join(' ')})`).join('; ')}`);
}
yardstick.release();
await close();
process.exit(0);
