/**
 * Output files are checked before any work: each can be written (its folder
 * exists and is writable; an existing file is a file and writable), no two
 * outputs are the same file, and no output is one of the inputs (an input is
 * never overwritten). A write that fails later (a full disk) names the flag
 * and the file.
 */
import { accessSync, constants, existsSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface NamedPath {
  /** The flag that names it, without dashes, e.g. "out". */
  readonly flag: string;
  readonly path: string;
}

/** The file a path names, symlinks resolved where it exists. */
function identity(path: string): string {
  const full = resolve(path);
  return existsSync(full) ? realpathSync(full) : full;
}

export function checkOutputPaths(outputs: readonly NamedPath[], inputs: readonly NamedPath[]): void {
  const seen = new Map<string, string>();
  for (const { flag, path } of inputs) seen.set(identity(path), `--${flag} (an input, which is never overwritten)`);
  for (const { flag, path } of outputs) {
    if (path.trim() === '') throw new Error(`--${flag} "" is not allowed: --${flag} must name a file to write`);
    const id = identity(path);
    const clash = seen.get(id);
    if (clash) {
      throw new Error(`--${flag} ${path} is not allowed: it is the same file as ${clash}; name another file`);
    }
    seen.set(id, `--${flag}`);
    const dir = dirname(resolve(path));
    if (!existsSync(dir)) throw new Error(`--${flag} ${path}: the folder ${dir} does not exist`);
    if (existsSync(id)) {
      if (!statSync(id).isFile()) throw new Error(`--${flag} ${path} is not allowed: it is a folder or a device, not a file`);
      try { accessSync(id, constants.W_OK); } catch { throw new Error(`--${flag} ${path}: the file exists and cannot be written (permissions)`); }
    } else {
      try { accessSync(dir, constants.W_OK); } catch { throw new Error(`--${flag} ${path}: the folder ${dir} cannot be written (permissions)`); }
    }
  }
}

/** writeFileSync whose error names the flag and the file (e.g. a full disk). */
export function writeOutput(flag: string, path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new Error(`--${flag} ${path}: could not write the file: ${(e as Error).message}`);
  }
}
