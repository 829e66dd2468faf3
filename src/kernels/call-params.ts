/**
 * The per-call uniform of shaders/params.wgsl. The field order is read from
 * the WGSL struct itself, so the shader is the one place it is written; the
 * host fills fields by name and refuses a missing or unknown one.
 */
import { SHADER_FILES } from '../gpu/shader-source';

export interface ParamField {
  readonly name: string;
  readonly type: 'u32' | 'i32' | 'f32';
}

/** Fields of `struct Params` in shaders/params.wgsl, in order (all 4-byte scalars). */
export function paramFields(source: string = SHADER_FILES['params.wgsl']): ParamField[] {
  const body = /struct\s+Params\s*\{([^}]*)\}/.exec(source)?.[1];
  if (!body) throw new Error('params.wgsl: struct Params not found');
  const fields: ParamField[] = [];
  for (const line of body.split('\n')) {
    const text = line.replace(/\/\/.*$/, '').trim();
    if (text === '') continue;
    const m = /^(\w+)\s*:\s*(u32|i32|f32)\s*,?$/.exec(text);
    if (!m) throw new Error(`params.wgsl: cannot read the struct Params line "${text}": each field must be "name: u32|i32|f32," on its own line`);
    fields.push({ name: m[1], type: m[2] as ParamField['type'] });
  }
  return fields;
}

export type CallParams = Readonly<Record<string, number>>;

/** Pack the values into the uniform's bytes (padded to 16 bytes). */
export function packParams(values: CallParams, fields: ParamField[] = paramFields()): ArrayBuffer {
  const known = new Set(fields.map((f) => f.name));
  for (const key of Object.keys(values)) {
    if (!known.has(key)) throw new Error(`params.wgsl has no field ${key}`);
  }
  const bytes = new ArrayBuffer(Math.ceil((4 * fields.length) / 16) * 16);
  const view = new DataView(bytes);
  fields.forEach((f, k) => {
    const v = values[f.name];
    if (v === undefined) throw new Error(`params.wgsl field ${f.name} was not given a value`);
    if (f.type === 'f32') view.setFloat32(4 * k, v, true);
    else if (f.type === 'i32') view.setInt32(4 * k, v, true);
    else view.setUint32(4 * k, v, true);
  });
  return bytes;
}
