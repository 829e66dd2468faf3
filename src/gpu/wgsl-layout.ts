/**
 * Facts the host reads from the WGSL itself, so that they are written once:
 *   - the workgroup memory a kernel declares, for given override values
 *     (`var<workgroup> NAME: array<T, EXPR>`, EXPR over overrides and consts);
 *   - a `const` or `override` value.
 * A declaration this reader does not understand is an error, never skipped.
 */

/** Bytes of a WGSL type (storage layout; vec3 takes 16). */
const TYPE_BYTES: Record<string, number> = {
  f32: 4, u32: 4, i32: 4, 'atomic<u32>': 4, 'atomic<i32>': 4, 'vec2<f32>': 8, 'vec2<u32>': 8, 'vec4<f32>': 16, 'vec4<u32>': 16, 'vec4<i32>': 16, 'vec3<f32>': 16, 'vec3<u32>': 16, 'mat4x4<f32>': 64,
};

interface Declarations {
  /** const and override initialisers by name (overrides without one are absent). */
  readonly values: ReadonlyMap<string, string>;
  readonly workgroup: readonly { name: string; type: string; count?: string }[];
}

/** Parsed modules by source; bounded, since every edit on the page is a new source. */
const parsed = new Map<string, Declarations>();
const MAX_PARSED = 32;

function stripComments(code: string): string {
  return code.replace(/\/\/[^\n]*/g, '');
}

function declarations(code: string): Declarations {
  let d = parsed.get(code);
  if (d) return d;
  const src = stripComments(code);
  const values = new Map<string, string>();
  for (const m of src.matchAll(/\b(?:const|override)\s+(\w+)\s*(?::\s*\w+)?\s*=\s*([^;]+);/g)) values.set(m[1], m[2].trim());
  const workgroup: { name: string; type: string; count?: string }[] = [];
  for (const m of src.matchAll(/var\s*<\s*workgroup\s*>\s*([^;]+);/g)) {
    const decl = /^(\w+)\s*:\s*(?:array\s*<\s*(\w+(?:<\w+>)?)\s*,\s*(.+)>|(\w+(?:<\w+>)?))\s*$/.exec(m[1].trim());
    if (!decl) throw new Error(`cannot read the workgroup declaration "var<workgroup> ${m[1].trim()}"`);
    const type = decl[2] ?? decl[4];
    if (!(type in TYPE_BYTES)) throw new Error(`workgroup variable ${decl[1]}: element type ${type} is not in the size table (src/gpu/wgsl-layout.ts)`);
    workgroup.push({ name: decl[1], type, count: decl[3] });
  }
  d = { values, workgroup };
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value!);
  parsed.set(code, d);
  return d;
}

/**
 * Evaluate an integer or float WGSL expression of literals, names, + - * / %
 * and parentheses. Names come from `given` first, then the module's own
 * const/override initialisers. u32 division truncates.
 */
export function evaluateWgsl(expr: string, code: string, given: Readonly<Record<string, number>>, seen: string[] = []): number {
  const { values } = declarations(code);
  const tokens = expr.match(/\d+\.\d*(?:e[+-]?\d+)?[fu]?|\d+(?:e[+-]?\d+)?[uif]?|\w+|[-+*/%()]/g) ?? [];
  if (tokens.join('').replace(/\s/g, '') !== expr.replace(/\s/g, '')) throw new Error(`cannot evaluate the WGSL expression "${expr}"`);
  let pos = 0;
  const value = (name: string): number => {
    if (name in given) return given[name];
    const init = values.get(name);
    if (init === undefined) throw new Error(`WGSL name ${name} has no value (an override the host must set?)`);
    if (seen.includes(name)) throw new Error(`WGSL value ${name} refers to itself`);
    return evaluateWgsl(init, code, given, [...seen, name]);
  };
  const primary = (): number => {
    const t = tokens[pos++];
    if (t === undefined) throw new Error(`WGSL expression "${expr}" ends early`);
    if (t === '(') { const v = sum(); if (tokens[pos++] !== ')') throw new Error(`unbalanced "(" in "${expr}"`); return v; }
    if (t === '-') return -primary();
    if (/^\d/.test(t)) return Number(t.replace(/[uif]$/, ''));
    return value(t);
  };
  const product = (): number => {
    let v = primary();
    while (tokens[pos] === '*' || tokens[pos] === '/' || tokens[pos] === '%') {
      const op = tokens[pos++];
      const r = primary();
      const integer = Number.isInteger(v) && Number.isInteger(r);
      v = op === '*' ? v * r : op === '%' ? v % r : integer ? Math.trunc(v / r) : v / r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (tokens[pos] === '+' || tokens[pos] === '-') v = tokens[pos++] === '+' ? v + product() : v - product();
    return v;
  };
  const v = sum();
  if (pos !== tokens.length) throw new Error(`cannot evaluate the WGSL expression "${expr}"`);
  return v;
}

/** Workgroup memory the module declares, in bytes, for these override values. */
export function workgroupBytesOf(code: string, overrides: Readonly<Record<string, number>>): number {
  let total = 0;
  for (const w of declarations(code).workgroup) {
    total += TYPE_BYTES[w.type] * (w.count === undefined ? 1 : evaluateWgsl(w.count, code, overrides));
  }
  return total;
}

/** The value of a `const` or `override` with an initialiser. */
export function wgslValue(code: string, name: string, given: Readonly<Record<string, number>> = {}): number {
  return evaluateWgsl(name, code, given);
}

/** A field of a uniform struct: a 4-byte scalar. */
export interface ParamField {
  readonly name: string;
  readonly type: 'u32' | 'i32' | 'f32';
}

/**
 * Fields of a uniform struct of 4-byte scalars, in order, read from the WGSL
 * (`name: u32|i32|f32,` a line each): the shader is where the order is written.
 */
export function uniformFields(source: string, struct: string, file: string): ParamField[] {
  const body = new RegExp(`struct\\s+${struct}\\s*\\{([^}]*)\\}`).exec(source)?.[1];
  if (!body) throw new Error(`${file}: struct ${struct} not found`);
  const fields: ParamField[] = [];
  for (const line of body.split('\n')) {
    const text = line.replace(/\/\/.*$/, '').trim();
    if (text === '') continue;
    const m = /^(\w+)\s*:\s*(u32|i32|f32)\s*,?$/.exec(text);
    if (!m) throw new Error(`${file}: cannot read the struct ${struct} line "${text}": each field must be "name: u32|i32|f32," on its own line`);
    fields.push({ name: m[1], type: m[2] as ParamField['type'] });
  }
  return fields;
}

/** Values by field name, as a uniform's bytes. */
export type UniformValues = Readonly<Record<string, number>>;

/** Pack values by field name into a uniform's bytes (padded to 16); a missing or unknown field is an error naming `file`. */
export function packUniform(values: UniformValues, fields: readonly ParamField[], file: string): ArrayBuffer {
  const known = new Set(fields.map((f) => f.name));
  for (const key of Object.keys(values)) {
    if (!known.has(key)) throw new Error(`${file} has no field ${key}`);
  }
  const bytes = new ArrayBuffer(Math.ceil((4 * fields.length) / 16) * 16);
  const view = new DataView(bytes);
  fields.forEach((f, k) => {
    const v = values[f.name];
    if (v === undefined) throw new Error(`${file} field ${f.name} was not given a value`);
    if (f.type === 'f32') view.setFloat32(4 * k, v, true);
    else if (f.type === 'i32') view.setInt32(4 * k, v, true);
    else view.setUint32(4 * k, v, true);
  });
  return bytes;
}
