/**
 * The exercises, in order: each cuts one marked region (regions.ts) out of a
 * shipped kernel, whose own code is the solution. An exercise says which
 * version runs it, what its checker compares (the score matrix of version
 * 1's first pass, or the call's out and lse), the statement, the names in
 * scope, the starter lines that replace the region, and hints revealed one
 * at a time.
 */
import type { ShaderFileName } from '../gpu/shader-source';
import type { VersionName } from '../kernels/kernel-plan';
import { type AnyCase, BLOCK_CASES, DECODE_CASES, DENSE_CASES, FP8_CASES, MERGE_CASES, SPARSE_CASES, TOPK_CASES } from './exercise-cases';

/** What the checker compares with the CPU reference: v1's score matrix, a call's out and lse, or top-k's chosen indices. */
export type ExerciseTensors = 'scores' | 'out-lse' | 'indices';

export interface Exercise {
  /** 1-based place in the sequence (`exercise show 3`). */
  readonly id: number;
  /** The marked region's name in `file`. */
  readonly region: string;
  readonly title: string;
  readonly file: ShaderFileName;
  /** The version whose dispatches run the attempt ('topk': the indexer's top-k pass alone). */
  readonly kernel: VersionName | 'topk';
  /** KV splits of the run (the merge needs several; 'auto': as many as the device's loop limit needs, chosen as for any run). */
  readonly splits: number | 'auto';
  readonly checks: ExerciseTensors;
  /** What to compute, the shapes, and what the result must be. */
  readonly statement: string;
  /** Names in scope at the region, with what they hold. */
  readonly given: readonly string[];
  /** The lines the learner's file holds in place of the region: it compiles and fails until written. */
  readonly starter: string;
  readonly hints: readonly string[];
  readonly cases: readonly AnyCase[];
}

const V1_GIVEN = [
  'params.h_q, params.s_q, params.max_keys: heads, query tokens per request, key positions per row (params.wgsl)',
  'params.scale: the softmax scale, 1 / sqrt(d_qk) unless set',
  'D_QK, D_V: the key width (576 for V3.2, 512 for MODEL1) and the value width (512)',
  'q: array<vec4<f32>>, the queries, [batch, s_q, h_q, D_QK] as quads of four floats',
  'loadKvQuad(slot, j) -> vec4<f32>: floats 4j .. 4j+3 of the cached key in `slot`, decoded from the cache format (f32, bf16 or FP8)',
  'keyCount(b, i), keySlot(b, i, k): how many key positions row (b, i) has, and the cache slot of position k (-1: skip it)',
];

