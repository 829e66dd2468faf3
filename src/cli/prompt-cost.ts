/**
 * `mla-sandbox prompt-cost`: what a prompt of L tokens costs on this device,
 * dense causal attention against the indexer, top-k and the sparse prefill,
 * measured at the lengths given, fitted, and carried to a million tokens
 * with the crossover (src/prompt/, docs/prefill.md).
 */
import { parseArgs } from 'node:util';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import { HEAD_PRESETS, type MlaShape, PRESET_NAMES, type PresetName } from '../mla/shape';
import { type FlagValues, configFromFlags, intFlag, intList, oneOf } from '../run/run-options';
import { checkPrefillMemory } from '../prefill/prefill-call';
import { tunedRunConfig } from '../tune/profile';
import { planRefusal } from '../run/runner';
import { VERSION_NAMES } from '../kernels/kernel-plan';
import { checkPromptCost, measurePromptCost } from '../prompt/prompt-cost';
import { measureRoofline } from '../timing/roofline';
import { yardstickTimer } from '../timing/device-ceilings';
import { describePromptCost, promptCostPasses, promptCurves } from '../prompt/prompt-cost-report';
import { defaultProfilePath, readProfileFile } from './profile-file';
import { cliMemoryBudget } from './memory-budget';

export const PROMPT_COST_USAGE = `mla-sandbox prompt-cost: what a prompt of L tokens costs, dense causal attention against DeepSeek's sparse attention

Each length: one seeded prompt, every token a query token seeing the tokens up to its own, run both ways on the same
q and cache: dense (absorbed, over the latent) and DSA (the lightning indexer, top-k, the sparse prefill), each stage
timed and checked on sampled query tokens. A model (a time per attended pair and per query token, each stage) is
fitted to the measured times, its error on them shown, and carried to 1M tokens with the crossover (docs/prefill.md).
The plain-matmul yardstick is timed before and after each way (a software adapter's speed moves within a run): the
report gives its range and the error of a fit to the times brought to the run's median speed, beside the model's.

  --lengths 1024,2048,4096   prompt lengths to measure (default 512,1024,2048,4096)
  --preset v32|model1 (default model1)  --h-q N (default 64)  --topk K (default 2048)  --seed N
  --kv bf16|f32|fp8 (default bf16)  --kernel flash|${VERSION_NAMES.join('|')} (default flash: the device profile's pick,
    for a dense and for a sparse shape; --profile FILE)  and the tuning flags of run (--score-block, --out-block, ...)
  --check-tokens N      query tokens checked a prompt, each way (default 4)
  --mha-chunk C         also through the layer in chunks of C query tokens (up to 1024), MHA mode (K and V recomputed
                        each chunk) and the absorbed MQA mode, each chunk checked: --preset v32 only (V3's per-head dims)
  --json`;

function print(line = ''): void {
  process.stdout.write(line + '\n');
}

export async function runPromptCostCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      lengths: { type: 'string', default: '512,1024,2048,4096' }, preset: { type: 'string', default: 'model1' }, 'h-q': { type: 'string', default: '64' },
      topk: { type: 'string', default: '2048' }, 'mha-chunk': { type: 'string' }, seed: { type: 'string', default: '0' }, 'check-tokens': { type: 'string', default: '4' },
      profile: { type: 'string' }, kv: { type: 'string', default: 'bf16' }, kernel: { type: 'string', default: 'flash' },
      splits: { type: 'string', default: 'auto' }, 'tile-n': { type: 'string' }, 'heads-per-workgroup': { type: 'string' }, 'dot-parts': { type: 'string' },
      keys: { type: 'string' }, 'score-block': { type: 'string' }, 'out-block': { type: 'string' }, 'scale-rounding': { type: 'string', default: 'pow2' },
      json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { print(PROMPT_COST_USAGE); return 0; }
  const v = values as FlagValues;
  const dims = HEAD_PRESETS[oneOf<PresetName>('preset', v.preset, PRESET_NAMES)];
  const lengths = intList('lengths', v.lengths)!;
  const hQ = intFlag('h-q', v['h-q'], 1, 1024)!;
  const topk = intFlag('topk', v.topk, 1, 1 << 16)!;
  const checkTokens = intFlag('check-tokens', v['check-tokens'], 1, 1024)!;
  const seed = intFlag('seed', v.seed, 0, 0xffffffff)!;
  const layerChunk = intFlag('mha-chunk', v['mha-chunk'], 1, 1024);
  checkPromptCost({ lengths, layerChunk, dims });
  const config = configFromFlags(v);
  const longest = Math.max(...lengths);
  checkPrefillMemory({ dims, sQ: longest, hQ, topk, slots: longest }, cliMemoryBudget().bytes, cliMemoryBudget().where);

  const ctx = await openNodeDevice();
  const adapter = describeAdapter(ctx.adapter);
  const path = typeof v.profile === 'string' ? v.profile : defaultProfilePath(adapter);
  const shape = (sparse: boolean): MlaShape => ({
    ...dims, hQ, sQ: 1, batch: 1, seqlens: [sparse ? 0 : longest], pageBlockSize: 64, topk: sparse ? topk : 0, causal: false, attentionSink: false,
  });
  // A pick that does not fit one query token over the longest prompt's cache (its pages) gives way to the default.
  const tuned = (sparse: boolean) => {
    const pages = Math.ceil(longest / shape(sparse).pageBlockSize);
    return tunedRunConfig(config, () => readProfileFile(path), path, adapter, shape(sparse), (c) => planRefusal(shape(sparse), pages, sparse ? 1 : pages, c, ctx.limits));
  };
  const dense = tuned(false);
  const sparse = tuned(true);
  // The machine's speed, timed around each way (prompt-cost.ts, speedProbe).
  const speedProbe = yardstickTimer(ctx, await measureRoofline(ctx));
  const report = await measurePromptCost(ctx, { dims, lengths, hQ, topk, seed, checkTokens, layerChunk, speedProbe, onProgress: v.json ? undefined : (s) => process.stderr.write(`prompt-cost: ${s}\n`) },
    { dense: dense.config, sparse: sparse.config });
  if (v.json) {
    print(JSON.stringify({ adapter: ctx.adapter, tuning: { dense: dense.source, sparse: sparse.source }, ...report, curves: promptCurves(report), pass: promptCostPasses(report) }, null, 2));
  } else {
    print(`device   ${adapter}`);
    print(`tuning   dense: ${dense.source.line}; sparse: ${sparse.source.line}`);
    describePromptCost(report).forEach((l) => print(l));
    print(`verdict  ${promptCostPasses(report) ? 'PASS' : 'FAIL'} (every length's checks, both ways)`);
  }
  return promptCostPasses(report) ? 0 : 1;
}
