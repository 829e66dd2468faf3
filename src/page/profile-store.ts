/**
 * This browser's device profile: what the Tune section found on this
 * adapter, kept in localStorage under a key named after the adapter (the
 * command line keeps the same JSON under ~/.cache). A stored profile that no
 * longer reads is named in the error, never silently dropped.
 */
import { type DeviceProfile, adapterSlug, parseProfile } from '../tune/profile';

export const profileKey = (adapter: string) => `mla-sandbox/profile/${adapterSlug(adapter)}`;

/** Where a run's report says the profile came from. */
export const storedProfileWhere = (adapter: string) => `this browser's localStorage (${profileKey(adapter)})`;

export function loadStoredProfile(adapter: string): DeviceProfile | undefined {
  const text = localStorage.getItem(profileKey(adapter));
  if (text === null) return undefined;
  return parseProfile(text, `${storedProfileWhere(adapter)}, which the Ladder view's Tune section can clear`);
}

export function saveStoredProfile(profile: DeviceProfile): void {
  localStorage.setItem(profileKey(profile.adapter), JSON.stringify(profile));
}

export function forgetStoredProfile(adapter: string): void {
  localStorage.removeItem(profileKey(adapter));
}
