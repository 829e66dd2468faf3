/**
 * Threefry-2x32 with 20 rounds (Salmon, Moraes, Dror and Shaw, "Parallel
 * random numbers: as easy as 1, 2, 3", SC 2011; the generator behind JAX's
 * `jax.random`): a keyed hash that maps a 64-bit counter to 64 random bits.
 * It is counter-based: the bits for counter n are a function of (key, n)
 * alone, so any row of any tensor can be drawn without drawing the rows
 * before it, in any order, in any worker.
 *
 * Only 32-bit additions, rotations and exclusive ors: the same bits on every
 * engine (and in WGSL). Checked against the Random123 known-answer vectors
 * (test/random.test.ts).
 */

/** Rotation distances of Threefry-2x32, rounds 0..7 (then repeated). */
const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24] as const;
/** Threefish's key-schedule parity constant. */
const KEY_PARITY = 0x1bd11bda;

/** The two 32-bit words (unsigned) of threefry2x32(key, counter). */
export function threefry2x32(key0: number, key1: number, counter0: number, counter1: number): [number, number] {
  const keys = [key0 | 0, key1 | 0, (key0 ^ key1 ^ KEY_PARITY) | 0];
  let x0 = (counter0 + keys[0]) | 0;
  let x1 = (counter1 + keys[1]) | 0;
  for (let round = 0; round < 20; round++) {
    const r = ROTATIONS[round % 8];
    x0 = (x0 + x1) | 0;
    x1 = ((x1 << r) | (x1 >>> (32 - r))) ^ x0;
    if (round % 4 === 3) {
      // Key injection s = 1..5 after every four rounds.
      const s = (round + 1) / 4;
      x0 = (x0 + keys[s % 3]) | 0;
      x1 = (x1 + keys[(s + 1) % 3] + s) | 0;
    }
  }
  return [x0 >>> 0, x1 >>> 0];
}
