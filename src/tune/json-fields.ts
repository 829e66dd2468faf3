/**
 * Reading a JSON document someone hands in (a device profile, exported
 * ladder results): each field is checked as it is read, and a bad one is
 * refused with the document's name, the field's path and what is allowed.
 */

export class JsonFieldError extends Error {
  constructor(where: string, path: string, what: string) {
    super(`${where}: ${path} ${what}`);
    this.name = 'JsonFieldError';
  }
}

/** `v` when `ok` says it is what `expected` describes; else a JsonFieldError naming `path`. */
export function field<T>(where: string, path: string, v: unknown, ok: (x: unknown) => x is T, expected: string): T {
  if (!ok(v)) throw new JsonFieldError(where, path, `is ${JSON.stringify(v) ?? 'missing'}, expected ${expected}`);
  return v;
}

export const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
export const isPos = (x: unknown): x is number => isNum(x) && x > 0;
export const isInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;
export const isStr = (x: unknown): x is string => typeof x === 'string';
export const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
export const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
export const oneOfValues = <T>(allowed: readonly T[]) => (x: unknown): x is T => (allowed as readonly unknown[]).includes(x);

/** The object parsed from `text`, or an error naming `where`. */
export function parseJsonObject(text: string, where: string, what: string): Record<string, unknown> {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new Error(`${where}: not JSON (${(e as Error).message})`); }
  return field(where, what, raw, isObj, 'an object');
}
