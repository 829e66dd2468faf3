/**
 * The tuner's figure of merit (docs/tuning.md): on one shape, the pruned
 * search and the exhaustive one over the same space (the full space, or one
 * narrowed by bench --tune's list flags), then the two picks and the default
 * re-timed together in interleaved rounds, with the plain-matmul yardstick
 * timed in the same rounds.
 *
 *   MLA_ADAPTER=llvmpipe npx tsx scripts/tune-vs-exhaustive.ts [--preset v32] [--kv f32] [--h-q 64] [--seqlen 4096] [--kernels matmuls] ...
 */
import { parseArgs } from 'node:util';
import { projectModules } from './project-modules';

const LISTS = ['kernels', 'score-blocks', 'out-blocks', 'keys', 'queries', 'heads-per-workgroup', 'tile-n'] as const;
const { values: parsed } = parseArgs({
  options: {
    preset: { type: 'string', default: 'v32' }, 'yardstick-block': { type: 'string', default: '32' }, kv: { type: 'string', default: 'f32' }, 'h-q': { type: 'string', default: '64' }, seqlen: { type: 'string', default: '4096' },
    ...Object.fromEntries(LISTS.map((f) => [f, { type: 'string' as const }])),
  },
});
const values = parsed as Record<string, string | undefined>;
const { load, close, openNodeDevice, describeAdapter, presetShape, generateInputs } = await projectModules();
const { tune, timeInterleaved } = await load<typeof import('../src/tune/tuner')>('/src/tune/tuner.ts');
const { spaceFromLists, configName } = await load<typeof import('../src/tune/tuning-space')>('/src/tune/tuning-space.ts');
const { plainMatmulWork } = await load<typeof import('../src/timing/plain-matmul')>('/src/timing/plain-matmul.ts');

const ctx = await openNodeDevice();
const kvFormat = values.kv as 'f32' | 'bf16' | 'fp8';
const shape = presetShape(values.preset!, { hQ: Number(values['h-q']), seqlens: [Number(values.seqlen)] });
const inputs = generateInputs(shape, { seed: 0 });
const say = (s: string) => process.stdout.write(`${s}\n`);
say(`adapter  ${describeAdapter(ctx.adapter)}`);
say(`shape    ${values.preset} ${kvFormat} h_q ${shape.hQ} seqlen ${shape.seqlens[0]}`);
const space = spaceFromLists(Object.fromEntries(LISTS.map((f) => [f, values[f]])));
say(`space    ${LISTS.filter((f) => values[f]).map((f) => `--${f} ${values[f]}`).join(' ') || 'the full space'}`);
const flops = 2 * shape.hQ * shape.seqlens[0] * (shape.dQk + shape.dV);
const results = [];
for (const search of ['pruned', 'exhaustive'] as const) {
  const r = await tune(ctx, inputs, kvFormat, { space, search, onProgress: (p) => { if (p.timed % 25 === 0 && p.phase === 'search') process.stderr.write(`${search}: ${p.timed} timed\n`); } });
  say(`${search.padEnd(10)} ${r.timed} of ${r.fitting} timed in ${r.seconds.toFixed(0)} s; pick ${r.pick.name} ${r.pick.medianMs.toFixed(2)} ms`);
  results.push(r);
}
// The picks and the default, interleaved with the yardstick (the plain matmul reading both operands from textures,
// 32x32 blocks unless --yardstick-block says 8 or 16: llvmpipe's best form; SwiftShader's is 16x16): 5 rounds.
const configs = [results[0].pick.config, results[1].pick.config, { kernel: 'flash' as const }];
const block = Number(values['yardstick-block']) as 8 | 16 | 32;
const yardstick = await plainMatmulWork(ctx, { block, queries: 'texture', keys: 'texture' });
const { medianMs: medians, yardstickGflops } = await timeInterleaved(ctx, inputs, kvFormat, configs, { rounds: 5, yardstick });
yardstick.release();
say(`yardstick ${block}x${block} plain matmul (textures), interleaved: ${yardstickGflops!.toFixed(1)} GFLOP/s`);
for (const [k, name] of ['pruned pick', 'exhaustive pick', 'default'].entries()) {
  const gf = flops / medians[k] / 1e6;
  say(`${name.padEnd(16)} ${configName(configs[k]).padEnd(48)} ${medians[k].toFixed(2)} ms  ${gf.toFixed(1)} GFLOP/s  ${(100 * gf / yardstickGflops!).toFixed(0)} % of the yardstick`);
}
say(`pruned / exhaustive: ${(medians[0] / medians[1]).toFixed(3)} (time ratio, interleaved)`);
await close();
process.exit(0);
