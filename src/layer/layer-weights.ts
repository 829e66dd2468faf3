/**
 * The layer's weights, in the model's names and shapes (DeepSeek-V3
 * model.py; a Linear's weight is [out, in] and computes y = x W^T), seeded
 * and reproducible, and the hidden states that go through them.
 *
 * Values are uniform with unit variance after each projection (PyTorch's
 * Linear draws its initial weights uniformly too): a weight of fan-in n is
 * uniform in [-sqrt(3/n), sqrt(3/n)], the hidden states uniform in
 * [-sqrt(3), sqrt(3)], and the norms' weights uniform in [0.5, 1.5] so that a
 * missing norm weight shows in the check. These are not the model's trained
 * weights: the sandbox checks arithmetic, not what the model says.
 */
import { SeededRandom } from '../random/seeded-random';
import { type LayerConfig, cacheWidth, qkHead } from './layer-config';

export type WeightName = 'wq_a' | 'q_norm' | 'wq_b' | 'wkv_a' | 'kv_norm' | 'wkv_b' | 'wo';

export interface WeightSpec {
  readonly name: WeightName;
  /** [rows, cols]; a norm's weight is [1, width]. */
  readonly shape: readonly [number, number];
  /** What it does, for the page's data flow. */
  readonly role: string;
}

/** Every weight of the layer, in the order x meets them. */
export function weightSpecs(c: LayerConfig): WeightSpec[] {
  return [
    { name: 'wq_a', shape: [c.qLoraRank, c.dim], role: 'x -> the query latent' },
    { name: 'q_norm', shape: [1, c.qLoraRank], role: 'RMSNorm of the query latent' },
    { name: 'wq_b', shape: [c.heads * qkHead(c), c.qLoraRank], role: 'query latent -> per-head [q_nope ; q_pe]' },
    { name: 'wkv_a', shape: [cacheWidth(c), c.dim], role: 'x -> [latent c ; k_pe], what is cached' },
    { name: 'kv_norm', shape: [1, c.kvLoraRank], role: 'RMSNorm of the latent before it is cached' },
    { name: 'wkv_b', shape: [c.heads * (c.qkNope + c.vHead), c.kvLoraRank], role: 'latent -> per-head [k_nope ; v]: W_UK and W_UV' },
    { name: 'wo', shape: [c.dim, c.heads * c.vHead], role: 'per-head outputs -> the layer\'s output' },
  ];
}

export type LayerWeights = Readonly<Record<WeightName, Float32Array>> & { readonly config: LayerConfig };

/** Bytes of all weights in f32. */
export function weightBytes(c: LayerConfig): number {
  return weightSpecs(c).reduce((sum, w) => sum + 4 * w.shape[0] * w.shape[1], 0);
}

function uniformArray(rng: SeededRandom, count: number, low: number, high: number): Float32Array {
  const a = new Float32Array(count);
  for (let i = 0; i < count; i++) a[i] = low + (high - low) * rng.uniform();
  return a;
}

/** Seeded weights; the same seed gives the same weights on every machine. */
export function generateWeights(c: LayerConfig, seed: number, onProgress?: (done: number, total: number) => void): LayerWeights {
  const rng = new SeededRandom(seed);
  const specs = weightSpecs(c);
  const out: Partial<Record<WeightName, Float32Array>> = {};
  specs.forEach((w, k) => {
    const [rows, cols] = w.shape;
    if (rows === 1) out[w.name] = uniformArray(rng, cols, 0.5, 1.5);
    else {
      const bound = Math.sqrt(3 / cols);
      out[w.name] = uniformArray(rng, rows * cols, -bound, bound);
    }
    onProgress?.(k + 1, specs.length);
  });
  return { ...(out as Record<WeightName, Float32Array>), config: c };
}

/** Hidden states of `tokens` tokens, [tokens, dim], unit variance. */
export function generateHidden(c: LayerConfig, tokens: number, seed: number): Float32Array {
  const b = Math.sqrt(3);
  return uniformArray(new SeededRandom(seed), tokens * c.dim, -b, b);
}

/** W_UK of every head, [heads, qkNope, kvLora]: rows 0..qkNope-1 of each head's block of wkv_b. */
export function wUK(c: LayerConfig, wkvB: Float32Array): Float32Array {
  return headRows(c, wkvB, 0, c.qkNope);
}

/** W_UV of every head, [heads, vHead, kvLora]: the rows after W_UK in each head's block of wkv_b. */
export function wUV(c: LayerConfig, wkvB: Float32Array): Float32Array {
  return headRows(c, wkvB, c.qkNope, c.vHead);
}

function headRows(c: LayerConfig, wkvB: Float32Array, first: number, count: number): Float32Array {
  const per = c.qkNope + c.vHead;
  const out = new Float32Array(c.heads * count * c.kvLoraRank);
  for (let h = 0; h < c.heads; h++) {
    const from = (h * per + first) * c.kvLoraRank;
    out.set(wkvB.subarray(from, from + count * c.kvLoraRank), h * count * c.kvLoraRank);
  }
  return out;
}

/** [heads, rows, cols] -> [heads, cols, rows]: W_UK^T per head, what the absorbed query is made with (vLLM keeps W_UK_T). */
export function transposePerHead(m: Float32Array, heads: number, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let h = 0; h < heads; h++) {
    const base = h * rows * cols;
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) t[base + k * rows + r] = m[base + r * cols + k];
  }
  return t;
}
