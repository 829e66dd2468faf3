/**
 * The FMA ceiling is what registers can do, whatever form the kernel takes.
 * roofline.wgsl's fmaChain is timed in each of its forms (4 and 8 named vec4
 * chains) and the ceiling is the fastest, so no form of the work beats it by
 * construction; no timing is asserted here (timings on these adapters vary by
 * 30 % between runs). What is tested: every form does the work it is
 * credited with (its output matches the chains computed here, so the
 * compiler dropped nothing and the host's FLOP count is the shader's), and
 * the ceiling reported is the fastest form measured.
 */
import { describe, expect, it } from 'vitest';
import { testGpu } from './support/gpu';
import { FMA_CHAIN_FORMS, FMA_STEPS, fmaPipeline, measureRoofline } from '../src/timing/roofline';
import { bindGroup } from '../src/kernels/kernel-plan';
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

describe.skipIf(!gpu)('FMA ceiling', () => {
  it.each(FMA_CHAIN_FORMS)('the %i-chain form computes what it is credited with', async (chains) => {
    const { device } = gpu!;
    const pipeline = await fmaPipeline(device, chains);
    const bytes = 16 * WG;
    const dst = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup(device, pipeline, 'fma', { dst }));
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(dst, 0, read, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    dst.destroy();
    read.destroy();
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
