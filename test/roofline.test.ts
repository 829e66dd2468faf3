/**
 * The FMA ceiling is what registers can do, whatever form the kernel takes.
 * roofline.wgsl's fmaChain is timed in each of its forms (4 and 8 named vec4
 * chains) and the ceiling is the fastest, so no form of the work beats it by
 * construction; no timing is asserted here (timings on these adapters vary by
 * 30 % between runs). What is tested: every form does the work it is
 * credited with (its output matches the chains computed here, so the
 * compiler dropped nothing and the host's FLOP count is the shader's), and
 * the ceiling reported is the fastest form measured. The same for readCost,
 * the kernel behind "what a read costs": its output is the chains of reads
 * computed here, from workgroup memory, a storage buffer, a uniform
 * buffer and a texture. And for
 * plain_matmul.wgsl, the yardstick beside them: every element of its
 * product, in both block forms, is the one computed here.
 */
import { describe, expect, it } from 'vitest';
import { testGpu } from './support/gpu';
import { FMA_CHAIN_FORMS, FMA_STEPS, fmaPipeline, measureRoofline } from '../src/timing/roofline';
import { READ_SOURCES, READ_STEPS, READ_TEXTURE_WIDTH, measureReadCost, readPipeline, readTexture } from '../src/timing/read-cost';
import { LADDER_SCORE_STEP, MATMUL_FORMS, type MatmulSize, matmulFormName, matmulFormShort, matmulPipeline, matmulTexture, matmulWorkgroups, measurePlainMatmul } from '../src/timing/plain-matmul';
import { bindGroup } from '../src/gpu/bindings';
import { shaderConstant } from '../src/gpu/pipelines';
import { SHADER_FILES } from '../src/gpu/shader-source';

const gpu = await testGpu();
const WG = shaderConstant(SHADER_FILES['roofline.wgsl'], 'WG');

/** What thread `t` of fmaChain stores: the sum of the chains, each FMA_STEPS steps of c = c * a + b (f32). */
function expectedOutput(t: number, chains: number): number[] {
  const a = [0.999, 0.998, 0.997, 0.996].map(Math.fround);
  const b = Math.fround(1e-3);
  const seed = Math.fround((t & 7) * 1e-3);
  return a.map((ak) => {
    let total = 0;
    for (let c = 0; c < 8; c++) {
      let x = Math.fround(seed + c);
      if (c < chains) for (let s = 0; s < FMA_STEPS; s++) x = Math.fround(x * ak + b);
      total += x;
    }
    return total;
  });
}

const READ_WINDOW = shaderConstant(SHADER_FILES['roofline.wgsl'], 'READ_WINDOW');
/** The value readCost's window holds at i (the shader fills workgroup memory with it; the test fills `src`). */
const windowValue = (i: number) => Math.fround(Math.fround(i) * Math.fround(1e-3));

/**
 * What thread `t` of readCost stores: four chains c = c * 0.5 + x, x read at
 * (7 t + 13 s) % READ_WINDOW, summed as the shader does. Halving is exact and
 * each step rounds once, as an FMA does, so only the final sum may differ.
 */
function expectedReads(t: number): number {
  const c = [0, 1, 2, 3].map((k) => {
    let x = 0;
    for (let s = k; s < READ_STEPS; s += 4) x = Math.fround(x * 0.5 + windowValue((t * 7 + s * 13) % READ_WINDOW));
    return x;
  });
  return Math.fround(Math.fround(c[0] + c[1]) + Math.fround(c[2] + c[3]));
}

