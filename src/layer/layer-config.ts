/**
 * One MLA attention layer's sizes: DeepSeek-V3's (`inference/model.py`,
 * `ModelArgs` and `configs/config_671B.json`; V3.2 has the same attention plus
 * the indexer) and a small one with the same per-head dims for the page.
 *
 *   x [tokens, dim] --wq_a--> [q_lora] --q_norm--> --wq_b--> q [heads, nope + rope]
 *   x --wkv_a--> [kv_lora ; rope] --kv_norm on the latent, RoPE on the rope part--> cache
 *   wkv_b: kv_lora -> heads x (nope + v), viewed [heads, nope + v, kv_lora]:
 *          rows 0..nope-1 of a head are W_UK, rows nope.. are W_UV
 *   wo:    heads x v -> dim
 *
 * The cache row is [kv_lora ; rope] = 512 + 64 = 576 wide: the ladder's V3.2
 * shape. MODEL1's up-projections (its wq_b, wkv_b, wo) are not published:
 * no configuration here pretends to know them (MODEL1_LAYER_NOTE).
 */

export type LayerConfigName = 'v3' | 'small';
export const LAYER_CONFIG_NAMES: readonly LayerConfigName[] = ['v3', 'small'];

/** YaRN's settings (ModelArgs): they set the RoPE frequencies and the softmax scale's mscale. */
export interface Yarn {
  readonly ropeTheta: number;
  readonly ropeFactor: number;
  readonly originalSeqLen: number;
  /** The model's longest context: YaRN applies when it is past originalSeqLen. */
  readonly maxSeqLen: number;
  readonly betaFast: number;
  readonly betaSlow: number;
  readonly mscale: number;
}

export interface LayerConfig {
  readonly name: LayerConfigName;
  readonly label: string;
  /** Hidden size (model dim). */
  readonly dim: number;
  readonly heads: number;
  readonly qLoraRank: number;
  /** The latent's width: the cached c per token. */
  readonly kvLoraRank: number;
  /** Per-head key part that the latent decompresses to (W_UK rows). */
  readonly qkNope: number;
  /** The decoupled RoPE part, one k_pe per token shared by every head. */
  readonly qkRope: number;
  /** Per-head value dim (W_UV rows). */
  readonly vHead: number;
  readonly yarn: Yarn;
  /** RMSNorm's epsilon (model.py: 1e-6). */
  readonly normEps: number;
}

/** DeepSeek-V3's YaRN (config_671B.json: rope_factor 40, max_seq_len 16384 in ModelArgs, 163840 served). */
const V3_YARN: Yarn = { ropeTheta: 10000, ropeFactor: 40, originalSeqLen: 4096, maxSeqLen: 163840, betaFast: 32, betaSlow: 1, mscale: 1 };

export const LAYER_CONFIGS: Readonly<Record<LayerConfigName, LayerConfig>> = {
  v3: {
    name: 'v3', label: 'DeepSeek-V3 / V3.2 (128 heads, dim 7168)',
    dim: 7168, heads: 128, qLoraRank: 1536, kvLoraRank: 512, qkNope: 128, qkRope: 64, vHead: 128, yarn: V3_YARN, normEps: 1e-6,
  },
  small: {
    name: 'small', label: 'small (16 heads, dim 1024; V3\'s per-head dims)',
    dim: 1024, heads: 16, qLoraRank: 384, kvLoraRank: 512, qkNope: 128, qkRope: 64, vHead: 128, yarn: V3_YARN, normEps: 1e-6,
  },
};

/** Said wherever the MODEL1 head is offered beside the layer. */
export const MODEL1_LAYER_NOTE =
  'MODEL1 (FlashMLA\'s 512-dim head: 448 latent + 64 rope, value = the whole key) has no published up-projections '
  + '(wq_b, wkv_b, wo): its per-head dims and how its value maps back are unknown, so this layer runs V3\'s configuration only.';

export function layerConfig(name: string): LayerConfig {
  if (name === 'model1') throw new Error(`--config model1 is not offered: ${MODEL1_LAYER_NOTE}`);
  const config = LAYER_CONFIGS[name as LayerConfigName];
  if (!config) throw new Error(`config ${JSON.stringify(name)} is not allowed: config must be one of ${LAYER_CONFIG_NAMES.join(', ')}`);
  return config;
}

/** The per-head query/key dim of MHA mode: nope + rope (192). */
export function qkHead(c: LayerConfig): number {
  return c.qkNope + c.qkRope;
}

/** The cache row: the latent and the rope part (576). */
export function cacheWidth(c: LayerConfig): number {
  return c.kvLoraRank + c.qkRope;
}

/** YaRN's attention factor: 0.1 * mscale * ln(factor) + 1 when the context is extended, else 1. */
export function yarnMscale(y: Yarn): number {
  return y.maxSeqLen > y.originalSeqLen ? 0.1 * y.mscale * Math.log(y.ropeFactor) + 1 : 1;
}

/**
 * The model's softmax scale (model.py, MLA.__init__): (nope + rope)^-0.5,
 * times mscale^2 with YaRN. For V3: 192^-0.5 * 1.368888^2 = 0.135234. Both
 * ways use it: MHA mode over its 192-dim keys, and the absorbed MQA mode over
 * 576-dim rows, whose dot products are the same numbers (FlashMLA's default
 * 1/sqrt(576) would not be the model's).
 */
export function layerSoftmaxScale(c: LayerConfig): number {
  const m = yarnMscale(c.yarn);
  return qkHead(c) ** -0.5 * m * m;
}
