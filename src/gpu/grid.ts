/** Workgroup grids within the device's per-dimension limit. */

/** A 2-D grid of at least `count` workgroups (x first), z = `z`; refused, naming `label`, when it does not fit. */
export function grid2d(count: number, limit: number, label: string, z = 1): [number, number, number] {
  const x = Math.min(count, limit);
  const y = Math.ceil(count / x);
  if (y > limit || z > limit) throw new Error(`${label}: ${count} x ${z} workgroups do not fit this device's grid (maxComputeWorkgroupsPerDimension ${limit})`);
  return [Math.max(1, x), Math.max(1, y), z];
}
