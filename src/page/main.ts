/**
 * The page (first version): run the default call, V3.2 shape with an FP8
 * cache through the flash kernel, on the visitor's GPU, and show the check
 * against the CPU reference.
 */
import { openBrowserDevice } from '../gpu/browser-device';
import { describeAdapter } from '../gpu/device';
import { presetShape } from '../shape';
import { generateInputs } from '../inputs';
import { runAttention } from '../run-attention';
import { formatCheck } from '../check';

const app = document.getElementById('app')!;

function show(html: string): void {
  app.insertAdjacentHTML('beforeend', html);
}

function escape(s: string): string {
  return s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

async function main(): Promise<void> {
  let ctx;
  try {
    ctx = await openBrowserDevice();
  } catch (e) {
    show(`<p class="notice" id="no-webgpu">WebGPU is not available: ${escape((e as Error).message)}</p>`);
    return;
  }
  show(`<p>Adapter: <code id="adapter">${escape(describeAdapter(ctx.adapter))}</code></p>`);
  const shape = presetShape('v32', { seqlens: [512, 300], hQ: 16 });
  show('<p id="status">Running V3.2 (576), FP8 cache, flash kernel...</p>');
  const run = await runAttention(ctx, generateInputs(shape, { seed: 0 }), { kernel: 'flash', kvFormat: 'fp8' });
  document.getElementById('status')!.textContent = 'V3.2 (576), FP8 cache, flash kernel, checked against the CPU reference:';
  show(`<p id="check" class="${run.check.pass ? 'pass' : 'fail'}">${escape(formatCheck(run.check))}</p>`);
}

main().catch((e: Error) => show(`<p class="fail" id="error">${escape(e.message)}</p>`));
