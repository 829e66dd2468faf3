/**
 * mla-sandbox: run MLA decode kernels headless in Node (Dawn) and check them.
 *
 *   mla-sandbox info  [--json]
 *   mla-sandbox run   [shape flags] [--q q.npy --kv-cache kv.npy --cache-seqlens s.npy ...] [--out o.npy --lse l.npy] [--json]
 *   mla-sandbox bench [--ladder] [--full] [--out report.md] [--json-out report.json]
 */
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import type { MlaInputs } from '../inputs';
import { measureAttention } from '../run-attention';
import { measureRoofline } from '../timing/roofline';
import { describeDevice, describeReport, describeRoofline, reportJson } from '../report';
import { encodeNpy, parseNpy } from '../npy';
import { inputsFromArrays } from '../load-inputs';
import { VERSION_NAMES } from '../kernels/kernel-plan';
import { SHAPE_FLAGS, type FlagValues, configFromFlags, inputsFromFlags, intFlag, shapeFromFlags } from '../run-options';
import { runBench } from './bench';
import { KERNEL_VERSIONS } from '../kernels/versions';

const USAGE = `usage: mla-sandbox <command> [flags]

commands:
  info     the adapter, its features and limits, and its roofline (copy GB/s, FMA GFLOP/s)
  run      run one shape, check it against the CPU reference, time it
  bench    the 576-vs-512 x f32/bf16/fp8 sweep; --ladder: every kernel version instead;
           --out FILE.md, --json-out FILE.json, --full; narrow it with --presets v32,model1
           --kv f32,bf16,fp8 --seqlens 1024,4096 --heads 16,64

shape flags (run):
  --preset v32|model1  --h-q N  --s-q N  --seqlens 512,300  --batch N  --page-block-size N
  --topk N (sparse)  --no-causal  --softmax-scale X  --sink  --d-qk/--d-nope/--d-rope/--d-v N
  --kv f32|bf16|fp8  --kernel flash|${VERSION_NAMES.join('|')} (or v1..v${VERSION_NAMES.length}; flash: the best for the device)
  --splits auto|N  --tile-n N  --heads-per-workgroup N  --dot-parts N (v4: score slices; v5: lanes per team)  --scale-rounding pow2|plain  --seed N  --distribution normal|outliers
  --samples N  --warmup N
your own tensors (run), FlashMLA's shapes:
  --q q.npy (float32 [b,s_q,h_q,d_qk])  --kv-cache kv.npy (float32 [blocks,page,1,d_qk] or uint8 FP8 records)
  --cache-seqlens s.npy (int32 [b])  --block-table bt.npy (int32 [b,w])  --indices i.npy (int32 [b,s_q,topk])
  --out out.npy (float32 [b,s_q,h_q,d_v])  --lse lse.npy (float32 [b,h_q,s_q])

environment: MLA_ADAPTER=auto|native|swiftshader|llvmpipe picks the Node adapter.`;

const FILE_FLAGS = {
  q: { type: 'string' }, 'kv-cache': { type: 'string' }, 'block-table': { type: 'string' }, 'cache-seqlens': { type: 'string' },
  indices: { type: 'string' }, out: { type: 'string' }, lse: { type: 'string' },
} as const;

function print(line = ''): void {
  process.stdout.write(line + '\n');
}

function readNpy(path: string) {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read: ${(e as Error).message}`);
  }
  return parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

async function info(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, strict: true });
  const ctx = await openNodeDevice();
  const roof = await measureRoofline(ctx);
  if (values.json) {
    print(JSON.stringify({
      adapter: ctx.adapter, features: ctx.features, limits: ctx.limits,
      roofline: { copyGBps: roof.copyGBps, fmaGflops: roof.fmaGflops, fmaForms: roof.fmaForms, emptyDispatchMs: roof.emptyDispatch.medianMs, method: roof.copy.method, notes: roof.copy.notes },
      kernels: KERNEL_VERSIONS.map(({ id, name, improves, files, host, reference, tests }) => ({ id, name, improves, files, host, reference, tests })),
    }, null, 2));
    return;
  }
  describeDevice(ctx).forEach((l) => print(l));
  describeRoofline(roof).forEach((l) => print(`roofline ${l}`));
  for (const n of roof.copy.notes) print(`note     ${n}`);
  for (const v of KERNEL_VERSIONS) print(`kernel   ${v.id} ${v.name.padEnd(13)} shaders/${v.files.join(', shaders/')}: ${v.improves}`);
}

function loadTensors(v: FlagValues): MlaInputs {
  if (!v['cache-seqlens']) throw new Error('--kv-cache needs --cache-seqlens (int32 [b]) as well');
  const path = (k: string) => v[k] as string;
  const shape = shapeFromFlags({ ...v, seqlens: undefined, batch: undefined });
  return inputsFromArrays({
    q: readNpy(path('q')), kvCache: readNpy(path('kv-cache')), cacheSeqlens: readNpy(path('cache-seqlens')),
    blockTable: v['block-table'] ? readNpy(path('block-table')) : undefined,
    indices: v.indices ? readNpy(path('indices')) : undefined,
    names: { q: path('q'), kvCache: path('kv-cache'), cacheSeqlens: path('cache-seqlens'), blockTable: path('block-table'), indices: path('indices') },
  }, {
    kvFormat: configFromFlags(v).kvFormat,
    shape: {
      dNope: v['d-nope'] !== undefined ? shape.dNope : undefined, dRope: v['d-rope'] !== undefined ? shape.dRope : undefined,
      dV: v['d-v'] !== undefined ? shape.dV : undefined, causal: shape.causal, softmaxScale: shape.softmaxScale,
    },
  });
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...SHAPE_FLAGS, ...FILE_FLAGS, json: { type: 'boolean', default: false } }, strict: true });
  const v = values as FlagValues;
  if ((v.q === undefined) !== (v['kv-cache'] === undefined)) throw new Error('--q and --kv-cache go together: give both, or neither to generate inputs');
  const config = configFromFlags(v);
  const inputs = v.q ? loadTensors(v) : inputsFromFlags(v);
  const shape = inputs.shape;
  const ctx = await openNodeDevice();
  const report = await measureAttention(ctx, inputs, config, {
    quantizationError: true,
    timing: { samples: intFlag('samples', v.samples, 1, 1000), warmup: intFlag('warmup', v.warmup, 0, 1000) },
  });
  if (typeof v.out === 'string') {
    writeFileSync(v.out, encodeNpy({ dtype: 'float32', shape: [shape.batch, shape.sQ, shape.hQ, shape.dV], data: report.output.out }));
  }
  if (typeof v.lse === 'string') {
    writeFileSync(v.lse, encodeNpy({ dtype: 'float32', shape: [shape.batch, shape.hQ, shape.sQ], data: report.output.lse }));
  }
  if (v.json) {
    print(JSON.stringify({ adapter: ctx.adapter, ...reportJson(shape, report) }, null, 2));
  } else {
    print(`device   ${describeAdapter(ctx.adapter)}`);
    describeReport(shape, report).forEach((l) => print(l));
  }
  return report.check.pass ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'info': await info(rest); return 0;
      case 'run': return await run(rest);
      case 'bench': return await runBench(rest);
      case undefined: case '-h': case '--help': case 'help': print(USAGE); return command === undefined ? 2 : 0;
      default: throw new Error(`command ${JSON.stringify(command)} is not allowed: command must be one of info, run, bench`);
    }
  } catch (e) {
    process.stderr.write(`mla-sandbox: error: ${(e as Error).message}\n`);
    return 2;
  }
}
