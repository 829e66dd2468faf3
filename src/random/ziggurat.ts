/**
 * The ziggurat method for the standard normal distribution (Marsaglia and
 * Tsang, "The Ziggurat Method for Generating Random Variables", J. Stat.
 * Software 5(8), 2000), 128 layers, with Doornik's correction (2005): the
 * layer and the position inside it come from separate bits of the word.
 *
 * The area under the half bell exp(-x^2/2) is covered by 128 layers of
 * equal area V: layer 0 is the base strip [0, R] x [0, f(R)] plus the tail
 * past R, layers 1..127 are rectangles of width x[i] between the heights
 * f(x[i]) and f(x[i+1]). A draw picks a layer and a point in it (one 32-bit
 * word: 7 bits for the layer, 1 for the sign, 24 for the position u). When
 * u * x[i] < x[i+1] the point lies under the curve for certain: that is
 * 98.8 % of draws, one word, a compare and a multiply. Otherwise the point is
 * tested against the curve itself (the wedge), or drawn from the tail, which
 * takes more words and exp/log.
 *
 * exp and ln are fdlibm's, as ported to plain JavaScript by stdlib, so the
 * table and every value are the same bits on every engine.
 */
import exp from '@stdlib/math-base-special-exp';
import ln from '@stdlib/math-base-special-ln';

const LAYERS = 128;
/** Where the tail starts, and the area of each layer (Marsaglia and Tsang's constants for 128 layers). */
const R = 3.442619855899;
const V = 9.91256303526217e-3;
/** The position inside a layer has 24 bits: as many as an f32's significand. */
const POSITION_STEPS = 2 ** 24;

const f = (x: number): number => exp(-0.5 * x * x);

/** x[i]: the right edge of layer i (x[0] is the base strip's width as if it were a rectangle of area V). */
const edge = new Float64Array(LAYERS + 1);
edge[0] = V / f(R);
edge[1] = R;
for (let i = 1; i < LAYERS - 1; i++) edge[i + 1] = Math.sqrt(-2 * ln(V / edge[i] + f(edge[i])));
edge[LAYERS] = 0;
/** f(x[i]): the bottom of layer i. */
const height = edge.map((x, i) => (i === 0 ? 0 : f(x)));
/** A position below `certain[i]` lies inside the curve (u * x[i] < x[i+1]). */
const certain = new Float64Array(LAYERS);
/** x[i] / 2^24: a position's value. */
const step = new Float64Array(LAYERS);
for (let i = 0; i < LAYERS; i++) {
  const inner = i === 0 ? R : edge[i + 1];
  certain[i] = Math.floor((inner / edge[i]) * POSITION_STEPS);
  step[i] = edge[i] / POSITION_STEPS;
}

/** A source of uniform 32-bit words (unsigned). */
export interface WordSource {
  nextUint32(): number;
}

/** A uniform in (0, 1), never 0 (for ln). */
function openUnit(words: WordSource): number {
  return (words.nextUint32() + 0.5) / 2 ** 32;
}

/** One standard normal value from the source's words. */
export function zigguratNormal(words: WordSource): number {
  for (;;) {
    const w = words.nextUint32();
    const layer = w & (LAYERS - 1);
    const negative = (w & LAYERS) !== 0;
    const position = w >>> 8;
    let x = position * step[layer];
    if (position >= certain[layer]) {
      if (layer === 0) {
        // The tail past R (Marsaglia, 1964): x = R + a with a drawn from the tail's shape.
        let a: number;
        let b: number;
        do {
          a = -ln(openUnit(words)) / R;
          b = -ln(openUnit(words));
        } while (b + b < a * a);
        x = R + a;
      } else {
        // The wedge: keep the point when it lies under the curve, else draw again.
        const y = height[layer] + openUnit(words) * (height[layer + 1] - height[layer]);
        if (y >= f(x)) continue;
      }
    }
    return negative ? -x : x;
  }
}

/** The layer table, for the tests: edges x[0..128] and the share of draws that take one word. */
export function zigguratTable(): { edges: Float64Array; oneWordShare: number } {
  let share = 0;
  for (let i = 0; i < LAYERS; i++) share += certain[i] / POSITION_STEPS / LAYERS;
  return { edges: edge.slice(), oneWordShare: share };
}
