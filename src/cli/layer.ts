/**
 * `mla-sandbox layer`: one MLA layer both ways (MHA mode and absorbed MQA
 * mode) on the GPU, checked against the f64 reference and each other, each
 * stage timed; or, with --sweep, time against L for a decode step and a
 * prefill chunk. Your own core tensors (.npy) replace the seeded layer.
 */
import { parseArgs } from 'node:util';
import { readNpyFile } from './read-npy';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import { KERNEL_CHOICES, type KernelChoice } from '../kernels/versions';
import { KV_FORMATS, type KvFormat } from '../mla/kv-layout';
import { encodeNpy } from '../run/npy';
import { SHAPE_LIMITS } from '../mla/shape';
import { type FlagValues, intFlag, intList, numberFlag, oneOf } from '../run/run-options';
import { LAYER_CONFIG_NAMES, layerConfig } from '../layer/layer-config';
import { type CoreArrays, type LayerInput, LAYER_MAX_KEYS, LAYER_MAX_QUERY_TOKENS, checkLayerSize, coreFromArrays, generateLayer } from '../layer/layer-inputs';
import { ROPE_MODES, type RopeMode } from '../layer/layer-reference';
import { runLayer } from '../layer/layer-run';
import { describeLayer, layerJson, layerPasses } from '../layer/layer-report';
import { chunkCrossovers, describeChunkCrossover, sweepLayer } from '../layer/layer-sweep';
import { checkOutputPaths, writeOutput } from './output-paths';

export const LAYER_USAGE = `mla-sandbox layer: one MLA layer, in MHA mode and in absorbed MQA mode, on the GPU

  --config ${LAYER_CONFIG_NAMES.join('|')}     the layer's sizes (v3: 128 heads, dim 7168; small: 16 heads, dim 1024); default small
  --seqlen L            cached tokens, 1..${LAYER_MAX_KEYS} (default 1024)
  --s-q N               query tokens, the last N cached ones: 1 = decode, more = a causal prefill chunk, up to ${LAYER_MAX_QUERY_TOKENS} (past 128 MQA mode runs them as one-token requests; default 1)
  --kv f32|bf16|fp8     the latent cache's format (default f32)
  --kernel K            the ladder's kernel for MQA mode (default flash: the best for the device)
  --topk N              sparse: each query token attends N of its keys, drawn with --seed (default 0: dense)
  --rope decoupled|coupled   coupled rotates the whole key before caching: absorption then breaks (default decoupled)
  --seed N  --no-time   --json
  --sweep 256,1024,4096 time against L for s_q 1 and prefill chunks (--chunk N,N,..., default 128): per L, the chunk
                        from which MHA mode (K and V recomputed) beats the absorbed MQA mode, measured and by FLOPs
  --out o.npy           the per-head output o [s_q, h, 128] of MQA mode (float32)
your own core tensors (all six, float32; they replace the seeded layer, RoPE already applied):
  --w-uk [h,128,512]  --w-uv [h,128,512]  --q-nope [s_q,h,128]  --q-pe [s_q,h,64]  --latent [L,512]  --k-pe [L,64]
  --softmax-scale X     (default the model's, 0.135234)`;

const TENSOR_FLAGS = { 'w-uk': 'wUK', 'w-uv': 'wUV', 'q-nope': 'qNope', 'q-pe': 'qPe', latent: 'latent', 'k-pe': 'kPe' } as const;
type TensorFlag = keyof typeof TENSOR_FLAGS;
const TENSOR_FLAG_NAMES = Object.keys(TENSOR_FLAGS) as TensorFlag[];
/** Flags that shape the seeded layer: refused beside your own tensors, which decide these. */
const SEEDED_ONLY = ['config', 'seqlen', 's-q', 'sweep', 'chunk'] as const;

function print(line = ''): void {
  process.stdout.write(line + '\n');
}


function progress(line: string): void {
  process.stderr.write(`layer: ${line}\n`);
}

