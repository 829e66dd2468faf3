import { describe, expect, it } from 'vitest';
import { encodeNpy, expectNpy, parseNpy } from '../src/run/npy';

/** A .npy header as numpy writes it, for hand-made files. */
function npyFile(header: string, data: Uint8Array): Uint8Array {
  let h = header;
  h += ' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(new TextEncoder().encode(h), 10);
  out.set(data, 10 + h.length);
  return out;
}

describe('npy', () => {
  it('round-trips float32, uint8 and int32 in C order', () => {
    const f = { dtype: 'float32' as const, shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) };
    const u = { dtype: 'uint8' as const, shape: [4], data: Uint8Array.from([0, 1, 254, 255]) };
    const i = { dtype: 'int32' as const, shape: [1, 2, 2], data: Int32Array.from([-2147483648, -1, 0, 2147483647]) };
    for (const a of [f, u, i]) {
      const bytes = encodeNpy(a);
      expect((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64).toBe(0); // data aligned as numpy does
      const back = parseNpy(bytes);
      expect(back.dtype).toBe(a.dtype);
      expect(back.shape).toEqual(a.shape);
      expect([...back.data]).toEqual([...a.data]);
    }
  });

  it('reads a header written by numpy, with a 1-d shape', () => {
    const data = new Uint8Array(new Int32Array([7, 8, 9]).buffer);
    const a = parseNpy(npyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", data));
    expect(a.shape).toEqual([3]);
    expect([...a.data]).toEqual([7, 8, 9]);
  });

  it('keeps C order: element [i][j] is at i * cols + j', () => {
    const a = parseNpy(encodeNpy({ dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 1, 2, 10, 11, 12]) }));
    expect(a.data[1 * 3 + 2]).toBe(12);
  });

  it('rejects Fortran order, other dtypes, big-endian and short files', () => {
    const data = new Uint8Array(16);
    expect(() => parseNpy(npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data), 'k.npy'))
      .toThrow(/^k.npy: Fortran-order arrays are not supported/);
    expect(() => parseNpy(npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data), 'd.npy'))
      .toThrow(/^d.npy: dtype <f8 is not supported/);
    expect(() => parseNpy(npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data), 'b.npy'))
      .toThrow(/dtype >f4 is not supported/);
    expect(() => parseNpy(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", data), 's.npy'))
      .toThrow(/^s.npy: file holds 16 data bytes, shape \[10\] needs 40/);
    expect(() => parseNpy(new Uint8Array(20), 'x.npy')).toThrow(/not a .npy file/);
  });

  it('names the file, the expected and the found shape on a mismatch', () => {
    const a = parseNpy(encodeNpy({ dtype: 'float32', shape: [2, 1, 16, 512], data: new Float32Array(2 * 16 * 512) }));
    expect(() => expectNpy(a, 'q.npy', ['float32'], [2, 1, 16, 576], 'b, s_q, h_q, d_qk'))
      .toThrow('q.npy: expected float32 [2, 1, 16, 576] (b, s_q, h_q, d_qk), found float32 [2, 1, 16, 512]');
    expect(() => expectNpy(a, 'q.npy', ['int32'], [null, null, null, null], 'x')).toThrow(/expected int32 \[\?, \?, \?, \?\] \(x\), found float32/);
  });
});
