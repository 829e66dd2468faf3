/**
 * What a layer run starts from: either the whole layer, seeded (weights in
 * the model's names and the hidden states of L tokens, the last s_q of them
 * the query tokens), or the attention core's own tensors, as a user dumps
 * them from a model:
 *
 *   W_UK     float32 [h, 128, 512]   wkv_b.view(h, 256, 512)[:, :128]
 *   W_UV     float32 [h, 128, 512]   wkv_b.view(h, 256, 512)[:, 128:]
 *   q_nope   float32 [s_q, h, 128]
 *   q_pe     float32 [s_q, h, 64]    after RoPE
 *   latent   float32 [L, 512]        after kv_norm
 *   k_pe     float32 [L, 64]         after RoPE
 *
 * Each file's shape is checked against the others before anything runs; a
 * mismatch names the file, the expected and the found dims.
 */
import { type NpyArray, expectNpy } from '../run/npy';
import { F32_SCORE_LIMIT } from '../run/input-scan';
import { SHAPE_LIMITS } from '../mla/shape';
import { type LayerConfig, LAYER_CONFIGS, layerSoftmaxScale } from './layer-config';
import { type LayerWeights, generateHidden, generateWeights } from './layer-weights';
import type { CoreTensors } from './layer-reference';

/** Most cached tokens a layer run takes (the hidden states of V3 at this length are 940 MB on the host). */
export const LAYER_MAX_KEYS = 32768;
/**
 * Query tokens of one layer run: a prefill chunk past the ladder's 128 runs
 * as a batch of one-token requests (mla/token-batch.ts), up to the batch limit.
 */
export const LAYER_MAX_QUERY_TOKENS = SHAPE_LIMITS.maxBatch;

export interface GeneratedLayer {
  readonly kind: 'generated';
  readonly weights: LayerWeights;
  /** [keys, dim]; token t at position t; the last sQ tokens are the queries. */
  readonly hidden: Float32Array;
  readonly keys: number;
  readonly sQ: number;
}

export interface CoreOnly {
  readonly kind: 'tensors';
  /** RoPE is decoupled: q_pe and k_pe arrive rotated. */
  readonly core: CoreTensors;
}

export type LayerInput = GeneratedLayer | CoreOnly;

export function checkLayerSize(keys: number, sQ: number, flags = { keys: '--seqlen', sQ: '--s-q' }): void {
  if (!Number.isInteger(keys) || keys < 1 || keys > LAYER_MAX_KEYS) throw new Error(`${flags.keys} = ${keys} is not allowed: ${flags.keys} must be an integer from 1 to ${LAYER_MAX_KEYS}`);
  if (!Number.isInteger(sQ) || sQ < 1 || sQ > LAYER_MAX_QUERY_TOKENS) throw new Error(`${flags.sQ} = ${sQ} is not allowed: ${flags.sQ} must be an integer from 1 to ${LAYER_MAX_QUERY_TOKENS}`);
  if (sQ > keys) throw new Error(`${flags.sQ} = ${sQ} is more than ${flags.keys} = ${keys}: the query tokens are the last s_q of the cached ones`);
}

export function generateLayer(config: LayerConfig, keys: number, sQ: number, seed: number): GeneratedLayer {
  checkLayerSize(keys, sQ);
  return { kind: 'generated', weights: generateWeights(config, seed), hidden: generateHidden(config, keys, seed + 1), keys, sQ };
}

/** The same weights and hidden states over the first `keys` tokens (a sweep over L draws them once). */
export function firstTokens(layer: GeneratedLayer, keys: number, sQ: number): GeneratedLayer {
  checkLayerSize(keys, sQ);
  if (keys > layer.keys) throw new Error(`the layer has hidden states for ${layer.keys} tokens, not ${keys}`);
  return { ...layer, hidden: layer.hidden.subarray(0, keys * layer.weights.config.dim), keys, sQ };
}

export interface CoreArrays {
  readonly wUK: NpyArray;
  readonly wUV: NpyArray;
  readonly qNope: NpyArray;
  readonly qPe: NpyArray;
  readonly latent: NpyArray;
  readonly kPe: NpyArray;
  /** Names for messages (the files). */
  readonly names: Readonly<Record<'wUK' | 'wUV' | 'qNope' | 'qPe' | 'latent' | 'kPe', string>>;
}

/** A softmax scale given for your own tensors, and how it was given (for messages): '--softmax-scale 0.1'. */
export interface GivenScale {
  readonly value: number;
  readonly name: string;
}

/**
 * The core's tensors from files, checked against V3's per-head dims (128
 * nope, 64 rope, 128 v, 512 latent); the scale must be a finite number > 0,
 * and the scores it gives must stay within what f32 carries (scoreBound).
 */
