/** Read a .npy file given by a flag; an unreadable or malformed file is refused naming the flag and the file. */
import { readFileSync } from 'node:fs';
import { type NpyArray, parseNpy } from '../run/npy';

export function readNpyFile(flag: string, path: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`--${flag} ${path}: cannot read: ${(e as Error).message}`);
  }
  return parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
