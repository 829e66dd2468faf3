/**
 * Typical wrong attempts at each exercise, three or more each: the shipped
 * region (the solution) with the mistake made in it, as the text replaced,
 * and the diagnosis each must get (test/exercises-gpu.test.ts). `cover`
 * marks the one SwiftShader runs too: none for exercises 10 and 11, whose
 * versions (3 and 4) take SwiftShader 20-30 s a check to compile, where
 * the diagnosis they test is the same code on either adapter.
 */
import type { DiagnosisKind } from '../../src/exercises/diagnose';

export interface WrongAttempt {
  readonly exercise: number;
  readonly name: string;
  /** What the learner got wrong, in words. */
  readonly mistake: string;
  /** [shipped text, the attempt's text]: each must occur in the region. */
  readonly edits: readonly (readonly [string, string])[];
  readonly kind: DiagnosisKind;
  readonly cover?: boolean;
}

export const WRONG_ATTEMPTS: readonly WrongAttempt[] = [
  { exercise: 1, name: 'no-scale', mistake: 'the softmax scale left out', edits: [['s = params.scale * score;', 's = score;']], kind: 'scale', cover: true },
  { exercise: 1, name: 'head-row', mistake: 'q\'s row taken from the head alone', edits: [['let qBase = row * (D_QK / 4u);', 'let qBase = h * (D_QK / 4u);']], kind: 'one-request' },
  { exercise: 1, name: 'no-rope', mistake: 'the dot product stops at the value\'s width (no RoPE part)', edits: [['j < D_QK / 4u; j++', 'j < D_V / 4u; j++']], kind: 'key-width' },
  {
    exercise: 2, name: 'no-max', mistake: 'exp of the raw scores, the max not subtracted',
    edits: [['sum += exp(scores[base + k] - m);', 'sum += exp(scores[base + k]);'], ['let rowLse = m + log(sum);', 'let rowLse = log(sum);']], kind: 'large-logits', cover: true,
  },
  { exercise: 2, name: 'not-normalised', mistake: 'p = exp(s - m), never divided by the sum', edits: [['select(exp(scores[base + k] - rowLse) * factor', 'select(exp(scores[base + k] - m) * factor']], kind: 'normalisation' },
  { exercise: 2, name: 'lse-without-max', mistake: 'the lse written as log(sum), the max not added back', edits: [['select(bitcast<u32>(rowLse), 0x7f800000u, empty)', 'select(bitcast<u32>(log(sum)), 0x7f800000u, empty)']], kind: 'lse-only' },
  { exercise: 3, name: 'no-weights', mistake: 'the values summed without their probabilities', edits: [['acc += scores[row * params.max_keys + k] * loadKvQuad(u32(slot), j);', 'acc += loadKvQuad(u32(slot), j);']], kind: 'wrong-values' },
  { exercise: 3, name: 'key-width-out', mistake: 'out\'s rows taken as D_QK wide', edits: [['out[row * (D_V / 4u) + j] = acc;', 'out[row * (D_QK / 4u) + j] = acc;']], kind: 'key-width', cover: true },
  { exercise: 3, name: 'mean', mistake: 'the weighted sum divided by the number of keys', edits: [['out[row * (D_V / 4u) + j] = acc;', 'out[row * (D_V / 4u) + j] = acc / f32(max(n, 1u));']], kind: 'normalisation' },
  { exercise: 4, name: 'no-rescale', mistake: 'the sum and accumulators not rescaled when the max grows', edits: [['l *= alpha;', ''], ['acc0 *= alpha;', ''], ['acc1 *= alpha;', '']], kind: 'first-tile', cover: true },
  { exercise: 4, name: 'natural-exp', mistake: 'exp where the scores are in log2 units', edits: [['let alpha = exp2(m - mNew);', 'let alpha = exp(m - mNew);'], ['let p = exp2(tileScores[nn] - mNew);', 'let p = exp(tileScores[nn] - mNew);']], kind: 'wrong-values' },
  { exercise: 4, name: 'no-sum', mistake: 'the running sum never added to', edits: [['l += p;', '']], kind: 'nan' },
  { exercise: 5, name: 'unnormalised-weights', mistake: 'each split weighted by exp2(lse_s - max), not exp2(lse_s - lse)', edits: [['let w = exp2(partLse[row * params.num_splits + s] - lse2);', 'let w = exp2(partLse[row * params.num_splits + s] - mx);']], kind: 'normalisation' },
  { exercise: 5, name: 'log2-lse', mistake: 'the lse written in log2 units', edits: [['select(bitcast<u32>(lse2 * LN2), 0x7f800000u, empty)', 'select(bitcast<u32>(lse2), 0x7f800000u, empty)']], kind: 'lse-only' },
  { exercise: 5, name: 'no-empty-row', mistake: 'a row whose every split is empty not caught (lse near -3e38, not +inf)', edits: [['select(bitcast<u32>(lse2 * LN2), 0x7f800000u, empty)', 'bitcast<u32>(lse2 * LN2)']], kind: 'empty-row', cover: true },
  { exercise: 6, name: 'no-causal', mistake: 'every query token sees the whole request', edits: [['if (params.causal != 0u) {', 'if (false) {']], kind: 'query-tokens', cover: true },
  { exercise: 6, name: 'no-block-table', mistake: 'the request\'s first page taken as if its tokens ran on from there, the block table skipped after it', edits: [['block_table[b * params.max_blocks + k / PAGE_SIZE] * i32(PAGE_SIZE) + i32(k % PAGE_SIZE)', 'block_table[b * params.max_blocks] * i32(PAGE_SIZE) + i32(k)']], kind: 'nan' },
  { exercise: 6, name: 'page-of-request', mistake: 'the pages looked up by token alone, not in the request\'s own row of the table', edits: [['block_table[b * params.max_blocks + k / PAGE_SIZE]', 'block_table[k / PAGE_SIZE]']], kind: 'one-request' },
  { exercise: 7, name: 'no-bounds', mistake: 'an index past the cache not skipped', edits: [['if (idx < 0 || u32(idx) >= params.num_slots) {', 'if (idx < 0) {']], kind: 'skipped-keys', cover: true },
  { exercise: 7, name: 'row-without-token', mistake: 'the row of indices found from the request alone, not its query token', edits: [['indices[(b * params.s_q + i) * params.topk + k]', 'indices[b * params.topk + k]']], kind: 'query-tokens' },
  { exercise: 7, name: 'off-by-one', mistake: 'an index equal to the cache\'s size kept (> where >= is needed)', edits: [['u32(idx) >= params.num_slots', 'u32(idx) > params.num_slots']], kind: 'skipped-keys' },
  { exercise: 8, name: 'byte-order', mistake: 'code 0 taken from the top byte (big-endian)', edits: [['vec4<u32>(0u, 8u, 16u, 24u)', 'vec4<u32>(24u, 16u, 8u, 0u)']], kind: 'wrong-values', cover: true },
  { exercise: 8, name: 'no-sign', mistake: 'the sign bit dropped', edits: [['return bitcast<vec4<f32>>(sign | bits);', 'return bitcast<vec4<f32>>(bits);']], kind: 'wrong-values' },
  { exercise: 8, name: 'f32-bias', mistake: 'the exponent not re-biased (E4M3\'s bias 7 read as f32\'s 127)', edits: [['(120u << 23u)', '(0u << 23u)']], kind: 'wrong-values' },
  { exercise: 9, name: 'v32-tile', mistake: 'the scale\'s tile taken as V3.2\'s 128 values', edits: [['min(e, D_NOPE - 1u) / QUANT_TILE', 'min(e, D_NOPE - 1u) / 128u']], kind: 'model-layout', cover: true },
  { exercise: 9, name: 'no-scale', mistake: 'the latent codes decoded but not multiplied by their tile\'s scale', edits: [[' * scaleOf(scales, min(e, D_NOPE - 1u) / QUANT_TILE)', '']], kind: 'wrong-values' },
  { exercise: 9, name: 'rope-words', mistake: 'the RoPE part addressed one value a word (bf16 holds two)', edits: [['(e - D_NOPE) / 2u', '(e - D_NOPE)']], kind: 'nan' },
  { exercise: 10, name: 'value-width', mistake: 'the tile laid out with the value\'s width, D_V / 4 quads a key', edits: [['let dq4 = D_QK / 4u;', 'let dq4 = D_V / 4u;']], kind: 'key-width' },
  { exercise: 10, name: 'quad-major', mistake: 'quad e taken as key e % TILE_N, quad e / TILE_N, while the tile is read key by key', edits: [['slotTile[e / dq4]', 'slotTile[e % TILE_N]'], ['e % dq4', 'e / TILE_N']], kind: 'wrong-values' },
  { exercise: 10, name: 'one-step', mistake: 'each thread decodes one quad, the tile\'s other quads left as they were', edits: [['e < TILE_N * dq4; e += WG_SIZE', 'e < min(WG_SIZE, TILE_N * dq4); e += WG_SIZE']], kind: 'wrong-values' },
  { exercise: 11, name: 'no-transpose', mistake: 'the keys\' quads not transposed (keys as columns where the strip has them as rows)', edits: [['addProduct(s.k0, transpose(fourKeyQuads(keys0, j))', 'addProduct(s.k0, fourKeyQuads(keys0, j)'], ['addProduct(s.k1, transpose(fourKeyQuads(keys1, j))', 'addProduct(s.k1, fourKeyQuads(keys1, j)']], kind: 'wrong-values' },
  { exercise: 11, name: 'eight-keys', mistake: 'strips k2 and k3 never filled (only an 8-key block written)', edits: [['s.k2 = addProduct(s.k2, transpose(fourKeyQuads(keys2, j)), x, pieces);', ''], ['s.k3 = addProduct(s.k3, transpose(fourKeyQuads(keys3, j)), x, pieces);', '']], kind: 'block-size' },
  { exercise: 11, name: 'same-keys', mistake: 'strip k1 computed from the first four keys again', edits: [['addProduct(s.k1, transpose(fourKeyQuads(keys1, j))', 'addProduct(s.k1, transpose(fourKeyQuads(keys0, j))']], kind: 'wrong-values' },
  { exercise: 12, name: 'plain-bits', mistake: 'the float\'s bits taken as they are (a negative\'s sign bit makes it the largest)', edits: [['return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);', 'return b;']], kind: 'wrong-values' },
  { exercise: 12, name: 'sign-only', mistake: 'only the sign bit flipped, for negatives too (their magnitudes then sort the wrong way)', edits: [['return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);', 'return b ^ 0x80000000u;']], kind: 'negative-scores', cover: true },
  { exercise: 12, name: 'all-flipped', mistake: 'every bit flipped, for positives too', edits: [['return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);', 'return ~b;']], kind: 'wrong-values' },
];
