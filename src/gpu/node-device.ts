/**
 * WebGPU in Node through Dawn (the `webgpu` package), on any Linux machine,
 * with or without a GPU. MLA_ADAPTER picks how the adapter is found:
 *   auto (default)  the system's own GPU driver first; else SwiftShader's
 *                   Vulkan driver (shipped with Debian's chromium package);
 *                   else Mesa llvmpipe through OpenGL ES (compatibility mode)
 *   native          the system's own driver only
 *   swiftshader     SwiftShader (VK_ICD_FILENAMES set to its ICD)
 *   llvmpipe        Mesa llvmpipe, backend=opengles, EGL_PLATFORM=surfaceless
 */
import { create, globals } from 'webgpu';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GpuContext, NoAdapterError, openDeviceOnAdapter, requestAdapter } from './device';

export const NODE_ADAPTER_CHOICES = ['auto', 'native', 'swiftshader', 'llvmpipe'] as const;
export type NodeAdapterChoice = (typeof NODE_ADAPTER_CHOICES)[number];

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Dawn toggles turned off on SwiftShader (in Node here; in Chromium by the
 * page tests' --disable-dawn-features). With this one on, Dawn leaves WGSL's
 * zeroing of workgroup memory to the Vulkan driver
 * (VK_KHR_zero_initialize_workgroup_memory), and SwiftShader compiles that
 * zeroing so slowly that it was most of v4's compile; off, Tint writes it
 * into the shader as a loop over the workgroup's threads. The memory is
 * zeroed the same; the figures are in docs/kernels.md, "What a compile costs".
 */
export const SWIFTSHADER_DAWN_TOGGLES_OFF = ['use_vulkan_zero_initialize_workgroup_memory_extension'] as const;

interface Attempt {
  readonly name: Exclude<NodeAdapterChoice, 'auto'>;
  readonly label: string;
  readonly prepare: () => string | undefined; // returns why it cannot be tried
  readonly dawnFlags: string[];
  readonly featureLevel?: 'compatibility';
}

const ATTEMPTS: Record<Exclude<NodeAdapterChoice, 'auto'>, Attempt> = {
  native: { name: 'native', label: 'the system\'s GPU driver', prepare: () => missingVulkanDriver(), dawnFlags: [] },
  swiftshader: {
    name: 'swiftshader', label: 'SwiftShader (Vulkan, software)', dawnFlags: ['backend=vulkan', `disable-dawn-features=${SWIFTSHADER_DAWN_TOGGLES_OFF.join(',')}`],
    prepare: () => {
      if (!existsSync(SWIFTSHADER_ICD)) return `${SWIFTSHADER_ICD} is missing (apt-get install chromium libvulkan1)`;
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      return undefined;
    },
  },
  llvmpipe: {
    name: 'llvmpipe', label: 'Mesa llvmpipe (OpenGL ES, compatibility mode, software)', dawnFlags: ['backend=opengles'],
    featureLevel: 'compatibility',
    prepare: () => {
      process.env.EGL_PLATFORM ??= 'surfaceless';
      return undefined;
    },
  },
};

/** Where the Vulkan loader looks for drivers (ICD files) on Linux. */
function vulkanIcdDirs(): string[] {
  const data = (process.env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':');
  const config = (process.env.XDG_CONFIG_DIRS ?? '/etc/xdg').split(':');
  return [...new Set([...config, '/etc', ...data, join(homedir(), '.local/share')].map((d) => join(d, 'vulkan/icd.d')))];
}

/**
 * Why the native path is not worth trying on Linux: no Vulkan driver is
 * installed, so Dawn would only print the loader's "Found no drivers!"
 * warning (which reads as an error). Undefined where one may be there.
 */
function missingVulkanDriver(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES || process.env.VK_ADD_DRIVER_FILES) return undefined;
  const dirs = vulkanIcdDirs();
  const found = dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
  return found ? undefined : `no Vulkan driver installed (no ICD file in ${dirs.join(', ')})`;
}

let globalsInstalled = false;
/**
 * Dawn's GPU objects must outlive their devices: if one is garbage collected,
 * its instance goes with it and the device's next call crashes the process.
 */
const liveInstances: unknown[] = [];

/** Dawn's WebGPU classes (GPUBufferUsage, ...) as globals, as in a browser. */
export function installWebGpuGlobals(): void {
  if (globalsInstalled) return;
  Object.assign(globalThis, globals);
  globalsInstalled = true;
}

function ensureRuntimeDir(): void {
  if (process.env.XDG_RUNTIME_DIR) return;
  const dir = join(tmpdir(), `mla-sandbox-xdg-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}

/**
 * Find an adapter and open a device. `choice` defaults to $MLA_ADAPTER, then 'auto'.
 * Throws NoAdapterError listing what was tried.
 */
export async function openNodeDevice(choice: string = process.env.MLA_ADAPTER ?? 'auto'): Promise<GpuContext> {
  if (!(NODE_ADAPTER_CHOICES as readonly string[]).includes(choice)) {
    throw new Error(`MLA_ADAPTER = ${JSON.stringify(choice)} is not allowed: MLA_ADAPTER must be one of ${NODE_ADAPTER_CHOICES.join(', ')}`);
  }
  installWebGpuGlobals();
  ensureRuntimeDir();
  const order: Attempt[] = choice === 'auto'
    ? [ATTEMPTS.native, ATTEMPTS.swiftshader, ATTEMPTS.llvmpipe]
    : [ATTEMPTS[choice as Exclude<NodeAdapterChoice, 'auto'>]];
  const tried: string[] = [];
  for (const attempt of order) {
    const why = attempt.prepare();
    if (why) { tried.push(`${attempt.label}: ${why}`); continue; }
    const gpu = create(attempt.dawnFlags) as unknown as GPU;
    liveInstances.push(gpu);
    const adapter = await requestAdapter(gpu, { featureLevel: attempt.featureLevel });
    if (!adapter) { tried.push(`${attempt.label}: no adapter`); continue; }
    // In auto mode a CPU adapter found through the "native" path (e.g. a
    // system lavapipe) is fine too: it is what the machine offers.
    return openDeviceOnAdapter(adapter, { source: `Dawn in Node, ${attempt.label}`, featureLevel: attempt.featureLevel, cpuThreads: availableParallelism() });
  }
  throw new NoAdapterError(`no WebGPU adapter found in Node (MLA_ADAPTER=${choice}). Tried: ${tried.join('; ')}`);
}