export async function runLayerCommand(argv: string[]): Promise<number> {
  const { values, tokens } = parseArgs({
    args: argv, strict: true, tokens: true,
    options: {
      config: { type: 'string', default: 'small' }, seqlen: { type: 'string', default: '1024' }, 's-q': { type: 'string', default: '1' },
      kv: { type: 'string', default: 'f32' }, kernel: { type: 'string', default: 'flash' }, rope: { type: 'string', default: 'decoupled' },
      seed: { type: 'string', default: '0' }, topk: { type: 'string', default: '0' }, 'no-time': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      sweep: { type: 'string' }, chunk: { type: 'string', default: '128' }, out: { type: 'string' }, 'softmax-scale': { type: 'string' },
      ...Object.fromEntries(TENSOR_FLAG_NAMES.map((f) => [f, { type: 'string' as const }])),
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { print(LAYER_USAGE); return 0; }
  const v = values as FlagValues;
  const given = new Set<string>(tokens.filter((t) => t.kind === 'option').map((t) => t.name));
  const kvFormat = oneOf<KvFormat>('kv', v.kv, KV_FORMATS);
  const kernel = oneOf<KernelChoice>('kernel', v.kernel, KERNEL_CHOICES);
  const rope = oneOf<RopeMode>('rope', v.rope, ROPE_MODES);
  const seed = intFlag('seed', v.seed, 0, 0xffffffff)!;
  const ownFiles = TENSOR_FLAG_NAMES.filter((f) => given.has(f));
  const own = ownFiles.length > 0;
  if (own && ownFiles.length < TENSOR_FLAG_NAMES.length) {
    throw new Error(`your own tensors go together: ${TENSOR_FLAG_NAMES.filter((f) => !given.has(f)).map((f) => `--${f}`).join(', ')} missing (given: ${ownFiles.map((f) => `--${f}`).join(', ')})`);
  }
  if (own) {
    for (const f of SEEDED_ONLY) if (given.has(f)) throw new Error(`--${f} is not used with your own tensors: their shapes give L and s_q, and no layer is seeded`);
    if (given.has('seed') && !given.has('topk')) throw new Error('--seed is not used with your own tensors unless --topk draws sparse keys');
  } else if (given.has('softmax-scale')) {
    throw new Error('--softmax-scale is only used with your own tensors: the seeded layer uses its model\'s scale');
  }
  if (v.sweep !== undefined && given.has('out')) throw new Error('--out is not used with --sweep: a sweep keeps no tensors');
  const outputs = typeof v.out === 'string' ? [{ flag: 'out', path: v.out }] : [];
  checkOutputPaths(outputs, ownFiles.map((f) => ({ flag: f, path: v[f] as string })));
  const topk = intFlag('topk', v.topk, 0, SHAPE_LIMITS.maxTopk)!;
  const run = { kernel, kvFormat, rope, topk, seed, onStep: v.json ? undefined : progress };

  if (v.sweep !== undefined) {
    const config = layerConfig(v.config as string);
    const lengths = intList('sweep', v.sweep)!;
    const chunks = intList('chunk', v.chunk)!;
    for (const L of lengths) checkLayerSize(L, 1, { keys: '--sweep', sQ: '--chunk' });
    for (const c of chunks) checkLayerSize(LAYER_MAX_KEYS, c, { keys: '--sweep', sQ: '--chunk' });
    const ctx = await openNodeDevice();
    const points = await sweepLayer(ctx, config, lengths, [1, ...chunks.filter((c) => c !== 1)], seed, { ...run, onStep: undefined }, (p, done, total) => {
      if (!v.json) progress(`sweep ${done}/${total}: L ${p.keys}, s_q ${p.sQ}: MHA ${p.mhaMs.toFixed(2)} ms, MQA ${p.mqaMs.toFixed(2)} ms`);
    });
    if (v.json) print(JSON.stringify({ adapter: ctx.adapter, config: config.name, kvFormat, kernel, points, crossovers: chunkCrossovers(points, config) }, null, 2));
    else {
      print(`device   ${describeAdapter(ctx.adapter)}`);
      print('| L | s_q | MHA mode ms | MQA mode ms | faster | FLOPs absorbed / recomputed | checks |');
      print('|---|---|---|---|---|---|---|');
      for (const p of points) {
        print(`| ${p.keys} | ${p.sQ} | ${p.mhaMs.toFixed(2)} | ${p.mqaMs.toFixed(2)} | ${p.mhaMs < p.mqaMs ? 'MHA' : 'MQA'} ${(Math.max(p.mhaMs, p.mqaMs) / Math.min(p.mhaMs, p.mqaMs)).toFixed(2)}x | ${p.flopRatio.toFixed(3)} | ${p.pass ? 'pass' : 'FAIL'} |`);
      }
      print();
      for (const c of chunkCrossovers(points, config)) print(describeChunkCrossover(c));
    }
    return points.every((p) => p.pass) ? 0 : 1;
  }

  let input: LayerInput;
  if (own) {
    const arrays = Object.fromEntries(TENSOR_FLAG_NAMES.map((f) => [TENSOR_FLAGS[f], readNpyFile(f, v[f] as string)])) as Omit<CoreArrays, 'names'>;
    const names = Object.fromEntries(TENSOR_FLAG_NAMES.map((f) => [TENSOR_FLAGS[f], `--${f} ${v[f] as string}`])) as CoreArrays['names'];
    const scale = numberFlag('softmax-scale', v['softmax-scale']);
    input = { kind: 'tensors', core: coreFromArrays({ ...arrays, names }, scale === undefined ? undefined : { value: scale, name: `--softmax-scale ${v['softmax-scale'] as string}` }) };
  } else {
    const config = layerConfig(v.config as string);
    const keys = intFlag('seqlen', v.seqlen, 1, LAYER_MAX_KEYS)!;
    const sQ = intFlag('s-q', v['s-q'], 1, LAYER_MAX_QUERY_TOKENS)!;
    checkLayerSize(keys, sQ);
    if (!v.json) progress(`seeding ${config.name}'s weights and ${keys} tokens' hidden states`);
    input = generateLayer(config, keys, sQ, seed);
  }
  const ctx = await openNodeDevice();
  const report = await runLayer(ctx, input, { ...run, time: !v['no-time'] });
  if (typeof v.out === 'string') {
    writeOutput('out', v.out, encodeNpy({ dtype: 'float32', shape: [report.sQ, report.dims.heads, report.dims.vHead], data: report.mqa.o }));
  }
  if (v.json) print(JSON.stringify({ adapter: ctx.adapter, config: input.kind === 'generated' ? input.weights.config.name : 'your tensors', ...layerJson(report) }, null, 2));
  else {
    print(`device   ${describeAdapter(ctx.adapter)}`);
    describeLayer(report).forEach((l) => print(l));
  }
  return layerPasses(report) ? 0 : 1;
}
