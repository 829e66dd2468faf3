/**
 * NumPy .npy files (format versions 1-3), for loading your own tensors
 * (e.g. dumped from FlashMLA) and saving results. Only what the sandbox
 * uses: little-endian float32, uint8 and int32, C order.
 */

export type NpyDtype = 'float32' | 'uint8' | 'int32';

export interface NpyArray {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Uint8Array | Int32Array;
}

const DESCR: Record<string, NpyDtype> = { '<f4': 'float32', '|u1': 'uint8', '<u1': 'uint8', '<i4': 'int32' };
const DESCR_OF: Record<NpyDtype, string> = { float32: '<f4', uint8: '|u1', int32: '<i4' };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy(bytes: Uint8Array, name = 'array'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error(`${name}: not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${name}: unreadable .npy header ${JSON.stringify(header.trim())}`);
  const dtype = DESCR[descr];
  if (!dtype) throw new Error(`${name}: dtype ${descr} is not supported: use float32 (<f4), uint8 (|u1) or int32 (<i4), little-endian`);
  if (fortran === 'True') throw new Error(`${name}: Fortran-order arrays are not supported: save a C-order array (np.ascontiguousarray)`);
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = dims.find((d) => !/^\d+$/.test(d));
  if (bad !== undefined) throw new Error(`${name}: the .npy header's shape (${shapeText.trim()}) has dimension ${JSON.stringify(bad)}: each must be a whole number >= 0`);
  const shape = dims.map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const itemSize = dtype === 'uint8' ? 1 : 4;
  if (bytes.length - offset < count * itemSize) throw new Error(`${name}: file holds ${bytes.length - offset} data bytes, shape [${shape.join(', ')}] needs ${count * itemSize}`);
  const raw = bytes.slice(offset, offset + count * itemSize); // copy: aligned, owned
  const data = dtype === 'float32' ? new Float32Array(raw.buffer) : dtype === 'int32' ? new Int32Array(raw.buffer) : raw;
  return { dtype, shape, data };
}

export function encodeNpy(array: NpyArray): Uint8Array {
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[array.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + array.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength), 10 + header.length);
  return out;
}

/**
 * Check an array's dtype and shape; `expected` entries may be null (any size).
 * The error names the file, the expected and the found shape.
 */
export function expectNpy(array: NpyArray, name: string, dtypes: readonly NpyDtype[], expected: readonly (number | null)[], what: string): void {
  const fmt = (s: readonly (number | null)[]) => `[${s.map((d) => d ?? '?').join(', ')}]`;
  const ok = dtypes.includes(array.dtype) && array.shape.length === expected.length
    && expected.every((d, i) => d === null || d === array.shape[i]);
  if (!ok) {
    throw new Error(`${name}: expected ${dtypes.join(' or ')} ${fmt(expected)} (${what}), found ${array.dtype} ${fmt(array.shape)}`);
  }
}