export const EXERCISES: readonly Exercise[] = [
  {
    id: 1, region: 'scores', title: 'One head\'s score against one key', file: 'v1_naive.wgsl', kernel: 'naive', splits: 1, checks: 'scores',
    statement: [
      'Version 1 computes attention in three passes. This is the first: one thread per (query row, key position) writes that key\'s score.',
      'The score of key `slot` for the row `row` (request b, query token i, head h) is',
      '    s = scale * sum over c < D_QK of q[row][c] * key[slot][c]',
      'The key is 576 floats wide for V3.2 (512 latent, then 64 RoPE) and 512 for MODEL1; the whole key takes part in the score, the RoPE part too.',
      'In the region, set `s` (declared above it, a var<f32>) to that score. The queries are stored as quads: q[row * (D_QK / 4u) + j] holds floats 4j .. 4j+3 of the row, and loadKvQuad(u32(slot), j) gives the same four floats of the key.',
      'The check reads the score matrix this pass writes, [batch, s_q, h_q, max_keys], and compares every score with the f64 reference (within 1e-4 of the largest).',
    ].join('\n'),
    given: [...V1_GIVEN, 'row: this thread\'s query row, rowOf(b, i, h)', 'slot: the cache slot of this key (>= 0 here)', 's: var<f32>, the score to set'],
    starter: '// Set s to the scaled dot product of q\'s row with the key in `slot` (see the statement).\ns = 0.0;',
    hints: [
      'A loop over the quads of the row: for (var j = 0u; j < D_QK / 4u; j++) { ... } and dot(a, b) multiplies two vec4 and adds the four products.',
      'The row\'s first quad is q[row * (D_QK / 4u)]: each row holds D_QK / 4 quads.',
      'Accumulate the dot products in a var, then multiply once by params.scale.',
    ],
    cases: DECODE_CASES,
  },
  {
    id: 2, region: 'softmax', title: 'Softmax with the max subtracted, and the lse', file: 'v1_naive.wgsl', kernel: 'naive', splits: 1, checks: 'out-lse',
    statement: [
      'The second pass of version 1: one workgroup of 64 threads per query row turns the row\'s scores into probabilities, in place, and writes the row\'s lse.',
      'For the row\'s scores s_k (k < params.max_keys, in scores[base + k]; a key not read holds -3e38):',
      '    m = max_k s_k          lse = m + log(sum_k exp(s_k - m))          p_k = exp(s_k - lse)',
      'Subtracting m keeps exp in range: exp(x) overflows f32 past x = 88, and large logits happen.',
      'A row with no key (every score -3e38) must give p = 0 and lse = +inf (the bits 0x7f800000), as FlashMLA does.',
      'With an attention sink (params.has_sink != 0), every p_k of head h is also multiplied by 1 / (1 + exp(sink[h] - lse)); the lse itself is unchanged.',
      'Write p_k back into scores[base + k] and the lse, as f32 bits, into lse[(b * params.h_q + h) * params.s_q + i]. The third pass (given) then computes out = sum_k p_k * value_k. The check compares out and lse with the f64 reference.',
    ].join('\n'),
    given: [
      ...V1_GIVEN.slice(0, 3),
      'tid: this thread\'s index in the workgroup, 0 .. 63; WG = 64',
      'b, i, h: the row\'s request, query token and head; base: where its scores start in `scores`',
      'workgroupReduce(tid, value, op) -> f32: every thread passes its value; all get the max (op 0u) or the sum (op 1u) of the 64',
      'sink: array<f32>, the sink logit per head; lse: array<u32>, f32 bits (name your own variables otherwise: a local called lse hides the buffer, and lse[...] = ... then fails to compile with "cannot index type \'f32\'")',
    ],
    starter: '// Turn this row\'s scores into probabilities in place, and write its lse (see the statement).',
    hints: [
      'Each thread walks k = tid, tid + WG, ... below params.max_keys; workgroupReduce then combines the 64 partial results.',
      'Two reductions: first the max m, then the sum of exp(s - m). Start the max at a large finite negative (-1e30), not -inf: an all-masked row must not compute -inf - (-inf).',
      'sum == 0.0 marks a row with no key. select(a, b, cond) picks b when cond is true; bitcast<u32>(x) gives an f32\'s bits.',
    ],
    cases: DECODE_CASES,
  },
  {
    id: 3, region: 'pv', title: 'P times V: the output', file: 'v1_naive.wgsl', kernel: 'naive', splits: 1, checks: 'out-lse',
    statement: [
      'The third pass of version 1: one thread per (query row, output quad j) sums the values weighted by the probabilities.',
      '    out[row][4j .. 4j+3] = sum over the row\'s keys k of p_k * value_k[4j .. 4j+3]',
      'MLA\'s value is the first D_V floats of the key (the latent part), so value_k quad j is loadKvQuad(slot, j) for j < D_V / 4.',
      'p_k is in scores[row * params.max_keys + k] (the softmax pass wrote it). Walk the row\'s key positions k < keyCount(b, i) (at most params.max_keys) and skip a position whose keySlot is negative: it names no key, and unused cache slots hold NaN.',
      'Write the quad to out[row * (D_V / 4u) + j]. The check compares out and lse with the f64 reference.',
    ].join('\n'),
    given: [...V1_GIVEN, 'j: this thread\'s output quad (< D_V / 4 here); b, i, h: its row; row = rowOf(b, i, h)', 'scores: array<f32>, the probabilities p, [rows, params.max_keys]', 'out: array<vec4<f32>>, [rows, D_V / 4] quads'],
    starter: '// Write out quad j of this row: the probabilities times the values (see the statement).',
    hints: [
      'A vec4<f32> accumulator, a loop over k, and one write at the end: out[row * (D_V / 4u) + j] = acc;',
      'keySlot(b, i, k) returns an i32; u32(slot) converts it for loadKvQuad once it is known to be >= 0.',
      'A scalar times a vec4 scales all four lanes: acc += p * loadKvQuad(u32(slot), j);',
    ],
    cases: DECODE_CASES,
  },
  {
    id: 4, region: 'online-softmax', title: 'The online softmax over tiles', file: 'v2_fused.wgsl', kernel: 'fused', splits: 1, checks: 'out-lse',
    statement: [
      'Version 2 fuses the three passes: one workgroup per (row, head) walks the keys once, a tile of WG_SIZE keys at a time, and never stores the score matrix.',
      'It keeps a running max m and a running sum l of the probabilities, and two output accumulators acc0, acc1 (this thread\'s output quads j0 and j1). Scores are in base 2: tileScores[nn] holds s * log2(e), so exp becomes exp2.',
      'For each tile (its scores in tileScores[0 .. tileLen), -3e38 for a skipped key):',
      '    m_new = max(m, the tile\'s scores)      alpha = exp2(m - m_new)',
      '    l = l * alpha;  acc = acc * alpha        (what was summed under the old max, rescaled)',
      '    for each key nn of the tile with a slot >= 0:  p = exp2(tileScores[nn] - m_new);  l += p;  acc += p * value',
      '    m = m_new',
      'After the last tile the given code divides by l (and applies the sink) and writes out and lse. Write the per-tile update in the region. The check compares out and lse with the f64 reference on rows of one tile and of many.',
    ].join('\n'),
    given: [
      'm, l: var<f32>, the running max (log2 units) and sum; acc0, acc1: var<vec4<f32>>, this thread\'s two output quads',
      'tileScores: array<f32, WG_SIZE> in workgroup memory, the tile\'s scores (log2 units); tileLen: keys in this tile; t0: the tile\'s first key position',
      'j0, j1: this thread\'s output quads; keySlot(b, i, t0 + nn): the slot of the tile\'s key nn (-1: skip); loadKvQuad(u32(slot), j): four floats of it',
    ],
    starter: '// Fold this tile into m, l, acc0 and acc1 (see the statement).',
    hints: [
      'First a loop over nn < tileLen for the tile\'s max, starting from m (so m_new >= m).',
      'Rescale before adding: l *= alpha; acc0 *= alpha; acc1 *= alpha; with alpha = exp2(m - mNew).',
      'Inside the second loop: p = exp2(tileScores[nn] - mNew); then l += p and both accumulators += p * loadKvQuad(u32(slot), j0 or j1). End with m = mNew.',
    ],
    cases: DECODE_CASES,
  },
  {
    id: 5, region: 'merge', title: 'The split-KV merge by lse', file: 'combine.wgsl', kernel: 'fused', splits: 4, checks: 'out-lse',
    statement: [
      'Split-KV: a long row\'s keys are cut into params.num_splits chunks, each attended by its own workgroup, giving a partial output o_s (already divided by its own sum) and a partial lse_s (log2 units; -3e38 for a split with no key). This pass merges them, FlashMLA\'s combine kernel.',
      '    mx = max_s lse_s          lse2 = log2(sum_s exp2(lse_s - mx)) + mx          w_s = exp2(lse_s - lse2)',
      '    out = sum_s w_s * o_s     (times the sink factor 1 / (1 + exp2(sink[h] * LOG2E - lse2)) when params.has_sink != 0)',
      'The lse is returned as a natural log (lse2 * LN2) in lse[(b * params.h_q + h) * params.s_q + i], as f32 bits. A row whose every split is empty (mx still -3e38) gives out 0 and lse +inf (0x7f800000).',
      'Thread tid of the row\'s 64 threads writes the output quads j = tid, tid + WG, ... below D_V / 4, at out[row * dv4 + j]; split s of the row keeps its lse at partLse[row * params.num_splits + s] and its quad j at partOut[(row * params.num_splits + s) * dv4 + j].',
      'The check runs version 2 with 4 splits and compares out and lse with the f64 reference.',
    ].join('\n'),
    given: [
      'row = (b * params.s_q + i) * params.h_q + h; dv4 = D_V / 4u; tid: 0 .. 63; WG = 64',
      'partOut: array<vec4<f32>>, partLse: array<f32>: the splits\' results; out: array<vec4<f32>>, lse: array<u32> (f32 bits; a local called lse would hide it); sink: array<f32>',
      'MASKED = -3e38, LN2, LOG2E: constants of the file',
    ],
    starter: '// Merge this row\'s splits into out and lse (see the statement).',
    hints: [
      'Two loops over s < params.num_splits: the max of the partial lse, then the sum of exp2(lse_s - mx).',
      'An empty row: mx <= MASKED. select(acc * factor, vec4<f32>(0.0), empty) writes zeros there.',
      'Only thread 0 writes the lse: if (tid == 0u) { lse[...] = select(bitcast<u32>(lse2 * LN2), 0x7f800000u, empty); }',
    ],
    cases: MERGE_CASES,
  },
  {
    id: 6, region: 'paged-keys', title: 'Which keys a row reads: the causal count and the block table', file: 'keys_dense.wgsl', kernel: 'naive', splits: 1, checks: 'out-lse',
    statement: [
      'Every version asks two functions which cache slots a query row attends to. Write them for the dense, paged cache.',
      'keyCount(b, i): how many keys query token i of request b sees. Request b has seqlens[b] tokens cached. With params.causal != 0 and params.s_q query tokens (speculative / MTP tokens), token i sees seqlen - s_q + i + 1 of them (the last token sees all); otherwise all seqlen. Never less than 0.',
      'keySlot(b, i, k): the cache slot of the request\'s k-th token. The cache is paged: PAGE_SIZE tokens a page, the pages of request b listed in block_table[b * params.max_blocks + p] (p = k / PAGE_SIZE, in order), and the token at offset k % PAGE_SIZE of its page: slot = page * PAGE_SIZE + offset, as an i32.',
      'Replace both functions between the markers (keep their names and signatures). The check runs version 1 on the dense cases (pages of 64 and of 53 tokens, two query tokens, ragged requests) and compares out and lse with the f64 reference. Pages are shuffled and unused slots hold NaN: a wrong slot shows.',
    ].join('\n'),
    given: [
      'seqlens: array<i32>, [batch]; block_table: array<i32>, [batch, params.max_blocks]',
      'params.s_q, params.causal, params.max_blocks; PAGE_SIZE: tokens per page (an override constant, a u32)',
      'b, i, k: u32; i32(x), u32(x) convert; max(a, b) on i32',
    ],
    starter: 'fn keyCount(b: u32, i: u32) -> u32 {\n  return 0u; // the keys query token i of request b sees (see the statement)\n}\n\nfn keySlot(b: u32, i: u32, k: u32) -> i32 {\n  return -1; // the cache slot of its k-th key\n}',
    hints: [
      'let len = seqlens[b]; then, when params.causal != 0u, len - i32(params.s_q) + i32(i) + 1, in i32 so that it can go below 0 before max(..., 0).',
      'The page of token k is block_table[b * params.max_blocks + k / PAGE_SIZE]: an i32 page number.',
      'page * i32(PAGE_SIZE) + i32(k % PAGE_SIZE) is the slot.',
    ],
    cases: DENSE_CASES,
  },
  {
    id: 7, region: 'sparse-keys', title: 'Sparse indices: skipping -1 and out of range', file: 'keys_sparse.wgsl', kernel: 'naive', splits: 1, checks: 'out-lse',
    statement: [
      'A sparse call (DeepSeek\'s sparse attention, FlashMLA\'s sparse kernels) gives every query row its own list of params.topk cache slots, chosen by the indexer: indices[(b * params.s_q + i) * params.topk + k] is the slot of row (b, i)\'s k-th key.',
      'Not every entry names a key: FlashMLA pads with -1 and its tests put other invalid values there too (-2147483648, -123456, the cache\'s size, 2147483647). An index that is negative or >= params.num_slots (the slots in the cache) must be skipped: keySlot returns -1 for it, and the kernels leave it out.',
      'Write keySlot(b, i, k) between the markers. The check runs version 1 on sparse calls (a quarter invalid, a row with none valid, two query tokens, MODEL1 FP8 pages of 53, large logits) and compares out and lse with the f64 reference.',
    ].join('\n'),
    given: ['indices: array<i32>, [batch, s_q, topk]', 'params.s_q, params.topk, params.num_slots', 'b, i, k: u32; u32(x) converts an i32 (a negative one wraps to a large u32)'],
    starter: 'fn keySlot(b: u32, i: u32, k: u32) -> i32 {\n  return -1; // the slot of row (b, i)\'s k-th key, or -1 to skip it (see the statement)\n}',
    hints: [
      'Row (b, i) is row b * params.s_q + i of the indices; its k-th entry is topk entries further in per row.',
      'Test idx < 0 before converting: u32(idx) of a negative i32 is a huge number.',
      'if (idx < 0 || u32(idx) >= params.num_slots) { return -1; } return idx;',
    ],
    cases: SPARSE_CASES,
  },
  {
    id: 8, region: 'e4m3', title: 'FP8 E4M3: four codes in a word to four floats', file: 'fp8.wgsl', kernel: 'naive', splits: 1, checks: 'out-lse',
    statement: [
      'An FP8 cache stores each latent value in one byte, E4M3 ("fn", as FlashMLA and the OCP standard define it): 1 sign bit, 4 exponent bits, 3 mantissa bits, from the top:',
      '    code = s eeee mmm        normal (e > 0):     value = (-1)^s * 2^(e - 7) * (1 + m / 8)',
      '                             subnormal (e = 0):  value = (-1)^s * 2^-6 * (m / 8)  =  (-1)^s * m * 2^-9',
      '    e = 15 and m = 7 (0x7f, 0xff) is NaN; there is no infinity, so the largest value is 0x7e = 448.',
      'WGSL has no 8-bit type: the cache is read as u32 words, four codes to a word, little-endian (code k is bits 8k .. 8k+7, code 0 the lowest byte).',
      'Write decodeE4m3x4(word): the four values, code 0 in .x. (The caller multiplies them by their tile\'s scale.)',
      'Every E4M3 value is exact in f32, so a right decode gives the reference\'s values exactly. The check runs version 1 on FP8 caches of both models (V3.2 and MODEL1, dense and sparse, pages of 53) and compares out and lse with the f64 reference, which decodes the same bytes on the CPU.',
    ].join('\n'),
    given: [
      'word: u32, four E4M3 codes',
      'vec4<u32>(word) >> vec4<u32>(0u, 8u, 16u, 24u) shifts a vector by four amounts at once; & 0xffu keeps a byte',
      'bitcast<vec4<f32>>(v) reads u32 bits as f32; an f32 is 1 sign bit, 8 exponent bits (bias 127), 23 mantissa bits',
      'select(a, b, cond) is b where cond holds, a elsewhere (per lane for vectors); exp2(x), f32(u)',
    ],
    starter: '// The four values of word\'s E4M3 codes, code 0 in .x (see the statement).\nreturn vec4<f32>(0.0);',
    hints: [
      'One code: (word >> (8u * k)) & 0xffu. Then s = code >> 7u, e = (code >> 3u) & 0xfu, m = code & 7u.',
      'With floats: select(f32(m) * 0.001953125, exp2(f32(e) - 7.0) * (1.0 + f32(m) / 8.0), e > 0u), negated when s is 1. Vector versions of each step do four codes at once.',
      'The shipped file builds the f32 bits instead: f32\'s exponent is E4M3\'s plus 120 (127 - 7) and the 3 mantissa bits go to the top of f32\'s 23, so (code & 0x7f) << 20 plus 120 << 23 is the value\'s bits, and (code & 0x80) << 24 its sign.',
    ],
    cases: FP8_CASES,
  },
  {
    id: 9, region: 'fp8-record', title: 'Reading the FP8 record: latent bytes, tile scales, the bf16 RoPE part', file: 'kv_cache.wgsl', kernel: 'naive', splits: 1, checks: 'out-lse',
    statement: [
      'FlashMLA\'s FP8 cache keeps one record per token. V3.2\'s is 656 bytes: 512 E4M3 bytes of the latent, 4 f32 scales (one per tile of 128 values), then the 64 RoPE values in bf16 (128 bytes), unquantised. MODEL1\'s holds 448 E4M3 latent bytes, 64 bf16 RoPE values and 7 one-byte ue8m0 scales (one per tile of 64). The layout table (src/mla/kv-layout.ts) gives the shader the offsets as override constants, in u32 words.',
      'Write the FP8 case of kvQuadOfToken(t, j, scales): values 4j .. 4j+3 of the key whose record starts at word t.word of shard t.shard.',
      '    e = 4j < D_NOPE (the latent):  word t.word + j holds the four E4M3 codes; value = decodeE4m3x4(word) * the scale of the tile holding value e (tile e / QUANT_TILE)',
      '    e >= D_NOPE (the RoPE part):   bf16, two to a word, from word t.word + ROPE_OFFSET_W: values 4j .. 4j+3 are the two words at t.word + ROPE_OFFSET_W + (e - D_NOPE) / 2',
      'A bf16 is the top 16 bits of an f32. The check runs version 1 on FP8 caches of both models and compares out and lse with the f64 reference, which decodes the same records on the CPU.',
    ].join('\n'),
    given: [
      't: KvToken (t.shard, t.word: where the record starts); j: the quad (0 .. D_QK / 4 - 1); scales: vec4<u32>, the token\'s scale words, already read',
      'D_NOPE: latent values (512 V3.2, 448 MODEL1); QUANT_TILE: values per scale (128, 64); ROPE_OFFSET_W: where the RoPE part starts in the record, in words',
      'kvWord(shard, w) -> u32: word w; kvWordPair(shard, w) -> vec2<u32>: words w and w + 1 (w even)',
      'decodeE4m3x4(word) -> vec4<f32> (exercise 8); decodeBf16x2(word) -> vec2<f32> (low half first); decodeBf16x4(words: vec2<u32>) -> vec4<f32>, the same for two words; scaleOf(scales, tile) -> f32, V3.2\'s f32 or MODEL1\'s ue8m0',
    ],
    starter: '// Values 4j .. 4j+3 of an FP8 record: latent (E4M3 times its tile\'s scale) or RoPE (bf16) (see the statement).\nreturn vec4<f32>(0.0);',
    hints: [
      'Branch on where the quad lies: let e = 4u * j; if (e < D_NOPE) { ...latent... } and the RoPE part after it.',
      'The latent quad: decodeE4m3x4(kvWord(t.shard, t.word + j)) * scaleOf(scales, e / QUANT_TILE).',
      'The RoPE quad: let w = kvWordPair(t.shard, t.word + ROPE_OFFSET_W + (e - D_NOPE) / 2u); then decodeBf16x4(w).',
      'The shipped file has no branch: it picks the word\'s address with select, loads the vec4 that holds it, decodes it both ways and selects the answer. SwiftShader runs both sides of a branch, each with its load: docs/tuning.md, "FP8\'s cost", measures what the branch cost the tiled kernel.',
    ],
    cases: FP8_CASES,
  },
  {
    id: 10, region: 'key-tile', title: 'A key tile shared by a block of heads, in workgroup memory', file: 'key_tile.wgsl', kernel: 'shared-latent', splits: 'auto', checks: 'out-lse',
    statement: [
      'MLA has one KV head: every query head attends to the same keys. Version 3 runs a block of HEADS_PER_WG heads in one workgroup and has them share each tile of TILE_N keys, read and decoded from the cache once into workgroup memory instead of once per head.',
      'listSlots has put the cache slot of each key of the tile in slotTile[nn] (-1 for a key past the row\'s end or skipped). After a barrier, decodeTile(tid) is called by all WG_SIZE threads of the workgroup. Write its body: fill keyTile, TILE_N keys of D_QK / 4 quads each, key nn\'s quad q at keyTile[nn * (D_QK / 4) + q]:',
      '    keyTile[nn * D_QK/4 + q] = loadKvQuad(slot, q)  for slot = slotTile[nn] >= 0;   zeros for slot -1 (no cache slot to read)',
      'Share the work: the tile has TILE_N * D_QK / 4 quads; let thread tid take quads tid, tid + WG_SIZE, ..., so that neighbouring threads read neighbouring quads of a key (on a GPU, neighbouring bytes are read together). The scores and P V of the whole block then read keyTile (the value is its first D_V values).',
      'The check runs version 3 and compares out and lse with the f64 reference.',
    ].join('\n'),
    given: [
      'tid: this thread, 0 .. WG_SIZE - 1; WG_SIZE, TILE_N: override constants (threads of the workgroup, keys per tile)',
      'slotTile: array<i32, TILE_N> in workgroup memory; keyTile: array<vec4<f32>> in workgroup memory, [key][quad]',
      'loadKvQuad(slot: u32, q: u32) -> vec4<f32>: quad q of the key in `slot`, decoded from any cache format; D_QK: the key width',
    ],
    starter: '// Fill keyTile with the tile\'s keys, every thread a share of the quads (see the statement).',
    hints: [
      'One loop: for (var e = tid; e < TILE_N * (D_QK / 4u); e += WG_SIZE) { ... }: quad e of the tile is key e / (D_QK / 4), quad e % (D_QK / 4) of it.',
      'slotTile[nn] is an i32: test slot >= 0, then u32(slot) for loadKvQuad.',
      'var v = vec4<f32>(0.0); if (slot >= 0) { v = loadKvQuad(u32(slot), e % dq4); } keyTile[e] = v;',
    ],
    cases: DECODE_CASES,
  },
  {
    id: 11, region: 'score-block', title: 'A register block of scores: mat4x4 products', file: 'tiled_blocks.wgsl', kernel: 'tiled', splits: 'auto', checks: 'out-lse',
    statement: [
      'Version 4 computes S = Q K^T as a matrix multiply with register blocks: one thread owns SCORE_HEADS x SCORE_KEYS scores (8 x 8 by default on a GPU, 8 x 16 on a software adapter; any of 8x8, 8x16, 16x8, 16x16, 32x16 on request) and, per quad of the head dim, reads SCORE_HEADS query quads and SCORE_KEYS key quads for SCORE_HEADS * SCORE_KEYS quad products: many multiply-adds per value read, where version 3 did one.',
      'The block is held in mat4x4<f32> values (a private array would land in memory on some compilers). WGSL\'s matrices are column-major: m[c] is column c, and (m * x)[c] = m * x[c].',
      '    x = queryQuads(rows, j, pieces): quad j of the block\'s query rows; piece x.a has heads 0-3 as columns (rows: the 4 dims of quad j), x.b heads 4-7, x.c, x.d heads 8-15 when pieces = 4',
      '    fourKeyQuads(keysN, j): quad j of four keys as the columns of a mat4x4 (rows: the 4 dims)',
      '    s.kN: strip N of the block, the scores of keys 4N .. 4N+3 (rows) for every head (columns, piece by piece)',
      'So strip N gains, for every quad j, (four keys\' quad j)^T times (the heads\' quad j): rows keys, columns heads, summed over the 4 dims. addProduct(acc, m, x, pieces) adds m * x to every piece. Accumulate over j from j0 to j1 - 1 (the thread\'s slice of the head dim); strips k2 and k3 are used when SCORE_KEYS is 16.',
      'The check runs version 4 with 8 x 8 blocks on every device (the large case with 16 x 16) and compares out and lse with the f64 reference.',
    ].join('\n'),
    given: [
      's: var<ScoreBlock> (strips k0, k1, k2, k3, each a HeadQuads of pieces a .. h, of which 8 and 16 heads use a .. b and a .. d; e .. h exist only with a 32-head block), zero',
      'keys0 .. keys3: FourKeys, keys 4N .. 4N+3 of the block; rows: QueryRows; pieces = SCORE_HEADS / 4; j0, j1: the head-dim quads of this slice',
      'queryQuads(rows, j, pieces) -> HeadQuads; fourKeyQuads(keysN, j) -> mat4x4<f32>; addProduct(acc, m, x, pieces) -> HeadQuads; transpose(m)',
      'SCORE_KEYS: 8 or 16 (an override constant)',
    ],
    starter: '// Accumulate this thread\'s block of scores into s over quads j0 .. j1 - 1 (see the statement).',
    hints: [
      'for (var j = j0; j < j1; j++) { let x = queryQuads(rows, j, pieces); ... }: read the heads\' quad once per j and use it for every strip.',
      'fourKeyQuads has keys as columns; the strip wants keys as rows: transpose it. s.k0 = addProduct(s.k0, transpose(fourKeyQuads(keys0, j)), x, pieces);',
      'Strip k1 with keys1 the same way, and when SCORE_KEYS == 16u strips k2 and k3 with keys2 and keys3.',
    ],
    cases: BLOCK_CASES,
  },
  {
    id: 12, region: 'order-key', title: 'Top-k by radix select: a float\'s bits in sortable order', file: 'topk.wgsl', kernel: 'topk', splits: 1, checks: 'indices',
    statement: [
      'DeepSeek\'s sparse attention reads only the 2048 keys the lightning indexer scores highest, per query token. The top-k kernel finds them with an exact radix select, one workgroup per query token: it histograms the row\'s scores by their top 11 bits, walks the bins from the top down to the one that holds the k-th largest, then does the same on the next 11 bits of the scores in that bin, and the last 10, until it knows the k-th largest value T exactly; a last pass writes every token above T (and as many equal to T as places remain).',
      'That works on unsigned integers, whose bits sort as their values do. Write orderKey(x): a u32 whose order is the floats\' order, so that for any two scores x < y, orderKey(x) < orderKey(y), and equal floats give equal keys.',
      'An f32 is sign and magnitude: 1 sign bit (1 = negative), then 8 exponent bits and 23 mantissa bits, which for a non-negative float sort as the value does.',
      '    x >= 0 (sign bit 0): set the sign bit, so every non-negative float sorts above every negative one',
      '    x <  0 (sign bit 1): flip every bit: a larger magnitude is a smaller value, so its order is reversed, and the sign bit becomes 0',
      'The check runs the top-k pass on scores shaped like the indexer\'s (causal rows, one per query token) and checks the chosen tokens of every row against the CPU\'s top-k: every token above the k-th largest chosen, none below it, none twice, -1 past the tokens a row sees. The cases: normal scores, many equal scores, every score negative, rows shorter than k.',
    ].join('\n'),
    given: [
      'x: f32, a score; return a u32',
      'bitcast<u32>(x) reads the float\'s bits as a u32; ~b flips every bit; b | 0x80000000u sets the top bit; b & 0x80000000u is the sign bit',
      'select(a, b, cond) is b where cond holds, a elsewhere',
    ],
    starter: '// The float\'s bits as a u32 that sorts as the floats do (see the statement).\nreturn 0u;',
    hints: [
      'Start from let b = bitcast<u32>(x); the sign bit is b & 0x80000000u.',
      'A non-negative float: b | 0x80000000u. A negative one: ~b.',
      'return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);',
    ],
    cases: TOPK_CASES,
  },
];

/** What runs an attempt, in words: "version naive", "version fused, 4 splits", "the top-k pass alone". */
export function runBy(e: Exercise): string {
  if (e.kernel === 'topk') return 'the top-k pass alone';
  return `version ${e.kernel}${typeof e.splits === 'number' && e.splits > 1 ? `, ${e.splits} splits` : ''}`;
}

/** Exercise `n` (1-based), or an error naming what is allowed. */
export function exerciseById(n: number): Exercise {
  const e = EXERCISES.find((x) => x.id === n);
  if (!e) throw new Error(`exercise ${n} is not allowed: exercise must be a number from 1 to ${EXERCISES.length} (mla-sandbox exercise list)`);
  return e;
}
