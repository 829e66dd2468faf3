/**
 * The tests' small head: 68 dims (64 + 4 rope), values the first 36. No
 * dimension is a multiple of 64 or 16, so a tile or block that assumes one
 * is cut short, and its reads are short, which keeps compiles and runs quick.
 */
export const SMALL_HEAD = { dQk: 68, dNope: 64, dRope: 4, dV: 36 } as const;
