/**
 * `mla-sandbox bench --tune`: tune the tiled kernel for one shape on this
 * device (tune/tuner.ts), print what was timed and the pick beside the plain
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
import { checkHostMemory, generatedPages } from '../run/run-size';
import { planCall } from '../run/runner';
import { measureRoofline } from '../timing/roofline';
import { measurePlainMatmul } from '../timing/plain-matmul';
import { fmtRate } from '../run/report';
import { FULL_SPACE, type TuningSpace } from '../tune/tuning-space';
import { type TuneResult, tune } from '../tune/tuner';
import { type DeviceProfile, emptyProfile, entryOf, withEntry } from '../tune/profile';
import { cliMemoryBudget } from './memory-budget';
import { checkOutputPaths, writeOutput } from './output-paths';
import { defaultProfilePath, readProfileFile, writeProfileFile } from './profile-file';
import { maxBlocksPerSeq } from '../mla/shape';

export const TUNE_USAGE = `mla-sandbox bench --tune: search the tiled kernel's configurations (register blocks, head block, tile,
where keys are read) for one shape on this device; each candidate is checked against the f64 reference
before it is timed. The pick goes into the device profile that --kernel flash reads.

  --preset v32|model1   head shape (default v32)      --kv f32|bf16|fp8   cache format (default fp8)
  --h-q N               query heads (default 64)      --seqlen N          keys (default 4096)
  --exhaustive          time every configuration that fits (default: the pruned search)
  narrow the space (each a comma-separated list; default: all of it):
  --score-blocks 8x8,16x8  --out-blocks 8x16,16x32  --keys tile,cache  --heads-per-workgroup 16,64  --tile-n 32,64
  --profile FILE        the profile to update (default: $XDG_CACHE_HOME/mla-sandbox/profiles/<adapter>.json)
  --out FILE.md  --json-out FILE.json`;

export async function runTune(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      preset: { type: 'string', default: 'v32' }, kv: { type: 'string', default: 'fp8' }, 'h-q': { type: 'string', default: '64' },
      seqlen: { type: 'string', default: '4096' }, exhaustive: { type: 'boolean', default: false }, profile: { type: 'string' },
      out: { type: 'string' }, 'json-out': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      'score-blocks': { type: 'string' }, 'out-blocks': { type: 'string' }, keys: { type: 'string' },
      'heads-per-workgroup': { type: 'string' }, 'tile-n': { type: 'string' },
    },
  });
  if (values.help) { process.stdout.write(`${TUNE_USAGE}\n`); return 0; }
  const preset = oneOf('preset', values.preset, PRESET_NAMES);
  const kvFormat = oneOf('kv', values.kv, KV_FORMATS);
  const hQ = intFlag('h-q', values['h-q'], 1, 1024)!;
  const seqlen = intFlag('seqlen', values.seqlen, 1, 1 << 20)!;
  checkOutputPaths((['out', 'json-out', 'profile'] as const).filter((f) => typeof values[f] === 'string').map((flag) => ({ flag, path: values[flag] as string })), []);
  const shape = presetShape(preset, { hQ, seqlens: [seqlen] });
  const list = <T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): readonly T[] =>
    (value === undefined ? allowed : value.split(',').map((x) => oneOf(flag, x.trim(), allowed)));
  const numbers = (flag: string, value: string | undefined, allowed: readonly number[]): readonly number[] =>
    list(flag, value, allowed.map(String)).map(Number);
  const space: TuningSpace = {
    scoreBlock: list('score-blocks', values['score-blocks'], FULL_SPACE.scoreBlock),
    outBlock: list('out-blocks', values['out-blocks'], FULL_SPACE.outBlock),
    keys: list('keys', values.keys, FULL_SPACE.keys),
    headsPerWorkgroup: numbers('heads-per-workgroup', values['heads-per-workgroup'], FULL_SPACE.headsPerWorkgroup),
    tileN: numbers('tile-n', values['tile-n'], FULL_SPACE.tileN),
  };

  const ctx = await openNodeDevice();
  const adapter = describeAdapter(ctx.adapter);
  const profilePath = values.profile ?? defaultProfilePath(adapter);
  // Read the profile first: a bad file or another adapter's is refused before any work.
  const before: DeviceProfile | undefined = readProfileFile(profilePath);
  if (before && before.adapter !== adapter) {
    throw new Error(`--profile ${profilePath} is for another adapter (${before.adapter}); this one is ${adapter}: name another file`);
  }
  const { layout } = planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'flash', kvFormat }, ctx.limits);
  checkHostMemory(shape, layout, cliMemoryBudget().bytes, cliMemoryBudget().where);

  const roof = await measureRoofline(ctx);
  const yardstick = await measurePlainMatmul(ctx, roof);
  const bestYard = yardstick.forms.reduce((a, f) => (f.gflops > a.gflops ? f : a));
  const inputs = generateInputs(shape, { seed: 0 });
  const tty = process.stderr.isTTY;
  const result = await tune(ctx, inputs, kvFormat, {
    space, search: values.exhaustive ? 'exhaustive' : 'pruned',
    onProgress: (p) => {
      const line = `${p.phase === 'search' ? `timed ${p.timed}` : 'final rounds'}: ${p.name}${p.ms !== undefined ? ` ${p.ms.toFixed(2)} ms` : ''}; best ${p.bestName ?? '-'} ${p.bestMs?.toFixed(2) ?? ''} ms`;
      if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
      else process.stderr.write(`${line}\n`);
    },
  });
  if (tty) process.stderr.write('\n');

  const profile = withEntry(before ?? emptyProfile(adapter, { ...ctx.limits }), entryOf(shape, kvFormat, result));
  writeProfileFile(profilePath, profile);
  const header = [
    `command: MLA_ADAPTER=${process.env.MLA_ADAPTER ?? 'auto'} mla-sandbox bench --tune ${argv.join(' ')}`,
    `adapter: ${adapter}`,
    `shape: ${preset} (d_qk ${shape.dQk}, d_v ${shape.dV}), ${kvFormat} cache, h_q ${hQ}, seqlen ${seqlen}, batch 1`,
    `yardstick: plain matmul S = Q K^T (${yardstick.forms.map((f) => `${f.block}x${f.block} ${fmtRate(f.gflops)} GFLOP/s`).join(', ')}), FMA ceiling ${fmtRate(roof.fmaGflops)} GFLOP/s`,
    `profile: ${profilePath}`,
  ];
  const markdown = tuneMarkdown(result, header, bestYard.gflops, roof.copyGBps);
  process.stdout.write(markdown);
  if (values.out) writeOutput('out', values.out, markdown);
  if (values['json-out']) writeOutput('json-out', values['json-out'], JSON.stringify({ adapter, roofline: { fmaGflops: roof.fmaGflops, copyGBps: roof.copyGBps, plainMatmul: yardstick }, result }, null, 2));
  return 0;
}

export function tuneMarkdown(r: TuneResult, header: readonly string[], yardstickGflops: number, copyGBps: number): string {
  const gflops = (ms: number) => r.flops / (ms / 1e3) / 1e9;
  const gbps = (ms: number) => r.bytes / (ms / 1e3) / 1e9;
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const top = r.evaluations.filter((e) => e.pass).sort((a, b) => a.ms - b.ms).slice(0, 12);
  const failed = r.evaluations.filter((e) => !e.pass);
  return [
    '# mla-sandbox bench --tune', '', ...header.map((h) => `- ${h}`),
    `- search: ${r.search}, ${r.timed} of ${r.fitting} fitting configurations timed in ${r.seconds.toFixed(0)} s`, '',
    `**Pick: ${r.pick.name}**, ${r.pick.medianMs.toFixed(2)} ms, ${fmtRate(gflops(r.pick.medianMs))} GFLOP/s = ${(100 * gflops(r.pick.medianMs) / yardstickGflops).toFixed(0)} % of the best plain matmul; `
      + `${fmtRate(gbps(r.pick.medianMs))} GB/s = ${(100 * gbps(r.pick.medianMs) / copyGBps).toFixed(0)} % of the copy bandwidth (${fmtRate(copyGBps)} GB/s); the default ${r.defaultMs.toFixed(2)} ms (${(r.defaultMs / r.pick.medianMs).toFixed(2)}x).`, '',
    '## Final rounds (interleaved)', '', line(['configuration', 'median ms', 'GFLOP/s', '% of yardstick', 'samples']), '|---|---:|---:|---:|---:|',
    ...r.finalists.map((f) => line([f.name, f.medianMs.toFixed(2), fmtRate(gflops(f.medianMs)), `${(100 * gflops(f.medianMs) / yardstickGflops).toFixed(0)} %`, String(f.samplesMs.length)])), '',
    '## Fastest in the search (quick timing)', '', line(['configuration', 'version', 'ms', 'GFLOP/s', 'splits']), '|---|---|---:|---:|---:|',
    ...top.map((e) => line([e.name, e.version, e.ms.toFixed(2), fmtRate(gflops(e.ms)), String(e.splits)])), '',
    ...(failed.length ? ['## Failed the check', '', ...failed.map((e) => `- ${e.name}: ${e.failure}`), ''] : []),
  ].join('\n');
}
