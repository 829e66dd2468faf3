/**
 * `mla-sandbox bench --tune`: tune the tiled (v4) and matmuls (v6) kernels
 * for one shape on this device (tune/tuner.ts), print what was timed and the pick beside the plain
 * matmul yardstick, and write the pick into the device profile that
 * `--kernel flash` reads.
 */
import { parseArgs } from 'node:util';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import { PRESET_NAMES, presetShape } from '../mla/shape';
import { KV_FORMATS } from '../mla/kv-layout';
import { generateInputs } from '../mla/inputs';
import { intFlag, oneOf } from '../run/run-options';
import { fmtRate } from '../run/report';
import { matmulFormShort } from '../timing/plain-matmul';
import { spaceFromLists } from '../tune/tuning-space';
import { budgetFromFlag, checkTuneFits } from '../tune/tuner';
import { tuneOnDevice } from '../tune/tune-on-device';
import { tuneMarkdown } from '../tune/tune-report';
import { type DeviceProfile, emptyProfile, entryOf, withEntry } from '../tune/profile';
import { cliMemoryBudget } from './memory-budget';
import { checkOutputPaths, writeOutput } from './output-paths';
import { defaultProfilePath, readProfileFile, writeProfileFile } from './profile-file';

export const TUNE_USAGE = `mla-sandbox bench --tune: search the configurations of the tiled kernel (v4: register blocks, head block,
tile, where keys and queries are read) and of the matmuls kernel (v6: register blocks) for one shape on this device;
each candidate is checked against the f64 reference before it is timed. The pick goes into the device profile that
--kernel flash reads.

  --preset v32|model1   head shape (default v32)      --kv f32|bf16|fp8   cache format (default fp8)
  --h-q N               query heads (default 64)      --seqlen N          keys (default 4096)
  --topk K              a sparse shape: K indices per query row into the seqlen's keys (the class a sparse decode or
                        a sparse prefill of top-K reads: mla-sandbox prefill --kernel flash takes its pick)
  --exhaustive          time every configuration that fits (default: the pruned search)
  --budget SECONDS|none start no new candidate after this many seconds of search (the default and each version's
                        start are always timed; the final rounds follow); default: 45 for the pruned search (about
                        1.5 min in all on llvmpipe), none for --exhaustive; none: the search runs to its end
  narrow the space (each a comma-separated list; default: all of it):
  --kernels tiled,matmuls  --score-blocks 8x8,16x8,32x32 (32x32: matmuls only)  --out-blocks 8x16,16x32
  --keys tile,tile-bf16,tile-storage,cache,texture  --queries storage,texture  --heads-per-workgroup 16,64  --tile-n 32,64
  (keys, queries, heads per workgroup and tile are the tiled kernel's knobs: matmuls reads textures and has no tile)
  --profile FILE        the profile to update (default: $XDG_CACHE_HOME/mla-sandbox/profiles/<adapter>.json)
  --out FILE.md  --json-out FILE.json`;

export async function runTune(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      preset: { type: 'string', default: 'v32' }, kv: { type: 'string', default: 'fp8' }, 'h-q': { type: 'string', default: '64' },
      seqlen: { type: 'string', default: '4096' }, topk: { type: 'string' }, exhaustive: { type: 'boolean', default: false }, budget: { type: 'string' }, profile: { type: 'string' },
      out: { type: 'string' }, 'json-out': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      kernels: { type: 'string' }, 'score-blocks': { type: 'string' }, 'out-blocks': { type: 'string' }, keys: { type: 'string' }, queries: { type: 'string' },
      'heads-per-workgroup': { type: 'string' }, 'tile-n': { type: 'string' },
    },
  });
  if (values.help) { process.stdout.write(`${TUNE_USAGE}\n`); return 0; }
  const preset = oneOf('preset', values.preset, PRESET_NAMES);
  const kvFormat = oneOf('kv', values.kv, KV_FORMATS);
  const hQ = intFlag('h-q', values['h-q'], 1, 1024)!;
  const seqlen = intFlag('seqlen', values.seqlen, 1, 1 << 20)!;
  const topk = intFlag('topk', values.topk, 1, 1 << 16) ?? 0;
  const search = values.exhaustive ? 'exhaustive' : 'pruned';
  const budgetSeconds = budgetFromFlag(values.budget, search);
  checkOutputPaths((['out', 'json-out', 'profile'] as const).filter((f) => typeof values[f] === 'string').map((flag) => ({ flag, path: values[flag] as string })), []);
  const shape = presetShape(preset, { hQ, seqlens: [seqlen], topk });
  const space = spaceFromLists({
    kernels: values.kernels, 'score-blocks': values['score-blocks'], 'out-blocks': values['out-blocks'], keys: values.keys, queries: values.queries,
    'heads-per-workgroup': values['heads-per-workgroup'], 'tile-n': values['tile-n'],
  });

  const ctx = await openNodeDevice();
  const adapter = describeAdapter(ctx.adapter);
  const profilePath = values.profile ?? defaultProfilePath(adapter);
  // Read the profile first: a bad file or another adapter's is refused before any work.
  const before: DeviceProfile | undefined = readProfileFile(profilePath);
  if (before && before.adapter !== adapter) {
    throw new Error(`--profile ${profilePath} is for another adapter (${before.adapter}); this one is ${adapter}: name another file`);
  }
  checkTuneFits(shape, kvFormat, ctx.limits, cliMemoryBudget());
  const inputs = generateInputs(shape, { seed: 0 });
  const tty = process.stderr.isTTY;
  const { result, ceilings, measured } = await tuneOnDevice(ctx, inputs, kvFormat, {
    space, search, budgetSeconds,
    onProgress: (p) => {
      const line = `${p.phase === 'search' ? `timed ${p.timed}` : 'final rounds'}: ${p.name}${p.ms !== undefined ? ` ${p.ms.toFixed(2)} ms` : ''}; best ${p.bestName ?? '-'} ${p.bestMs?.toFixed(2) ?? ''} ms`;
      if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
      else process.stderr.write(`${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');

  const profile = withEntry(before ?? emptyProfile(adapter, { ...ctx.limits }), entryOf(shape, kvFormat, result, ceilings));
  writeProfileFile(profilePath, profile);
  const header = [
    `command: MLA_ADAPTER=${process.env.MLA_ADAPTER ?? 'auto'} mla-sandbox bench --tune ${argv.join(' ')}`,
    `adapter: ${adapter}`,
    `shape: ${preset} (d_qk ${shape.dQk}, d_v ${shape.dV}), ${kvFormat} cache, h_q ${hQ}, seqlen ${seqlen}${topk ? `, sparse top-${topk}` : ''}, batch 1`,
    `yardstick: plain matmul S = Q K^T, first ${measured.yardstick.forms.map((f) => `${matmulFormShort(f)} ${fmtRate(f.gflops)} GFLOP/s`).join(', ')}; `
      + `the best form re-timed in the final rounds ${fmtRate(ceilings.yardstickGflops)} GFLOP/s; FMA ceiling ${fmtRate(ceilings.fmaGflops)} GFLOP/s`,
    `profile: ${profilePath}`,
  ];
  const markdown = tuneMarkdown(result, header, ceilings);
  process.stdout.write(markdown);
  if (values.out) writeOutput('out', values.out, markdown);
  if (values['json-out']) writeOutput('json-out', values['json-out'], JSON.stringify({ adapter, ceilings, plainMatmul: measured.yardstick, result }, null, 2));
  return 0;
}