/** Dispatch `groups` workgroups of the pipeline and read `dst` back. */
async function runAndRead(device: GPUDevice, pipeline: GPUComputePipeline, entries: Parameters<typeof bindGroup>[3], dst: GPUBuffer, groups = 1): Promise<Float32Array> {
  const read = device.createBuffer({ size: dst.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(device, pipeline, 'roofline test', entries));
  pass.dispatchWorkgroups(groups);
  pass.end();
  encoder.copyBufferToBuffer(dst, 0, read, 0, dst.size);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(read.getMappedRange().slice(0));
  read.unmap();
  read.destroy();
  return out;
}

describe.skipIf(!gpu)('what a read costs', () => {
  it.each(READ_SOURCES)('readCost from %s memory computes what it is credited with', async (from) => {
    const { device } = gpu!;
    const src = device.createBuffer({ size: 16 * READ_WINDOW, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    // The window (bound as the storage and the uniform buffer, and copied into the texture row by row) holds what the
    // shader writes into workgroup memory, so every source gives one answer.
    const values = Float32Array.from({ length: 4 * READ_WINDOW }, (_, e) => windowValue(Math.floor(e / 4)));
    device.queue.writeBuffer(src, 0, values);
    const texture = readTexture(device, GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST);
    device.queue.writeTexture({ texture }, values, { bytesPerRow: 16 * READ_TEXTURE_WIDTH }, [READ_TEXTURE_WIDTH, READ_WINDOW / READ_TEXTURE_WIDTH]);
    const dst = device.createBuffer({ size: 16 * WG, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const out = await runAndRead(device, await readPipeline(device, from), { src, readWindow: src, readTexture: texture.createView(), dst }, dst);
    src.destroy();
    texture.destroy();
    dst.destroy();
    for (const t of [0, 1, 7, WG - 1]) {
      for (let k = 0; k < 4; k++) expect(out[4 * t + k], `thread ${t} lane ${k}`).toBeCloseTo(expectedReads(t), 5);
    }
  });

  it('is measured for every source, in multiply-adds of the same run\'s ceiling', async () => {
    const roof = await measureRoofline(gpu!, { warmup: 1, samples: 3 });
    const cost = await measureReadCost(gpu!, roof, { warmup: 1, samples: 3 });
    process.stderr.write(`[read cost] ${READ_SOURCES.map((f) => `${f} ${cost[f].toFixed(1)}`).join(', ')} vec4 multiply-adds per vec4 read\n`);
    expect(Object.keys(cost).sort()).toEqual([...READ_SOURCES].sort());
    for (const f of READ_SOURCES) expect(Number.isFinite(cost[f]) && cost[f] > 0, f).toBe(true);
  });
});

describe.skipIf(!gpu)('FMA ceiling', () => {
  it.each(FMA_CHAIN_FORMS)('the %i-chain form computes what it is credited with', async (chains) => {
    const { device } = gpu!;
    const pipeline = await fmaPipeline(device, chains);
    const dst = device.createBuffer({ size: 16 * WG, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const out = await runAndRead(device, pipeline, { dst }, dst);
    dst.destroy();
    for (const t of [0, 1, 7, WG - 1]) {
      const want = expectedOutput(t, chains);
      for (let k = 0; k < 4; k++) expect(out[4 * t + k], `thread ${t} lane ${k}`).toBeCloseTo(want[k], 3);
    }
  });

  it('the ceiling is the fastest form measured', async () => {
    const roof = await measureRoofline(gpu!, { warmup: 1, samples: 3 });
    process.stderr.write(`[fma forms] ${roof.fmaForms.map((f) => `${f.chains} chains ${f.gflops.toFixed(2)}`).join(', ')} GFLOP/s\n`);
    expect(roof.fmaForms.map((f) => f.chains)).toEqual([...FMA_CHAIN_FORMS]);
    expect(roof.fmaGflops).toBe(Math.max(...roof.fmaForms.map((f) => f.gflops)));
    expect(roof.fmaForms.find((f) => f.chains === roof.fmaChains)?.gflops).toBe(roof.fmaGflops);
  });
});

describe.skipIf(!gpu)('plain matmul (the score step alone)', () => {
  // The ladder's score step (the size every report times, so these pipelines are the ones the command line
  // compiles, found in Mesa's disk cache on llvmpipe): heads and keys in several blocks of each form.
  const size: MatmulSize = LADDER_SCORE_STEP;
  const qValue = (h: number, d: number) => Math.fround(((h * 7 + d * 3) % 11) * 0.125 - 0.5);
  const kValue = (n: number, d: number) => Math.fround(((n * 5 + d * 13) % 17) * 0.0625 - 0.5);

  // Every form on both adapters: the timing test below compiles them all anyway.
  it.each(MATMUL_FORMS.map((f) => [matmulFormName(f), f] as const))('%s: the form computes S = Q K^T, every element', async (_, form) => {
    const { device } = gpu!;
    const values = (rows: number, value: (r: number, d: number) => number) => Float32Array.from({ length: 4 * rows * size.dq4 }, (_, e) => value(Math.floor(e / (4 * size.dq4)), e % (4 * size.dq4)));
    const filled = (data: Float32Array<ArrayBuffer>) => {
      const b = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(b, 0, data);
      return b;
    };
    const qRows = values(size.heads, qValue);
    // A texture form reads its operand from the texture alone: that buffer is zero, so a read of it shows.
    const texture = form.queries === 'texture' ? matmulTexture(device, 'queries', size, qRows) : undefined;
    const q = filled(texture ? new Float32Array(qRows.length) : qRows);
    const kRows = values(size.keys, kValue);
    const keyTexture = form.keys === 'texture' ? matmulTexture(device, 'keys', size, kRows) : undefined;
    const keys = filled(keyTexture ? new Float32Array(kRows.length) : kRows);
    const scores = device.createBuffer({ size: 4 * size.heads * size.keys, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const entries = { q, keys, scores, ...(texture ? { queryTexture: texture.createView() } : {}), ...(keyTexture ? { cacheTexture: keyTexture.createView() } : {}) };
    const out = await runAndRead(device, await matmulPipeline(device, form, size), entries, scores, matmulWorkgroups(form.block, size));
    texture?.destroy();
    keyTexture?.destroy();
    [q, keys, scores].forEach((b) => b.destroy());
    // Every value is a multiple of 1/16 and every product and partial sum fits f32 exactly (|S| <= 216 in
    // steps of 1/128): no rounding in any order, so every element must equal the sum, to the bit.
    let wrong = '';
    for (let h = 0; h < size.heads && !wrong; h++) {
      for (let n = 0; n < size.keys && !wrong; n++) {
        let want = 0;
        for (let d = 0; d < 4 * size.dq4; d++) want += qValue(h, d) * kValue(n, d);
        if (out[h * size.keys + n] !== want) wrong = `S[${h}, ${n}]: expected ${want}, got ${out[h * size.keys + n]}`;
      }
    }
    expect(wrong, 'the first wrong element').toBe('');
  });

  it('refuses a size its blocks do not tile, naming both', async () => {
    await expect(matmulPipeline(gpu!.device, { block: 16, queries: 'storage', keys: 'storage' }, { heads: 24, keys: 48, dq4: 5 })).rejects.toThrow('plain matmul: heads 24 and keys 48 must be multiples of the block (16)');
  });

  it('is measured in every form, against the same run\'s ceiling', async () => {
    const roof = await measureRoofline(gpu!, { warmup: 1, samples: 3 });
    const m = await measurePlainMatmul(gpu!, roof, { warmup: 1, samples: 3 }, size); // the pipelines of the test above
    process.stderr.write(`[plain matmul] ${m.forms.map((f) => `${matmulFormShort(f)} ${f.gflops.toFixed(2)} GFLOP/s`).join(', ')}\n`);
    expect(m.forms.map(matmulFormShort)).toEqual([
      '8x8 storage', '8x8 texture', '8x8 textures', '16x16 storage', '16x16 texture', '16x16 textures', '32x32 storage', '32x32 texture', '32x32 textures',
    ]);
    for (const f of m.forms) {
      expect(Number.isFinite(f.gflops) && f.gflops > 0, matmulFormName(f)).toBe(true);
      expect(f.fmaFraction).toBeCloseTo(f.gflops / roof.fmaGflops, 12);
    }
  });
});