export function coreFromArrays(a: CoreArrays, softmaxScale?: GivenScale): CoreTensors {
  const v3 = LAYER_CONFIGS.v3;
  const { qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc } = v3;
  const n = a.names;
  const modelScale = layerSoftmaxScale(v3);
  if (softmaxScale && !(Number.isFinite(softmaxScale.value) && softmaxScale.value > 0)) {
    throw new Error(`${softmaxScale.name} is not allowed: the softmax scale must be a finite number > 0 (unset: the model's, ${modelScale.toFixed(6)})`);
  }
  expectNpy(a.wUK, n.wUK, ['float32'], [null, dn, dc], `h, ${dn}, ${dc}`);
  const heads = a.wUK.shape[0];
  if (heads > SHAPE_LIMITS.maxHeads) throw new Error(`${n.wUK}: ${heads} heads is over the ${SHAPE_LIMITS.maxHeads} a call takes`);
  expectNpy(a.wUV, n.wUV, ['float32'], [heads, dv, dc], `h, ${dv}, ${dc}`);
  expectNpy(a.qNope, n.qNope, ['float32'], [null, heads, dn], `s_q, h, ${dn}`);
  const sQ = a.qNope.shape[0];
  expectNpy(a.qPe, n.qPe, ['float32'], [sQ, heads, dr], `s_q, h, ${dr}`);
  expectNpy(a.latent, n.latent, ['float32'], [null, dc], `L, ${dc}`);
  const keys = a.latent.shape[0];
  expectNpy(a.kPe, n.kPe, ['float32'], [keys, dr], `L, ${dr}`);
  checkLayerSize(keys, sQ, { keys: `${n.latent}'s L`, sQ: `${n.qNope}'s s_q` });
  const q = new Float32Array(sQ * heads * (dn + dr));
  const qNope = a.qNope.data as Float32Array;
  const qPe = a.qPe.data as Float32Array;
  for (let r = 0; r < sQ * heads; r++) {
    q.set(qNope.subarray(r * dn, (r + 1) * dn), r * (dn + dr));
    q.set(qPe.subarray(r * dr, (r + 1) * dr), r * (dn + dr) + dn);
  }
  const latentRows = new Float32Array(keys * (dc + dr));
  const latent = a.latent.data as Float32Array;
  const kPe = a.kPe.data as Float32Array;
  for (let t = 0; t < keys; t++) {
    latentRows.set(latent.subarray(t * dc, (t + 1) * dc), t * (dc + dr));
    latentRows.set(kPe.subarray(t * dr, (t + 1) * dr), t * (dc + dr) + dc);
  }
  const scan = (arr: Float32Array, name: string) => {
    const bad = arr.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${name}: value ${bad} is ${arr[bad]}: every value must be finite`);
  };
  [[a.wUK, n.wUK], [a.wUV, n.wUV], [a.qNope, n.qNope], [a.qPe, n.qPe], [a.latent, n.latent], [a.kPe, n.kPe]].forEach(([arr, name]) => scan((arr as NpyArray).data as Float32Array, name as string));
  const core: CoreTensors = {
    dims: { heads, qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc },
    sQ, keys, q, latentRows, wUK: a.wUK.data as Float32Array, wUV: a.wUV.data as Float32Array,
    softmaxScale: softmaxScale?.value ?? modelScale, rope: 'decoupled', yarn: v3.yarn,
  };
  const bound = scoreBound(core);
  if (bound > F32_SCORE_LIMIT) {
    const scale = softmaxScale ? ` with ${softmaxScale.name}` : ` with the model's softmax scale ${modelScale.toFixed(6)}`;
    throw new Error(`${n.qNope}, ${n.wUK}, ${n.latent}, ${n.qPe} and ${n.kPe}${scale}: scores can reach ${bound.toExponential(2)} `
      + `(the largest |q_nope| |W_UK[h]| |latent| + |q_pe| |k_pe|, times the scale), beyond what f32 carries (about 3.4e38; `
      + `the sandbox accepts up to ${F32_SCORE_LIMIT.toExponential(0)}): scale the inputs or the softmax scale down`);
  }
  return core;
}

/**
 * A bound on every score of the core, in either mode: scale * (|q_nope| *
 * ||W_UK[h]||_F * |c| + |q_pe| * |k_pe|), the largest of each over heads,
 * query rows and tokens (Cauchy-Schwarz; the Frobenius norm bounds W_UK[h]'s
 * gain). The same terms bound the keys MHA mode makes and the query MQA mode
 * absorbs, so a core within it stays within f32 throughout.
 */
function scoreBound(core: CoreTensors): number {
  const { heads, qkNope: dn, qkRope: dr, kvLoraRank: dc } = core.dims;
  const norm = (data: Float32Array, at: number, n: number) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += data[at + k] * data[at + k];
    return Math.sqrt(s);
  };
  const dq = dn + dr;
  let nope = 0;
  let pe = 0;
  for (let h = 0; h < heads; h++) {
    const gain = norm(core.wUK, h * dn * dc, dn * dc);
    for (let i = 0; i < core.sQ; i++) {
      const row = (i * heads + h) * dq;
      nope = Math.max(nope, norm(core.q, row, dn) * gain);
      pe = Math.max(pe, norm(core.q, row + dn, dr));
    }
  }
  let latent = 0;
  let kPe = 0;
  for (let t = 0; t < core.keys; t++) {
    latent = Math.max(latent, norm(core.latentRows, t * (dc + dr), dc));
    kPe = Math.max(kPe, norm(core.latentRows, t * (dc + dr) + dc, dr));
  }
  return core.softmaxScale * (nope * latent + pe * kPe);
}
