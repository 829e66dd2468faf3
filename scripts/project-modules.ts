/**
 * The project's modules for a measuring script, loaded through Vite (they
 * import WGSL files as text, which tsx alone cannot), with the ones every
 * such script needs: the device, its description, the head presets, the
 * seeded inputs, the runner's prepareAttention and the timer. `load` brings
 * any other module; `close` ends the server.
 */
import { createServer } from 'vite';

export async function projectModules() {
  const server = await createServer({ server: { middlewareMode: true }, logLevel: 'error' });
  const load = <T>(path: string) => server.ssrLoadModule(path) as Promise<T>;
  const { openNodeDevice } = await load<typeof import('../src/gpu/node-device')>('/src/gpu/node-device.ts');
  const { describeAdapter } = await load<typeof import('../src/gpu/device')>('/src/gpu/device.ts');
  const { presetShape } = await load<typeof import('../src/mla/shape')>('/src/mla/shape.ts');
  const { generateInputs } = await load<typeof import('../src/mla/inputs')>('/src/mla/inputs.ts');
  const { prepareAttention, submitChecked } = await load<typeof import('../src/run/runner')>('/src/run/runner.ts');
  const { timeWork, summarize } = await load<typeof import('../src/timing/timer')>('/src/timing/timer.ts');
  return { load, close: () => server.close(), openNodeDevice, describeAdapter, presetShape, generateInputs, prepareAttention, submitChecked, timeWork, summarize };
}
