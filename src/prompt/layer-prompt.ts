/**
 * Dense causal attention over a prompt through the layer (layer/layer-run.ts),
 * chunk by chunk of query tokens, both ways:
 *
 *   MHA mode   each chunk decompresses K = c W_UK^T and V = c W_UV^T for every
 *              token up to its last (recomputed: nothing per head is cached)
 *              and attends them per head: 2 h (128 + 128) 512 FLOPs a key token
 *              a chunk, 2 h (192 + 128) a pair
 *   MQA mode   absorbs W_UK into the query and W_UV into the output and attends
 *              the latent: 2 h (576 + 512) a pair, 2 h 2 (128 x 512) a query token
 *
 * so a longer chunk pays the decompression over more query tokens: past about
 * 170 query tokens a chunk MHA mode does less work (layer-sweep.ts,
 * flopCrossoverChunk). The core's tensors are seeded with V3's per-head dims
 * (V3.2's head: the latent 512 + rope 64 is the 576-wide cache row); MODEL1's
 * up-projections are not published (layer-config.ts, MODEL1_LAYER_NOTE).
 * Every chunk is checked as every layer run is.
 */
import type { GpuContext } from '../gpu/device';
import type { KernelChoice } from '../kernels/versions';
import type { KvFormat } from '../mla/kv-layout';
import { SeededRandom } from '../random/seeded-random';
import { LAYER_CONFIGS, layerSoftmaxScale } from '../layer/layer-config';
import { LAYER_MAX_KEYS, LAYER_MAX_QUERY_TOKENS } from '../layer/layer-inputs';
import type { CoreTensors } from '../layer/layer-reference';
import { runLayer } from '../layer/layer-run';
import { layerPasses, wayMs } from '../layer/layer-report';

export interface LayerPromptOptions {
  readonly keys: number;
  readonly heads: number;
  /** Query tokens a chunk. */
  readonly chunk: number;
  readonly kvFormat: KvFormat;
  readonly kernel: KernelChoice;
  readonly seed?: number;
  readonly onProgress?: (step: string) => void;
}

export interface LayerPromptResult {
  /** The chunks' MHA-mode stages summed (decompress, scores, softmax, P V), ms. */
  readonly mhaMs: number;
  /** The chunks' MQA-mode stages summed (absorb, the ladder's kernel, W_UV), ms. */
  readonly mqaMs: number;
  readonly chunks: number;
  readonly pass: boolean;
}

/** What each chunk's f64 reference may spend: the checks stay, sampled. */
const CHUNK_REFERENCE_BUDGET = 2 ** 24;

export function checkLayerPrompt(o: Pick<LayerPromptOptions, 'keys' | 'chunk'>, flag = '--mha-chunk'): void {
  if (!Number.isInteger(o.chunk) || o.chunk < 1 || o.chunk > LAYER_MAX_QUERY_TOKENS) throw new Error(`${flag} ${o.chunk} is not allowed: a chunk is 1 to ${LAYER_MAX_QUERY_TOKENS} query tokens`);
  if (o.keys > LAYER_MAX_KEYS) throw new Error(`a prompt of ${o.keys} tokens is past the layer's ${LAYER_MAX_KEYS} (${flag} runs the prompt through the layer)`);
}

/** Seeded core tensors of a whole prompt: q of every token, the latent rows, W_UK and W_UV. */
function promptCore(keys: number, heads: number, seed: number): CoreTensors {
  const v3 = LAYER_CONFIGS.v3;
  const dims = { heads, qkNope: v3.qkNope, qkRope: v3.qkRope, vHead: v3.vHead, kvLoraRank: v3.kvLoraRank };
  const fill = (n: number, stream: number, scale: number) => {
    const rng = new SeededRandom(seed, stream);
    return Float32Array.from({ length: n }, () => scale * rng.normal());
  };
  return {
    dims, sQ: keys, keys,
    q: fill(keys * heads * (dims.qkNope + dims.qkRope), 1, 1),
    latentRows: fill(keys * (dims.kvLoraRank + dims.qkRope), 2, 1),
    wUK: fill(heads * dims.qkNope * dims.kvLoraRank, 3, dims.kvLoraRank ** -0.5),
    wUV: fill(heads * dims.vHead * dims.kvLoraRank, 4, dims.kvLoraRank ** -0.5),
    softmaxScale: layerSoftmaxScale(v3), rope: 'decoupled', yarn: v3.yarn,
  };
}

export async function measureLayerPrompt(ctx: GpuContext, o: LayerPromptOptions): Promise<LayerPromptResult> {
  checkLayerPrompt(o);
  const whole = promptCore(o.keys, o.heads, o.seed ?? 0);
  const qRow = o.heads * (whole.dims.qkNope + whole.dims.qkRope);
  const width = whole.dims.kvLoraRank + whole.dims.qkRope;
  const chunks = Math.ceil(o.keys / o.chunk);
  let mhaMs = 0;
  let mqaMs = 0;
  let pass = true;
  for (let j = 0; j < chunks; j++) {
    const first = j * o.chunk;
    const end = Math.min(o.keys, first + o.chunk);
    o.onProgress?.(`layer chunk ${j + 1}/${chunks}: query tokens ${first}..${end - 1}, MHA mode and MQA mode`);
    const core: CoreTensors = { ...whole, sQ: end - first, keys: end, q: whole.q.subarray(first * qRow, end * qRow), latentRows: whole.latentRows.subarray(0, end * width) };
    const r = await runLayer(ctx, { kind: 'tensors', core }, {
      kernel: o.kernel, kvFormat: o.kvFormat, time: true, timing: { warmup: 0, samples: 1 }, referenceBudget: CHUNK_REFERENCE_BUDGET,
    });
    mhaMs += wayMs(r, 'mha')!;
    mqaMs += wayMs(r, 'mqa')!;
    pass &&= layerPasses(r);
  }
  return { mhaMs, mqaMs, chunks, pass };
}
