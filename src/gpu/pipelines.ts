/**
 * Compile kernels into compute pipelines, once per specialisation (the set of
 * override constants), and turn compile errors into messages that name the
 * kernel, the WGSL file and the line.
 */
import { COMPOSE_OPTIONS, type ComposeOptions, type ShaderEdits, type ShaderFileName, composeShader, locateLine } from './shader-source';
import { DECLARED_LAYOUTS, type DeclaredBinding, bindingMismatches, declaredBindings, declaredLayoutEntry } from './bindings';

/** A pipeline to make: its module's files and constants, and the marked lines the module keeps (ComposeOptions, shader-source.ts). */
export interface PipelineSpec extends ComposeOptions {
  /** Kernel name for messages, e.g. "v4-tiled". */
  readonly kernel: string;
  /** Files concatenated into the module, shared files first. */
  readonly files: readonly ShaderFileName[];
  readonly entryPoint: string;
  readonly constants: Readonly<Record<string, number>>;
  readonly edits?: ShaderEdits;
}

export interface ShaderMessage {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly type: GPUCompilationMessageType;
  readonly message: string;
}

/** A WGSL compile or pipeline error, with the messages mapped to their files. */
export class ShaderCompileError extends Error {
  constructor(readonly kernel: string, readonly messages: readonly ShaderMessage[], detail?: string) {
    const lines = messages.filter((m) => m.type === 'error').map((m) => `${m.file}:${m.line}:${m.column}: ${m.message}`);
    super(`kernel ${kernel} failed to compile: ${lines.join('; ') || detail || 'unknown error'}`);
    this.name = 'ShaderCompileError';
  }
}

const caches = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** The marked lines the spec's module keeps (shader-source.ts), for composing it and for telling an edit from the shipped files. */
const composeOptions = (spec: PipelineSpec): ComposeOptions => Object.fromEntries(COMPOSE_OPTIONS.map((o) => [o, spec[o]]));

export function getPipeline(device: GPUDevice, spec: PipelineSpec): Promise<GPUComputePipeline> {
  let cache = caches.get(device);
  if (!cache) { cache = new Map(); caches.set(device, cache); }
  const shader = composeShader(spec.files, spec.edits, composeOptions(spec));
  const key = JSON.stringify([spec.entryPoint, spec.constants, shader.code]);
  let pipeline = cache.get(key);
  if (!pipeline) {
    pipeline = compile(device, spec, shader);
    cache.set(key, pipeline);
    pipeline.catch(() => cache?.delete(key)); // a failed compile is not cached
  }
  return pipeline;
}

async function compile(device: GPUDevice, spec: PipelineSpec, shader: ReturnType<typeof composeShader>): Promise<GPUComputePipeline> {
  const mismatched = bindingMismatches(shader.code).map((m): ShaderMessage => {
    const at = locateLine(shader, m.line);
    return { file: at?.file ?? '(module)', line: at?.line ?? m.line, column: 1, type: 'error', message: m.message };
  });
  if (mismatched.length > 0) throw new ShaderCompileError(spec.kernel, mismatched);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: shader.code, label: spec.kernel });
  const info = await module.getCompilationInfo();
  await device.popErrorScope(); // the compilation info below says what went wrong
  const messages: ShaderMessage[] = info.messages.map((m) => {
    const at = locateLine(shader, m.lineNum);
    return { file: at?.file ?? '(module)', line: at?.line ?? m.lineNum, column: m.linePos, type: m.type, message: m.message };
  });
  if (messages.some((m) => m.type === 'error')) throw new ShaderCompileError(spec.kernel, messages);
  try {
    const { layout, declared } = layoutFor(device, spec, shader.code);
    const pipeline = await device.createComputePipelineAsync({
      label: `${spec.kernel}:${spec.entryPoint}`,
      layout,
      compute: { module, entryPoint: spec.entryPoint, constants: { ...spec.constants } },
    });
    if (declared) DECLARED_LAYOUTS.set(pipeline, declared);
    return pipeline;
  } catch (e) {
    throw new ShaderCompileError(spec.kernel, messages, (e as Error).message);
  }
}

/**
 * The pipeline layout: 'auto' (the bindings the entry point uses) for the
 * shipped files; for edited ones, every binding the module declares. An
 * edit that stops using a buffer (a learner's half-written code, a line
 * commented out) then still takes the host's bind group, where an 'auto'
 * layout would leave that binding out and the bind group would not fit.
 */
function layoutFor(device: GPUDevice, spec: PipelineSpec, code: string): { layout: GPUPipelineLayout | 'auto'; declared?: DeclaredBinding[] } {
  if (!spec.edits || code === composeShader(spec.files, {}, composeOptions(spec)).code) return { layout: 'auto' };
  const declared = declaredBindings(code);
  const group = device.createBindGroupLayout({
    label: `${spec.kernel}: every binding declared`,
    entries: declared.map(declaredLayoutEntry),
  });
  return { layout: device.createPipelineLayout({ label: `${spec.kernel}:${spec.entryPoint} (declared)`, bindGroupLayouts: [group] }), declared };
}

/** The value of a `const NAME: T = VALUE;` in a shader file, so the host never restates it. */
export function shaderConstant(source: string, name: string): number {
  const m = new RegExp(`const\\s+${name}\\s*:\\s*\\w+\\s*=\\s*([0-9.eE+-]+)u?\\s*;`).exec(source);
  if (!m) throw new Error(`shader constant ${name} not found`);
  return Number(m[1]);
}
