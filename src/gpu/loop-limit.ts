/**
 * Find whether this device cuts long loops short, and where. Mesa's llvmpipe
 * stops every loop of a shader invocation after 65535 iterations in all,
 * without an error (shaders/loop_probe.wgsl); a kernel that walks a long
 * row in one thread then reads part of it. The probe asks for more and
 * counts what ran; the planners keep each invocation well under it.
 */
import { getPipeline } from './pipelines';
import { bindGroup } from './bindings';

/** Iterations the probe asks for: more than any limiter known. */
const ASKED = 1 << 20;

/** The loop iterations one invocation may run, or 0 when the probe's loop ran to its end (no limit found). */
export async function probeLoopLimit(device: GPUDevice): Promise<number> {
  const pipeline = await getPipeline(device, { kernel: 'loop-probe', files: ['loop_probe.wgsl'], entryPoint: 'main', constants: {} });
  const out = device.createBuffer({ label: 'loop probe out', size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const asked = device.createBuffer({ label: 'loop probe in', size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const read = device.createBuffer({ label: 'loop probe read', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    device.queue.writeBuffer(asked, 0, Uint32Array.from([ASKED, 0, 0, 0]));
    const encoder = device.createCommandEncoder({ label: 'loop probe' });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup(device, pipeline, 'loop probe', { probeOut: out, probeIn: asked }));
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(out, 0, read, 0, 16);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ran = new Uint32Array(read.getMappedRange())[0];
    read.unmap();
    return ran < ASKED ? ran : 0;
  } finally {
    [out, asked, read].forEach((b) => b.destroy());
  }
}
