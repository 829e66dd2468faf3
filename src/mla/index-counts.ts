/**
 * What a sparse call's index list holds, counted the way the kernels read it
 * (shaders/keys_sparse.wgsl, as FlashMLA's sparse decode does): -1 is
 * padding; any other index outside the cache's slots [0, numSlots) is
 * skipped, not read; the rest are attended.
 */
export interface IndexCounts {
  readonly total: number;
  readonly attended: number;
  /** Entries equal to -1. */
  readonly padding: number;
  /** Entries below -1 or at numSlots and past it: skipped. */
  readonly outOfRange: number;
  readonly numSlots: number;
}

export function countIndices(indices: Int32Array, numSlots: number): IndexCounts {
  let padding = 0;
  let outOfRange = 0;
  for (const v of indices) {
    if (v === -1) padding++;
    else if (v < 0 || v >= numSlots) outOfRange++;
  }
  return { total: indices.length, attended: indices.length - padding - outOfRange, padding, outOfRange, numSlots };
}

/** "2040 of 2048 attended; 3 padding (-1); 5 out of range [0, 4096) skipped, as FlashMLA skips them" */
export function describeIndexCounts(c: IndexCounts): string {
  return `${c.attended} of ${c.total} attended; ${c.padding} padding (-1); ${c.outOfRange} out of range [0, ${c.numSlots}) skipped, as FlashMLA skips them`;
}
