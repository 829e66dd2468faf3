/**
 * The per-call uniform of shaders/params.wgsl. The field order is read from
 * the WGSL struct itself, so the shader is the one place it is written; the
 * host fills fields by name and refuses a missing or unknown one.
 */
import { SHADER_FILES } from '../gpu/shader-source';
import { type ParamField, type UniformValues, packUniform, uniformFields } from '../gpu/wgsl-layout';

export type { ParamField };

/** Fields of `struct Params` in shaders/params.wgsl, in order (all 4-byte scalars). */
export function paramFields(source: string = SHADER_FILES['params.wgsl']): ParamField[] {
  return uniformFields(source, 'Params', 'params.wgsl');
}

export type CallParams = UniformValues;

/** Pack the values into the uniform's bytes (padded to 16 bytes). */
export function packParams(values: CallParams, fields: ParamField[] = paramFields()): ArrayBuffer {
  return packUniform(values, fields, 'params.wgsl');
}
