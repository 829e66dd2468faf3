import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const choice = process.env.A ?? 'llvmpipe';
let gpu, req = { powerPreference: 'high-performance' };
if (choice === 'llvmpipe') { process.env.EGL_PLATFORM ??= 'surfaceless'; gpu = create(['backend=opengles']); req.featureLevel = 'compatibility'; }
else { process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json'; gpu = create(['backend=vulkan']); }
globalThis.__keep = gpu; if (!globalThis.navigator) globalThis.navigator = {}; if (!globalThis.navigator.gpu) Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
const adapter = await gpu.requestAdapter(req);
console.log(adapter.info.description);
const requiredLimits = {};
for (const n of ['maxComputeWorkgroupStorageSize','maxStorageBufferBindingSize','maxBufferSize','maxComputeInvocationsPerWorkgroup','maxComputeWorkgroupSizeX','maxStorageBuffersPerShaderStage']) requiredLimits[n] = adapter.limits[n];
const device = await adapter.requestDevice({ requiredLimits });
device.addEventListener?.('uncapturederror', (e) => console.log('uncaptured', e.error.message));
const tf = await import('@tensorflow/tfjs-core');
const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
tf.removeBackend('webgpu'); tf.registerBackend('webgpu', () => new WebGPUBackend(device), 10);
console.log('set', await tf.setBackend('webgpu'), tf.getBackend());
const H = 64, D = 576, N = 4096, DV = 512;
const q = tf.randomNormal([H, D]);
const k = tf.randomNormal([N, D]);
const v = tf.slice(k, [0, 0], [N, DV]);
const run = () => tf.tidy(() => {
  const s = tf.mul(tf.matMul(q, k, false, true), 1 / 24);
  const p = tf.softmax(s);
  return tf.matMul(p, v);
});
for (let w = 0; w < 2; w++) { const o = run(); const d = await o.data(); o.dispose(); console.log('warm', d[0], d[5]); }
const times = [];
for (let i = 0; i < 5; i++) { const t = performance.now(); const o = run(); await o.data(); o.dispose(); times.push(performance.now() - t); }
console.log(times.map((t) => t.toFixed(1)).join(' '));
process.exit(0);
