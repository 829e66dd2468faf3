/** Bad input and broken shaders give clear errors, never a raw GPU error or a silent zero. */
import { describe, expect, it } from 'vitest';
import { blockSize, defaultBlocks } from '../src/kernels/register-blocks';
import { testGpu } from './support/gpu';
import { presetShape } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { prepareAttention } from '../src/run/runner';
import { runAttention } from '../src/run/run-attention';
import { ShaderCompileError } from '../src/gpu/pipelines';
import { SHADER_FILES } from '../src/gpu/shader-source';
import { kvLayout } from '../src/mla/kv-layout';
import { openNodeDevice } from '../src/gpu/node-device';
import { DeviceLostError, describeAdapter } from '../src/gpu/device';
import { formatCheck } from '../src/reference/check';

const gpu = await testGpu();

describe.skipIf(!gpu)('errors', () => {
  const shape = presetShape('v32', { seqlens: [20], hQ: 2 });
  const inputs = generateInputs(shape, { seed: 1 });

  it('a broken shader names the kernel, the file and the WGSL line', async () => {
    const src = SHADER_FILES['v4_tiled.wgsl'];
    const lines = src.split('\n');
    const at = lines.findIndex((l) => l.includes('let alpha = exp2(mOld - m);'));
    lines[at] = '      let alpha = exp2(mOld - m) + undefinedThing;';
    const run = runAttention(gpu!, inputs, { kernel: 'tiled', kvFormat: 'fp8', shaderEdits: { 'v4_tiled.wgsl': lines.join('\n') } });
    await expect(run).rejects.toBeInstanceOf(ShaderCompileError);
    await expect(run).rejects.toThrow(new RegExp(`^kernel v4-tiled failed to compile: v4_tiled.wgsl:${at + 1}:\\d+: .*undefinedThing`));
    // the original source still compiles and passes
    const ok = await runAttention(gpu!, inputs, { kernel: 'tiled', kvFormat: 'fp8' });
    expect(ok.check.pass).toBe(true);
  });

  it('a binding number that disagrees with the binding table fails loudly, naming the file and line', async () => {
    const src = SHADER_FILES['fused_io.wgsl'];
    const at = src.split('\n').findIndex((l) => l.includes('var<storage, read> sink'));
    const moved = src.replace('@binding(4) var<storage, read> sink', '@binding(9) var<storage, read> sink');
    const run = runAttention(gpu!, inputs, { kernel: 'tiled', kvFormat: 'fp8', shaderEdits: { 'fused_io.wgsl': moved } });
    await expect(run).rejects.toBeInstanceOf(ShaderCompileError);
    await expect(run).rejects.toThrow(`fused_io.wgsl:${at + 1}:1: sink is at binding 9, the binding table (src/gpu/bindings.ts) says 4`);
  });

  it('a lost device gives a DeviceLostError that says to run again, not the runtime\'s own words', async () => {
    const ctx = await openNodeDevice();
    ctx.device.destroy();
    const info = await ctx.lost;
    expect(ctx.lostInfo()).toBe(info);
    const run = runAttention(ctx, inputs, { kernel: 'flash', kvFormat: 'fp8' });
    await expect(run).rejects.toBeInstanceOf(DeviceLostError);
    await expect(run).rejects.toThrow(/^the GPU device was lost \(destroyed.*\) during the run: run again to open a new device$/);
  });

  it('a shader that compiles but computes garbage fails the check', async () => {
    const wrong = SHADER_FILES['kv_cache.wgsl'].replace('scaleOf(scales, min(e, D_NOPE - 1u) / QUANT_TILE)', 'scaleOf(scales, 0u)');
    expect(wrong).not.toBe(SHADER_FILES['kv_cache.wgsl']); // the edit must land, or this test proves nothing
    const run = await runAttention(gpu!, inputs, { kernel: 'flash', kvFormat: 'fp8', shaderEdits: { 'kv_cache.wgsl': wrong } });
    expect(run.check.pass).toBe(false);
  });

  it('refuses a run over the device limits up front, naming the limit', async () => {
    const big = presetShape('v32', { seqlens: [64], hQ: 2 });
    const tooBig = { ...generateInputs(big, { seed: 1 }) };
    const fakeLimits = { ...gpu!.limits, maxStorageBufferBindingSize: 4096 };
    await expect(prepareAttention({ ...gpu!, limits: fakeLimits }, tooBig, { kernel: 'flash', kvFormat: 'f32' }))
      .rejects.toThrow(/^one page of the f32 cache is 144.0 KiB \(64 tokens\), over this device's maxStorageBufferBindingSize\/maxBufferSize \(4.0 KiB\)/);
    // A cache over the limit is sharded; a buffer that cannot be (the split partials) is refused by name.
    const wide = { ...gpu!.limits, maxStorageBufferBindingSize: 3000 * 1024 };
    await expect(prepareAttention({ ...gpu!, limits: wide }, generateInputs(presetShape('v32', { seqlens: [64], hQ: 1024 }), { seed: 1 }), { kernel: 'fused', kvFormat: 'f32', splits: 256 }))
      .rejects.toThrow(/needs a .* split partial out buffer, over this device's maxStorageBufferBindingSize\/maxBufferSize of 2.9 MiB/);
    await expect(prepareAttention(gpu!, tooBig, { kernel: 'shared-latent', kvFormat: 'f32', tileN: 1000 }))
      .rejects.toThrow(/^tileN = 1000 is not allowed: tileN must be an integer from 1 to \d+/);
    // "flash" takes the best version; a bad option is refused, not a reason to fall back to another version
    // (a multiple of the default score block's keys on this device: register-blocks.ts)
    const step = blockSize(defaultBlocks(gpu!.limits.cpuThreads, 'cache').score).cols;
    await expect(prepareAttention(gpu!, tooBig, { kernel: 'flash', kvFormat: 'f32', tileN: 12 }))
      .rejects.toThrow(new RegExp(`^tileN = 12 is not allowed: tileN must be a multiple of ${step} from ${step} to \\d+ for kernel tiled`));
  });

  it('bad kernel, format and kernel/shape combinations name the allowed values', async () => {
    await expect(runAttention(gpu!, inputs, { kernel: 'flashy' as 'flash', kvFormat: 'fp8' }))
      .rejects.toThrow('kernel "flashy" is not allowed: kernel must be one of flash, naive, fused, shared-latent, tiled, subgroups, matmuls, v1, v2, v3, v4, v5, v6');
    await expect(runAttention(gpu!, inputs, { kernel: 'flash', kvFormat: 'int4' as 'fp8' }))
      .rejects.toThrow('kv format "int4" is not allowed: kv format must be one of f32, bf16, fp8');
    // a tuning option the version does not have is refused, not ignored
    await expect(runAttention(gpu!, inputs, { kernel: 'fused', kvFormat: 'fp8', tileN: 16 }))
      .rejects.toThrow('--tile-n 16 is not used by kernel fused (v2): the options it takes are --splits');
    await expect(runAttention(gpu!, inputs, { kernel: 'naive', kvFormat: 'fp8', splits: 2 }))
      .rejects.toThrow('--splits 2 is not used by kernel naive (v1): the options it takes are none');
    await expect(runAttention(gpu!, inputs, { kernel: 'flash', kvFormat: 'fp8', splits: 0 }))
      .rejects.toThrow('splits = 0 is not allowed: splits must be "auto" or an integer from 1 to 1024');
  });

  it('keys held in bf16 only where exact: refused for an f32 cache and for FP8 scales that are not powers of two; v4\'s FP8 default then takes the f32 tile', async () => {
    await expect(runAttention(gpu!, inputs, { kernel: 'tiled', kvFormat: 'f32', keys: 'tile-bf16' }))
      .rejects.toThrow('keys "tile-bf16" is not allowed for an f32 cache: its keys would be rounded to bf16; use keys tile or cache');
    const plain = { kernel: 'tiled', kvFormat: 'fp8', scaleRounding: 'plain' } as const;
    await expect(runAttention(gpu!, inputs, { ...plain, keys: 'tile-bf16' }))
      .rejects.toThrow(/^keys "tile-bf16" is not allowed for this cache: its fp8-v32 scales are not all powers of two/);
    const fallback = await runAttention(gpu!, inputs, plain);
    expect(fallback.plan.keys).toBe('tile');
    expect(fallback.check.pass, formatCheck(fallback.check)).toBe(true);
    const pow2 = await runAttention(gpu!, inputs, { kernel: 'tiled', kvFormat: 'fp8' });
    expect(pow2.plan.keys).toBe('tile-bf16');
    expect(pow2.check.pass, formatCheck(pow2.check)).toBe(true);
  });

  it('v5 needs subgroups: without them flash takes v4 and --kernel subgroups says why; its team size is checked', async () => {
    const noSubgroups = { ...gpu!, limits: { ...gpu!.limits, subgroupMinSize: 0, subgroupMaxSize: 0 } };
    const fallback = await prepareAttention(noSubgroups, inputs, { kernel: 'flash', kvFormat: 'fp8' });
    expect(fallback.version.name).toBe('tiled');
    fallback.destroy();
    await expect(prepareAttention(noSubgroups, inputs, { kernel: 'subgroups', kvFormat: 'fp8' }))
      .rejects.toThrow('kernel subgroups (v5) needs the subgroups feature, which this device does not have (flash runs v4 there)');
    const withSubgroups = { ...gpu!, limits: { ...gpu!.limits, subgroupMinSize: 4, subgroupMaxSize: 4 } };
    await expect(prepareAttention(withSubgroups, inputs, { kernel: 'subgroups', kvFormat: 'fp8', dotParts: 3 }))
      .rejects.toThrow(/^dotParts = 3 is not allowed: for kernel subgroups, dotParts \(lanes per team\) must be a power of two from 1 to 4/);
    await expect(prepareAttention(withSubgroups, inputs, { kernel: 'subgroups', kvFormat: 'fp8', dotParts: 8 }))
      .rejects.toThrow(/^dotParts = 8 is not allowed/);
    // On this device flash is the highest version it runs, but v4 on a software adapter (v5's shuffles are emulated there).
    const best = await prepareAttention(gpu!, inputs, { kernel: 'flash', kvFormat: 'fp8' });
    expect(best.version.name).toBe(gpu!.limits.subgroupMinSize > 0 && gpu!.limits.cpuThreads === 0 ? 'subgroups' : 'tiled');
    best.destroy();
  });

  it('uploads only the FP8 record bytes: 656 B per token for 576, 584 B (+ page padding) for 512', async () => {
    for (const [preset, perToken] of [['v32', 656], ['model1', 584]] as const) {
      const s = presetShape(preset, { seqlens: [100, 28], hQ: 16 });
      const inp = generateInputs(s, { seed: 2 });
      const prepared = await prepareAttention(gpu!, inp, { kernel: 'flash', kvFormat: 'fp8' });
      const layout = kvLayout('fp8', s, 64);
      const tokens = inp.cache.numBlocks * 64;
      expect(prepared.upload.kv).toBe(inp.cache.numBlocks * layout.pageStride);
      expect(layout.bytesPerToken).toBe(perToken);
      expect(prepared.upload.kv / tokens).toBeLessThanOrEqual(perToken + (preset === 'model1' ? 1 : 0));
      process.stderr.write(`[fp8 upload] ${preset}: ${prepared.upload.kv} B for ${tokens} cache slots = ${(prepared.upload.kv / tokens).toFixed(2)} B/token (f32 would be ${4 * s.dQk})\n`);
      prepared.destroy();
    }
  });
});

describe.skipIf(!gpu)('devices that stop long loops (llvmpipe: 65535 iterations per invocation)', () => {
  const llvmpipe = gpu ? /llvmpipe/i.test(describeAdapter(gpu.adapter)) : false;
  // A small head, 128 heads, 40000 keys: one split by the old rule, and v2's thread would loop about 123000 times.
  const shape = { ...presetShape('v32', { seqlens: [40000], hQ: 128 }), dQk: 16, dNope: 16, dRope: 0, dV: 16, softmaxScale: 0.25 };
  const inputs = gpu ? generateInputs(shape, { seed: 3 }) : undefined;

  it('the probe finds the limit on llvmpipe and none elsewhere', () => {
    expect(gpu!.limits.maxLoopIterations).toBe(llvmpipe ? 65535 : 0);
  });

  it('a long row is split so that no thread passes the limit, and passes', async () => {
    const run = await runAttention(gpu!, inputs!, { kernel: 'fused', kvFormat: 'f32' });
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
    if (llvmpipe) expect(run.plan.splits).toBeGreaterThanOrEqual(4);
  });

  it.skipIf(!llvmpipe)('with the limit ignored, the same run fails the check: the loops were cut short', async () => {
    const blind = { ...gpu!, limits: { ...gpu!.limits, maxLoopIterations: 0 } };
    const run = await runAttention(blind, inputs!, { kernel: 'fused', kvFormat: 'f32' });
    expect(run.plan.splits).toBe(1);
    expect(run.check.pass).toBe(false);
  });

  it.skipIf(!llvmpipe)('too few splits asked, or v1 on a long row, is refused with the reason', async () => {
    await expect(runAttention(gpu!, inputs!, { kernel: 'fused', kvFormat: 'f32', splits: 1 }))
      .rejects.toThrow(/^splits = 1 is too few: this device stops a shader invocation's loops after 65535 iterations .*, so 40000 keys need at least \d+ splits/);
    await expect(runAttention(gpu!, inputs!, { kernel: 'naive', kvFormat: 'f32' }))
      .rejects.toThrow(/v1 walks all 40000 keys of a row in one thread: use a fused version/);
  });
});
