/**
 * Each pass of an attention call timed on its own, beside the whole call,
 * for adapters without timestamp queries (llvmpipe): the call is prepared
 * once, then every round times the whole call and each of its passes
 * encoded alone (a pass alone reads what the whole call's earlier passes
 * left, so its time is its own work). Prints the fastest of each over the
 * rounds. Not checked against the reference (`mla-sandbox run` is).
 *
 *   MLA_ADAPTER=llvmpipe npx tsx scripts/pass-times.ts [--shapes v32:fp8,v32:bf16] [--config '{"kernel":"matmuls"}'] [--rounds 5]
 *
 * --shapes: preset:kv pairs, h_q 64, seqlen 4096, batch 1; --config: RunConfig's fields but kvFormat.
 */
import { parseArgs } from 'node:util';
import { projectModules } from './project-modules';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'v32:fp8,v32:bf16' }, config: { type: 'string', default: '{"kernel":"matmuls"}' }, rounds: { type: 'string', default: '5' },
  },
});
const { load, close, openNodeDevice, describeAdapter, presetShape, generateInputs, prepareAttention, timeWork, summarize } = await projectModules();
const { encodePasses } = await load<typeof import('../src/kernels/kernel-plan')>('/src/kernels/kernel-plan.ts');
type RunConfig = import('../src/run/runner').RunConfig;

const ctx = await openNodeDevice();
const say = (s: string) => process.stdout.write(`${s}\n`);
const config = JSON.parse(values.config!) as Omit<RunConfig, 'kvFormat'>;
const timing = { warmup: 1, samples: 5, method: 'wall-clock' as const };
say(`adapter ${describeAdapter(ctx.adapter)}`);
say(`config  ${values.config}; ${values.rounds} rounds; h_q 64, seqlen 4096, batch 1`);
for (const pair of values.shapes!.split(',')) {
  const [preset, kvFormat] = pair.split(':') as [string, RunConfig['kvFormat']];
  const inputs = generateInputs(presetShape(preset, { hQ: 64, seqlens: [4096] }), { seed: 0 });
  const prepared = await prepareAttention(ctx, inputs, { ...config, kvFormat });
  try {
    const parts = [{ name: 'the whole call', passes: prepared.passes }, ...prepared.passes.map((p) => ({ name: p.label, passes: [p] }))];
    const fastest = parts.map(() => Infinity);
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const [k, part] of parts.entries()) {
        const work = { label: part.name, passLabels: part.passes.map((p) => p.label), encode: (e: GPUCommandEncoder) => encodePasses(part.passes, e) };
        fastest[k] = Math.min(fastest[k], summarize((await timeWork(ctx, work, timing)).samplesMs).min);
      }
    }
    say(`${pair} (${prepared.plan.kernel}):`);
    parts.forEach((part, k) => say(`  ${part.name.padEnd(22)} ${fastest[k].toFixed(2)} ms${k > 0 ? `  ${(100 * fastest[k] / fastest[0]).toFixed(0)} %` : ''}`));
  } finally {
    prepared.destroy();
  }
}
await close();
process.exit(0);
