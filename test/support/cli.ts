/** Run the built command line (bin/mla-sandbox.js, npm run build:cli) as a user would: its exit code and output. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'mla-sandbox.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The commands' cache directory: an empty one of the tests' own, so that no
 * device profile of the machine's user (bench --tune writes one under
 * XDG_CACHE_HOME) changes what `--kernel flash` runs; Mesa's shader cache
 * stays where it was, shared by every command the tests run.
 */
const HERMETIC = {
  XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'mla-cli-cache-')),
  MESA_SHADER_CACHE_DIR: process.env.MESA_SHADER_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mesa_shader_cache'),
};

/** `mla-sandbox ...args` with `env` added to this process's environment (over HERMETIC); a run past 280 s is stopped (under the tests' 300 s). */
export function cli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 280_000, maxBuffer: 1 << 24, env: { ...process.env, ...HERMETIC, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
