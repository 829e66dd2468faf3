/**
 * Device profiles on disk: one JSON file per adapter under the user's cache
 * directory ($XDG_CACHE_HOME, else ~/.cache), mla-sandbox/profiles/, or the
 * file `--profile` names. Reading checks every field (tune/profile.ts) and
 * names the file in any message.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { type DeviceProfile, adapterSlug, parseProfile } from '../tune/profile';
import { writeOutput } from './output-paths';

export function defaultProfilePath(adapter: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(cache, 'mla-sandbox', 'profiles', `${adapterSlug(adapter)}.json`);
}

/** The profile at `path`, or undefined when there is no file. */
export function readProfileFile(path: string): DeviceProfile | undefined {
  if (!existsSync(path)) return undefined;
  return parseProfile(readFileSync(path, 'utf8'), path);
}

/** Write a profile (its folder made when it is the default one), naming the flag on failure. */
export function writeProfileFile(path: string, profile: DeviceProfile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeOutput('profile', path, `${JSON.stringify(profile, null, 2)}\n`);
}
